"""The contract's command handlers, one module per area; importing this registers them all."""

from gxcore.ledger.handlers import (  # noqa: F401  (imported to register their handlers)
    admin,
    governance,
    identity,
    loans,
    organizations,
    tokens,
)
from gxcore.ledger.handlers.registry import HANDLERS, Handler

__all__ = ["HANDLERS", "Handler"]
