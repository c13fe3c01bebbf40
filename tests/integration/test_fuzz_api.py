"""Fuzzing the live API: no generated request may get a server error.

Schemathesis reads ``/openapi.json`` of the real API and sends valid and schema-breaking
requests to every public and dashboard operation, as an API key, as a signed-in dashboard
user and anonymously; responses must also match their documented schemas. The worker
channel, left out of the document, gets random JSON with the worker credential. Bounded
here; ``bench/fuzz_api.py`` runs the same fuzzers longer.
"""

from __future__ import annotations

import httpx
from tests.conftest import make_tenant
from tests.fuzz.api import (
    ANONYMOUS,
    api_key_principal,
    dashboard_principal,
    fuzz_operations,
    fuzz_worker_channel,
)
from tests.support.servers import ApiServer

# per operation, principal and mode; SQLite gets more, PostgreSQL (slower here) fewer
EXAMPLES = {"sqlite": 6, "postgresql": 3}


def test_no_request_to_the_public_api_gets_a_server_error(api: ApiServer, backend: str) -> None:
    tenant = make_tenant(api.platform)
    principals = [
        api_key_principal(tenant.api_key),
        dashboard_principal(api.url, tenant.email, tenant.password),
        ANONYMOUS,
    ]
    report = fuzz_operations(
        api.url,
        principals,
        max_examples=EXAMPLES[backend],
        path_parameters={"agent_id": tenant.agent_id},
        conformance=True,
    )
    assert report.operations >= 45, report.summary()
    assert not report.failures, report.summary()
    assert report.statuses[200] > 0 and report.statuses[422] > 0  # it got past validation


def test_no_request_to_the_worker_channel_gets_a_server_error(api: ApiServer) -> None:
    tenant = make_tenant(api.platform)
    with httpx.Client(base_url=api.url, headers={"x-api-key": tenant.api_key}) as http:
        session_ids = [
            http.post("/api/agents/agent-session/", json={"agent": tenant.agent_id}).json()["data"][
                "session_id"
            ]
            for _ in range(5)
        ]
    report = fuzz_worker_channel(
        api.url, api.platform.secrets.worker_token, session_ids, max_examples=150
    )
    assert not report.failures, report.summary()
    assert report.statuses[200] > 0 and report.statuses[422] > 0


def test_a_nul_in_an_id_or_filter_is_refused_not_a_server_error(api: ApiServer) -> None:
    # found by the worker-channel fuzzer: PostgreSQL refuses NUL in text, SQLite does not
    tenant = make_tenant(api.platform)
    with httpx.Client(base_url=api.url, headers={"x-api-key": tenant.api_key}) as http:
        for path in ("/api/agents/%00", "/api/sessions/ses_%00", "/api/sessions?agent=a%00"):
            assert http.get(path).status_code in (200, 404, 422), path
