"""The join token we sign ourselves says exactly what ``livekit.api.AccessToken`` would."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest
from livekit import api
from tests.support.tokens import decode_claims

from vocable.livekit.tokens import JoinGrant, mint_join_token

GRANT = JoinGrant(
    room_name="room_abc",
    identity="user_0123456789abcdef",
    session_id="ses_xyz",
    ttl_seconds=30,
    max_call_seconds=900,
)
KEY, SECRET = "APIkey", "a-secret-of-enough-length-for-hs256-signing"


def livekit_token(grant: JoinGrant, agent_name: str) -> str:
    """The same grant through LiveKit's own builder: the reference."""
    room_config = api.RoomConfiguration(
        name=grant.room_name,
        max_participants=2,
        empty_timeout=60,
        departure_timeout=10,
        agents=[
            api.RoomAgentDispatch(
                agent_name=agent_name, metadata=json.dumps({"session_id": grant.session_id})
            )
        ],
    )
    video = api.VideoGrants(
        room_join=True,
        room=grant.room_name,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=["microphone"],
        can_update_own_metadata=False,
    )
    return (
        api.AccessToken(KEY, SECRET)
        .with_identity(grant.identity)
        .with_name("caller")
        .with_ttl(timedelta(seconds=grant.ttl_seconds))
        .with_grants(video)
        .with_room_config(room_config)
        .to_jwt()
    )


def test_our_claims_are_livekits_claims() -> None:
    ours = decode_claims(
        mint_join_token(api_key=KEY, api_secret=SECRET, agent_name="vocable", grant=GRANT)
    )
    reference = decode_claims(livekit_token(GRANT, "vocable"))
    for claims in (ours, reference):
        assert claims.pop("exp") - claims.pop("nbf") == GRANT.ttl_seconds
    assert ours == reference


def test_livekit_verifies_our_token_and_reads_the_grant() -> None:
    token = mint_join_token(api_key=KEY, api_secret=SECRET, agent_name="vocable", grant=GRANT)
    claims = api.TokenVerifier(KEY, SECRET).verify(token)
    assert claims.identity == GRANT.identity
    assert claims.video is not None and claims.video.room == GRANT.room_name
    assert claims.video.can_publish_sources == ["microphone"]
    assert claims.room_config is not None
    (dispatch,) = claims.room_config.agents
    assert dispatch.agent_name == "vocable"
    assert json.loads(dispatch.metadata) == {"session_id": GRANT.session_id}


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = mint_join_token(api_key=KEY, api_secret=SECRET, agent_name="vocable", grant=GRANT)
    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(KEY, SECRET + "x").verify(token)
