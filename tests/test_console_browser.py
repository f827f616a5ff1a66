"""The operations console in a real headless browser: Debian's `chromium`, driven through
`chromium-driver` (/usr/bin/chromedriver) by selenium, against the app served by uvicorn on a
free port. An administrator signs in, approves a user and retries a failed command by clicking
the pages' buttons; the database is checked after each; screenshots are saved under the test's
temporary directory (the path is printed).

Skips, naming the package, when chromium or chromedriver is missing or will not start.
Deselect with `-m 'not browser'`.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.cqrs.models import OutboxCommand
from gxcore.db.tenancy import Database
from gxcore.enums import OutboxStatus, UserProfileStatus
from gxcore.identity.models import UserProfile
from tests import test_auth
from tests.test_auth import make_user
from tests.test_console import failed_command, one
from tests.test_registration import PASSWORD

pytestmark = pytest.mark.browser
countries = test_auth.countries

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
S = UserProfileStatus


def _chrome() -> Any:
    """A headless chromium session, or a skip naming the Debian package that is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="the `selenium` test extra")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian package `chromium` is not installed (apt-get install chromium)")
    if not Path(CHROMEDRIVER).exists():
        pytest.skip(
            "Debian package `chromium-driver` is not installed (apt-get install chromium-driver)"
        )
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    try:
        return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as e:
        pytest.skip(f"Debian's `chromium` / `chromium-driver` would not start: {e.msg}")


@contextmanager
def chrome() -> Iterator[Any]:
    driver = _chrome()
    try:
        yield driver
    finally:
        driver.quit()


class _Server(uvicorn.Server):
    """uvicorn in the test's event loop; the test runner keeps its signal handlers."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` on a free port while the block runs; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn exited before it served"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _wait(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def _sign_in(driver: Any, base: str, tenant: str, email: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/console")
    _wait(driver, "form#sign-in")  # not signed in: sent to the form
    field = driver.find_element(By.ID, "tenant")
    field.clear()
    field.send_keys(tenant)
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "submit").click()
    _wait(driver, "svg.chart")


def _click(driver: Any, base: str, page: str, row: str, button: str) -> str:
    """Open `page`, click `button` in the row with id `row`; answers the confirmation."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}{page}")
    _wait(driver, f"#{row}").find_element(By.CSS_SELECTOR, button).click()
    return str(_wait(driver, "#done").text)


async def test_an_admin_approves_a_user_and_retries_a_command_in_a_real_browser(
    db: Database, tenant: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        otp_secret=test_auth.OTP_SECRET,
        jwt_secret=test_auth.JWT_SECRET,
        environment="test",
    )
    admin = await make_user(db, tenant, status=S.ACTIVE, role="ADMIN")
    waiting = await make_user(db, tenant, status=S.PENDING_ADMIN_APPROVAL, first_name="Grace")
    command = await failed_command(db, tenant)
    app = create_app(database=db, settings=settings)
    shots = tmp_path / "console"
    shots.mkdir()

    with chrome() as driver:
        async with serving(app) as base:
            await asyncio.to_thread(_sign_in, driver, base, tenant, admin.email or "")
            await asyncio.to_thread(driver.save_screenshot, str(shots / "overview.png"))

            done = await asyncio.to_thread(
                _click,
                driver,
                base,
                "/console/users",
                f"user-{waiting.profile_id}",
                "button.approve",
            )
            assert "approved" in done
            approved = await one(
                db, tenant, UserProfile, UserProfile.profile_id == waiting.profile_id
            )
            assert approved.status is S.APPROVED_PENDING_ONCHAIN

            done = await asyncio.to_thread(
                _click,
                driver,
                base,
                "/console/outbox?status=FAILED",
                f"command-{command.id}",
                "button.retry",
            )
            assert "re-queued" in done
            retried = await one(db, tenant, OutboxCommand, OutboxCommand.id == command.id)
            assert retried.status is OutboxStatus.PENDING
            await asyncio.to_thread(driver.save_screenshot, str(shots / "outbox.png"))

            # Signing out: the next page asks for sign-in again.
            from selenium.webdriver.common.by import By

            await asyncio.to_thread(lambda: driver.find_element(By.ID, "sign-out").click())
            await asyncio.to_thread(_wait, driver, "form#sign-in")

    for shot in ("overview.png", "outbox.png"):
        assert (shots / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"console screenshots: {shots}")
    async with db.tenant(tenant) as session:  # the admin's session ended with sign-out
        from gxcore.enums import SessionStatus
        from gxcore.identity.models import UserSession

        ended = await session.scalar(select(UserSession.status))
    assert ended is SessionStatus.LOGGED_OUT
