"""Open calls nobody will end: LiveKit's signed webhooks and the session sweeper close them."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from livekit import api as lk
from tests.conftest import Tenant
from tests.support.servers import ApiServer

from vocable.db.models import VoiceSession
from vocable.livekit.rooms import RoomAdminError
from vocable.platform import Platform
from vocable.sessions.service import record_event
from vocable.sessions.sweeper import SessionSweeper

WEBHOOK = "/livekit/webhook"


def open_call(http: httpx.Client, tenant: Tenant, platform: Platform) -> VoiceSession:
    """A session whose call started (the worker reported ``started``)."""
    resp = http.post(
        "/api/agents/agent-session/",
        json={"agent": tenant.agent_id},
        headers={"x-api-key": tenant.api_key},
    )
    assert resp.status_code == 200, resp.text
    with platform.sessions() as db:
        row = db.get(VoiceSession, resp.json()["data"]["session_id"])
        assert row is not None
        record_event(db, row, kind="started", reason=None, usage=None)
        db.expunge(row)
    return row


def record(platform: Platform, session_id: str) -> VoiceSession:
    with platform.sessions() as db:
        row = db.get(VoiceSession, session_id)
        assert row is not None
        db.expunge(row)
        return row


def signed_post(
    http: httpx.Client, platform: Platform, event: dict[str, object], *, secret: str | None = None
) -> httpx.Response:
    body = json.dumps(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = lk.AccessToken(
        platform.secrets.livekit_api_key, secret or platform.secrets.livekit_api_secret
    ).with_sha256(digest)
    headers = {"Authorization": token.to_jwt(), "Content-Type": "application/webhook+json"}
    return http.post(WEBHOOK, content=body, headers=headers)


def left(room: str, identity: str) -> dict[str, object]:
    return {
        "event": "participant_left",
        "room": {"name": room},
        "participant": {"identity": identity},
    }


def test_an_unsigned_or_forged_webhook_is_refused_with_401(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    row = open_call(http, tenant, api.platform)
    event = left(row.room_name, "agent-AJ_x")
    unsigned = http.post(WEBHOOK, content=json.dumps(event).encode())
    forged = signed_post(http, api.platform, event, secret="f" * 40)
    assert unsigned.status_code == forged.status_code == 401
    assert forged.json()["success"] is False
    assert record(api.platform, row.id).status == "active"  # nothing changed


def test_the_agent_leaving_an_open_call_ends_it_as_worker_lost(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    row = open_call(http, tenant, api.platform)
    caller_left = signed_post(http, api.platform, left(row.room_name, row.participant_identity))
    assert caller_left.json() == {"status": "ignored"}  # the worker reports that itself
    resp = signed_post(http, api.platform, left(row.room_name, "agent-AJ_x"))
    assert resp.status_code == 200 and resp.json()["reason"] == "worker_lost"
    ended = record(api.platform, row.id)
    assert ended.status == "ended" and ended.end_reason == "worker_lost"
    # a later event never changes an ended call
    finished = {"event": "room_finished", "room": {"name": row.room_name}}
    assert signed_post(http, api.platform, finished).json() == {"status": "ignored"}
    assert record(api.platform, row.id).end_reason == "worker_lost"


def test_a_room_finishing_under_an_open_call_ends_it_as_media_lost(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    row = open_call(http, tenant, api.platform)
    finished = {"event": "room_finished", "room": {"name": row.room_name}}
    assert signed_post(http, api.platform, finished).json()["reason"] == "media_lost"
    assert record(api.platform, row.id).end_reason == "media_lost"


def test_a_room_started_again_under_an_open_call_ends_it_as_media_lost(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    """A dead LiveKit node's room, recreated on another node by the caller's reconnect
    (tests/e2e/test_cluster.py), holds nothing of the call: the caller must be told."""
    row = open_call(http, tenant, api.platform)
    started = record(api.platform, row.id).started_at
    assert started is not None
    first = {
        "event": "room_started",
        "room": {"name": row.room_name},
        "createdAt": str(int(started.timestamp())),
    }
    assert signed_post(http, api.platform, first).json() == {"status": "ignored"}
    again = {**first, "createdAt": str(int(started.timestamp()) + 5)}
    assert signed_post(http, api.platform, again).json()["reason"] == "media_lost"
    assert record(api.platform, row.id).end_reason == "media_lost"


@dataclass
class FakeRooms:
    rooms: set[str] = field(default_factory=set)
    down: bool = False
    deleted: list[str] = field(default_factory=list)

    def list_rooms(self) -> set[str]:
        if self.down:
            raise RoomAdminError("LiveKit unreachable: ConnectError")
        return set(self.rooms)

    def delete_room(self, room: str) -> bool:
        self.deleted.append(room)
        return True

    removed_from: list[str] = field(default_factory=list)

    def remove_all_but(self, room: str, identity: str) -> list[str]:
        self.removed_from.append(room)
        return ["agent-AJ_x"]


def sweeper(platform: Platform, rooms: FakeRooms, **kwargs: float) -> SessionSweeper:
    """A sweeper that judges worker silence only where a test asks for it."""
    options = {"interval_seconds": 60.0, "worker_silent_seconds": 3600.0, **kwargs}
    return SessionSweeper(sessions=platform.sessions, rooms=rooms, **options)


def test_the_sweeper_ends_a_call_whose_room_is_gone_on_two_sweeps(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    platform = api.platform
    kept, lost = open_call(http, tenant, platform), open_call(http, tenant, platform)
    rooms = FakeRooms(rooms={kept.room_name})
    sweeper_ = sweeper(platform, rooms)
    later = datetime.now(UTC) + timedelta(seconds=10)  # past the grace after `started`
    rooms.down = True
    assert sweeper_.sweep(later) == []  # LiveKit down: nothing can be judged
    rooms.down = False
    assert sweeper_.sweep(later) == []  # missing once: the worker may be ending it
    closed = sweeper_.sweep(later + timedelta(seconds=5))
    assert lost.id in [c.session_id for c in closed]
    assert kept.id not in [c.session_id for c in closed]
    assert record(platform, lost.id).end_reason == "media_lost"
    assert record(platform, kept.id).status == "active"
    assert lost.room_name in rooms.deleted


def test_the_sweeper_ends_a_call_past_its_hard_deadline(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    platform = api.platform
    row = open_call(http, tenant, platform)
    rooms = FakeRooms(rooms={row.room_name})
    sweeper_ = sweeper(platform, rooms)
    assert row.id not in [c.session_id for c in sweeper_.sweep()]
    closed = sweeper_.sweep(row.hard_deadline + timedelta(seconds=1))
    assert (row.id, "expired") in [(c.session_id, c.reason) for c in closed]
    assert record(platform, row.id).end_reason == "expired"
    assert row.room_name in rooms.deleted


def test_a_new_sweeper_gives_workers_a_full_timeout_to_reach_it(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    platform = api.platform
    row = open_call(http, tenant, platform)
    rooms = FakeRooms(rooms={row.room_name})
    worker = {"Authorization": f"Bearer {platform.secrets.worker_token}"}
    assert http.post(f"/internal/sessions/{row.id}/heartbeat", headers=worker).status_code == 200
    started = datetime.now(UTC)
    sweeper_ = SessionSweeper(
        sessions=platform.sessions,
        rooms=rooms,
        interval_seconds=60,
        worker_silent_seconds=10,
        clock=lambda: started,
    )
    # the API was down: heartbeats sent meanwhile were lost, so silence is not judged yet
    assert row.id not in [c.session_id for c in sweeper_.sweep(started + timedelta(seconds=9))]
    assert row.id in [c.session_id for c in sweeper_.sweep(started + timedelta(seconds=11))]


def test_the_sweeper_ends_a_call_whose_worker_fell_silent_as_worker_lost(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    platform = api.platform
    row = open_call(http, tenant, platform)
    rooms = FakeRooms(rooms={row.room_name})
    worker = {"Authorization": f"Bearer {platform.secrets.worker_token}"}
    beat = http.post(f"/internal/sessions/{row.id}/heartbeat", headers=worker)
    assert beat.status_code == 200 and beat.json() == {"status": "active"}
    assert http.post(f"/internal/sessions/{row.id}/heartbeat").status_code == 401
    beat_at = datetime.now(UTC)
    # a sweeper that has run for longer than the timeout (its start grace is over)
    sweeper_ = SessionSweeper(
        sessions=platform.sessions,
        rooms=rooms,
        interval_seconds=60,
        worker_silent_seconds=10,
        clock=lambda: beat_at - timedelta(seconds=20),
    )
    assert row.id not in [c.session_id for c in sweeper_.sweep(beat_at + timedelta(seconds=5))]
    closed = sweeper_.sweep(beat_at + timedelta(seconds=11))
    assert (row.id, "worker_lost") in [(c.session_id, c.reason) for c in closed]
    assert row.room_name in rooms.removed_from  # the agent is removed: the caller sees it
    assert row.room_name not in rooms.deleted  # and the room closes a moment later
    sweeper_.sweep(beat_at + timedelta(seconds=12))
    assert row.room_name in rooms.deleted
    assert record(platform, row.id).end_reason == "worker_lost"
    # the worker learns the call is over from its next heartbeat
    assert http.post(f"/internal/sessions/{row.id}/heartbeat", headers=worker).json() == {
        "status": "ended"
    }


def test_a_session_nobody_joins_frees_its_slot_after_a_minute_and_ends_as_not_joined(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    platform = api.platform
    resp = http.post(
        "/api/agents/agent-session/",
        json={"agent": tenant.agent_id},
        headers={"x-api-key": tenant.api_key},
    )
    assert resp.json()["data"]["expires_in_seconds"] == 30  # the default join window
    row = record(platform, resp.json()["data"]["session_id"])
    assert row.join_deadline - row.created_at == timedelta(seconds=30)
    worker = {"Authorization": f"Bearer {platform.secrets.worker_token}"}
    sweeper_ = sweeper(platform, FakeRooms())
    # a caller who connected in time may still be answered by a slow worker for a minute
    just_in_time = row.join_deadline + timedelta(seconds=59)
    assert row.id not in [c.session_id for c in sweeper_.sweep(just_in_time)]
    with platform.sessions() as db:  # the window passed 50 s ago
        db.get(VoiceSession, row.id).join_deadline = datetime.now(UTC) - timedelta(seconds=50)
        db.commit()
    assert http.get(f"/internal/sessions/{row.id}", headers=worker).status_code == 200
    with platform.sessions() as db:  # ... and 70 s ago: too late to start
        db.get(VoiceSession, row.id).join_deadline = datetime.now(UTC) - timedelta(seconds=70)
        db.commit()
    assert http.get(f"/internal/sessions/{row.id}", headers=worker).status_code == 409
    row = record(platform, row.id)
    closed = sweeper_.sweep(row.join_deadline + timedelta(seconds=61))
    assert (row.id, "not_joined") in [(c.session_id, c.reason) for c in closed]
    public = http.get(f"/api/sessions/{row.id}", headers={"x-api-key": tenant.api_key}).json()
    assert (public["status"], public["end_reason"]) == ("ended", "not_joined")


def test_a_heartbeat_before_the_started_report_still_counts(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    """The worker sends its first beat and its "started" report at once; when the beat
    lands first and the worker dies before its next one, its silence still ends the call."""
    platform = api.platform
    resp = http.post(
        "/api/agents/agent-session/",
        json={"agent": tenant.agent_id},
        headers={"x-api-key": tenant.api_key},
    )
    sid = resp.json()["data"]["session_id"]
    worker = {"Authorization": f"Bearer {platform.secrets.worker_token}"}
    beat = http.post(f"/internal/sessions/{sid}/heartbeat", headers=worker)
    assert beat.json() == {"status": "created"}
    started = http.post(
        f"/internal/sessions/{sid}/events", json={"type": "started"}, headers=worker
    )
    assert started.json() == {"status": "active"}
    row = record(platform, sid)
    sweeper_ = sweeper(platform, FakeRooms(rooms={row.room_name}), worker_silent_seconds=10)
    later = datetime.now(UTC) + timedelta(seconds=11)
    assert (sid, "worker_lost") in [(c.session_id, c.reason) for c in sweeper_.sweep(later)]


def test_a_second_dispatch_of_a_call_whose_agent_beats_is_refused_as_answered(
    api: ApiServer, http: httpx.Client, tenant: Tenant
) -> None:
    """LiveKit dispatches a room's agent again when a caller's reconnect recreates the room
    on another node (tests/e2e/test_cluster.py): the call's agent is alive, so the second
    job is told ``session_answered`` and leaves the room alone (vocable.worker.main)."""
    platform = api.platform
    row = open_call(http, tenant, platform)
    worker = {"Authorization": f"Bearer {platform.secrets.worker_token}"}
    config = f"/internal/sessions/{row.id}"
    assert http.get(config, headers=worker).status_code == 200  # no beat yet: its first job
    assert http.post(f"{config}/heartbeat", headers=worker).status_code == 200
    again = http.get(config, headers=worker)
    assert (again.status_code, again.json()["code"]) == (409, "session_answered")
    # an agent silent past the heartbeat timeout no longer holds the call
    silent = timedelta(seconds=platform.settings.worker_heartbeat_timeout_seconds + 1)
    with platform.sessions() as db:
        stored = db.get(VoiceSession, row.id)
        assert stored is not None
        stored.worker_seen_at = datetime.now(UTC) - silent
        db.commit()
    assert http.get(config, headers=worker).status_code == 200
