"""A longer Schemathesis run against the live API, plus the worker channel.

Run from the repository root::

    python bench/fuzz_api.py [--examples N] [--worker-examples N] [--postgres]

Starts the real API on a fresh SQLite database (or a throwaway PostgreSQL server),
creates an organisation, then runs the fuzzers of ``tests/fuzz/api.py`` (the suite's
``tests/integration/test_fuzz_api.py`` runs them with a few examples): every operation
of ``/openapi.json`` as an API key, a dashboard user and anonymously, valid and
schema-breaking requests, no 5xx and responses matching their schemas; then random
JSON on the ``/internal`` worker routes. Prints one line per operation and a summary;
exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.conftest import make_tenant  # noqa: E402 - needs the repository root on the path
from tests.fuzz.api import (  # noqa: E402
    ANONYMOUS,
    FuzzReport,
    api_key_principal,
    dashboard_principal,
    fuzz_operations,
    fuzz_worker_channel,
)
from tests.support.servers import make_platform, make_settings, running_api  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=50, help="per operation, principal, mode")
    parser.add_argument("--worker-examples", type=int, default=2_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        database_url = None
        if args.postgres:
            from tests.support.postgres import create_database, running_postgres

            admin = stack.enter_context(running_postgres())
            database_url = create_database(admin, "fuzz_" + secrets.token_hex(4))
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "data"
        settings = make_settings(
            data_dir,
            database_url,
            max_concurrent_sessions_per_org=1_000_000,
            key_rate_limit_per_minute=1_000_000,
        )
        api = stack.enter_context(running_api(make_platform(settings)))
        tenant = make_tenant(api.platform)
        principals = [
            api_key_principal(tenant.api_key),
            dashboard_principal(api.url, tenant.email, tenant.password),
            ANONYMOUS,
        ]

        def progress(label: str, report: FuzzReport) -> None:
            print(f"{label:<72} examples {report.examples:6d} failures {len(report.failures)}")

        print(f"database: {'PostgreSQL' if database_url else 'SQLite'}; examples {args.examples}")
        public = fuzz_operations(
            api.url,
            principals,
            max_examples=args.examples,
            path_parameters={"agent_id": tenant.agent_id},
            conformance=True,
            on_operation=progress,
        )
        print("public and dashboard API: " + public.summary())
        fresh = make_tenant(api.platform)  # the fuzzer may have deleted the first agent
        with httpx.Client(base_url=api.url, headers={"x-api-key": fresh.api_key}) as http:
            ids = [
                http.post("/api/agents/agent-session/", json={"agent": fresh.agent_id}).json()[
                    "data"
                ]["session_id"]
                for _ in range(20)
            ]
        worker = fuzz_worker_channel(
            api.url, api.platform.secrets.worker_token, ids, max_examples=args.worker_examples
        )
        print("worker channel: " + worker.summary())
    return 1 if public.failures or worker.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
