"""Against the real LiveKit server: minted tokens open the room and dispatch our worker."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from livekit import rtc
from tests.conftest import Tenant, make_tenant
from tests.support.servers import (
    ApiServer,
    make_settings,
    running_platform,
)

from vocable.livekit.tokens import JoinGrant, mint_join_token


@dataclass
class Stack:
    api: ApiServer
    tenant: Tenant
    livekit_log: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = make_settings(tmp_path_factory.mktemp("data"))
    with running_platform(settings) as api:
        yield Stack(
            api=api,
            tenant=make_tenant(api.platform),
            livekit_log=settings.data_dir / "livekit.log",
        )


async def _create_session(stack: Stack) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        resp = await http.post(
            "/api/agents/agent-session/",
            json={"agent": stack.tenant.agent_id},
            headers={"x-api-key": stack.tenant.api_key},
        )
    assert resp.status_code == 200, resp.text
    data: dict[str, str] = resp.json()["data"]
    return data


async def _call_record(stack: Stack, session_id: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        resp = await http.get(
            f"/api/sessions/{session_id}", headers={"x-api-key": stack.tenant.api_key}
        )
    record: dict[str, object] = resp.json()
    return record


async def _wait_status(
    stack: Stack, session_id: str, status: str, timeout: float = 30
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    record: dict[str, object] = {}
    while time.monotonic() < deadline:
        record = await _call_record(stack, session_id)
        if record.get("status") == status:
            return record
        await asyncio.sleep(0.2)
    raise AssertionError(f"session stayed {record.get('status')!r}, expected {status!r}")


async def test_joining_dispatches_our_worker_with_the_session_and_leaving_ends_the_call(
    stack: Stack,
) -> None:
    data = await _create_session(stack)
    room = rtc.Room()
    agent_joined = asyncio.Event()
    room.on("participant_connected", lambda p: agent_joined.set())
    await room.connect(data["livekit_url"], data["token"])
    try:
        assert room.name == data["room_name"]
        assert room.local_participant.identity == data["participant_identity"]
        if not room.remote_participants:
            await asyncio.wait_for(agent_joined.wait(), timeout=30)
        agent = next(iter(room.remote_participants.values()))
        assert agent.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        # "active" is reported only after the worker fetched this session's config
        record = await _wait_status(stack, data["session_id"], "active")
        assert record["started_at"]
    finally:
        await room.disconnect()
    ended = await _wait_status(stack, data["session_id"], "ended")
    assert ended["end_reason"] == "caller_left"
    assert isinstance(ended["usage"], dict) and ended["usage"]["duration_seconds"] > 0


async def _connect_fails(url: str, token: str) -> None:
    room = rtc.Room()
    with pytest.raises(rtc.ConnectError):
        await room.connect(url, token)


async def test_expired_token_is_refused_by_the_server(stack: Stack) -> None:
    secrets = stack.api.platform.secrets
    token = mint_join_token(
        api_key=secrets.livekit_api_key,
        api_secret=secrets.livekit_api_secret,
        agent_name="vocable-agent",
        grant=JoinGrant(
            room_name="room_expired",
            identity="user_x",
            session_id="ses_x",
            ttl_seconds=-600,
            max_call_seconds=60,
        ),
    )
    await _connect_fails(stack.api.platform.settings.resolved_livekit_url, token)


async def test_token_signed_by_someone_else_is_refused_by_the_server(stack: Stack) -> None:
    token = mint_join_token(
        api_key=stack.api.platform.secrets.livekit_api_key,
        api_secret="not-the-server-secret-" + "x" * 20,
        agent_name="vocable-agent",
        grant=JoinGrant(
            room_name="room_forged",
            identity="user_y",
            session_id="ses_y",
            ttl_seconds=600,
            max_call_seconds=60,
        ),
    )
    await _connect_fails(stack.api.platform.settings.resolved_livekit_url, token)


def our_processes() -> set[int]:
    """This test process and every process it started (API, worker, LiveKit, ...)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    ours = {os.getpid()}
    while grown := {pid for pid, parent in parents.items() if parent in ours} - ours:
        ours |= grown
    return ours


def listening_sockets(pids: set[int]) -> list[tuple[str, str, str]]:
    """(protocol, program, local address) of every listening TCP socket of ``pids`` and
    every bound UDP socket of LiveKit (a WebRTC client's own ICE sockets, the worker's
    or this test's, are outgoing and not services)."""
    listing = subprocess.run(["ss", "-lntupH"], capture_output=True, text=True, check=True)
    found = []
    for line in listing.stdout.splitlines():
        protocol, address = line.split()[0], line.split()[4]
        for program, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
            if int(pid) in pids and (protocol == "tcp" or program.startswith("livekit")):
                found.append((protocol, program, address))
    return found


async def test_during_a_call_every_process_listens_on_loopback_only(stack: Stack) -> None:
    """The default install binds to loopback: LiveKit's signalling and each call's UDP
    ports, the API, the worker (and its health server), whatever they started."""
    data = await _create_session(stack)
    room = rtc.Room()
    await room.connect(data["livekit_url"], data["token"])
    try:
        source = rtc.AudioSource(48000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await room.local_participant.publish_track(track, options)  # media ports now open
        await _wait_status(stack, data["session_id"], "active")
        sockets = listening_sockets(our_processes())
        # LiveKit's signalling and this call's media ports, the API, the worker's server
        assert ("udp", "livekit-server") in {(p, n[:14]) for p, n, _ in sockets}, sockets
        assert len([s for s in sockets if s[0] == "tcp"]) >= 3, sockets
        outside = [s for s in sockets if not s[2].startswith(("127.", "[::1]:"))]
        assert outside == []
    finally:
        await room.disconnect()
