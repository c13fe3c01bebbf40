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

    def list_rooms(self) -> set[str]:
        """Names of the rooms that exist now (the session sweeper compares them to calls)."""
        token = (
            api.AccessToken(self._key, self._secret)
            .with_grants(api.VideoGrants(room_list=True))
            .with_ttl(timedelta(minutes=1))
            .to_jwt()
        )
        url = f"{self._base}/twirp/livekit.RoomService/ListRooms"
        try:
            resp = httpx.post(
                url, json={}, headers={"Authorization": f"Bearer {token}"}, timeout=self._timeout
            )
        except httpx.HTTPError as e:
            raise RoomAdminError(f"LiveKit unreachable: {type(e).__name__}") from None
        if resp.status_code >= 300:
            raise RoomAdminError(f"LiveKit answered {resp.status_code}")
        rooms = resp.json().get("rooms") or []
        return {str(room["name"]) for room in rooms if isinstance(room, dict) and "name" in room}

    def remove_all_but(self, room: str, identity: str) -> list[str]:
        """Remove everyone but ``identity`` from ``room`` (an agent whose worker died
        lingers for up to half a minute); returns who was removed."""
        headers = {"Authorization": f"Bearer {self._token(room)}"}
        service = f"{self._base}/twirp/livekit.RoomService"
        removed: list[str] = []
        try:
            resp = httpx.post(
                f"{service}/ListParticipants",
                json={"room": room},
                headers=headers,
                timeout=self._timeout,
            )
            if resp.status_code == 404:
                return removed
            if resp.status_code >= 300:
                raise RoomAdminError(f"LiveKit answered {resp.status_code}")
            for participant in resp.json().get("participants") or []:
                other = participant.get("identity") if isinstance(participant, dict) else None
                if not isinstance(other, str) or other == identity:
                    continue
                httpx.post(
                    f"{service}/RemoveParticipant",
                    json={"room": room, "identity": other},
                    headers=headers,
                    timeout=self._timeout,
                )
                removed.append(other)
        except httpx.HTTPError as e:
            raise RoomAdminError(f"LiveKit unreachable: {type(e).__name__}") from None
        return removed
