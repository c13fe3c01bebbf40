"""No secret leaves the API where it does not belong.

A realistic flow goes through the real API (keys created, rotated and revoked; agents with
a distinctive system prompt; sessions and MCP servers with distinctive header values;
webhook endpoints created and their secrets rotated; an error of every kind) while every
log record is captured at DEBUG, uvicorn's access and error logs included. Then: no
``sk_`` key, LiveKit API secret, worker credential, encryption key, MCP or HTTP tool header value,
webhook secret or system prompt may appear in any log record, error body, response
header, join token or the audit log; a key or webhook secret appears only in the one
response that created it, and the agent's prompt only in the agent's own responses (and a
session's effective prompt in that call's own record).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from tests.conftest import database_url_for, make_tenant
from tests.support.net import free_port
from tests.support.servers import make_platform, make_settings
from tests.support.tokens import decode_claims

from vocable.api.app import create_app
from vocable.platform import Platform

ENDPOINT = "/api/agents/agent-session/"
SK_PATTERN = re.compile(r"sk_[A-Za-z0-9_-]{20,}")
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


@contextmanager
def logging_api(platform: Platform, handler: logging.Handler) -> Iterator[str]:
    """The API as ``vocable up`` runs it, but with DEBUG logs and the access log on."""
    config = uvicorn.Config(
        create_app(platform),
        host="127.0.0.1",
        port=platform.settings.api_port,
        log_level="debug",
        access_log=True,
        proxy_headers=False,
    )
    # uvicorn's loggers do not propagate to the root logger: listen to them directly
    for name in _UVICORN_LOGGERS:
        logging.getLogger(name).addHandler(handler)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{platform.settings.api_port}"
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "API did not start"
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for name in _UVICORN_LOGGERS:
            logging.getLogger(name).removeHandler(handler)


@dataclass
class Seen:
    """Every response of the flow, with the secrets each one may legitimately hold."""

    responses: list[tuple[str, httpx.Response, frozenset[str]]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def add(self, resp: httpx.Response, may_hold: frozenset[str] = frozenset()) -> httpx.Response:
        label = f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}"
        self.responses.append((label, resp, may_hold))
        if resp.status_code == 200 and "token" in resp.text:
            # a list (GET /api/agents: "max_reply_tokens") holds no session token
            body = resp.json()
            data = (body.get("data") or {}) if isinstance(body, dict) else {}
            if isinstance(data, dict) and "token" in data:
                self.tokens.append(str(data["token"]))
        return resp


def shown_once(webhook_secret: str) -> frozenset[str]:
    """What the response that creates a webhook secret may hold: the secret, both forms."""
    return frozenset({webhook_secret, webhook_secret.removeprefix("whsec_")})


def record_text(record: logging.LogRecord) -> str:
    """Everything a log handler could write: message, arguments, extra fields, traceback."""
    parts = [record.getMessage(), repr(record.args), repr(record.__dict__)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def response_text(resp: httpx.Response) -> str:
    return resp.text + "\n" + "\n".join(f"{k}: {v}" for k, v in resp.headers.multi_items())


def test_no_secret_leaks_into_logs_errors_tokens_or_lists(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # SQL statements too, with their parameters as the engine logs them (hidden); result
    # rows (sqlalchemy's DEBUG) print stored prompts by design: SQL echo stays off
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    caplog.set_level(logging.DEBUG)  # last: it also sets the capturing handler's level
    db_url = database_url_for(request, backend, "s_" + secrets.token_hex(6))
    # MCP and webhook URLs on this loopback port pass the outbound rules (nothing listens)
    allowed = f"127.0.0.1:{free_port()}"
    settings = make_settings(
        tmp_path / "data", db_url, key_rate_limit_per_minute=3, outbound_allow_hosts=[allowed]
    )
    platform = make_platform(settings)

    prompt = "ZEBRA-PROMPT-" + secrets.token_hex(8)
    override = "OKAPI-OVERRIDE-" + secrets.token_hex(8)
    mcp_values = [f"MCPVAL{i}-" + secrets.token_hex(12) for i in range(4)]
    tool_values = [f"TOOLVAL{i}-" + secrets.token_hex(12) for i in range(2)]
    webhook_secrets: list[str] = []
    bogus_key = "sk_" + secrets.token_urlsafe(32)  # well-formed, never issued
    keys: list[str] = [bogus_key]
    seen = Seen()

    with logging_api(platform, caplog.handler) as url, httpx.Client(base_url=url) as http:
        tenant = make_tenant(platform, system_prompt=prompt)
        keys.append(tenant.api_key)
        csrf = {
            "x-csrf-token": http.post(
                "/api/auth/login", json={"email": tenant.email, "password": tenant.password}
            ).json()["csrf_token"]
        }

        def new_key(body: dict[str, object]) -> dict[str, str]:
            resp = http.post("/api/keys", json=body, headers=csrf)
            assert resp.status_code == 201, resp.text
            created: dict[str, str] = resp.json()
            keys.append(created["key"])
            seen.add(resp, frozenset({created["key"]}))
            return created

        web = new_key({"name": "web", "allowed_origins": ["https://app.example.com"]})
        far = new_key({"name": "far", "allowed_ips": ["10.0.0.0/8"]})
        rotated = http.post(
            f"/api/keys/{web['id']}/rotate", json={"grace_seconds": 60}, headers=csrf
        )
        assert rotated.status_code == 201, rotated.text
        keys.append(rotated.json()["key"])
        seen.add(rotated, frozenset({rotated.json()["key"]}))
        key = {"x-api-key": rotated.json()["key"]}
        old_key = {"x-api-key": web["key"]}

        # agents: the prompt belongs in the agent's own responses, nowhere else
        agent_ok = frozenset({prompt})
        agent = seen.add(
            http.post("/api/agents", json={"name": "Scan", "system_prompt": prompt}, headers=key),
            agent_ok,
        ).json()
        seen.add(
            http.patch(
                f"/api/agents/{agent['id']}",
                json={"system_prompt": prompt, "greeting": "Hi"},
                headers=key,
            ),
            agent_ok,
        )
        seen.add(http.get(f"/api/agents/{agent['id']}", headers=key), agent_ok)
        seen.add(http.get("/api/agents", headers=key), agent_ok)

        # MCP servers with static header values, created and changed: audited, never shown
        servers = f"/api/agents/{agent['id']}/mcp-servers"
        mcp = seen.add(
            http.post(
                servers,
                json={
                    "name": "crm",
                    "url": f"http://{allowed}/mcp",
                    "headers": {"Authorization": "Bearer " + mcp_values[2]},
                },
                headers=key,
            )
        )
        assert mcp.status_code == 201, mcp.text
        changed = {"headers": {"X-Token": mcp_values[3]}}
        patched = http.patch(f"{servers}/{mcp.json()['id']}", json=changed, headers=csrf)
        assert seen.add(patched).status_code == 200, patched.text
        seen.add(http.get(servers, headers=key))

        # an HTTP tool with header values, created, changed and refused: never shown
        tools = f"/api/agents/{agent['id']}/tools"
        tool = seen.add(
            http.post(
                tools,
                json={
                    "name": "order_status",
                    "description": "Look an order up.",
                    "url": f"http://{allowed}/orders",
                    "headers": {"Authorization": "Bearer " + tool_values[0]},
                },
                headers=key,
            )
        )
        assert tool.status_code == 201, tool.text
        retool = {"headers": {"X-Api-Key": tool_values[1]}}
        patched = http.patch(f"{tools}/{tool.json()['id']}", json=retool, headers=csrf)
        assert seen.add(patched).status_code == 200, patched.text
        bad = {"headers": {"X-Api-Key": tool_values[1] + "\n"}}
        refused = http.patch(f"{tools}/{tool.json()['id']}", json=bad, headers=key)
        assert seen.add(refused).status_code == 422, refused.text
        seen.add(http.get(tools, headers=key))
        seen.add(http.get(f"{tools}/{tool.json()['id']}"))

        # a webhook endpoint: its secret only in the responses that create it
        hook = http.post("/api/webhooks", json={"url": f"http://{allowed}/hook"}, headers=csrf)
        assert hook.status_code == 201, hook.text
        webhook_secrets.append(hook.json()["secret"])
        seen.add(hook, shown_once(hook.json()["secret"]))
        hook_path = f"/api/webhooks/{hook.json()['id']}"
        rotated_hook = http.post(hook_path + "/rotate-secret", headers=csrf)
        assert rotated_hook.status_code == 200, rotated_hook.text
        webhook_secrets.append(rotated_hook.json()["secret"])
        seen.add(rotated_hook, shown_once(rotated_hook.json()["secret"]))
        seen.add(http.patch(hook_path, json={"description": "CRM"}, headers=csrf))
        seen.add(http.get("/api/webhooks", headers=key))

        # sessions with overrides and MCP headers, from the new key, the old key and the dashboard
        body = {
            "agent": agent["id"],
            "system_prompt": override,
            "mcp_headers": {"Authorization": "Bearer " + mcp_values[0], "X-Tenant": mcp_values[1]},
            "metadata": {"customer": 42},
        }
        first = seen.add(
            http.post(ENDPOINT, json=body, headers={**key, "origin": "https://app.example.com"})
        )
        assert first.status_code == 200, first.text
        sid = first.json()["data"]["session_id"]
        assert seen.add(http.post(ENDPOINT, json=body, headers=old_key)).status_code == 200
        test_call = http.post(
            f"/api/agents/{agent['id']}/test-session",
            json={"system_prompt": override},
            headers=csrf,
        )
        assert seen.add(test_call).status_code == 200
        # lists and records, read with the API key and with the dashboard cookie
        for path in ("/api/sessions", f"/api/agents/{agent['id']}/sessions"):
            assert seen.add(http.get(path, headers=key)).status_code == 200, path
        # one call's record shows the prompt that call ran with (its override), by design
        record = seen.add(http.get(f"/api/sessions/{sid}", headers=key), frozenset({override}))
        assert record.status_code == 200 and record.json()["system_prompt"] == override
        for path in ("/api/keys", "/api/audit", "/api/auth/me", "/api/engines", "/api/sessions"):
            assert seen.add(http.get(path)).status_code == 200, path
        # the worker channel hands the prompt and headers to the worker: exercised for its
        # logs, its body is the one place they belong
        worker = {"Authorization": f"Bearer {platform.secrets.worker_token}"}
        assert http.get(f"/internal/sessions/{sid}", headers=worker).status_code == 200

        # an error of every kind
        errors = [
            http.post(ENDPOINT, json={"agent": agent["id"]}),  # 401 no key
            http.post(ENDPOINT, json={"agent": agent["id"]}, headers={"x-api-key": bogus_key}),
            http.get(
                f"/internal/sessions/{sid}", headers={"Authorization": "Bearer " + key["x-api-key"]}
            ),
            http.get(
                f"/internal/sessions/{sid}",
                headers={"Authorization": "Bearer " + platform.secrets.worker_token[:-2]},
            ),
            http.post(
                ENDPOINT, json=body, headers={**key, "origin": "https://evil.example"}
            ),  # 403
            http.post(ENDPOINT, json=body, headers={"x-api-key": far["key"]}),  # 403 address
            http.post("/api/keys", json={"name": "no-csrf"}),  # 403 CSRF
            http.post(ENDPOINT, json={**body, "agent": "agt_nope"}, headers=key),  # 404
            http.get("/api/sessions/ses_nope", headers=key),
            http.post("/api/keys/key_nope/rotate", headers=csrf),
            http.get("/api/nothing-here"),
            http.post(
                ENDPOINT, json={**body, "system_prompt": override + "\x00"}, headers=key
            ),  # 422
            http.post(
                ENDPOINT, json={**body, "mcp_headers": {"X-A": mcp_values[0] + "\n"}}, headers=key
            ),
            http.post(ENDPOINT, json={**body, "language": override}, headers=key),
            http.post(
                ENDPOINT,
                content=json.dumps(body)[:-3],
                headers={**key, "content-type": "application/json"},
            ),
            http.post(
                "/api/agents", json={"name": "x", "system_prompt": prompt * 2000}, headers=key
            ),
            http.patch(
                f"/api/keys/{far['id']}",
                json={"allowed_origins": [f"https://x.example/{mcp_values[0]}"]},
                headers=csrf,
            ),
            http.post(
                "/api/keys",
                json={"name": prompt, "expires_at": "2001-01-01T00:00:00Z"},
                headers=csrf,
            ),
        ]
        http.delete(f"/api/keys/{far['id']}", headers=csrf)
        errors += [
            http.post(ENDPOINT, json=body, headers={"x-api-key": far["key"]}),  # 401 revoked
            http.post(f"/api/keys/{far['id']}/rotate", headers=csrf),  # 409
            http.post(f"/api/sessions/{sid}/revoke", headers=key),  # 503: no LiveKit here
        ]
        errors.append(http.get(f"/internal/sessions/{sid}", headers=worker))  # 409 ended
        errors += [
            http.post(ENDPOINT, json=body, headers={"x-api-key": tenant.api_key}) for _ in range(4)
        ]
        for resp in errors:
            seen.add(resp)
        statuses = {r.status_code for r in errors}
        assert {401, 403, 404, 409, 422, 429, 503} <= statuses, sorted(statuses)
        seen.add(http.get("/api/keys", headers=csrf))
        seen.add(http.get("/api/audit", headers=csrf))

    platform.engine.dispose()
    everything = [
        *keys,
        platform.secrets.livekit_api_secret,
        platform.secrets.worker_token,
        platform.secrets.encryption_key,
        *mcp_values,
        *tool_values,
        *webhook_secrets,
        *(s.removeprefix("whsec_") for s in webhook_secrets),
        prompt,
        override,
    ]
    assert len(caplog.records) > 50  # the capture works: uvicorn and the API were heard
    assert any(r.name == "uvicorn.access" for r in caplog.records)
    for record in caplog.records:
        text = record_text(record)
        leaked = [s for s in everything if s in text] + SK_PATTERN.findall(text)
        assert not leaked, f"log record {record.name}:{record.lineno} leaks {len(leaked)} secret(s)"

    for label, resp, may_hold in seen.responses:
        text = response_text(resp)
        leaked = [s for s in everything if s in text and s not in may_hold]
        leaked += [k for k in SK_PATTERN.findall(text) if k not in may_hold]
        assert not leaked, f"{label} leaks {len(leaked)} secret(s)"

    assert len(seen.tokens) >= 3
    for token in seen.tokens:
        claims = json.dumps(decode_claims(token))
        assert not [s for s in everything if s in claims or s in token]
