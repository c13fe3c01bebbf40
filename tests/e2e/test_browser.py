"""The web side in a real browser: Debian chromium (driven by playwright-core) with a fake
microphone, against the whole running platform.

An operator signs in to the dashboard, creates an API key and an agent and tries a call;
the customer example backend then runs with that very key, and its page (our React
component) and a page written from the public guide's plain livekit-client pattern each
hold a call: greeting heard, a spoken question transcribed and answered, a typed message
shown once and answered, the microphone released on hang-up. The browser checks are in
``web/e2e/src``; this module starts the servers and runs them. Screenshots land in
``artifacts/screenshots``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.caller import SAMPLE_RATE, synthesize_speech
from tests.support.net import free_port
from tests.support.servers import ApiServer, make_settings, running_platform

from vocable.processes import stop_process, wait_until_answering

REPO = Path(__file__).resolve().parents[2]
E2E_DIR = REPO / "web" / "e2e"
ARTIFACTS = REPO / "artifacts"
TEST_LLM = "qwen2.5-0.5b"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUESTION = "What time does the bakery open?"
LEAD_SILENCE_SECONDS = 9.0  # the greeting plays first; then the fake microphone asks


@dataclass
class Browserland:
    api: ApiServer
    operator: Tenant
    env: dict[str, str]


def _mic_wav(path: Path) -> Path:
    """The question, after a pause, as the fake microphone's only recording."""
    speech = synthesize_speech(QUESTION, path.with_name("question.wav"))
    lead = np.zeros(int(LEAD_SILENCE_SECONDS * SAMPLE_RATE), dtype=np.int16)
    tail = np.zeros(int(2 * SAMPLE_RATE), dtype=np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(np.concatenate([lead, speech, tail]).tobytes())
    return path


def _run_browser_test(name: str, env: dict[str, str]) -> None:
    script = E2E_DIR / "dist" / f"{name}.test.js"
    if not script.exists():
        pytest.fail(f"{script} is not built: the test command builds web/ first")
    proc = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(script)],
        cwd=E2E_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    print(proc.stdout[-6000:], proc.stderr[-4000:])
    assert proc.returncode == 0, f"browser test {name} failed:\n{proc.stdout[-6000:]}"


@pytest.fixture(scope="module")
def browserland(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browserland]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: the test command installs it")
    settings = make_settings(tmp_path_factory.mktemp("data"), worker_prewarm_llm=TEST_LLM)
    if not (settings.dashboard_dir / "index.html").exists():
        pytest.fail("the dashboard is not built: the test command builds web/ first")
    work = tmp_path_factory.mktemp("browser")
    out = ARTIFACTS / "browser"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with running_platform(settings) as api:
        operator = make_tenant(api.platform)
        env = {
            **os.environ,
            "E2E_VOCABLE_URL": api.url,
            "E2E_ADMIN_EMAIL": operator.email,
            "E2E_ADMIN_PASSWORD": operator.password,
            "E2E_MIC_WAV": str(_mic_wav(work / "mic.wav")),
            "E2E_OUT": str(out),
            "E2E_CHROMIUM": CHROMIUM,
        }
        yield Browserland(api=api, operator=operator, env=env)


@pytest.fixture(scope="module")
def created(browserland: Browserland) -> dict[str, str]:
    """What the operator made in the dashboard: an API key and an Agent ID."""
    _run_browser_test("dashboard", browserland.env)
    path = Path(browserland.env["E2E_OUT"]) / "created.json"
    data: dict[str, str] = json.loads(path.read_text())
    return data


@pytest.fixture(scope="module")
def example_url(browserland: Browserland, created: dict[str, str]) -> Iterator[str]:
    """The customer example backend, holding the key the operator just created."""
    port = free_port()
    env = {
        **os.environ,
        "VOCABLE_API_URL": browserland.api.url,
        "VOCABLE_API_KEY": created["apiKey"],
        "VOCABLE_AGENT_ID": created["agentId"],
        "VISITOR_SESSIONS_PER_MINUTE": "20",  # every page of these tests comes from one address
    }
    log = open(Path(browserland.env["E2E_OUT"]) / "example-backend.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.customer.app:app", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/api/voice-agent/config", proc=proc, timeout=30)
        yield url
    finally:
        stop_process(proc, timeout=10)
        log.close()


def test_operator_creates_a_key_and_an_agent_in_the_dashboard(
    browserland: Browserland, created: dict[str, str]
) -> None:
    headers = {"x-api-key": created["apiKey"]}
    agent = httpx.get(f"{browserland.api.url}/api/agents/{created['agentId']}", headers=headers)
    assert agent.status_code == 200  # the key works, for the operator's own organisation
    assert agent.json()["greeting"].startswith("Welcome to Rosa's Bakery")
    assert agent.json()["llm_engine"] == TEST_LLM
    # the settings changed on the agent page were saved
    conversation, overrides = agent.json()["conversation"], agent.json()["session_overrides"]
    assert conversation["temperature"] == 0.3
    assert conversation["goodbye"] == "Thank you for calling Rosa's Bakery. Goodbye!"
    assert "system_prompt" not in overrides and "language" in overrides
    calls = httpx.get(f"{browserland.api.url}/api/sessions", headers=headers).json()
    assert calls and calls[0]["agent_id"] == created["agentId"]  # the try-it call
    # the operator gave the key only sessions and reading agents and calls
    url = f"{browserland.api.url}/api/agents/{created['agentId']}"
    refused = httpx.delete(url, headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_scope"


def test_customer_page_holds_a_voice_and_text_call(
    browserland: Browserland, created: dict[str, str], example_url: str
) -> None:
    _run_browser_test("customer", {**browserland.env, "E2E_EXAMPLE_URL": example_url})
    _assert_last_call_recorded(browserland, created)


def test_page_written_from_the_guide_holds_the_same_call(
    browserland: Browserland, created: dict[str, str], example_url: str
) -> None:
    _run_browser_test("guide", {**browserland.env, "E2E_EXAMPLE_URL": example_url})
    _assert_last_call_recorded(browserland, created)


def _assert_last_call_recorded(browserland: Browserland, created: dict[str, str]) -> None:
    """The call the page just made is in the record: spoken and typed turns, ended."""
    headers = {"x-api-key": created["apiKey"]}
    with httpx.Client(base_url=browserland.api.url, headers=headers) as http:
        last = http.get("/api/sessions", params={"limit": 1}).json()[0]
        record = {}
        for _ in range(100):
            record = http.get(f"/api/sessions/{last['id']}").json()
            if record["status"] == "ended":
                break
            time.sleep(0.2)
    assert record["status"] == "ended" and record["end_reason"] == "caller_left"
    user_turns = [t["text"] for t in record["turns"] if t["role"] == "user"]
    assert "When do you close?" in user_turns
    assert any("bakery" in t.lower() or "open" in t.lower() for t in user_turns), user_turns
