"""The Ledger port and the embedded reference ledger (spec/ledger.md)."""

from gxcore.ledger.embedded import EmbeddedLedger, open_ledger
from gxcore.ledger.port import Command, Ledger, LedgerEvent, Outcome, OutcomeStatus, Position

__all__ = [
    "Command",
    "EmbeddedLedger",
    "Ledger",
    "LedgerEvent",
    "Outcome",
    "OutcomeStatus",
    "Position",
    "open_ledger",
]
