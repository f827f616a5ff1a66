"""Progressive registration: email, name and country, birth date and gender, password, phone.

Each step moves `PendingRegistration.currentStep` one place along RegistrationStep, and only
from the step before it; repeating the step just taken with the same data answers as before
(a client retrying a lost response); anything else is StepOutOfOrder with the current step.
Every call locks the registration row (`FOR UPDATE`), so concurrent calls take turns.

EMAIL_PENDING and PHONE_VERIFIED never show from outside: the first code is queued in the same
unit of work that creates the row (EMAIL_SENT), and a verified phone completes the registration
in the same transaction (COMPLETED), creating the UserProfile (audited as USER_REGISTERED).

Nothing is sent from here: codes and notices are queued (gxcore.notifications.service) in the
step's transaction and leave after it commits, so no carrier is waited for while the row and the
tenant's audit chain are locked. A code's message expires with the code.

No enumeration: starting with an address that already has an account (or a registration past
its email check) answers exactly like a new one, with a *decoy* registration: a real row, whose
email is a keyed tag under `decoy.invalid` (a reserved domain no user can enter), whose code is
never sent. It answers every later call like any registration waiting for a code nobody has.
The real owner gets a notice mail instead ("you already have an account"). An unverified
registration for the address is restarted instead: new id (the old one stops working), fresh
code if the cooldown and daily cap allow. A phone that already belongs to someone gets the same
treatment at the phone step: the row waits for a code that was never sent; the number's owner
gets a notice SMS.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import phonenumbers
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import Country
from gxcore.admin.service import read_ints
from gxcore.db.base import new_uuid
from gxcore.db.scope import RequestMeta, scope_of
from gxcore.db.tenancy import Database
from gxcore.enums import RegistrationStep, UserProfileStatus
from gxcore.errors import (
    AlreadyRegistered,
    OtpInvalid,
    RegistrationExpired,
    RegistrationNotFound,
    StepOutOfOrder,
    TooManyRequests,
    ValidationFailed,
)
from gxcore.identity import otp, throttle
from gxcore.identity.models import PendingRegistration, UserProfile
from gxcore.identity.otp import Channel, OtpPolicy
from gxcore.identity.passwords import (
    PASSWORD_HASHER,  # noqa: F401  (re-exported)
    hash_password,
    verify_password,
)
from gxcore.identity.schemas import (
    DobGender,
    EmailStart,
    NameCountry,
    OtpVerify,
    PasswordSet,
    PhoneSet,
    RegistrationRef,
    RegistrationStatus,
)
from gxcore.notifications import service as messages
from gxcore.referrals import service as referrals
from gxcore.trust import relationships

Step = RegistrationStep
DECOY_DOMAIN = "decoy.invalid"

# What the user receives. A notice replaces the code when the address or number already belongs
# to someone: its owner learns of the attempt, the caller learns nothing.
Mail = dict[str, str]  # queue_email's subject and text
ACCOUNT_EXISTS_EMAIL: Mail = {
    "subject": "You already have a GX account",
    "text": "Someone, maybe you, tried to register a GX account with this email address, but "
    "you already have an account. Sign in with this address and your password instead.\n\n"
    "If it was not you, ignore this email: nothing has changed.",
}
IN_PROGRESS_EMAIL: Mail = {
    "subject": "Your GX registration is already in progress",
    "text": "Someone, maybe you, tried to start a GX registration with this email address, but "
    "a registration for it is already under way. Continue it where you started it, or wait "
    "for it to expire and start again.\n\nIf it was not you, ignore this email.",
}
PHONE_TAKEN_SMS = (
    "Someone tried to register a GX account with this phone number, which already belongs to "
    "an account. If it was not you, ignore this message."
)


def _email_code(code: str, policy: Policy) -> Mail:
    minutes = int(policy.otp.ttl.total_seconds() // 60)
    return {
        "subject": "Your GX verification code",
        "text": f"Your GX verification code is {code}. It expires in {minutes} minutes.\n\n"
        "Never share it. If you did not start a registration, ignore this email.",
    }


def _phone_code(code: str, policy: Policy) -> str:
    minutes = int(policy.otp.ttl.total_seconds() // 60)
    return f"GX code: {code} (valid {minutes} min). Never share it."


@dataclass(frozen=True)
class Policy:
    """The tenant's registration parameters (SystemParameter, defaults where absent)."""

    ttl: timedelta
    otp: OtpPolicy
    min_age: int
    max_age: int
    password_min_length: int
    starts_per_address: int


@dataclass(frozen=True)
class Context:
    """What every use case needs: the unit of work's session (and its database, for a wrong guess
    counted apart), the time, the key."""

    session: AsyncSession
    database: Database
    now: datetime
    otp_key: bytes


_POLICY_KEYS = (
    "registrationTtlHours",
    "otpTtlMinutes",
    "otpMaxAttempts",
    "otpResendCooldownSeconds",
    "otpDailySendCap",
    "registrationMinAge",
    "registrationMaxAge",
    "passwordMinLength",
    "registrationStartsPerAddressHourly",
)


async def load_policy(session: AsyncSession) -> Policy:
    values = await read_ints(session, _POLICY_KEYS)
    return Policy(
        ttl=timedelta(hours=values["registrationTtlHours"]),
        otp=OtpPolicy(
            ttl=timedelta(minutes=values["otpTtlMinutes"]),
            max_attempts=values["otpMaxAttempts"],
            cooldown=timedelta(seconds=values["otpResendCooldownSeconds"]),
            daily_cap=values["otpDailySendCap"],
        ),
        min_age=values["registrationMinAge"],
        max_age=values["registrationMaxAge"],
        password_min_length=values["passwordMinLength"],
        starts_per_address=values["registrationStartsPerAddressHourly"],
    )


def status(row: PendingRegistration) -> RegistrationStatus:
    return RegistrationStatus(
        registrationId=row.id,
        currentStep=row.current_step,
        expiresAt=row.expires_at,
        emailVerified=row.email_verified,
        phoneVerified=row.phone_verified,
        profileId=row.migrated_to_profile_id,
    )


# --------------------------------------------------------------------------------------------
# Reading and guarding a registration
# --------------------------------------------------------------------------------------------


async def _find(ctx: Context, registration_id: str, *, lock: bool) -> PendingRegistration:
    stmt = select(PendingRegistration).where(PendingRegistration.id == registration_id)
    row = await ctx.session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise RegistrationNotFound("no such registration")
    if ctx.now >= row.expires_at:
        raise RegistrationExpired("this registration has expired; start again")
    return row


def _require(row: PendingRegistration, step: Step) -> None:
    if row.current_step is not step:
        raise StepOutOfOrder(
            f"this step needs the registration at {step}; it is at {row.current_step}",
            current_step=row.current_step,
        )


def _is_decoy(row: PendingRegistration) -> bool:
    return row.email.endswith("@" + DECOY_DOMAIN)


async def get(registration_id: str, *, ctx: Context) -> RegistrationStatus:
    return status(await _find(ctx, registration_id, lock=False))


# --------------------------------------------------------------------------------------------
# Step 1-2: email
# --------------------------------------------------------------------------------------------


async def start(data: EmailStart, *, ctx: Context) -> RegistrationStatus:
    policy = await load_policy(ctx.session)
    await throttle.check_start(ctx.session, now=ctx.now, limit=policy.starts_per_address)
    email = data.email
    if await _exists(ctx, UserProfile.email == email):
        return await _decoy(ctx, policy, email, ACCOUNT_EXISTS_EMAIL)
    existing = await _open_row(ctx, email)
    if existing is not None:
        if existing.current_step is Step.EMAIL_SENT:
            return await _restart(ctx, policy, existing)
        return await _decoy(ctx, policy, email, IN_PROGRESS_EMAIL)
    row = _new_row(ctx, policy, email)
    code = otp.issue(row, Channel.EMAIL, key=ctx.otp_key, policy=policy.otp, now=ctx.now)
    try:
        async with ctx.session.begin_nested():
            ctx.session.add(row)
    except IntegrityError:  # a concurrent start for the same address won the insert
        return await _decoy(ctx, policy, email, None)
    await _queue_email_code(ctx, policy, email, code)
    return status(row)


async def _open_row(ctx: Context, email: str) -> PendingRegistration | None:
    """The address's registration, locked; None when there is none or it had expired (deleted
    here: the cleanup job has not reached it yet)."""
    row = await ctx.session.scalar(
        select(PendingRegistration).where(PendingRegistration.email == email).with_for_update()
    )
    if row is not None and ctx.now >= row.expires_at:
        await ctx.session.delete(row)
        await ctx.session.flush()
        return None
    return row


def _new_row(ctx: Context, policy: Policy, email: str) -> PendingRegistration:
    scope = scope_of(ctx.session.sync_session)
    request = (scope.request if scope else None) or RequestMeta()
    return PendingRegistration(
        id=new_uuid(),
        email=email,
        current_step=Step.EMAIL_SENT,
        created_at=ctx.now,  # on the app's clock, as the per-address limit reads it
        expires_at=ctx.now + policy.ttl,
        ip_address=request.ip_address,
        user_agent=request.user_agent,
    )


async def _restart(ctx: Context, policy: Policy, row: PendingRegistration) -> RegistrationStatus:
    """Whoever asks again for an unverified address gets the registration, under a new id.

    The previous id stops working, so a stranger who started with someone else's address cannot
    keep it: its owner restarts and continues with the code only they receive.
    """
    code = _renew(ctx, policy, row)
    if code is not None:
        await _queue_email_code(ctx, policy, row.email, code)
    return status(row)


def _renew(ctx: Context, policy: Policy, row: PendingRegistration) -> str | None:
    """A new id and expiry, like a new registration; a new code unless the last one went out
    moments ago (it still works; a 429 would reveal the row)."""
    row.id = new_uuid()
    row.expires_at = ctx.now + policy.ttl
    try:
        return otp.issue(row, Channel.EMAIL, key=ctx.otp_key, policy=policy.otp, now=ctx.now)
    except TooManyRequests:
        return None


async def _decoy(
    ctx: Context, policy: Policy, email: str, notice: Mail | None
) -> RegistrationStatus:
    """The address's one decoy (its keyed tag under DECOY_DOMAIN), restarted like a real
    registration on every call, so repeated calls never add rows. Its code is never sent;
    the owner's notice goes out with the codes' cooldown and daily cap."""
    address = f"{otp.marker(ctx.otp_key, email)}@{DECOY_DOMAIN}"
    row = await _open_row(ctx, address)
    if row is None:
        row = _new_row(ctx, policy, address)
        otp.issue(row, Channel.EMAIL, key=ctx.otp_key, policy=policy.otp, now=ctx.now)
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(row)
        except IntegrityError:  # a concurrent call for the same address made it first
            return await _decoy(ctx, policy, email, notice)
        sent = True
    else:
        sent = _renew(ctx, policy, row) is not None
    await ctx.session.flush()
    if notice is not None and sent:
        subject, text = notice["subject"], notice["text"]
        await messages.queue_email(ctx.session, to=email, subject=subject, text=text, now=ctx.now)
    return status(row)


async def _queue_email_code(ctx: Context, policy: Policy, to: str, code: str) -> None:
    expires_at = ctx.now + policy.otp.ttl
    mail = _email_code(code, policy)
    await messages.queue_email(ctx.session, to=to, now=ctx.now, expires_at=expires_at, **mail)


async def _check_code(ctx: Context, data: OtpVerify, channel: Channel, step: Step) -> None:
    """Check the code under the row's lock in a transaction of its own, before this call's unit
    of work touches the row: a wrong guess is counted and committed whatever becomes of the call
    (its rollback must not refund the guess), and concurrent guesses are counted one at a time.
    Raises what otp.verify raises (and what _find and _require raise, uncounted)."""
    policy = await load_policy(ctx.session)
    await throttle.check_actions(ctx.session, throttle.REGISTRATION_CHANGES)
    wrong: OtpInvalid | None = None
    async with ctx.database.beside(ctx.session) as session:
        row = await _find(replace(ctx, session=session), data.registrationId, lock=True)
        if getattr(row, f"{channel}_verified") and otp.matches(
            row, channel, data.otp, key=ctx.otp_key
        ):
            return  # a retry of the verification that succeeded
        _require(row, step)
        try:
            otp.verify(row, channel, data.otp, key=ctx.otp_key, policy=policy.otp, now=ctx.now)
        except OtpInvalid as e:
            wrong = e  # leaving the block commits the counted guess
    if wrong is not None:
        raise wrong


async def verify_email(data: OtpVerify, *, ctx: Context) -> RegistrationStatus:
    await _check_code(ctx, data, Channel.EMAIL, Step.EMAIL_SENT)
    row = await _find(ctx, data.registrationId, lock=True)
    if row.email_verified:
        return status(row)  # a retry, or a concurrent call with the same code won the race
    _require(row, Step.EMAIL_SENT)
    row.email_verified = True
    row.email_verified_at = ctx.now
    row.current_step = Step.EMAIL_VERIFIED
    return status(row)


async def resend_email(data: RegistrationRef, *, ctx: Context) -> RegistrationStatus:
    policy = await load_policy(ctx.session)
    await throttle.check_actions(ctx.session, throttle.REGISTRATION_CHANGES)
    row = await _find(ctx, data.registrationId, lock=True)
    _require(row, Step.EMAIL_SENT)
    code = otp.issue(row, Channel.EMAIL, key=ctx.otp_key, policy=policy.otp, now=ctx.now)
    if not _is_decoy(row):
        await _queue_email_code(ctx, policy, row.email, code)
    return status(row)


# --------------------------------------------------------------------------------------------
# Steps 3-5: name and country, birth date and gender, password
# --------------------------------------------------------------------------------------------


async def set_name_country(data: NameCountry, *, ctx: Context) -> RegistrationStatus:
    row = await _find(ctx, data.registrationId, lock=True)
    given = (data.firstName, data.lastName, data.countryCode)
    if row.current_step is Step.NAME_COUNTRY_SET and given == (
        row.first_name,
        row.last_name,
        row.country_code,
    ):
        return status(row)
    _require(row, Step.EMAIL_VERIFIED)
    if await ctx.session.get(Country, data.countryCode) is None:
        raise ValidationFailed(f"unknown country code {data.countryCode!r}", field="countryCode")
    row.first_name, row.last_name, row.country_code = given
    row.current_step = Step.NAME_COUNTRY_SET
    return status(row)


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


async def set_dob_gender(data: DobGender, *, ctx: Context) -> RegistrationStatus:
    policy = await load_policy(ctx.session)
    row = await _find(ctx, data.registrationId, lock=True)
    if row.current_step is Step.DOB_GENDER_SET and (data.dateOfBirth, data.gender) == (
        row.date_of_birth,
        row.gender,
    ):
        return status(row)
    _require(row, Step.NAME_COUNTRY_SET)
    age = age_on(data.dateOfBirth, ctx.now.date())
    if not policy.min_age <= age <= policy.max_age:
        raise ValidationFailed(
            f"age must be between {policy.min_age} and {policy.max_age}", field="dateOfBirth"
        )
    row.date_of_birth, row.gender = data.dateOfBirth, data.gender
    row.current_step = Step.DOB_GENDER_SET
    return status(row)


def check_password(password: str, confirm: str, *, min_length: int) -> None:
    """Length, and at least three of: lower case, upper case, digit, symbol."""
    if len(password) < min_length:
        raise ValidationFailed(f"at least {min_length} characters", field="password")
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if sum(classes) < 3:
        raise ValidationFailed(
            "use at least three of: lower case, upper case, digits, symbols", field="password"
        )
    if password != confirm:
        raise ValidationFailed("the passwords do not match", field="confirmPassword")


async def set_password(data: PasswordSet, *, ctx: Context) -> RegistrationStatus:
    policy = await load_policy(ctx.session)
    row = await _find(ctx, data.registrationId, lock=True)
    check_password(data.password, data.confirmPassword, min_length=policy.password_min_length)
    if row.current_step is Step.PASSWORD_SET and await verify_password(
        row.password_hash, data.password
    ):
        return status(row)
    _require(row, Step.DOB_GENDER_SET)
    row.password_hash = await hash_password(data.password)
    row.current_step = Step.PASSWORD_SET
    return status(row)


# --------------------------------------------------------------------------------------------
# Steps 6-7: phone, then completion
# --------------------------------------------------------------------------------------------


def parse_phone(value: str, region: str | None) -> str:
    """E.164 (`+14155552671`); a national number is read in the registration's country."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as e:
        raise ValidationFailed(f"not a phone number: {e}", field="phoneNum") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed("not a valid phone number", field="phoneNum")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def set_phone(data: PhoneSet, *, ctx: Context) -> RegistrationStatus:
    policy = await load_policy(ctx.session)
    row = await _find(ctx, data.registrationId, lock=True)
    phone = parse_phone(data.phoneNum, row.country_code)
    if row.current_step is Step.PHONE_SENT and row.phone_num == phone:
        return status(row)
    _require(row, Step.PASSWORD_SET)
    code = otp.issue(row, Channel.PHONE, key=ctx.otp_key, policy=policy.otp, now=ctx.now)
    row.current_step = Step.PHONE_SENT
    held_by_profile = await _exists(ctx, UserProfile.phone_num == phone)
    held_by_other = await _exists(
        ctx, PendingRegistration.phone_num == phone, PendingRegistration.id != row.id
    )
    await ctx.session.flush()  # the code and the step stand whether or not the number is free
    if not held_by_other:
        try:
            async with ctx.session.begin_nested():
                row.phone_num = phone
        except IntegrityError:  # a concurrent registration claimed it first
            await ctx.session.refresh(row)
            held_by_other = True
    if held_by_profile or held_by_other:
        await messages.queue_sms(ctx.session, to=phone, text=PHONE_TAKEN_SMS, now=ctx.now)
    else:
        await _queue_phone_code(ctx, policy, phone, code)
    return status(row)


async def resend_phone(data: RegistrationRef, *, ctx: Context) -> RegistrationStatus:
    policy = await load_policy(ctx.session)
    await throttle.check_actions(ctx.session, throttle.REGISTRATION_CHANGES)
    row = await _find(ctx, data.registrationId, lock=True)
    _require(row, Step.PHONE_SENT)
    code = otp.issue(row, Channel.PHONE, key=ctx.otp_key, policy=policy.otp, now=ctx.now)
    if row.phone_num is None:
        return status(row)  # its number belongs to another registration: nothing to send
    if await _exists(ctx, UserProfile.phone_num == row.phone_num):
        await messages.queue_sms(ctx.session, to=row.phone_num, text=PHONE_TAKEN_SMS, now=ctx.now)
    else:
        await _queue_phone_code(ctx, policy, row.phone_num, code)
    return status(row)


async def _queue_phone_code(ctx: Context, policy: Policy, to: str, code: str) -> None:
    text = _phone_code(code, policy)
    expires_at = ctx.now + policy.otp.ttl
    await messages.queue_sms(ctx.session, to=to, text=text, now=ctx.now, expires_at=expires_at)


async def verify_phone(data: OtpVerify, *, ctx: Context) -> RegistrationStatus:
    await _check_code(ctx, data, Channel.PHONE, Step.PHONE_SENT)
    row = await _find(ctx, data.registrationId, lock=True)
    if row.phone_verified:
        return status(row)  # a retry, or a concurrent call with the same code won the race
    _require(row, Step.PHONE_SENT)
    row.phone_verified = True
    row.phone_verified_at = ctx.now
    row.current_step = Step.PHONE_VERIFIED
    await _complete(ctx, row)
    return status(row)


async def _complete(ctx: Context, row: PendingRegistration) -> None:
    """PHONE_VERIFIED -> COMPLETED: the profile (audited as USER_REGISTERED), the migration mark,
    the relationship invitations waiting for the email address, and the referral that invited it."""
    assert row.password_hash and row.first_name and row.last_name and row.phone_num
    profile = UserProfile(
        profile_id=new_uuid(),
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        phone_num=row.phone_num,
        # Placeholder until biometric enrolment exists: unique per registration, derived, and
        # recognisable as such (the column is NOT NULL and unique per tenant in the reference).
        biometric_hash="placeholder:"
        + hashlib.sha256(f"{row.tenant_id}:{row.id}".encode()).hexdigest(),
        password_hash=row.password_hash,
        date_of_birth=row.date_of_birth,
        gender=row.gender,
        nationality_country_code=row.country_code,
        status=UserProfileStatus.REGISTERED,
    )
    ctx.session.add(profile)
    try:
        await ctx.session.flush()
    except IntegrityError as e:
        # Both addresses were proven by their owner, so saying so reveals nothing to a stranger.
        raise AlreadyRegistered("an account with this email or phone number already exists") from e
    row.current_step = Step.COMPLETED
    row.migrated_to_profile_id = profile.profile_id
    row.migrated_at = ctx.now
    # Relationship invitations sent to this address before it had an account are now theirs.
    await relationships.attach_invitations(
        ctx.session, profile_id=profile.profile_id, email=row.email, now=ctx.now
    )
    await referrals.on_registered(
        ctx.session, profile_id=profile.profile_id, email=row.email, now=ctx.now
    )
    # No audit.record() here: the tenant session's flush hook already writes USER_REGISTERED
    # for every UserProfile insert (gxcore.audit.changes), with the same transaction, actor and
    # request; a second entry would count each registration twice.


# --------------------------------------------------------------------------------------------
# Housekeeping
# --------------------------------------------------------------------------------------------


async def _exists(ctx: Context, *criteria: object) -> bool:
    return bool(await ctx.session.scalar(select(exists().where(*criteria))))  # type: ignore[arg-type]


async def delete_expired(*, session: AsyncSession, now: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` registrations past `expiresAt`, oldest first; returns how many.

    Uses the expiresAt index; rows a request holds locked are skipped, not waited for.
    Run it in a system scope (it spans tenants), batch after batch until it returns < limit.
    """
    due = (
        select(PendingRegistration.id)
        .where(PendingRegistration.expires_at < now)
        .order_by(PendingRegistration.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        delete(PendingRegistration)
        .where(PendingRegistration.id.in_(due))
        .returning(PendingRegistration.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())
