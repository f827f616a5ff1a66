"""Settings, read from the environment (prefix `GX_`) and an optional `.env` file."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GX_", env_file=".env", extra="ignore")

    #: Server to use; unset means gxcore runs its own embedded PostgreSQL under `data_dir`.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GX_DATABASE_URL")
    )
    #: Where the embedded server keeps its cluster.
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("gxcore")))
    #: Name of the application database on the embedded server.
    database_name: str = "gx"
    #: `production` makes destructive commands (`gx db reset`) refuse to run.
    environment: Environment = Environment.DEVELOPMENT

    @cached_property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION
