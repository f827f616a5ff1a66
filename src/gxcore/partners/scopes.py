"""The operations a licensed partner's application may be granted, by name.

A name is what an administrator grants (`PartnerScope.operation`), what the token carries in its
`scope`, and what a route opens to partners (`partner_or(...)` in gxcore.partners.principal).
Only reads so far: a partner reports on the tenant's money, it does not move it.
"""

from __future__ import annotations

from enum import StrEnum


class PartnerOperation(StrEnum):
    #: GET /wallets/{profileId}/balance: a payment partner checks a user can cover a payment.
    WALLET_BALANCE = "wallets.balance.read"
    #: GET /treasury/{countryCode}/balance: a licensed operator reports the national treasury.
    TREASURY_BALANCE = "treasury.balance.read"
