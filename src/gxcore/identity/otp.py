"""One-time codes: generation, keyed hashing, and the per-channel rules for sending and guessing.

A code is 6 digits from `secrets`, stored only as HMAC-SHA256 under the server key (a leaked
table does not yield codes without the key) and compared in constant time.

The rules, per registration and channel (email, phone):
- a code lives `otpTtlMinutes`; `otpMaxAttempts` wrong guesses kill it (even the right code is
  refused afterwards), until a new one is sent: OTP_LOCKED's `retry_after` is the time until a
  new code may be asked for;
- a new code (first send or resend) needs `otpResendCooldownSeconds` since the last one, and at
  most `otpDailySendCap` codes go out per rolling 24 h window;
- so guesses are bounded by cap x attempts per 24 h (25 with the defaults): a resend gives the
  new code its own budget, never an unlimited one. Callers hold the registration row locked
  (`SELECT ... FOR UPDATE`), so concurrent guesses are counted one after another.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gxcore.config import Settings
from gxcore.errors import (
    OtpExpired,
    OtpInvalid,
    OtpLocked,
    ResendCapReached,
    ResendTooSoon,
)
from gxcore.keys import server_key

CODE_DIGITS = 6
SEND_WINDOW = timedelta(hours=24)
DEV_SECRET_FILE = "otp_secret"


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True)
class OtpPolicy:
    ttl: timedelta
    max_attempts: int
    cooldown: timedelta
    daily_cap: int


def otp_key(settings: Settings) -> bytes:
    """The HMAC key: GX_OTP_SECRET, or outside production a generated one kept per data dir.

    The generated key lives in `<data_dir>/otp_secret`, so restarting `gx api` keeps the codes
    already sent valid (gxcore.keys).
    """
    return server_key(settings, settings.otp_secret, variable="GX_OTP_SECRET", file=DEV_SECRET_FILE)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def digest(key: bytes, channel: Channel, code: str) -> str:
    return hmac.new(key, f"gx-otp:{channel}:{code}".encode(), hashlib.sha256).hexdigest()


def matches(row: Any, channel: Channel, code: str, *, key: bytes) -> bool:
    stored = getattr(row, f"{channel}_otp_hash")
    return stored is not None and hmac.compare_digest(stored, digest(key, channel, code))


def marker(key: bytes, value: str) -> str:
    """A keyed, non-reversible tag for an address (to rate-limit notices without storing it)."""
    return hmac.new(key, f"gx-marker:{value}".encode(), hashlib.sha256).hexdigest()[:24]


def issue(row: Any, channel: Channel, *, key: bytes, policy: OtpPolicy, now: datetime) -> str:
    """Store a fresh code's digest on `row` (cooldown and daily cap permitting); return the code.

    The caller sends it. Raises ResendTooSoon / ResendCapReached, leaving `row` unchanged.
    """
    cooldown_ends = _cooldown_ends(row, channel, policy)
    if cooldown_ends is not None and now < cooldown_ends:
        wait = (cooldown_ends - now).total_seconds()
        raise ResendTooSoon(
            "a code was sent moments ago; wait before asking again", retry_after=math.ceil(wait)
        )
    since, sends = _send_window(row, channel, now)
    if sends >= policy.daily_cap:
        wait = (since + SEND_WINDOW - now).total_seconds()
        raise ResendCapReached(
            f"at most {policy.daily_cap} codes per 24 hours", retry_after=math.ceil(wait)
        )
    code = new_code()
    setattr(row, f"{channel}_otp_hash", digest(key, channel, code))
    setattr(row, f"{channel}_otp_expires_at", now + policy.ttl)
    setattr(row, f"{channel}_otp_attempts", 0)
    setattr(row, f"{channel}_otp_sent_at", now)
    setattr(row, f"{channel}_otp_sends_since", since)
    setattr(row, f"{channel}_otp_sends", sends + 1)
    return code


def _cooldown_ends(row: Any, channel: Channel, policy: OtpPolicy) -> datetime | None:
    sent_at: datetime | None = getattr(row, f"{channel}_otp_sent_at")
    return None if sent_at is None else sent_at + policy.cooldown


def _send_window(row: Any, channel: Channel, now: datetime) -> tuple[datetime, int]:
    """When the current 24 h send window began, and how many codes went out in it."""
    since: datetime | None = getattr(row, f"{channel}_otp_sends_since")
    if since is None or now >= since + SEND_WINDOW:
        return now, 0
    return since, getattr(row, f"{channel}_otp_sends")


def resend_wait(row: Any, channel: Channel, *, policy: OtpPolicy, now: datetime) -> int:
    """Whole seconds until a new code may be sent (0: now), by the cooldown and the daily cap."""
    ends = [_cooldown_ends(row, channel, policy) or now]
    since, sends = _send_window(row, channel, now)
    if sends >= policy.daily_cap:
        ends.append(since + SEND_WINDOW)
    return max(0, math.ceil((max(ends) - now).total_seconds()))


def verify(
    row: Any, channel: Channel, code: str, *, key: bytes, policy: OtpPolicy, now: datetime
) -> None:
    """Accept the right, live, unlocked code; count a wrong guess on `row` and raise OtpInvalid."""
    attempts: int = getattr(row, f"{channel}_otp_attempts")
    if attempts >= policy.max_attempts:
        raise OtpLocked(
            "too many wrong codes; ask for a new one",
            retry_after=resend_wait(row, channel, policy=policy, now=now),
        )
    expires_at: datetime | None = getattr(row, f"{channel}_otp_expires_at")
    if expires_at is None or now >= expires_at:
        raise OtpExpired("the code has expired; ask for a new one")
    if matches(row, channel, code, key=key):
        return
    attempts += 1
    setattr(row, f"{channel}_otp_attempts", attempts)
    raise OtpInvalid("wrong code", attemptsRemaining=policy.max_attempts - attempts)
