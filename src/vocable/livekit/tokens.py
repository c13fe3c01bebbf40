"""Join tokens for browsers: one room, microphone and data only, dispatching our worker."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import jwt


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

    The claims are written here rather than through ``livekit.api.AccessToken``, whose
    generic serialisation (``dataclasses.asdict``, protobuf to dict) was a fifth of the
    session endpoint's work; ``tests/unit/test_join_tokens.py`` holds them equal to what
    ``AccessToken`` signs for the same grant.
    """
    now = int(time.time())
    claims = {
        "name": "caller",
        "video": {
            "roomJoin": True,
            "room": grant.room_name,
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
            "canPublishSources": ["microphone"],
            "canUpdateOwnMetadata": False,
        },
        "roomConfig": {
            "name": grant.room_name,
            # the caller and the agent; a third participant is refused by the server
            "maxParticipants": 2,
            "emptyTimeout": 60,
            "departureTimeout": 10,
            "agents": [
                {
                    "agentName": agent_name,
                    "metadata": json.dumps({"session_id": grant.session_id}),
                }
            ],
        },
        "sub": grant.identity,
        "iss": api_key,
        "nbf": now,
        "exp": now + grant.ttl_seconds,
    }
    return jwt.encode(claims, api_secret, algorithm="HS256")
