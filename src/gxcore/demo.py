"""`gx demo`: the system's main story, told over HTTP against a running `gx up`.

The story is `STEPS`, one `Step` per line: a title and a function of the shared `Story` that
answers a one-line result or raises `StoryFailed`: registration, approval, genesis, transfers,
relationships and trust, a business account's 2-of-3 payout, the velocity tax. A feature that
lands later becomes one more step; nothing that does not exist is shown.

Where the system is: `<data dir>/up.json`, which a running `gx up` writes once its API answers
(its pid, tenant and API address). `--embedded` starts a `gx up` of its own on a temporary data
directory and a free port, and stops it at the end. The emails' and SMS' codes are read from the
development mailbox of that data directory, and the demo signs in as an administrator of its
own (`demo-admin@example.com`, created on first use; its generated password is kept in
`<data dir>/demo_admin`, like the other development keys), so it never needs the password
`gx up` showed. It refuses to run on a production environment or database.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import phonenumbers
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from sqlalchemy import select

from gxcore.cli_common import DataDir, console, fail, run, settings
from gxcore.config import Settings
from gxcore.cqrs.models import EventLog
from gxcore.db import server
from gxcore.db.cli import open_database
from gxcore.db.roles import role_key
from gxcore.db.tenancy import Database
from gxcore.identity.cli import admin_with_password, generated_password
from gxcore.notifications.senders import read_mailbox

T = TypeVar("T")

DEMO_ADMIN = "demo-admin@example.com"
PASSWORD = "Demo-password-2026"
#: How long a step waits for the services (a code to arrive, the ledger, the projector).
PATIENCE = 90.0
GENESIS = Decimal(500)


class StoryFailed(Exception):
    """A check of the story failed; the message says which and what was seen."""


@dataclass
class Person:
    first: str
    last: str
    email: str
    phone: str  # national format, read in the registration's country (GB)
    phone_e164: str
    profile_id: str = ""
    token: str = ""
    sent: Decimal = Decimal(0)
    received: Decimal = Decimal(0)

    @property
    def name(self) -> str:
        return self.first


@dataclass
class Story:
    """What the steps share."""

    http: httpx.Client
    mailbox: Path
    settings: Settings
    tenant: str
    say: Callable[[str], None] = print
    admin: dict[str, str] = field(default_factory=dict)
    people: list[Person] = field(default_factory=list)
    transfers: list[tuple[Person, Person, Decimal, str]] = field(default_factory=list)

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code != expect:
            raise StoryFailed(
                f"{method} {path}: expected {expect}, got {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response.json() if response.content else None

    def until(self, what: str, probe: Callable[[], T | None], timeout: float = PATIENCE) -> T:
        deadline = time.monotonic() + timeout
        while (found := probe()) is None:
            if time.monotonic() > deadline:
                raise StoryFailed(f"waited {timeout:.0f}s for {what}")
            time.sleep(0.2)
        return found

    def code_for(self, to: str, seen: int) -> str:
        def newest() -> str | None:
            messages = read_mailbox(self.mailbox, to=to)
            if len(messages) <= seen:
                return None
            match = re.search(r"\b(\d{6})\b", messages[-1]["text"])
            return match.group(1) if match else None

        return self.until(f"the code sent to {to}", newest)


# --------------------------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------------------------


def sign_in_admin(story: Story) -> str:
    password = run(_demo_admin(story.settings, story.tenant))
    tokens = story.call("POST", "/auth/login", json={"email": DEMO_ADMIN, "password": password})
    story.admin = {"Authorization": f"Bearer {tokens['accessToken']}"}
    return f"signed in as {DEMO_ADMIN}"


def register(story: Story) -> str:
    run_id = secrets.token_hex(3)
    for first, last in (("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper")):
        phone = _free_phone()
        person = Person(
            first,
            last,
            f"{first.lower()}.{last.lower()}.{run_id}@example.com",
            phonenumbers.format_number(phone, phonenumbers.PhoneNumberFormat.NATIONAL),
            phonenumbers.format_number(phone, phonenumbers.PhoneNumberFormat.E164),
        )
        story.say(f"{first}: email")
        start = story.call("POST", "/registration/email", 201, json={"email": person.email})
        rid = start["registrationId"]
        story.say(f"{first}: the email code from the mailbox")
        steps: list[tuple[str, dict[str, Any]]] = [
            ("email/verify", {"otp": story.code_for(person.email, 0)}),
            ("name-country", {"firstName": first, "lastName": last, "countryCode": "GB"}),
            ("dob-gender", {"dateOfBirth": "1990-12-10", "gender": "FEMALE"}),
            ("password", {"password": PASSWORD, "confirmPassword": PASSWORD}),
            ("phone", {"phoneNum": person.phone}),
        ]
        for path, body in steps:
            story.say(f"{first}: {path}")
            story.call("POST", f"/registration/{path}", json={"registrationId": rid, **body})
        story.say(f"{first}: the SMS code from the mailbox")
        otp = story.code_for(person.phone_e164, 0)
        done = story.call(
            "POST", "/registration/phone/verify", json={"registrationId": rid, "otp": otp}
        )
        if done["currentStep"] != "COMPLETED":
            raise StoryFailed(f"{first}'s registration ended at {done['currentStep']}")
        person.profile_id = story.call("GET", f"/registration/{rid}")["profileId"]
        story.people.append(person)
    return ", ".join(p.email for p in story.people) + ": REGISTERED"


def approve(story: Story) -> str:
    for person in story.people:
        story.say(person.name)
        answer = story.call(
            "POST", f"/admin/users/{person.profile_id}/approve", headers=story.admin
        )
        if answer["status"] != "APPROVED_PENDING_ONCHAIN":
            raise StoryFailed(f"{person.name} is {answer['status']} after approval")
    return "APPROVED_PENDING_ONCHAIN; CREATE_USER queued for the ledger"


def active(story: Story) -> str:
    for person in story.people:
        story.say(f"{person.name}: relay → ledger → projector")

        def is_active(p: Person = person) -> bool | None:
            user = story.call("GET", f"/admin/users/{p.profile_id}", headers=story.admin)
            return user["status"] == "ACTIVE" or None

        story.until(f"{person.name} to become ACTIVE", is_active)
    return "all three ACTIVE, each with a wallet"


def genesis(story: Story) -> str:
    for person in story.people:
        story.say(person.name)
        story.call("POST", "/genesis", 202, json={"userId": person.profile_id}, headers=story.admin)
    for person in story.people:
        story.say(f"{person.name}: waiting for the allocation")

        def funded(p: Person = person) -> dict[str, Any] | None:
            return _balance(story, p)

        story.until(f"{person.name}'s genesis", funded)
    return f"{GENESIS} each"


def send_money(story: Story) -> str:
    for person in story.people:
        tokens = story.call(
            "POST", "/auth/login", json={"email": person.email, "password": PASSWORD}
        )
        person.token = tokens["accessToken"]
    ada, alan, grace = story.people
    for sender, receiver, amount in (
        (ada, alan, Decimal(120)),
        (alan, grace, Decimal("45.5")),
        (grace, ada, Decimal("30.25")),
    ):
        story.say(f"{sender.name} → {receiver.name}: {amount}")
        accepted = story.call(
            "POST",
            "/transfers",
            202,
            json={"toUserId": receiver.profile_id, "amount": str(amount)},
            headers=_bearer(sender),
        )
        story.transfers.append((sender, receiver, amount, accepted["commandId"]))
    for sender, receiver, amount, command in story.transfers:
        story.say(f"{sender.name} → {receiver.name}: on the ledger")
        _committed(story, sender, command)
        sender.sent += amount
        receiver.received += amount
    return "; ".join(f"{s.name} → {r.name} {a}" for s, r, a, _ in story.transfers)


def overdraw(story: Story) -> str:
    ada, alan, _ = story.people
    answer = story.http.post(
        "/transfers",
        json={"toUserId": alan.profile_id, "amount": "10000"},
        headers=_bearer(ada),
    )
    problem = answer.json() if answer.content else {}
    if answer.status_code != 409 or problem.get("code") != "INSUFFICIENT_FUNDS":
        raise StoryFailed(f"an overdraw answered {answer.status_code}: {answer.text[:300]}")
    return f"{ada.name} → {alan.name} 10000: 409 INSUFFICIENT_FUNDS, nothing written"


def settled(story: Story) -> str:
    """Each wallet as the projector leaves it: genesis + received − sent − the fees it paid."""
    for person in story.people:
        story.say(person.name)

        def final(p: Person = person) -> bool | None:
            # The history first, then the balance: a batch projected between the two reads
            # then shows in the balance too, never in the history alone.
            rows = story.call(
                "GET", f"/wallets/{p.profile_id}/transactions?limit=100", headers=_bearer(p)
            )["items"]
            balance = _balance(story, p)
            if balance is None or balance["held"] != "0.000000000":
                return None
            sent = [r for r in rows if r["type"] == "SENT"]
            received = [r for r in rows if r["type"] == "RECEIVED"]
            if (
                sum(Decimal(r["amount"]) for r in received) != p.received
                or sum(Decimal(r["amount"]) for r in sent) != p.sent
            ):
                return None  # not all projected yet
            fees = sum((Decimal(r["fee"]) for r in sent), Decimal(0))
            expected = GENESIS + p.received - p.sent - fees
            if Decimal(balance["balance"]) != expected:
                raise StoryFailed(f"{p.name} has {balance['balance']}, expected {expected}")
            return True

        story.until(f"{person.name}'s wallet to settle", final)
    return "every balance = genesis + received − sent − fees"


def trust(story: Story) -> str:
    """Relationships confirmed on both sides raise both sides' trust scores at once."""
    ada, alan, grace = story.people
    before = {p.name: _trust(story, p) for p in story.people}
    for inviter, invitee, kind in (
        (ada, alan, "BUSINESS_PARTNER"),
        (ada, grace, "FRIEND"),
        (alan, grace, "WORKPLACE_ASSOCIATE"),
    ):
        story.say(f"{inviter.name} names {invitee.name} a {kind.lower().replace('_', ' ')}")
        invited = story.call(
            "POST",
            "/relationships",
            201,
            json={"relationType": kind, "relatedProfileId": invitee.profile_id},
            headers=_bearer(inviter),
        )
        story.say(f"{invitee.name} confirms")
        story.call(
            "POST", f"/relationships/{invited['relationshipId']}/confirm", headers=_bearer(invitee)
        )
    after = {p.name: _trust(story, p) for p in story.people}
    flat = [name for name in after if after[name] <= before[name]]
    if flat:
        raise StoryFailed(f"trust scores did not rise for {', '.join(flat)}: {after}")
    return ", ".join(f"{name} {before[name]} → {after[name]}" for name in after)


def business(story: Story) -> str:
    """Three stakeholders found an organization on the ledger and open a business account
    needing 2 approvals; a payout waits for the second signature, then moves."""
    ada, alan, grace = story.people
    org = f"ORG-DEMO-{secrets.token_hex(3).upper()}"
    story.say(f"{ada.name} proposes {org} with {alan.name} and {grace.name}")
    story.call(
        "POST",
        "/organizations",
        202,
        json={
            "organizationName": "Analytical Engines",
            "organizationId": org,
            "stakeholders": [alan.profile_id, grace.profile_id],
        },
        headers=_bearer(ada),
    )
    story.until(f"{org} on the ledger", lambda: _organization(story, ada, org))
    for person in story.people:
        story.say(f"{person.name} endorses")
        story.call("POST", f"/organizations/{org}/endorse", 202, headers=_bearer(person))

    def endorsed() -> bool | None:
        found = _organization(story, ada, org)
        return (found is not None and len(found["endorsers"]) == len(story.people)) or None

    story.until("every endorsement", endorsed)
    story.say(f"{ada.name} activates it")
    story.call("POST", f"/organizations/{org}/activate", 202, headers=_bearer(ada))

    def active() -> bool | None:
        found = _organization(story, ada, org)
        return (found is not None and found["status"] == "ACTIVE") or None

    story.until(f"{org} to become ACTIVE", active)

    story.say("its profile is verified, its account opened (2 approvals)")
    profile = story.call(
        "POST",
        "/organization-profiles",
        201,
        json={"legalName": "Analytical Engines Ltd", "jurisdictionCountryCode": "gb"},
        headers=_bearer(ada),
    )["orgProfileId"]
    story.call("POST", f"/admin/organization-profiles/{profile}/verify", headers=story.admin)
    account = story.call(
        "POST",
        "/business-accounts",
        201,
        json={"orgProfileId": profile, "organizationId": org, "defaultRequiredApprovals": 2},
        headers=_bearer(ada),
    )["businessAccountId"]
    for person, role, initiates in (
        (alan, "DIRECTOR", True),
        (grace, "AUTHORIZED_SIGNATORY", False),
    ):
        story.say(f"{person.name} becomes a signatory")
        sid = story.call(
            "POST",
            f"/business-accounts/{account}/signatories",
            201,
            json={
                "profileId": person.profile_id,
                "role": role,
                "canInitiateTransactions": initiates,
                "canApproveTransactions": True,
            },
            headers=_bearer(ada),
        )["signatoryId"]
        story.call(
            "POST",
            f"/business-accounts/{account}/signatories/{sid}/confirm",
            headers=_bearer(person),
        )

    funding = Decimal(100)
    story.say(f"{ada.name} pays {funding} into the account")
    paid = story.call(
        "POST",
        "/transfers",
        202,
        json={"toBusinessAccountId": account, "amount": str(funding)},
        headers=_bearer(ada),
    )["commandId"]
    _committed(story, ada, paid)
    ada.sent += funding

    payout = Decimal(40)
    story.say(f"{alan.name} pays {grace.name} {payout}: the first of two approvals")
    approval = story.call(
        "POST",
        f"/business-accounts/{account}/transfers",
        202,
        json={"toUserId": grace.profile_id, "amount": str(payout)},
        headers=_bearer(alan),
    )
    if (approval["receivedApprovals"], approval["requiredApprovals"]) != (1, 2):
        raise StoryFailed(f"the payout waits for {approval}")
    start = Decimal((_balance(story, grace) or {"balance": "0"})["balance"])
    story.say(f"{ada.name} approves: the second")
    voted = story.call("POST", f"/approvals/{approval['approvalId']}/approve", headers=_bearer(ada))
    if voted["status"] != "APPROVED":
        raise StoryFailed(f"after two approvals the payout is {voted['status']}")

    def arrived() -> bool | None:
        balance = _balance(story, grace)
        return (balance is not None and Decimal(balance["balance"]) == start + payout) or None

    story.until(f"{grace.name}'s payout", arrived)
    grace.received += payout
    return f"{org}: {ada.name} paid in {funding}; {alan.name} + {ada.name} approved {payout} to {grace.name}"


def velocity_tax(story: Story) -> str:
    """Today's run (nobody has held above the threshold for a cycle yet), and what Ada's
    balance would owe when her cycle completes, from the eligibility route's projection."""
    ada = story.people[0]
    story.say("today's run")
    report = story.call("POST", "/velocity-tax/apply", 202, json={}, headers=story.admin)
    now = story.call("GET", f"/velocity-tax/eligibility/{ada.profile_id}", headers=_bearer(ada))
    story.say(f"{ada.name}'s balance, {now['daysRemaining']} days on")
    due_on = date.fromisoformat(now["asOf"]) + timedelta(days=now["daysRemaining"])
    then = story.call(
        "GET",
        f"/velocity-tax/eligibility/{ada.profile_id}",
        params={"asOf": due_on.isoformat()},
        headers=_bearer(ada),
    )
    if now["eligible"] or not then["eligible"] or Decimal(then["taxDue"]) <= 0:
        raise StoryFailed(f"velocity tax: today {now}, on {due_on} {then}")
    return (
        f"today {report['taxed']} of {report['wallets']} wallets taxed; on {due_on} "
        f"{ada.name} would owe {Decimal(then['taxDue']).normalize():f} "
        f"({then['rateBps']} bps of {Decimal(then['taxableAmount']).normalize():f})"
    )


def rebuilt(story: Story) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gxcore", "projector", "rebuild", "--tenant", story.tenant],
        env=_child_env(story.settings),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or "equal the live ones" not in done.stdout:
        raise StoryFailed(f"gx projector rebuild: {done.stdout}{done.stderr}".strip())
    return done.stdout.strip().splitlines()[0]


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[Story], str]


#: The story, in order. One line per step.
STEPS: tuple[Step, ...] = (
    Step("an administrator signs in", sign_in_admin),
    Step("three people register through the OTP flow", register),
    Step("the administrator approves them", approve),
    Step("the ledger makes them ACTIVE", active),
    Step("each receives the genesis allocation", genesis),
    Step("they send money to each other", send_money),
    Step("an overdraw is refused", overdraw),
    Step("the wallets settle", settled),
    Step("relationships raise trust scores", trust),
    Step("a business account pays out after 2 of 3 approve", business),
    Step("the velocity tax: today's run and a later day's", velocity_tax),
    Step("`gx projector rebuild`: the read models equal the ledger", rebuilt),
)


# --------------------------------------------------------------------------------------------
# Telling it
# --------------------------------------------------------------------------------------------


def tell(story: Story, steps: tuple[Step, ...] = STEPS) -> bool:
    """Run the steps under a progress display; False at the first that fails."""
    columns = (
        SpinnerColumn(finished_text=""),
        TimeElapsedColumn(),
        TextColumn("{task.description}", table_column=Column(overflow="fold")),
    )
    with Progress(*columns, console=console) as progress:
        for step in steps:
            task = progress.add_task(step.title, total=1)

            def say(text: str, task: Any = task, title: str = step.title) -> None:
                progress.update(task, description=f"{title} [dim]({text})[/]")

            story.say = say
            try:
                result = step.run(story)
            except (StoryFailed, httpx.HTTPError) as e:
                progress.update(task, description=f"[red]✗[/] {step.title}: {e}", completed=1)
                return False
            progress.update(task, description=f"[green]✓[/] {step.title}: {result}", completed=1)
    return True


def epilogue(story: Story) -> None:
    table = Table(title="balances")
    for column in ("person", "balance", "available", "sent", "received", "trust score"):
        table.add_column(column, justify="left" if column == "person" else "right")
    for person in story.people:
        balance = _balance(story, person) or {}
        table.add_row(
            f"{person.first} {person.last}",
            balance.get("balance", "?"),
            balance.get("available", "?"),
            str(person.sent),
            str(person.received),
            str(_trust(story, person)) if person.token else "?",
        )
    console.print(table)
    log = Table(title=f"the event log's last entries (tenant {story.tenant})")
    for column in ("block", "event", "payload"):
        log.add_column(column)
    names = {p.profile_id: p.first for p in story.people}
    for block, name, payload in run(_event_tail(story.settings, story.tenant)):
        shown = json.dumps(payload, default=str)
        for profile_id, first in names.items():  # people by name, not by id
            shown = shown.replace(profile_id, first)
        log.add_row(str(block), name, shown[:100])
    console.print(log)


def demo_command(
    embedded: Annotated[
        bool,
        typer.Option(
            "--embedded", help="Start a `gx up` of its own on a temporary data dir, then stop it."
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Tell the main story over HTTP against the running `gx up` of the data dir (or, with
    --embedded, one of its own): registration, approval, genesis, transfers, a refused
    overdraw, and the read models checked against the ledger. Exit 0 only if every check
    passed."""
    started = time.perf_counter()
    with (
        _system(embedded, data_dir) as (cfg, base, tenant),
        httpx.Client(
            base_url=f"{base}/api/v1", headers={"X-Tenant-Id": tenant}, timeout=30
        ) as http,
    ):
        story = Story(http, cfg.mailbox_file, cfg, tenant)
        ok = tell(story)
        if story.people:
            epilogue(story)
    elapsed = time.perf_counter() - started
    if not ok:
        raise fail(f"the story stopped at a failed check, after {elapsed:.1f}s")
    console.print(f"[green]every check passed[/] in {elapsed:.1f}s")


@contextmanager
def _system(embedded: bool, data_dir: str | None) -> Iterator[tuple[Settings, str, str]]:
    """(settings, API base address, tenant) of the `gx up` to tell the story against."""
    if not embedded:
        cfg = settings(data_dir)
        base, tenant = _running(cfg)
        _refuse_production(cfg)
        yield cfg, base, tenant
        return
    scratch = Path(tempfile.mkdtemp(prefix="gx-demo-"))
    cfg = settings(str(scratch))
    log_path = scratch / "up.log"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    console.print(f"starting `gx up` in {scratch} (API on :{port}; its output: {log_path})")
    with log_path.open("w") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "gxcore", "up", "--port", str(port)],
            env=_child_env(cfg),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while not (scratch / "up.json").exists():
            if up.poll() is not None or time.monotonic() > deadline:
                raise fail(f"`gx up` did not become ready:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        base, tenant = _running(cfg)
        yield cfg, base, tenant
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
        if up.returncode == 0:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            console.print(f"`gx up` exited with {up.returncode}; kept {scratch} for a look")


def _running(cfg: Settings) -> tuple[str, str]:
    path = cfg.data_dir / "up.json"
    try:
        record = json.loads(path.read_text())
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError):
        raise fail(
            f"no `gx up` is running on {cfg.data_dir} (no live {path.name}); start one, or "
            "use `gx demo --embedded`"
        ) from None
    if not record.get("api"):
        raise fail("the running `gx up` serves no API (started with --only)")
    return str(record["api"]), str(record["tenant"])


def _refuse_production(cfg: Settings) -> None:
    if cfg.is_production:
        raise fail("GX_ENVIRONMENT is production; the demo writes people and money: refusing")

    async def marked() -> bool:
        async with open_database(cfg, create=False) as url:
            return await server.is_marked_production(url)

    if run(marked()):
        raise fail("the database is marked gx.environment=production; refusing")


def _child_env(cfg: Settings) -> dict[str, str]:
    return {**os.environ, "GX_DATA_DIR": str(cfg.data_dir), "COLUMNS": "200"}


async def _demo_admin(cfg: Settings, tenant: str) -> str:
    """The demo administrator's password, creating it on first use."""
    kept = cfg.data_dir / "demo_admin"
    if kept.exists():
        return kept.read_text().strip()
    password = generated_password()
    async with open_database(cfg, create=False) as url:
        await admin_with_password(url, tenant, DEMO_ADMIN, password, key=role_key(cfg))
    kept.touch(mode=0o600)
    kept.write_text(password)
    return password


async def _event_tail(cfg: Settings, tenant: str, count: int = 12) -> list[tuple[int, str, Any]]:
    async with open_database(cfg, create=False) as url:
        database = Database.for_settings(url, cfg)
        try:
            async with database.system(reason="gx demo: the event log's tail") as session:
                rows = await session.execute(
                    select(EventLog.block_number, EventLog.event_name, EventLog.payload)
                    .where(EventLog.tenant_id == tenant)
                    .order_by(EventLog.block_number.desc(), EventLog.event_index.desc())
                    .limit(count)
                )
                return [(int(b), str(n), p) for b, n, p in reversed(rows.all())]
        finally:
            await database.dispose()


def _balance(story: Story, person: Person) -> dict[str, Any] | None:
    """The person's balance, None while nothing has reached the wallet."""
    found = story.call("GET", f"/wallets/{person.profile_id}/balance", headers=story.admin)
    balance: dict[str, Any] = found["balance"]
    return None if balance["balance"] == "0.000000000" else balance


def _committed(story: Story, sender: Person, command: str) -> None:
    """Wait for the sender's transfer to commit; a failed or held one ends the story."""

    def probe() -> bool | None:
        status = story.call("GET", f"/transfers/{command}/status", headers=_bearer(sender))
        if status["status"] in ("FAILED", "HELD"):
            raise StoryFailed(f"transfer {command} is {status['status']} ({status['errorCode']})")
        return status["status"] == "COMMITTED" or None

    story.until(f"transfer {command} to commit", probe)


def _trust(story: Story, person: Person) -> int:
    score = story.call("GET", "/relationships/trust-score", headers=_bearer(person))
    return int(score["totalScore"])


def _organization(story: Story, person: Person, org: str) -> dict[str, Any] | None:
    """The organization as the projector has it, None until it has arrived."""
    found = story.http.get(f"/organizations/{org}", headers=_bearer(person))
    if found.status_code == 404:
        return None
    if found.status_code != 200:
        raise StoryFailed(f"GET /organizations/{org}: {found.status_code} {found.text[:300]}")
    organization: dict[str, Any] = found.json()
    return organization


def _bearer(person: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


def _free_phone() -> phonenumbers.PhoneNumber:
    """A valid GB mobile number, random enough to be new to this database."""
    while True:
        number = phonenumbers.parse(f"+447911{secrets.randbelow(10**6):06d}")
        if phonenumbers.is_valid_number(number):
            return number
