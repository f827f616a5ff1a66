"""`gx admin ...`: administrators of a tenant (who may review registrations).

    gx admin create --tenant acme --email ops@acme.example       # asks for the password twice
    printf '%s' "$PW" | gx admin create --tenant acme --email ops@acme.example --password-stdin
    gx admin grant --tenant acme --email someone@acme.example     # an existing profile
    gx admin grant --tenant acme --email boss@acme.example --role SUPER_ADMIN
    gx admin approve --tenant acme --email user@acme.example --by ops@acme.example

An administrator is a `UserProfile` with role ADMIN or SUPER_ADMIN (`--role`, default ADMIN;
gxcore.identity.access says what each may do). One made by `create` is an operator account:
ACTIVE from the start, never sent to the ledger (it holds no wallet).
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.service import read_ints, require_tenant
from gxcore.audit.chain import truncate_ms
from gxcore.cli_common import DataDir, console, fail, run, settings
from gxcore.db import migrate
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database
from gxcore.enums import UserProfileStatus
from gxcore.errors import AlreadyRegistered, Forbidden, UserNotFound
from gxcore.identity import review
from gxcore.identity.access import Principal, UserRole, act_as, holds
from gxcore.identity.models import UserProfile
from gxcore.identity.passwords import hash_password
from gxcore.identity.registration import check_password
from gxcore.identity.review import Review
from gxcore.identity.schemas import EmailStart, UserRead

app = typer.Typer(help="Administrators: who may review registrations.", no_args_is_help=True)

Tenant = Annotated[str, typer.Option(help="The tenant the administrator belongs to.")]
#: What the audit log names as the session and device of a change made with `gx`.
CLI = "gx"
Email = Annotated[str, typer.Option(help="The administrator's email (their login).")]
AdminRole = Annotated[
    UserRole,
    typer.Option(
        help="ADMIN (reviews, accounts) or SUPER_ADMIN (also genesis, bootstrap, pause, "
        "parameters, appointing administrators)."
    ),
]


@asynccontextmanager
async def _tenant(data_dir: str | None, tenant: str) -> AsyncIterator[AsyncSession]:
    """One unit of work in `tenant` (which must exist), on the database `gx db` commands use."""
    cfg = settings(data_dir)
    async with open_database(cfg, create=False) as url:
        if not (await migrate.status(url)).up_to_date:
            raise fail("the database is not at head; run `gx db migrate` first")
        db = Database.for_settings(url, cfg)
        try:
            async with db.tenant(tenant) as session:
                await require_tenant(session, tenant)
                yield session
        finally:
            await db.dispose()


async def _create(
    data_dir: str | None,
    tenant: str,
    email: str,
    password: str,
    first: str,
    last: str,
    role: UserRole = UserRole.ADMIN,
) -> str:
    async with _tenant(data_dir, tenant) as session:
        return await _add_admin(session, tenant, email, password, first, last, role)


async def _add_admin(
    session: AsyncSession,
    tenant: str,
    email: str,
    password: str,
    first: str,
    last: str,
    role: UserRole,
) -> str:
    policy = await read_ints(session, ("passwordMinLength",))
    check_password(password, password, min_length=policy["passwordMinLength"])
    if await session.scalar(select(UserProfile).where(UserProfile.email == email)):
        raise AlreadyRegistered(f"{email} already has a profile in {tenant}; use `gx admin grant`")
    digest = hashlib.sha256(f"{tenant}:admin:{email}".encode()).hexdigest()
    profile = UserProfile(
        first_name=first,
        last_name=last,
        email=email,
        biometric_hash=f"placeholder:admin:{digest}",
        password_hash=await hash_password(password),
        status=UserProfileStatus.ACTIVE,
        role=role.value,
    )
    session.add(profile)
    await session.flush()
    return profile.profile_id


def generated_password() -> str:
    """A strong password (144 random bits) meeting every password policy gxcore seeds."""
    while True:
        candidate = secrets.token_urlsafe(18)
        if all(any(test(c) for c in candidate) for test in (str.islower, str.isupper, str.isdigit)):
            return candidate


async def admin_with_password(
    url: str, tenant: str, email: str, password: str, *, key: bytes
) -> str:
    """Create a super administrator of `tenant` (on the database at `url`); its profile id."""
    db = Database.connect(url, role_key=key)
    try:
        async with db.tenant(tenant) as session:
            await require_tenant(session, tenant)
            return await _add_admin(
                session, tenant, email, password, "GX", "Administrator", UserRole.SUPER_ADMIN
            )
    finally:
        await db.dispose()


async def first_admin(url: str, tenant: str, email: str, *, key: bytes) -> str | None:
    """`gx up`: create the tenant's first operator, a super administrator with a generated
    password, when `tenant` has no administrator yet.

    The password, to be shown once (only its hash is kept); None when the tenant already has an
    administrator, as on every start after the first.
    """
    db = Database.connect(url, role_key=key)
    try:
        async with db.tenant(tenant) as session:
            await require_tenant(session, tenant)
            # One `gx up` at a time runs a database, so two first starts cannot race here.
            admins = select(UserProfile.profile_id).where(
                UserProfile.role.in_([UserRole.ADMIN.value, UserRole.SUPER_ADMIN.value])
            )
            if await session.scalar(admins.limit(1)) is not None:
                return None
            password = generated_password()
            await _add_admin(
                session, tenant, email, password, "GX", "Administrator", UserRole.SUPER_ADMIN
            )
            return password
    finally:
        await db.dispose()


async def _set_role(data_dir: str | None, tenant: str, email: str, role: UserRole) -> str:
    async with _tenant(data_dir, tenant) as session:
        profile = await session.scalar(
            select(UserProfile).where(UserProfile.email == email).with_for_update()
        )
        if profile is None:
            raise UserNotFound(f"no profile with email {email} in {tenant}")
        profile.role = role.value
        return profile.profile_id


async def _approve(data_dir: str | None, tenant: str, email: str, by: str) -> UserRead:
    async with _tenant(data_dir, tenant) as session:
        admin = await _by_email(session, by, tenant)
        if not holds(admin.role, UserRole.ADMIN):
            raise Forbidden(f"{by} is not an administrator in {tenant}")
        act_as(session, profile_id=admin.profile_id, session_id=CLI, device_id=CLI)
        user = await _by_email(session, email, tenant)
        now = truncate_ms(datetime.now(UTC))  # as timestamptz(3) keeps it
        principal = Principal(admin.profile_id, tenant, CLI, CLI, admin.role)
        return await review.approve(user.profile_id, review=Review(session, principal, now))


async def _by_email(session: AsyncSession, email: str, tenant: str) -> UserProfile:
    profile = await session.scalar(select(UserProfile).where(UserProfile.email == email))
    if profile is None:
        raise UserNotFound(f"no profile with email {email} in {tenant}")
    return profile


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _email(value: str) -> str:
    try:
        return EmailStart(email=value).email
    except ValueError:
        raise fail(f"not an email address: {value!r}") from None


@app.command()
def create(
    tenant: Tenant,
    email: Email,
    first_name: Annotated[str, typer.Option(help="Given name.")] = "Admin",
    last_name: Annotated[str, typer.Option(help="Family name.")] = "Operator",
    role: AdminRole = UserRole.ADMIN,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create an administrator (a new profile with role ADMIN or SUPER_ADMIN) who can log in."""
    if role is UserRole.USER:
        raise fail("--role is ADMIN or SUPER_ADMIN")
    address = _email(email)
    password = _password(password_stdin)
    profile_id = run(_create(data_dir, tenant, address, password, first_name, last_name, role))
    console.print(
        f"administrator {address} created in tenant {tenant} as {role.value}: {profile_id}",
        soft_wrap=True,
    )


@app.command()
def grant(
    tenant: Tenant, email: Email, role: AdminRole = UserRole.ADMIN, data_dir: DataDir = None
) -> None:
    """Make an existing profile an administrator (ADMIN or SUPER_ADMIN)."""
    if role is UserRole.USER:
        raise fail("--role is ADMIN or SUPER_ADMIN; `gx admin revoke` makes a USER")
    profile_id = run(_set_role(data_dir, tenant, _email(email), role))
    console.print(
        f"{email} is now an administrator in tenant {tenant} as {role.value}: {profile_id}",
        soft_wrap=True,
    )


@app.command()
def revoke(tenant: Tenant, email: Email, data_dir: DataDir = None) -> None:
    """Make an administrator an ordinary user again."""
    profile_id = run(_set_role(data_dir, tenant, _email(email), UserRole.USER))
    console.print(f"{email} is no longer an administrator in tenant {tenant}: {profile_id}")


@app.command()
def approve(
    tenant: Tenant,
    email: Annotated[str, typer.Option(help="The user to approve (their email).")],
    by: Annotated[str, typer.Option("--by", help="The approving administrator's email.")],
    data_dir: DataDir = None,
) -> None:
    """Approve a user, as POST /admin/users/{id}/approve does: CREATE_USER goes to the ledger;
    once that command has FAILED, approving again sends a new one."""
    user = run(_approve(data_dir, tenant, _email(email), _email(by)))
    console.print(f"{email} is {user.status.value} in tenant {tenant}: {user.profileId}")
