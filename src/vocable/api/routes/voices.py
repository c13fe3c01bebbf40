"""An organisation's reference voices: list, inspect, listen, delete (with provenance)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from vocable import audit
from vocable.api.deps import ActorDep, DbDep, PlatformDep, Principal, VoicesRead, VoicesWrite
from vocable.api.errors import ApiError
from vocable.api.schemas import VoicePublic
from vocable.db.models import Voice
from vocable.voices.audio import audio_bytes
from vocable.voices.service import (
    AddedBy,
    delete_voice,
    list_voices,
    require_org_voice,
    voice_store,
)
from vocable.voices.store import VoiceStore

router = APIRouter(prefix="/api/voices", tags=["voices"])


def added_by(principal: Principal, actor: audit.Actor) -> AddedBy:
    """Provenance of what ``principal`` adds: the API key when one was used, else the user,
    with the client address of ``actor`` (the same request) for the audit log."""
    if principal.api_key is not None:
        return AddedBy(kind="api_key", id=principal.api_key.id, ip=actor.ip)
    if principal.user is None:  # get_principal always sets one of the two
        raise ApiError(401, "unauthorized", "Sign in or send an x-api-key header")
    return AddedBy(kind="user", id=principal.user.id, ip=actor.ip)


def audio_response(db: Session, store: VoiceStore, sha256: str) -> Response:
    """The stored clip as ``audio/wav`` (what a browser's ``<audio>`` plays)."""
    wav = audio_bytes(db, store, sha256)
    if wav is None:
        raise ApiError(404, "voice_not_found", "The voice's audio is no longer stored")
    return Response(
        wav,
        media_type="audio/wav",
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def _voice(db: DbDep, principal: Principal, voice_id: str) -> Voice:
    return require_org_voice(db, org_id=principal.org_id, voice_id=voice_id)


@router.get("", summary="List the organisation's reference voices, newest first")
def list_org_voices(db: DbDep, principal: VoicesRead) -> list[VoicePublic]:
    return [VoicePublic.model_validate(v) for v in list_voices(db, org_id=principal.org_id)]


@router.get("/{voice_id}", summary="A voice and its provenance", responses={404: {}})
def get_voice(voice_id: str, db: DbDep, principal: VoicesRead) -> VoicePublic:
    return VoicePublic.model_validate(_voice(db, principal, voice_id))


@router.get(
    "/{voice_id}/audio",
    summary="The stored normalised clip (16-bit mono WAV)",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}, 404: {}},
)
def get_voice_audio(
    voice_id: str, db: DbDep, principal: VoicesRead, platform: PlatformDep
) -> Response:
    voice = _voice(db, principal, voice_id)
    return audio_response(db, voice_store(platform.settings), voice.sha256)


@router.delete(
    "/{voice_id}",
    status_code=204,
    summary="Delete a voice, its audio and enrolments; agents using it are unlinked",
    responses={404: {}},
)
def delete_org_voice(
    voice_id: str, db: DbDep, principal: VoicesWrite, platform: PlatformDep, actor: ActorDep
) -> None:
    voice = _voice(db, principal, voice_id)
    # pending in this transaction: delete_voice commits it with the deletion
    audit.record(db, org_id=voice.org_id, actor=actor, action="voice.deleted", target_id=voice.id)
    delete_voice(db, voice_store(platform.settings), voice, settings=platform.settings)
