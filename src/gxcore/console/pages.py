"""/console: the operations console's pages and form actions (HTML, outside the OpenAPI).

Every page works in the signed-in administrator's tenant (gxcore.console.session) and reads
through the same service functions as the admin API; every action calls the same use case as
its API route, in the request's unit of work, audited as the API's is. An action answers
303 to its page (post/redirect/get); a refused one rolls back and renders the error page with
the status the API would answer (another tenant's id: 404).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from hmac import compare_digest
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy import select
from starlette.templating import Jinja2Templates

from gxcore.audit import service as audit
from gxcore.audit.service import verify_chain
from gxcore.bodies import Ident
from gxcore.console import history
from gxcore.console.charts import Chart
from gxcore.console.session import (
    FORM_COOKIE,
    PREFIX,
    REFRESH_COOKIE,
    SIGN_IN,
    TOKEN_COOKIE,
    Console,
    CsrfRefused,
    SignedIn,
    SignInRequired,
    auth_context,
    clear_cookie,
    keep_rotated,
    keep_tokens,
    new_form_token,
    set_cookie,
)
from gxcore.cqrs import operator
from gxcore.cqrs.dlq import list_entries, replay_dlq
from gxcore.cqrs.models import EventDLQ
from gxcore.cqrs.projector import status as projector_status
from gxcore.db import pages
from gxcore.db.scope import valid_tenant_id
from gxcore.enums import AuditEventType, KycStatus, OutboxStatus, UserProfileStatus
from gxcore.errors import Conflict, DlqEntryNotFound, Forbidden, GxError, ValidationFailed
from gxcore.http import (
    DEFAULT_TENANT,
    WHILE_PAUSED,
    app_context,
    request_now,
    status_for,
    tenant_transaction,
)
from gxcore.identity import auth
from gxcore.identity import review as users
from gxcore.identity.access import UserRole, holds
from gxcore.identity.schemas import LoginRequest, OptionalReason, ReviewReason
from gxcore.kyc import verification as kyc
from gxcore.wallet import risk

log = logging.getLogger(__name__)

SEE_OTHER = 303
PAGE = 50
#: What an action's redirect may confirm (`?done=`): a fixed text, never the query's own.
DONE = {
    "approved": "approved",
    "denied": "denied",
    "rejected": "rejected",
    "released": "released",
    "retried": "re-queued",
    "replayed": "replayed: applied and removed from the queue",
    "still-failing": "replayed, but it still fails; its reason is updated",
}

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


class LedgerNotConnected(Conflict):
    """Replay reads the event from the ledger; this server was started without one."""

    code = "LEDGER_NOT_CONNECTED"


class _ConsoleRoute(APIRoute):
    """Refusals as pages: no cookie (or a dead one) goes to sign in, any other GxError renders
    the error page with the API's status. The unit of work has rolled back by then."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = RedirectResponse(SIGN_IN, status_code=SEE_OTHER)
                clear_cookie(response, request, TOKEN_COOKIE)
                clear_cookie(response, request, REFRESH_COOKIE)
                return response
            except GxError as error:
                return templates.TemplateResponse(
                    request,
                    "error.html",
                    {"error": error, "status": status_for(error)},
                    status_code=status_for(error),
                )
            keep_rotated(response, request)  # the pair this request rotated, if it did
            return response

        return guarded


router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=_ConsoleRoute)


def _page(console: Console, name: str, **context: Any) -> HTMLResponse:
    base = {
        "admin": console.admin,
        "tenant": console.tenant,
        "csrf": console.csrf,
        "done": DONE.get(console.request.query_params.get("done", "")),
    }
    return templates.TemplateResponse(console.request, name, {**base, **context})


def _back(path: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}{path}?done={done}", status_code=SEE_OTHER)


async def _field(request: Request, name: str) -> str | None:
    value = (await request.form()).get(name)
    return value if isinstance(value, str) and value != "" else None


async def _reason(request: Request) -> str:
    """The form's `reason`, checked as the API's ReviewReason body is (422 naming the field)."""
    reason = await _checked(request, ReviewReason)
    assert reason is not None
    return reason


async def _notes(request: Request) -> str | None:
    """The form's optional `reason`, checked as the API's OptionalReason body is."""
    return await _checked(request, OptionalReason)


async def _checked(request: Request, body: type[ReviewReason | OptionalReason]) -> str | None:
    try:
        return body(reason=await _field(request, "reason")).reason
    except ValidationError as e:
        raise ValidationFailed("reason: " + e.errors()[0]["msg"], field="reason") from None


# --------------------------------------------------------------------------------------------
# Sign-in and sign-out
# --------------------------------------------------------------------------------------------


def _sign_in_form(
    request: Request, *, error: str | None = None, status: int = 200, tenant: str = DEFAULT_TENANT
) -> HTMLResponse:
    token = new_form_token()
    response = templates.TemplateResponse(
        request,
        "sign_in.html",
        {"form_token": token, "error": error, "tenant": tenant},
        status_code=status,
    )
    set_cookie(response, request, FORM_COOKIE, token)
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request) -> HTMLResponse:
    return _sign_in_form(request)


@router.post("/sign-in", openapi_extra=WHILE_PAUSED)
async def sign_in(request: Request) -> Response:
    """The API's login; only an ADMIN (or SUPER_ADMIN) gets a console session."""
    form = await request.form()
    sent, expected = form.get("csrf"), request.cookies.get(FORM_COOKIE)
    if (
        not isinstance(sent, str)
        or not expected
        or not compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused("this form's CSRF token is missing or wrong; reload the page")
    tenant = str(form.get("tenant") or DEFAULT_TENANT)
    try:
        tenant = valid_tenant_id(tenant)
        body = LoginRequest(
            email=str(form.get("email") or ""), password=str(form.get("password") or "")
        )
        async with tenant_transaction(request, tenant) as session:
            signed = await auth.login(
                body, ctx=auth_context(request, session, request_now(request))
            )
            if not holds(signed.role, UserRole.ADMIN):
                raise Forbidden("the console is for administrators (ADMIN or SUPER_ADMIN)")
    except ValidationError:
        return _sign_in_form(
            request, error="enter a valid email and password", status=422, tenant=tenant
        )
    except GxError as e:
        return _sign_in_form(request, error=e.message, status=status_for(e), tenant=tenant)
    response = RedirectResponse(PREFIX, status_code=SEE_OTHER)
    keep_tokens(response, request, tenant, signed)
    clear_cookie(response, request, FORM_COOKIE)
    return response


@router.post("/sign-out", openapi_extra=WHILE_PAUSED)
async def sign_out(console: SignedIn) -> Response:
    """Ends the session as `POST /auth/logout` does."""
    await auth.logout(
        console.admin, ctx=auth_context(console.request, console.session, console.now)
    )
    response = RedirectResponse(SIGN_IN, status_code=SEE_OTHER)
    clear_cookie(response, console.request, TOKEN_COOKIE)
    clear_cookie(response, console.request, REFRESH_COOKIE)
    return response


def _paging(console: Console, cursor: str | None = None, view: str = "") -> pages.PageRequest:
    """A page of PAGE rows from `cursor`, its cursors bound to the tenant and this page (and
    `view`, the filter it was served under), as the API's lists bind theirs."""
    binding = f"{console.tenant}\n{console.request.url.path}\n{view}"
    return pages.PageRequest(app_context(console.request).cursors, binding, PAGE, cursor)


# --------------------------------------------------------------------------------------------
# Overview
# --------------------------------------------------------------------------------------------


@router.get("")
async def overview(console: SignedIn) -> HTMLResponse:
    session, now = console.session, console.now
    outbox = await operator.counts(session, tenant_id=console.tenant)
    charts = [
        Chart("Outbox depth", "commands", await history.outbox_depth(session, now)),
        Chart("Projector lag", "seconds", await history.projector_lag(session, now)),
    ]
    pending = await users.list_page(
        session, paging=_paging(console), statuses=[UserProfileStatus.PENDING_ADMIN_APPROVAL]
    )
    held = await risk.held_page(session=session, paging=_paging(console))
    dlq = await list_entries(session, limit=PAGE)
    return _page(
        console,
        "overview.html",
        outbox=outbox,
        charts=charts,
        now=now,
        lag=await _projector_now(console),
        pending=len(pending.items),
        held=len(held.items),
        dlq=len(dlq),
        more=PAGE,
    )


async def _projector_now(console: Console) -> str:
    probe = getattr(console.request.app.state, "probe", None)
    if probe is None or probe.ledger is None:
        return "unknown: this server has no ledger connected"
    try:
        found = await projector_status(
            app_context(console.request).database,
            probe.ledger,
            name=probe.projector_name,
            tenant_id=console.tenant,
        )
    except Exception as e:  # noqa: BLE001  (the page still shows the rest)
        log.warning("console: projector status unavailable: %s", e)
        return f"unavailable: {type(e).__name__}"
    return (
        f"{found.lag} block(s), {found.lag_seconds(console.now):.1f} s behind the ledger "
        f"at block {found.height}"
    )


# --------------------------------------------------------------------------------------------
# Users awaiting review
# --------------------------------------------------------------------------------------------


def _users(console: Console) -> users.Review:
    return users.Review(session=console.session, admin=console.admin, now=console.now)


@router.get("/users")
async def users_page(console: SignedIn, cursor: str | None = None) -> HTMLResponse:
    found = await users.list_page(
        console.session,
        paging=_paging(console, cursor),
        statuses=[UserProfileStatus.PENDING_ADMIN_APPROVAL],
    )
    return _page(console, "users.html", page=found)


@router.post("/users/{profile_id}/approve")
async def approve_user(profile_id: Ident, console: SignedIn) -> Response:
    await users.approve(profile_id, review=_users(console))
    return _back("/users", "approved")


@router.post("/users/{profile_id}/deny")
async def deny_user(profile_id: Ident, console: SignedIn) -> Response:
    await users.reject(profile_id, await _reason(console.request), review=_users(console))
    return _back("/users", "denied")


# --------------------------------------------------------------------------------------------
# KYC reviews
# --------------------------------------------------------------------------------------------


def _kyc(console: Console) -> kyc.Review:
    return kyc.Review(session=console.session, admin=console.admin, now=console.now)


@router.get("/kyc")
async def kyc_page(console: SignedIn, cursor: str | None = None) -> HTMLResponse:
    found = await kyc.list_page(
        console.session, _paging(console, cursor), statuses=[KycStatus.PENDING], submitted=True
    )
    return _page(console, "kyc.html", page=found)


@router.post("/kyc/{kyc_id}/approve")
async def approve_kyc(kyc_id: Ident, console: SignedIn) -> Response:
    await kyc.approve(kyc_id, review=_kyc(console))
    return _back("/kyc", "approved")


@router.post("/kyc/{kyc_id}/reject")
async def reject_kyc(kyc_id: Ident, console: SignedIn) -> Response:
    await kyc.reject(kyc_id, await _reason(console.request), review=_kyc(console))
    return _back("/kyc", "rejected")


# --------------------------------------------------------------------------------------------
# Held transfers
# --------------------------------------------------------------------------------------------


@router.get("/transfers")
async def transfers_page(console: SignedIn, cursor: str | None = None) -> HTMLResponse:
    found = await risk.held_page(session=console.session, paging=_paging(console, cursor))
    return _page(console, "transfers.html", page=found)


@router.post("/transfers/{command_id}/release")
async def release_transfer(command_id: Ident, console: SignedIn) -> Response:
    notes = await _notes(console.request)
    await risk.release(
        command_id, notes, session=console.session, admin=console.admin, now=console.now
    )
    return _back("/transfers", "released")


@router.post("/transfers/{command_id}/reject")
async def reject_transfer(command_id: Ident, console: SignedIn) -> Response:
    reason = await _reason(console.request)
    await risk.reject(
        command_id, reason, session=console.session, admin=console.admin, now=console.now
    )
    return _back("/transfers", "rejected")


# --------------------------------------------------------------------------------------------
# Outbox
# --------------------------------------------------------------------------------------------


@router.get("/outbox")
async def outbox_page(
    console: SignedIn, status: str | None = None, cursor: str | None = None
) -> HTMLResponse:
    try:
        wanted = OutboxStatus(status) if status else OutboxStatus.FAILED
    except ValueError:
        raise ValidationFailed(f"no outbox status {status!r}", field="status") from None
    counts = await operator.counts(console.session, tenant_id=console.tenant)
    found = await operator.list_page(
        console.session,
        _paging(console, cursor, f"status={wanted.value}"),
        status=wanted,
        tenant_id=console.tenant,
    )
    return _page(console, "outbox.html", counts=counts, status=wanted, page=found)


@router.post("/outbox/{command_id}/retry")
async def retry_command(command_id: Ident, console: SignedIn) -> Response:
    """Re-queue a FAILED command (`gx relay retry`'s use case), in the tenant's scope: another
    tenant's command is not found. The re-queue is one UPDATE, so its audit entry is explicit."""
    before = await operator.get_or_raise(console.session, command_id)
    previous = {
        "status": before.status.value,
        "errorCode": before.error_code,
        "requestId": before.request_id,
    }
    requeued = await operator.retry(console.session, command_id)
    await audit.record(
        console.session,
        event_type=AuditEventType.RECORD_UPDATED,
        resource_type="OutboxCommand",
        resource_id=command_id,
        previous=previous,
        new={"status": requeued.status.value, "requestId": requeued.request_id},
        metadata={"action": "retry", "via": "console"},
    )
    return _back("/outbox", "retried")


# --------------------------------------------------------------------------------------------
# Projector dead letters
# --------------------------------------------------------------------------------------------


@router.get("/dlq")
async def dlq_page(console: SignedIn) -> HTMLResponse:
    return _page(console, "dlq.html", entries=await list_entries(console.session, limit=PAGE))


@router.post("/dlq/{entry_id}/replay")
async def replay_entry(entry_id: Ident, console: SignedIn) -> Response:
    """`gx projector replay-dlq --id`'s use case, for an entry of this tenant only."""
    seen = await console.session.scalar(select(EventDLQ.id).where(EventDLQ.id == entry_id))
    if seen is None:
        raise DlqEntryNotFound(f"no DLQ entry {entry_id!r}")
    probe = getattr(console.request.app.state, "probe", None)
    if probe is None or probe.ledger is None:
        raise LedgerNotConnected("replay reads the event from the ledger; none is connected")
    result = await replay_dlq(
        app_context(console.request).database,
        probe.ledger,
        entry_id=entry_id,
        tenant_id=console.tenant,
    )
    failed = dict(result.failed)
    await audit.record(
        console.session,
        event_type=AuditEventType.RECORD_DELETED if not failed else AuditEventType.RECORD_UPDATED,
        resource_type="EventDLQ",
        resource_id=entry_id,
        metadata={
            "action": "replay",
            "via": "console",
            "applied": not failed,
            "reason": failed.get(entry_id),
        },
    )
    return _back("/dlq", "replayed" if not failed else "still-failing")


# --------------------------------------------------------------------------------------------
# Audit chain
# --------------------------------------------------------------------------------------------


@router.get("/audit")
async def audit_page(console: SignedIn) -> HTMLResponse:
    """The tenant's chain verified end to end now (`gx audit verify --tenant`)."""
    verdicts = await verify_chain(console.session, console.tenant)
    return _page(console, "audit.html", verdicts=verdicts)
