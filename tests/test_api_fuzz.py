"""Every operation of /openapi.json fuzzed with schemathesis against the real app and database.

Cases are drawn from the document (valid ones, and ones that break the schema), sent through
httpx to the ASGI app on this test's event loop (the database pool lives there), with a fresh
tenant and a signed-in administrator's token, so the admin and user endpoints read their bodies
instead of stopping at 401. Each response must be no 5xx, have a documented status and content
type, and match the documented schema (problem+json for every error).
"""

from __future__ import annotations

import copy
from itertools import pairwise
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gxcore.db.tenancy import Database
from gxcore.enums import UserProfileStatus
from tests import test_auth
from tests.openapi_document import served_document
from tests.test_auth import bearer, make_user, signed_in
from tests.test_registration import PATH, register

# The same app, clock, settings and mailbox as test_auth.
app, clock, countries, settings, mail = (
    test_auth.app,
    test_auth.clock,
    test_auth.countries,
    test_auth.settings,
    test_auth.mail,
)

EXAMPLES = 30  # per operation and generation mode
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Sent last: they end the administrator's session, after which every call is a (valid) 401.
ENDS_SESSION = ("/api/v1/auth/logout", "/api/v1/auth/revoke-all")
CASE_ID = "X-Schemathesis-TestCaseId"


# The document `gx api` serves.
DOCUMENT = served_document()
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))
OPERATIONS = sorted(
    (result.ok() for result in SCHEMA.get_all_operations()),
    key=lambda op: (op.path in ENDS_SESSION, op.path, op.method),
)


#: OAuth 2.0 clients parse RFC 6749's error body (`{"error": "invalid_client"}`), not ours.
OAUTH_SHAPED = {("post", "/api/v1/oauth/token", "401")}

# The registration step each step's operation follows: its real registration is taken that far.
BEFORE = {f"/api/v1/registration/{step}": prev for prev, step in pairwise(PATH)} | {
    "/api/v1/registration/phone/resend": "phone"
}


def draw(operation: Any, mode: GenerationMode) -> list[Any]:
    """Up to EXAMPLES cases of `operation`, drawn outside the async test (hypothesis is sync)."""
    cases: list[Any] = []

    @hypothesis_settings(
        max_examples=EXAMPLES,
        phases=[Phase.explicit, Phase.generate],
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:
        pass  # nothing in the operation can be made invalid (a GET of a free-form path id)
    return cases


def _aim(case: Any, real: dict[str, str]) -> None:
    """Point the case at the rows that exist, keeping the rest of what was drawn."""
    if case.path_parameters:
        case.path_parameters.update({k: v for k, v in real.items() if k in case.path_parameters})
    if isinstance(case.body, dict) and "registrationId" in case.body and "registration_id" in real:
        case.body["registrationId"] = real["registration_id"]


def _identity(kwargs: dict[str, Any]) -> str:
    """What the request sends: two cases that send the same are one request (schemathesis
    tags each case's headers with its own id, left out here)."""
    headers = {k: v for k, v in kwargs.get("headers", {}).items() if k != CASE_ID}
    return repr(sorted({**kwargs, "headers": headers}.items()))


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
async def test_operation_answers_per_its_documentation(
    operation: Any, app: Any, db: Database, tenant: str, mail: Any
) -> None:
    admin = await make_user(db, tenant, role="ADMIN", status=UserProfileStatus.ACTIVE)
    user = await make_user(db, tenant)
    async with httpx.AsyncClient(
        # A crash is answered (500) and judged by the checks instead of raised into the test.
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://gx.test/api/v1",
        headers={"X-Tenant-Id": tenant},
    ) as client:
        headers = {"X-Tenant-Id": tenant, **bearer(await signed_in(client, admin.email))}
        device = (await signed_in(client, user.email, deviceFingerprint="fuzz-device"))["device"]
        # Every other case names a profile and device that exist, so it gets past the 404.
        real = {"profile_id": user.profile_id, "device_id": device["deviceId"]}
        if operation.path.startswith("/api/v1/registration/"):
            rid, _ = await register(client, mail, until=BEFORE.get(operation.path))
            real["registration_id"] = rid
        failures: list[str] = []
        seen: set[str] = set()
        sent = 0
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for i, case in enumerate(draw(operation, mode)):
                if i % 2:
                    _aim(case, real)
                kwargs = case.as_transport_kwargs(base_url="http://gx.test", headers=headers)
                request = _identity(kwargs)
                if request in seen:
                    continue  # drawn twice (an operation with few inputs): sent once
                seen.add(request)
                data = kwargs.get("data")
                form = data if isinstance(data, dict) else None  # a form body (/oauth/token)
                response = await client.request(
                    kwargs["method"],
                    kwargs["url"],
                    params=kwargs.get("params"),
                    headers=kwargs.get("headers"),
                    json=kwargs.get("json"),
                    content=None if form is not None else data,
                    data=form,
                )
                sent += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except FailureGroup as e:
                    failures.append(str(e))
        assert sent > 0
        assert not failures, "\n\n".join(failures[:5])


async def test_every_operation_documents_its_errors_as_problem_json(app: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        served = (await client.get("http://gx.test/openapi.json")).json()
    assert served == DOCUMENT  # what was fuzzed is what the app serves
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("401", "403", "404", "409", "422", "429"):
                if (method, path, status) in OAUTH_SHAPED:
                    continue
                content = responses[status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert "code" in content["application/problem+json"]["schema"]["required"]
