"""System parameters: every tunable rule the services and the ledger read, with its default.

`gx db seed` writes these defaults for a tenant without touching values an operator has changed.
The ledger contract (UPDATE_SYSTEM_PARAMETER, governance proposals) changes them later.
Values are stored as text in `SystemParameter.paramValue`; `kind` says how to read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gxcore.ledger.contract import PARAMETER_RULES
from gxcore.trust.score import PARAMETER_DEFAULTS as TRUST_DEFAULTS


@dataclass(frozen=True)
class Parameter:
    key: str
    default: str
    kind: type
    description: str


def _trust_meaning(key: str) -> str:
    if key.startswith("trustPoints"):
        kind = re.sub(r"(?<!^)(?=[A-Z])", " ", key.removeprefix("trustPoints")).lower()
        return f"trust points per confirmed {kind}"
    group = key.removeprefix("trust").removesuffix("Cap").lower()
    return f"most trust points from {group}" if group != "total" else "most trust points in all"


PARAMETERS: tuple[Parameter, ...] = (
    # Tokenomics, business accounts and governance: kept by the ledger contract, which owns them.
    *(Parameter(r.key, r.initial, r.kind, r.description) for r in PARAMETER_RULES.values()),
    # Registration and login (svc-identity).
    Parameter("registrationTtlHours", "24", int, "hours a pending registration stays open"),
    Parameter("otpTtlMinutes", "10", int, "minutes an OTP code stays valid"),
    Parameter("otpMaxAttempts", "5", int, "wrong guesses that lock an OTP code"),
    Parameter("otpResendCooldownSeconds", "60", int, "seconds between two OTP sends"),
    Parameter("otpDailySendCap", "5", int, "OTP sends per registration and channel per day"),
    Parameter(
        "registrationStartsPerAddressHourly",
        "20",
        int,
        "registrations one client address may start per hour",
    ),
    Parameter(
        "registrationChangesPerAddressHourly",
        "60",
        int,
        "registration changes (codes checked or resent, steps taken) one client address may "
        "make per hour; 0: no limit",
    ),
    Parameter("registrationMinAge", "13", int, "youngest age allowed to register"),
    Parameter("registrationMaxAge", "120", int, "oldest age accepted as plausible"),
    Parameter("passwordMinLength", "12", int, "shortest password accepted"),
    Parameter("accessTokenTtlMinutes", "15", int, "lifetime of an access token"),
    Parameter("refreshTokenTtlDays", "7", int, "lifetime of a refresh token"),
    Parameter("loginMaxFailures", "5", int, "failed logins before a temporary lockout"),
    Parameter("loginLockoutMinutes", "15", int, "length of that lockout"),
    # Money (svc-tokenomics).
    Parameter("idempotencyKeyHours", "24", int, "hours a transfer's Idempotency-Key is kept"),
    Parameter(
        "transfersPerAccountMinute",
        "30",
        int,
        "transfers one account may request a minute; 0: no limit",
    ),
    Parameter(
        "transfersPerAddressMinute",
        "120",
        int,
        "transfers one client address may request a minute; 0: no limit",
    ),
    Parameter(
        "riskReviewThreshold",
        "80",
        int,
        "risk score (0-100) from which a transfer is held for an administrator's review",
    ),
    # Relationships and the trust score (svc-trust).
    Parameter(
        "relationshipReinviteCooldownDays",
        "7",
        int,
        "days before a rejected inviter may invite the same person again",
    ),
    # Referrals (gxcore.referrals).
    Parameter(
        "referralRewardPoints",
        "10",
        int,
        "referral points a referrer earns when an invitee's registration is approved",
    ),
    Parameter(
        "referralMaxPerReferrer",
        "10",
        int,
        "referrals one user may make (a sent referral is never withdrawn)",
    ),
    *(
        Parameter(key, str(value), int, _trust_meaning(key))
        for key, value in TRUST_DEFAULTS.items()
    ),
)

DEFAULTS: dict[str, str] = {p.key: p.default for p in PARAMETERS}
