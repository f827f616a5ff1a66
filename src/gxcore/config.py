"""Settings, read from the environment (prefix `GX_`) and an optional `.env` file."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gxcore.errors import ConfigurationError


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
    #: `production` makes destructive commands (`gx db reset`) refuse to run, and start-up refuse
    #: to stand in for a missing key or carrier (see `require_production_settings`).
    environment: Environment = Environment.DEVELOPMENT
    #: Embedded ledger fault injection (tests, chaos drills): share of submits that fail
    #: transiently with LedgerUnavailable before committing, and latency added to each submit.
    ledger_fault_rate: float = 0.0
    ledger_fault_delay_ms: int = 0
    #: Seed of the fault draws, to replay a chaos run's failures exactly (unset: random).
    ledger_fault_seed: int | None = None

    #: Key of the OTP HMAC (`GX_OTP_SECRET`, 32+ characters). Unset outside production, gxcore
    #: generates one and keeps it in `<data_dir>/otp_secret` (gxcore.identity.otp.otp_key).
    otp_secret: SecretStr | None = None
    #: HMAC key signing access tokens (`GX_JWT_SECRET`, 32+ characters); unset outside
    #: production, generated and kept in `<data_dir>/jwt_secret` (gxcore.identity.tokens.jwt_key).
    jwt_secret: SecretStr | None = None
    #: Key the passwords of the `gx_app` and `gx_system` roles are derived from
    #: (`GX_DB_ROLE_SECRET`, 32+ characters; one per PostgreSQL cluster, the roles are
    #: cluster-wide); unset outside production, generated and kept in `<data_dir>/db_role_secret`
    #: (gxcore.db.roles.role_key).
    db_role_secret: SecretStr | None = None
    #: SMTP relay for email; unset (outside production) means the development mailbox gets it.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "GX Protocol <no-reply@localhost>"
    #: STARTTLS on connect (port 587); off for a local relay or an implicit-TLS port via a proxy.
    smtp_starttls: bool = True
    #: SMS gateway: each SMS is POSTed there as JSON `{"to", "text"}`, with the token (if any) as
    #: a bearer token; unset (outside production) means the development mailbox gets every SMS.
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    #: Push gateway: each push is POSTed there as JSON `{"token", "title", "body"}` (a relay in
    #: front of FCM / APNs / Web Push); 404 or 410 means the token is dead. Unset (outside
    #: production) means the development mailbox records every push.
    push_gateway_url: str | None = None
    push_gateway_token: SecretStr | None = None
    #: The development senders' JSON-lines mailbox; default `<data_dir>/mailbox.jsonl`.
    mailbox_path: Path | None = None

    @cached_property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def mailbox_file(self) -> Path:
        return self.mailbox_path or self.data_dir / "mailbox.jsonl"

    def require_production_settings(self) -> None:
        """In production, refuse what development stands in for: generated keys, the mailbox.

        Raises ConfigurationError naming every missing setting at once. Outside production it
        does nothing: the development defaults are what the README's first command relies on.
        """
        if not self.is_production:
            return
        needed = {
            "GX_JWT_SECRET (the access-token signing key)": self.jwt_secret,
            "GX_OTP_SECRET (the OTP key)": self.otp_secret,
            "GX_SMTP_HOST (the email transport)": self.smtp_host,
            "GX_SMS_GATEWAY_URL (the SMS transport)": self.sms_gateway_url,
            "GX_PUSH_GATEWAY_URL (the push transport)": self.push_gateway_url,
        }
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise ConfigurationError(
                "GX_ENVIRONMENT is production, and production needs " + ", ".join(missing)
            )
