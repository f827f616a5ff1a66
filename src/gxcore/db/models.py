"""Imports every feature's models so the metadata holds the whole schema (Alembic, tests)."""

from gxcore.admin import models as admin
from gxcore.audit import models as audit
from gxcore.business import models as business
from gxcore.cqrs import models as cqrs
from gxcore.db.base import Base, metadata
from gxcore.governance import models as governance
from gxcore.identity import models as identity
from gxcore.kyc import models as kyc
from gxcore.loans import models as loans
from gxcore.notifications import models as notifications
from gxcore.partners import models as partners
from gxcore.referrals import models as referrals
from gxcore.tax import models as tax
from gxcore.trust import models as trust
from gxcore.wallet import models as wallet

FEATURES = (
    admin,
    audit,
    business,
    cqrs,
    governance,
    identity,
    kyc,
    loans,
    notifications,
    partners,
    referrals,
    tax,
    trust,
    wallet,
)

__all__ = ["FEATURES", "Base", "metadata"]
