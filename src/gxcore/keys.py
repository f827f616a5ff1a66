"""Server keys (OTP HMAC, access-token signing, database role passwords): from a setting, or
generated outside production.

A generated key lives in `<data_dir>/<file>` (0600), so restarting `gx api` keeps what was
issued under it (codes sent, tokens handed out, role passwords set) valid. Production refuses
to start without the setting.
"""

from __future__ import annotations

import logging
import os
import secrets

from pydantic import SecretStr

from gxcore.config import Settings
from gxcore.errors import ConfigurationError

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 32


def server_key(settings: Settings, secret: SecretStr | None, *, variable: str, file: str) -> bytes:
    """`secret` (the setting read from `variable`), else the development key kept in `file`."""
    if secret is not None:
        value = secret.get_secret_value()
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigurationError(f"{variable} must be at least {MIN_SECRET_LENGTH} chars")
        return value.encode()
    if settings.is_production:
        raise ConfigurationError(f"{variable} is required in production")
    path = settings.data_dir / file
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    log.warning("%s is unset: using the development key in %s", variable, path)
    return path.read_text().strip().encode()
