"""Room administration from the API: close a room (revocation) over LiveKit's Twirp API.

The API's routes are synchronous, so this speaks the RoomService's JSON Twirp endpoint
with a blocking HTTP client instead of the asyncio ``livekit.api`` client. Each request
carries a token minted for that one room with only the grants the call needs (LiveKit
wants ``roomCreate`` to delete a room).
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from livekit import api


class RoomAdminError(RuntimeError):
    """LiveKit could not be reached or refused the request (retry later)."""


class RoomAdmin:
    def __init__(self, *, livekit_url: str, api_key: str, api_secret: str, timeout: float = 5.0):
        base = livekit_url.rstrip("/")
        if base.startswith("ws"):
            base = "http" + base[2:]
        self._base = base
        self._key = api_key
        self._secret = api_secret
        self._timeout = timeout

    def _token(self, room: str) -> str:
        grants = api.VideoGrants(room_create=True, room_admin=True, room=room)
        return (
            api.AccessToken(self._key, self._secret)
            .with_grants(grants)
            .with_ttl(timedelta(minutes=1))
            .to_jwt()
        )

    def delete_room(self, room: str) -> bool:
        """Close ``room``, disconnecting everyone in it. False when it did not exist."""
        url = f"{self._base}/twirp/livekit.RoomService/DeleteRoom"
        try:
            resp = httpx.post(
                url,
                json={"room": room},
                headers={"Authorization": f"Bearer {self._token(room)}"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as e:
            raise RoomAdminError(f"LiveKit unreachable: {type(e).__name__}") from None
        if resp.status_code == 404:
            return False
        if resp.status_code >= 300:
            raise RoomAdminError(f"LiveKit answered {resp.status_code}")
        return True
