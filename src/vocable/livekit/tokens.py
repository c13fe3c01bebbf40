"""Join tokens for browsers: one room, microphone and data only, dispatching our worker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from livekit import api


@dataclass(frozen=True)
class JoinGrant:
    room_name: str
    identity: str
    session_id: str
    ttl_seconds: int
    max_call_seconds: int


def mint_join_token(*, api_key: str, api_secret: str, agent_name: str, grant: JoinGrant) -> str:
    """Sign a token that lets one participant join one room and dispatches ``agent_name``.

    The dispatch metadata carries only the opaque session id: the browser can decode
    the token, so the prompt, MCP headers and voice stay on the server, fetched by the
    worker over the internal channel.
    """
    room_config = api.RoomConfiguration(
        name=grant.room_name,
        # the caller and the agent; a third participant is refused by the server
        max_participants=2,
        empty_timeout=60,
        departure_timeout=10,
        agents=[
            api.RoomAgentDispatch(
                agent_name=agent_name, metadata=json.dumps({"session_id": grant.session_id})
            )
        ],
    )
    grants = api.VideoGrants(
        room_join=True,
        room=grant.room_name,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=["microphone"],
        can_update_own_metadata=False,
    )
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(grant.identity)
        .with_name("caller")
        .with_ttl(timedelta(seconds=grant.ttl_seconds))
        .with_grants(grants)
        .with_room_config(room_config)
        .to_jwt()
    )
