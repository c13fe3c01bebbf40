"""LiveKit webhook verification and what an event means for an open call."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from livekit import api

from vocable.livekit.server import server_config
from vocable.livekit.webhooks import (
    MEDIA_LOST,
    WORKER_LOST,
    WebhookRefused,
    WebhookVerifier,
    lost_call_reason,
)
from vocable.platform_secrets import load_or_create_secrets
from vocable.settings import Settings

KEY, SECRET = "APIkey123", "s" * 40


def signed(body: bytes, *, key: str = KEY, secret: str = SECRET, ttl: float = 300) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = api.AccessToken(key, secret).with_sha256(digest)
    return token.with_ttl(timedelta(seconds=ttl)).to_jwt()


def event_body(
    kind: str = "participant_left", identity: str = "agent-AJ_1", created_at: int = 0
) -> bytes:
    event = {
        "event": kind,
        "room": {"name": "room_abc"},
        "participant": {"identity": identity},
        "id": "EV_1",
        "createdAt": str(created_at),
    }
    return json.dumps(event).encode()


VERIFIER = WebhookVerifier(api_key=KEY, api_secret=SECRET)


def test_a_webhook_signed_with_our_key_pair_is_read() -> None:
    body = event_body()
    event = VERIFIER.verify(body, signed(body))
    assert event.event == "participant_left"
    assert event.room.name == "room_abc" and event.participant.identity == "agent-AJ_1"


@pytest.mark.parametrize(
    ("authorization", "why"),
    [
        (None, "no header"),
        ("", "empty header"),
        ("not-a-jwt", "garbage"),
        (signed(event_body(), secret="t" * 40), "another secret"),
        (signed(event_body(), key="OTHERKEY"), "another key"),
        (signed(event_body(), ttl=-120), "expired"),
        (signed(event_body("room_finished")), "signature of another body"),
        (api.AccessToken(KEY, SECRET).to_jwt(), "no body hash"),
    ],
)
def test_forged_or_unsigned_webhooks_are_refused(authorization: str | None, why: str) -> None:
    with pytest.raises(WebhookRefused):
        VERIFIER.verify(event_body(), authorization)


def test_a_signed_body_that_is_not_an_event_is_refused() -> None:
    body = b"\xff not json"
    with pytest.raises(WebhookRefused):
        VERIFIER.verify(body, signed(body))


def parse(body: bytes) -> api.WebhookEvent:
    return VERIFIER.verify(body, signed(body))


def test_the_agent_leaving_an_open_call_means_its_worker_was_lost() -> None:
    event = parse(event_body("participant_left", "agent-AJ_1"))
    assert lost_call_reason(event, caller_identity="user_1") == WORKER_LOST


def test_the_caller_leaving_is_the_workers_to_report() -> None:
    event = parse(event_body("participant_left", "user_1"))
    assert lost_call_reason(event, caller_identity="user_1") is None


def test_a_room_finishing_under_an_open_call_means_media_was_lost() -> None:
    assert lost_call_reason(parse(event_body("room_finished")), caller_identity="u") == MEDIA_LOST


def test_other_events_mean_nothing_for_the_call() -> None:
    for kind in ("room_started", "participant_joined", "track_published"):
        assert lost_call_reason(parse(event_body(kind)), caller_identity="user_1") is None


def test_livekit_posts_signed_webhooks_to_the_api(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_port=8123)
    secrets = load_or_create_secrets(settings)
    config = server_config(settings, secrets)
    assert config["webhook"] == {
        "api_key": secrets.livekit_api_key,
        "urls": ["http://127.0.0.1:8123/livekit/webhook"],
    }
    override = Settings(
        data_dir=tmp_path, livekit_webhook_url="http://api.internal/livekit/webhook"
    )
    webhook = server_config(override, secrets)["webhook"]
    assert isinstance(webhook, dict) and webhook["urls"] == ["http://api.internal/livekit/webhook"]


def test_a_room_started_again_after_its_call_started_means_media_was_lost() -> None:
    """After a LiveKit node dies, the caller's reconnect recreates the room on another
    node (tests/e2e/test_cluster.py): the call's media is gone."""
    started = datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    again = parse(event_body("room_started", created_at=int(started.timestamp()) + 5))
    assert lost_call_reason(again, caller_identity="u", started_at=started) == MEDIA_LOST
    # the room's first start comes before the call starts (the agent joins after it)
    first = parse(event_body("room_started", created_at=int(started.timestamp())))
    assert lost_call_reason(first, caller_identity="u", started_at=started) is None
    assert lost_call_reason(again, caller_identity="u", started_at=None) is None
