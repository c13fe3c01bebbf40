"""Schemathesis against the live OpenAPI document, as an API key and as a dashboard user.

Every operation of ``/openapi.json`` is called with generated requests (valid ones, and
ones that break the schema) under three principals: an API key, a signed-in dashboard
user (session cookie + ``x-csrf-token``) and an anonymous caller whose auth headers are
generated too. A response with a 5xx status is a failure, except a 503 with
``Retry-After`` and the ``unavailable`` envelope (LiveKit or the database is down: the
documented answer, never a crash). With ``conformance=True`` a response's status must be
one the OpenAPI document declares for the operation, and its body and headers must match
what is declared for that status.

Failures are collected, not raised inside Hypothesis: one run reports every failing
operation with a ``curl`` line to reproduce it, and no time goes to shrinking.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

NAN = float("nan")
AUTH_HEADERS = ("x-api-key", "x-csrf-token", "authorization", "cookie")


@dataclass(frozen=True)
class Principal:
    """Who the generated requests are sent as."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    keep_generated_auth: bool = False
    """Keep auth headers Schemathesis generated (fuzzing authentication itself)."""
    share: float = 1.0
    """Fraction of ``max_examples`` this principal gets (anonymous requests mostly 401)."""


def api_key_principal(api_key: str) -> Principal:
    return Principal("api_key", headers={"x-api-key": api_key})


def dashboard_principal(base_url: str, email: str, password: str) -> Principal:
    """Sign in like the dashboard: session cookie plus the CSRF token in a header."""
    resp = httpx.post(
        base_url + "/api/auth/login", json={"email": email, "password": password}, timeout=30
    )
    resp.raise_for_status()
    return Principal(
        "dashboard",
        headers={"x-csrf-token": resp.json()["csrf_token"]},
        cookies=dict(resp.cookies.items()),
    )


ANONYMOUS = Principal("anonymous", keep_generated_auth=True, share=0.25)


@dataclass
class Failure:
    operation: str
    principal: str
    status: int
    problem: str
    curl: str


@dataclass
class FuzzReport:
    operations: int = 0
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    unsatisfiable: int = 0
    """Runs where no request could be generated (negative mode without any schema to break)."""

    def summary(self) -> str:
        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        lines = [
            f"operations: {self.operations}, examples: {self.examples}, "
            f"failures: {len(self.failures)}, {self.seconds:.1f} s",
            f"statuses: {by_status}",
        ]
        seen: set[tuple[str, str]] = set()
        for f in self.failures:
            if (f.operation, f.problem) in seen:
                continue
            seen.add((f.operation, f.problem))
            lines.append(f"FAIL {f.operation} as {f.principal}: {f.status} {f.problem}")
            lines.append(f"    {f.curl[:600]}")
        return "\n".join(lines)


def _documented_unavailable(response: Response) -> bool:
    if response.status_code != 503 or "retry-after" not in response.headers:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("success") is False


def _problem(case: Case[Any], response: Response, conformance: bool) -> str | None:
    if response.status_code >= 500:
        if _documented_unavailable(response):
            return None
        return f"server error: {response.text[:200]}"
    if not conformance:
        return None
    # every status must be declared (vocable.api.openapi), its body match the declared
    # schema (the error envelope for errors) and declared headers (Retry-After) be sent
    checks = [
        not_a_server_error,
        status_code_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:
        return "; ".join(" ".join(str(e).split())[:200] for e in group.exceptions)
    return None


def fuzz_operations(
    base_url: str,
    principals: list[Principal],
    *,
    max_examples: int,
    path_parameters: dict[str, str] | None = None,
    conformance: bool = False,
    skip: Callable[[str], bool] = lambda _label: False,
    on_operation: Callable[[str, FuzzReport], None] | None = None,
) -> FuzzReport:
    """Fuzz every operation of the live schema as each principal; collect failures.

    ``path_parameters`` fixes known ids (an existing agent) for half of the examples, so
    requests reach the code behind the 404; the other half generates every value, in
    Schemathesis' negative mode (data that breaks the schema).
    """
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    report = FuzzReport()
    began = time.monotonic()
    http = requests.Session()
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    # signing out ends the dashboard principal's session: do it last
    operations.sort(key=lambda op: op.label == "POST /api/auth/logout")
    for operation in operations:
        label = operation.label
        if skip(label):
            continue
        report.operations += 1
        known = {
            k: v
            for k, v in (path_parameters or {}).items()
            if any(p.name == k for p in operation.path_parameters)
        }
        for principal in principals:
            modes = [(GenerationMode.POSITIVE, known)]
            if len(operation.body) or len(operation.query):
                # string path values cannot break the schema: negative mode needs more
                modes.append((GenerationMode.NEGATIVE, {}))
            for mode, fixed in modes:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                examples = max(2, round(max_examples * principal.share))
                _run(strategy, base_url, http, principal, label, examples, conformance, report)
        if on_operation is not None:
            on_operation(label, report)
    report.seconds = time.monotonic() - began
    return report


def _run(
    strategy: Any,
    base_url: str,
    http: requests.Session,
    principal: Principal,
    label: str,
    max_examples: int,
    conformance: bool,
    report: FuzzReport,
) -> None:
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def one(case: Case[Any]) -> None:
        if not principal.keep_generated_auth:
            headers: MutableMapping[str, Any] = case.headers or {}
            for name in [h for h in headers if h.lower() in AUTH_HEADERS]:
                del headers[name]
        http.cookies.clear()
        response = case.call(
            base_url=base_url,
            session=http,
            headers=principal.headers,
            cookies=principal.cookies,
            timeout=30,
        )
        report.examples += 1
        report.statuses[response.status_code] += 1
        problem = _problem(case, response, conformance)
        if problem is not None:
            report.failures.append(
                Failure(
                    label,
                    principal.name,
                    response.status_code,
                    problem,
                    case.as_curl_command(headers=principal.headers),
                )
            )

    try:
        one()
    except Unsatisfiable:
        # nothing in this operation can break the schema (e.g. only string path values)
        report.unsatisfiable += 1


# --- the worker channel (not in the OpenAPI document) -----------------------------------


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**80), max_value=2**80)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(st.characters(codec=None), max_size=40)  # NUL and lone surrogates included
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    )


def _worker_bodies() -> st.SearchStrategy[Any]:
    values = _json_values()
    event = st.fixed_dictionaries(
        {"type": st.sampled_from(["started", "ended", "other"]) | values},
        optional={"reason": values | st.text(st.characters(codec=None)), "usage": values},
    )
    turn = st.fixed_dictionaries(
        {
            "seq": st.integers(min_value=-5, max_value=2**70) | values,
            "role": st.sampled_from(["user", "agent", "tool", "system"]) | values,
            "text": st.text(st.characters(codec=None), max_size=200) | values,
        },
        optional={"metrics": values},
    )
    return event | turn | values


def fuzz_worker_channel(
    base_url: str, worker_token: str, session_ids: list[str], *, max_examples: int
) -> FuzzReport:
    """Random JSON (NaN, huge integers, NUL, lone surrogates) on the ``/internal`` routes.

    Sent with the real worker credential, to a known session or a generated id. The
    worker is trusted, but its channel must still refuse bad input with a 4xx.
    """
    report = FuzzReport()
    began = time.monotonic()
    paths = st.sampled_from(["events", "turns"])
    ids = st.sampled_from(session_ids) | st.text(st.characters(codec=None), min_size=1)
    headers = {"authorization": "Bearer " + worker_token, "content-type": "application/json"}
    with httpx.Client(base_url=base_url, timeout=30) as http:

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(session_id=ids, path=paths, body=_worker_bodies(), read=st.booleans())
        @example(session_ids[0], "turns", {"seq": 2**63, "role": "user", "text": "x"}, False)
        @example(session_ids[0], "turns", {"seq": 1, "role": "user", "text": "a\x00b"}, False)
        @example(session_ids[0], "turns", {"seq": 2, "role": "user", "text": "\ud800"}, False)
        @example(
            session_ids[0],
            "turns",
            {"seq": 3, "role": "agent", "text": "x", "metrics": {"a": NAN}},
            False,
        )
        @example(session_ids[0], "events", {"type": "started", "reason": "\x00"}, False)
        @example(session_ids[-1], "events", {"type": "ended", "usage": {"x": [NAN, "\x00"]}}, False)
        @example("ses_\x00", "events", {}, True)
        @example("\ud800", "events", {}, True)
        def one(session_id: str, path: str, body: Any, read: bool) -> None:
            quoted = quote(session_id.encode("utf-8", "surrogatepass"), safe="")
            if read:
                method, url, content = "GET", f"/internal/sessions/{quoted}", None
            else:
                method, url = "POST", f"/internal/sessions/{quoted}/{path}"
                # ensure_ascii: lone surrogates travel as \\udxxx escapes; NaN as NaN
                content = json.dumps(body).encode()
            try:
                response = http.request(method, url, content=content, headers=headers)
            except httpx.HTTPError as exc:  # a reset connection: the server broke mid-reply
                report.failures.append(
                    Failure(url, "worker", 0, type(exc).__name__, f"{method} {url} {content!r}")
                )
                return
            report.examples += 1
            report.statuses[response.status_code] += 1
            if response.status_code >= 500:
                report.failures.append(
                    Failure(
                        f"{method} /internal/sessions/{{id}}" + ("" if read else f"/{path}"),
                        "worker",
                        response.status_code,
                        f"server error: {response.text[:200]}",
                        f"{method} {url} {(content or b'')[:300]!r}",
                    )
                )

        one()
    report.operations = 3
    report.seconds = time.monotonic() - began
    return report
