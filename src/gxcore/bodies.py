"""What every request body and path id is built on.

Pydantic only: a feature's schemas are imported by its services, jobs and `gx` commands too,
which then need not load the web framework.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

from gxcore.db.types import storable

#: An id in a path: free-form (an unknown one is a 404), but storable text.
Ident = Annotated[str, AfterValidator(storable)]


class RequestBody(BaseModel):
    """Base of every request body: unknown fields refused, every string storable."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: object) -> object:
        # Every string of every request body, before any other check sees it.
        return storable(value) if isinstance(value, str) else value
