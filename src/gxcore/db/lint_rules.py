"""gxcore's own migration rules, checked beside squawk on the SQL each revision renders offline.

squawk checks that `lock_timeout` is set somewhere in a file; it does not see a timeout that is
zero, too long, ended by the COMMIT of a `SET LOCAL`, or undone by `RESET`. One DDL statement
queued behind a long transaction blocks every query queued behind it, so each statement that
takes a lock must run with a short `lock_timeout` in force: the migration fails fast and is
retried, instead of stalling the application.

Statements are split on Alembic's offline terminator (";" and a blank line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The longest lock wait a revision may allow (the template sets 5s).
MAX_LOCK_TIMEOUT_MS = 10_000

RULE_LOCK_TIMEOUT = "gx-lock-timeout"
RULES = frozenset({RULE_LOCK_TIMEOUT})

# Statements that take no lock on a relation (or are the transaction/setting machinery itself).
_NO_LOCK = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SET|RESET|SELECT|SHOW)\b", re.IGNORECASE)
_SET = re.compile(
    r"^SET\s+(?P<local>LOCAL\s+|SESSION\s+)?lock_timeout\s*(=|TO)\s*(?P<value>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_RESET = re.compile(r"^RESET\s+(lock_timeout|ALL)$", re.IGNORECASE)
_UNITS_MS = {"": 1, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^(?P<n>\d+)\s*(?P<unit>ms|s|min|h|d)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    line: int
    rule: str
    message: str

    def render(self, name: str) -> str:
        return f"{name}:{self.line}:0: error: {self.rule} {self.message}"


def _duration_ms(value: str) -> int | None:
    """Milliseconds of a lock_timeout value; None for DEFAULT or a value not understood."""
    text = value.strip().strip("'\"").strip()
    match = _DURATION.match(text)
    if match is None:
        return None
    return int(match["n"]) * _UNITS_MS[(match["unit"] or "").lower()]


def _statements(sql: str) -> list[tuple[int, str]]:
    """(1-based line, statement without comments or terminator) for each statement."""
    out: list[tuple[int, str]] = []
    line = 1
    for chunk in sql.split(";\n\n"):
        body_lines = [
            (i, text)
            for i, text in enumerate(chunk.split("\n"))
            if not text.strip().startswith("--")
        ]
        body = "\n".join(text for _, text in body_lines).strip().rstrip(";").strip()
        if body:
            first = next(i for i, text in body_lines if text.strip())
            out.append((line + first, body))
        line += chunk.count("\n") + 2
    return out


def check_lock_timeout(sql: str) -> list[Finding]:
    """Each locking statement must run with 0 < lock_timeout <= MAX_LOCK_TIMEOUT_MS in force."""
    session: int | None = None  # SET (or SET SESSION): lasts for the connection
    local: int | None = None  # SET LOCAL: lasts to the end of the transaction
    findings: list[Finding] = []
    missing_reported = False
    for line, stmt in _statements(sql):
        head = stmt.split(None, 1)[0].upper()
        if head in ("COMMIT", "ROLLBACK", "END"):
            local = None
            continue
        if match := _SET.match(stmt):
            value = _duration_ms(match["value"])
            if value is not None and not 0 < value <= MAX_LOCK_TIMEOUT_MS:
                findings.append(
                    Finding(
                        line,
                        RULE_LOCK_TIMEOUT,
                        f"lock_timeout {match['value'].strip()} must be above 0 and at most "
                        f"{MAX_LOCK_TIMEOUT_MS} ms",
                    )
                )
                value = None
            if (match["local"] or "").strip().upper() == "LOCAL":
                local = value
            else:
                session, local = value, None
            continue
        if _RESET.match(stmt):
            session = local = None
            continue
        if _NO_LOCK.match(stmt) or "alembic_version" in stmt:
            continue  # alembic_version is Alembic's bookkeeping, not the application's
        if local is None and session is None and not missing_reported:
            missing_reported = True  # the first such statement says enough
            first_line = stmt.splitlines()[0][:80]
            findings.append(
                Finding(
                    line,
                    RULE_LOCK_TIMEOUT,
                    f"no lock_timeout in force for `{first_line}`: start the revision with "
                    "op.execute(LOCK_TIMEOUT) (see the revision template)",
                )
            )
    return findings


def check(sql: str, *, waived: frozenset[str] = frozenset()) -> list[Finding]:
    """Every gxcore rule not in `waived` over one revision's SQL."""
    findings: list[Finding] = []
    if RULE_LOCK_TIMEOUT not in waived:
        findings += check_lock_timeout(sql)
    return findings
