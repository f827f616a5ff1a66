"""Settings, read from the environment (prefix `GX_`) and an optional `.env` file."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gxcore.errors import ConfigurationError


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


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
    #: Master key wrapping each KYC document's own key (`GX_KYC_MASTER_KEY`, 32+ characters);
    #: unset outside production, generated and kept in `<data_dir>/kyc_master_key`.
    kyc_master_key: SecretStr | None = None
    #: Where KYC documents are stored (encrypted, by content address); default
    #: `<data_dir>/documents`.
    kyc_storage_dir: Path | None = None
    #: Largest KYC document accepted, in bytes, and how many one upload may carry.
    kyc_max_document_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    kyc_max_documents_per_upload: int = Field(default=5, gt=0)
    #: Lifetime of a document's signed download URL, in seconds.
    kyc_url_ttl_seconds: int = Field(default=300, gt=0)
    #: clamd to scan documents with (`GX_CLAMD`): `host:port`, or the path of its unix socket.
    #: Unset outside production, a development scanner flags only the EICAR test file.
    clamd: str | None = None

    #: Connections each engine keeps (gxcore.db.engine.PoolConfig), beyond which up to
    #: `db_pool_max_overflow` more are opened under load; a unit of work waits at most
    #: `db_pool_timeout` seconds for one, then fails with DATABASE_UNAVAILABLE.
    db_pool_size: int = Field(default=5, ge=1)
    db_pool_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=30.0, gt=0)
    #: Longest a statement may run, in milliseconds (0: no limit), set in each transaction.
    db_statement_timeout_ms: int = Field(default=0, ge=0)
    #: A PgBouncer (or any pooler) in transaction pooling mode in front of DATABASE_URL's server:
    #: its host, port and, if given, database replace DATABASE_URL's for the role connections
    #: (requests, relay, projector); migrations and LISTEN go to the server directly.
    pooler_url: str | None = None
    #: A streaming replica of DATABASE_URL's server (`GX_READ_REPLICA_URL`: its host, port and,
    #: if given, database; the roles log in with the primary's passwords): the API's reads go
    #: there, unless it lags more than `read_replica_max_lag_seconds` behind the WAL it has
    #: received, or has not yet replayed the caller's own last write (read-your-writes).
    read_replica_url: str | None = None
    read_replica_max_lag_seconds: float = Field(default=5.0, ge=0)

    #: Readiness (`/readyz`): how far the projector may trail the ledger, in blocks and in
    #: seconds since the first event it has not projected yet was committed.
    ready_max_lag_blocks: int = Field(default=100, ge=0)
    ready_max_lag_seconds: float = Field(default=60.0, ge=0)
    #: Seconds a readiness check, or a scrape of `/metrics`, may spend on the database.
    probe_timeout: float = Field(default=2.0, gt=0)
    #: Interface `gx relay` and `gx projector run` serve health and metrics on (`--metrics-port`);
    #: `0.0.0.0` for a scraper or probe outside the host (a container).
    metrics_host: str = "127.0.0.1"
    #: Log lines as `text` (for a terminal) or `json` (one object a line, for a log collector).
    log_format: LogFormat = LogFormat.TEXT
    #: OpenTelemetry traces (gxcore.tracing): `GX_OTEL=1` on, `0` off; unset, on exactly when an
    #: OTLP endpoint is configured. The exporter itself reads the standard `OTEL_*` variables.
    otel: bool | None = None
    #: Where spans go (OTLP over HTTP); read here only to switch tracing on by its presence.
    otel_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )
    #: Seconds between two progress lines of a long-running command (`gx projector rebuild`,
    #: `gx jobs ...`, `gx trust rebuild`) when its stderr is not a terminal; a terminal gets a bar.
    progress_interval: float = Field(default=10.0, ge=0)
    #: Largest request body the API accepts, in bytes (413 REQUEST_TOO_LARGE beyond it).
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    #: Origins allowed to call the API from a browser (CORS), comma-separated; empty: CORS off.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @cached_property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def tracing_enabled(self) -> bool:
        return bool(self.otel_endpoint) if self.otel is None else self.otel

    @property
    def mailbox_file(self) -> Path:
        return self.mailbox_path or self.data_dir / "mailbox.jsonl"

    @property
    def kyc_storage_path(self) -> Path:
        return self.kyc_storage_dir or self.data_dir / "documents"

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
            "GX_KYC_MASTER_KEY (the KYC document key)": self.kyc_master_key,
            "GX_CLAMD (the KYC document scanner)": self.clamd,
            "GX_PUSH_GATEWAY_URL (the push transport)": self.push_gateway_url,
        }
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise ConfigurationError(
                "GX_ENVIRONMENT is production, and production needs " + ", ".join(missing)
            )
