"""The README's story from a fresh data directory, with nothing but `gx` and HTTP.

`gx up --only db` starts and seeds an embedded server and creates the tenant `default` (its
bootstrap queued); `gx admin create`, `gx api`, `gx relay` and `gx projector run` run beside it as the
README says. A person registers over HTTP with the codes the development mailbox receives, an
administrator approves them, and the services alone take them to `ACTIVE` with a wallet that
receives its genesis.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from gxcore.notifications.senders import read_mailbox
from tests.test_registration import DOB, NAME, PASSWORD, PHONE, PHONE_E164, new_email

GX = [sys.executable, "-m", "gxcore"]
ADMIN_PASSWORD = "Operator-password-0123"
T = TypeVar("T")

pytestmark = pytest.mark.system


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(what: str, probe: Callable[[], T | None], timeout: float = 90) -> T:
    """`probe()` once it returns something, polling; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while (found := probe()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


class Services:
    """`gx` processes on one data directory, stopped (SIGINT, then checked) at the end."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")
        }
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [*GX, *args, "--data-dir", str(self.data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        self.procs.append(proc)
        return proc

    def run(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [*GX, *args, "--data-dir", str(self.data_dir)],
            input=stdin,
            capture_output=True,
            check=False,
            text=True,
            env=self.env,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def stop(self) -> list[str]:
        """Stop the services newest first (the database last); the output of each that failed."""
        failed = []
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                out, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            if proc.returncode != 0:
                failed.append(f"{proc.args}: exit {proc.returncode}\n{out}")
        return failed


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    running = Services(tmp_path / "gxdata")
    try:
        yield running
    finally:
        failed = running.stop()
    assert failed == [], "\n".join(failed)


def _code(mailbox: Path, to: str, seen: int) -> str | None:
    """The code in the newest message to `to`, once more than `seen` messages went there."""
    messages = read_mailbox(mailbox, to=to) if mailbox.exists() else []
    if len(messages) <= seen:
        return None
    match = re.search(r"\b(\d{6})\b", messages[-1]["text"])
    assert match, messages[-1]
    return match.group(1)


def test_a_person_registers_is_approved_and_becomes_active_with_a_wallet(
    services: Services,
) -> None:
    up = services.start("up", "--only", "db")
    assert up.stdout is not None
    seen = []
    for line in up.stdout:  # `gx up` prints the server's URL once it is ready
        if line.startswith("postgresql://"):
            break
        seen.append(line)
    else:
        pytest.fail("gx up ended before it was ready:\n" + "".join(seen))
    services.run("admin", "create", "--tenant", "default", "--email", "ops@example.com",
                 "--role", "SUPER_ADMIN", "--password-stdin", stdin=ADMIN_PASSWORD)  # fmt: skip
    port = _port()
    services.start("api", "--port", str(port))
    services.start("relay", "--workers", "1")
    services.start("projector", "run")
    mailbox = services.data_dir / "mailbox.jsonl"

    base = f"http://127.0.0.1:{port}/api/v1"
    with httpx.Client(base_url=base, timeout=30) as http:

        def call(method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
            response = http.request(method, path, **kwargs)
            assert response.status_code == expect, (method, path, response.text)
            return response.json() if response.content else None

        def up_yet() -> bool | None:
            try:
                return http.get("/auth/login").status_code == 405 or None
            except httpx.TransportError:
                return None

        _until("gx api to answer", up_yet)

        email = new_email()
        rid = call("POST", "/registration/email", 201, json={"email": email})["registrationId"]
        steps: list[tuple[str, dict[str, Any]]] = [
            ("email/verify", {"otp": _until("the email code", lambda: _code(mailbox, email, 0))}),
            ("name-country", NAME),
            ("dob-gender", DOB),
            ("password", {"password": PASSWORD, "confirmPassword": PASSWORD}),
            ("phone", {"phoneNum": PHONE}),
        ]
        for step, body in steps:
            call("POST", f"/registration/{step}", json={"registrationId": rid, **body})
        otp = _until("the SMS code", lambda: _code(mailbox, PHONE_E164, 0))
        done = call("POST", "/registration/phone/verify", json={"registrationId": rid, "otp": otp})
        assert done["currentStep"] == "COMPLETED"
        profile_id = call("GET", f"/registration/{rid}")["profileId"]

        tokens = call("POST", "/auth/login", json={"email": "ops@example.com",
                                                   "password": ADMIN_PASSWORD})  # fmt: skip
        admin = {"Authorization": f"Bearer {tokens['accessToken']}"}
        approved = call("POST", f"/admin/users/{profile_id}/approve", headers=admin)
        assert approved["status"] == "APPROVED_PENDING_ONCHAIN"

        # The relay bootstraps the tenant (queued by `gx up`) and creates the user on the
        # ledger; the projector turns the events into the profile's status and its wallet.
        def active() -> dict[str, Any] | None:
            user = call("GET", f"/admin/users/{profile_id}", headers=admin)
            return user if user["status"] == "ACTIVE" else None

        _until("the profile to become ACTIVE", active)
        call("POST", "/genesis", 202, json={"userId": profile_id}, headers=admin)

        def funded() -> dict[str, Any] | None:
            found = call("GET", f"/wallets/{profile_id}/balance", headers=admin)["balance"]
            return found if found["balance"] != "0.000000000" else None

        wallet = _until("the genesis to reach the wallet", funded)
        assert (wallet["balance"], wallet["available"], wallet["isFrozen"]) == (
            "500.000000000",
            "500.000000000",
            False,
        )
        mine = call("POST", "/auth/login", json={"email": email, "password": PASSWORD})
        own = call("GET", f"/wallets/{profile_id}/balance",
                   headers={"Authorization": f"Bearer {mine['accessToken']}"})  # fmt: skip
        assert own["balance"]["balance"] == "500.000000000"

        def linked() -> str | None:  # by the linker in `gx api`, not by the verification
            report = services.run("audit", "verify", "--no-link")
            return None if "not linked yet" in report else report

        assert "default: ok: " in _until("the API to link its audit entries", linked, timeout=30)
