"""Cloning engines: our request code against servers speaking their wire formats.

Real HTTP everywhere: the API on both databases, the worker's voice selection
(``vocable.worker.voice.call_voice``) talking to it over the worker channel, and local
engines that check what they receive (``tests.support.clone_engines``). The embedded
engine behind every cloned voice is the real eSpeak NG with voice matching.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from livekit.agents import APIStatusError, tts
from sqlalchemy import func, select
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.support.audio import voiced_clip as clip
from tests.support.clone_engines import (
    RATE,
    EngineState,
    RunningEngine,
    cartesia_app,
    chatterbox_app,
    elevenlabs_app,
    running_engine,
    wav_info,
)
from tests.support.net import free_port
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.db.models import VoiceClone
from vocable.providers.cloned_tts import ClonedTTS
from vocable.providers.espeak_tts import EspeakTTS
from vocable.providers.matched_tts import MatchedTTS
from vocable.settings import Settings
from vocable.voices.clones import prepare_clone
from vocable.voices.engines import (
    Cartesia,
    CloneEngineError,
    CloneServer,
    ElevenLabs,
    engine_for,
)
from vocable.voices.service import voice_store
from vocable.worker.channel import WorkerChannel
from vocable.worker.enrolments import cached_hashes, prune_enrolments
from vocable.worker.voice import CallVoice, call_voice

SESSIONS = "/api/agents/agent-session/"
SERVER_KEY = "clone-server-secret-" + secrets.token_hex(4)
ELEVEN_KEY = "xi-secret-" + secrets.token_hex(8)
CARTESIA_KEY = "sk_car_" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def chatterbox() -> Iterator[RunningEngine]:
    state = EngineState(api_key=SERVER_KEY)
    with running_engine(chatterbox_app(state), state) as engine:
        yield engine


@pytest.fixture(scope="module")
def eleven() -> Iterator[RunningEngine]:
    state = EngineState(api_key=ELEVEN_KEY)
    with running_engine(elevenlabs_app(state), state) as engine:
        yield engine


@pytest.fixture(scope="module")
def cartesia() -> Iterator[RunningEngine]:
    state = EngineState(api_key=CARTESIA_KEY)
    with running_engine(cartesia_app(state), state) as engine:
        yield engine


def engine_settings(
    chatterbox: RunningEngine, eleven: RunningEngine, cartesia: RunningEngine
) -> dict[str, Any]:
    return {
        "clone_server_url": chatterbox.url,
        "clone_server_api_key": SERVER_KEY,
        "elevenlabs_api_key": ELEVEN_KEY,
        "elevenlabs_base_url": eleven.url,
        "cartesia_api_key": CARTESIA_KEY,
        "cartesia_base_url": cartesia.url,
    }


@pytest.fixture(scope="module")
def api(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    chatterbox: RunningEngine,
    eleven: RunningEngine,
    cartesia: RunningEngine,
) -> Iterator[ApiServer]:
    """The API, configured with the same engines as the worker (it deletes their copies)."""
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        database_url_for(request, backend, "t_" + secrets.token_hex(6)),
        max_concurrent_sessions_per_org=1000,
        key_rate_limit_per_minute=1000,
        **engine_settings(chatterbox, eleven, cartesia),
    )
    with running_api(make_platform(settings)) as server:
        yield server


@pytest.fixture(scope="module")
def org(api: ApiServer) -> Tenant:
    return make_tenant(api.platform)


@pytest.fixture
def http(api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=30, headers={}) as client:
        yield client


def key(t: Tenant) -> dict[str, str]:
    return {"x-api-key": t.api_key}


_pitches = itertools.count(120.0, 2.5)
"""Each agent gets its own clip: one clip is one voice per organisation."""


def agent_with_voice(http: httpx.Client, t: Tenant, **fields: Any) -> dict[str, Any]:
    resp = http.post("/api/agents", json={"name": "Cloned", **fields}, headers=key(t))
    assert resp.status_code == 201, resp.text
    agent_id = resp.json()["id"]
    up = http.put(
        f"/api/agents/{agent_id}/voice",
        files={"file": ("ref.wav", clip(pitch=next(_pitches)))},
        headers=key(t),
    )
    assert up.status_code in (200, 201), up.text
    got = http.get(f"/api/agents/{agent_id}", headers=key(t)).json()
    assert got["voice_id"]
    return dict(got)


def new_session(http: httpx.Client, t: Tenant, agent_id: str, **fields: Any) -> str:
    resp = http.post(SESSIONS, json={"agent": agent_id, **fields}, headers=key(t))
    assert resp.status_code == 200, resp.text
    return str(resp.json()["data"]["session_id"])


def worker_settings(api: ApiServer, **overrides: Any) -> Settings:
    return api.platform.settings.model_copy(update=overrides)


async def voice_for(
    api: ApiServer, session_id: str, settings: Settings | None = None
) -> tuple[CallVoice, list[dict[str, Any]]]:
    """What the worker would speak with in this session, and the events it published."""
    channel = WorkerChannel(api_url=api.url, worker_token=api.platform.secrets.worker_token)
    config = await channel.session_config(session_id)
    voice = await call_voice(
        config,
        base=EspeakTTS(language=config.language),
        channel=channel,
        settings=settings or api.platform.settings,
    )
    events: list[dict[str, Any]] = []
    voice.attach(lambda payload: events.append(json.loads(payload)))
    return voice, events


async def speak(voice: CallVoice, text: str) -> tuple[np.ndarray, int]:
    async with voice.tts.synthesize(text) as stream:
        frame = await stream.collect()
    return np.frombuffer(frame.data, dtype=np.int16), frame.sample_rate


async def engine_voice(
    api: ApiServer, voice_id: str, engine: str, timeout: float = 15.0
) -> str | None:
    """The engine's voice id cached for ``voice_id``, once one is (``None`` after
    ``timeout``): saving an agent makes it in the background."""
    deadline = time.monotonic() + timeout
    while True:
        with api.platform.sessions() as db:
            row = db.scalar(
                select(VoiceClone).where(
                    VoiceClone.voice_id == voice_id, VoiceClone.engine == engine
                )
            )
        if row is not None or time.monotonic() > deadline:
            return row.provider_voice_id if row is not None else None
        await asyncio.sleep(0.1)


def stored_clip(http: httpx.Client, t: Tenant, voice_id: str) -> bytes:
    resp = http.get(f"/api/voices/{voice_id}/audio", headers=key(t))
    assert resp.status_code == 200, resp.text
    return resp.content


# --- the API: choosing an engine --------------------------------------------------------


def test_agents_choose_a_voice_engine_and_unknown_ones_are_refused(
    http: httpx.Client, org: Tenant
) -> None:
    engines = http.get("/api/engines").json()
    assert [e["name"] for e in engines["voice"]] == [
        "embedded",
        "clone-server",
        "elevenlabs",
        "cartesia",
    ]

    created = http.post(
        "/api/agents", json={"name": "A", "voice_model": "elevenlabs"}, headers=key(org)
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    assert created.json()["voice_model"] == "elevenlabs"

    bad = http.patch(f"/api/agents/{agent_id}", json={"voice_model": "xtts"}, headers=key(org))
    assert bad.status_code == 422
    assert "voice_model" in bad.text and "clone-server" in bad.text
    assert http.get(f"/api/agents/{agent_id}", headers=key(org)).json()["voice_model"] == (
        "elevenlabs"
    )

    cleared = http.patch(f"/api/agents/{agent_id}", json={"voice_model": None}, headers=key(org))
    assert cleared.status_code == 200 and cleared.json()["voice_model"] is None


async def test_a_session_may_override_the_engine_and_an_unknown_one_gets_no_token(
    api: ApiServer, http: httpx.Client, org: Tenant
) -> None:
    agent = agent_with_voice(http, org, voice_model="clone-server")
    made_on_save = await engine_voice(api, agent["voice_id"], "clone-server")
    with api.platform.sessions() as db:
        before = db.scalar(select(func.count()).select_from(VoiceClone))
    refused = http.post(
        SESSIONS, json={"agent": agent["id"], "voice_model": "my-voice"}, headers=key(org)
    )
    assert refused.status_code == 422
    assert "token" not in refused.text and "voice_model" in refused.text

    session_id = new_session(http, org, agent["id"], voice_model="elevenlabs")
    channel_config = httpx.get(
        f"{api.url}/internal/sessions/{session_id}",
        headers={"Authorization": f"Bearer {api.platform.secrets.worker_token}"},
    ).json()
    assert channel_config["voice_model"] == "elevenlabs"
    assert channel_config["voice_id"] == agent["voice_id"]
    default_session = new_session(http, org, agent["id"])
    assert (
        httpx.get(
            f"{api.url}/internal/sessions/{default_session}",
            headers={"Authorization": f"Bearer {api.platform.secrets.worker_token}"},
        ).json()["voice_model"]
        == "clone-server"
    )
    with api.platform.sessions() as db:  # sessions make no voice: only saving the agent did
        assert db.scalar(select(func.count()).select_from(VoiceClone)) == before
    assert await engine_voice(api, agent["voice_id"], "clone-server") == made_on_save


async def test_saving_an_agent_makes_its_cloned_voice_before_its_first_call(
    api: ApiServer,
    http: httpx.Client,
    org: Tenant,
    chatterbox: RunningEngine,
    eleven: RunningEngine,
) -> None:
    agent = agent_with_voice(http, org, voice_model="clone-server")
    name = f"vocable-{agent['voice_id']}"
    # no session yet: the API made the voice when the clip was saved
    assert await engine_voice(api, agent["voice_id"], "clone-server") == name
    uploads = [r for r in chatterbox.state.calls("POST", "/v1/voices") if r["voice_name"] == name]
    assert len(uploads) == 1
    assert uploads[0]["clip"] == stored_clip(http, org, agent["voice_id"])

    # the first call speaks through it without uploading the clip again
    voice, events = await voice_for(api, new_session(http, org, agent["id"]))
    assert voice.cloned and events == []
    await speak(voice, "Hello.")
    renamed = http.patch(f"/api/agents/{agent['id']}", json={"name": "Renamed"}, headers=key(org))
    assert renamed.status_code == 200
    assert (
        len([r for r in chatterbox.state.calls("POST", "/v1/voices") if r["voice_name"] == name])
        == 1
    )

    # choosing another engine makes the voice there too
    switched = http.patch(
        f"/api/agents/{agent['id']}", json={"voice_model": "elevenlabs"}, headers=key(org)
    )
    assert switched.status_code == 200
    made = await engine_voice(api, agent["voice_id"], "elevenlabs")
    assert made is not None and eleven.state.voices[made] == uploads[0]["clip"]

    # an agent on the embedded voice makes none
    plain = agent_with_voice(http, org, voice_model="embedded")
    assert await engine_voice(api, plain["voice_id"], "clone-server", timeout=1.0) is None


async def test_a_voice_deleted_while_the_engine_made_it_leaves_no_copy_there(
    api: ApiServer, http: httpx.Client, org: Tenant, chatterbox: RunningEngine
) -> None:
    agent = agent_with_voice(http, org)  # embedded: saving it made nothing
    voice_id = agent["voice_id"]
    name = f"vocable-{voice_id}"

    class DeleteFirst(httpx.AsyncBaseTransport):
        """Deletes the voice through the API just before the engine gets the clip."""

        def __init__(self) -> None:
            self._inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path == "/v1/voices":
                async with httpx.AsyncClient(base_url=api.url) as client:
                    gone = await client.delete(f"/api/voices/{voice_id}", headers=key(org))
                assert gone.status_code == 204
            return await self._inner.handle_async_request(request)

    engine = engine_for("clone-server", api.platform.settings, transport=DeleteFirst())
    assert engine is not None
    made = await prepare_clone(
        api.platform.sessions,
        api.platform.settings,
        voice_store(api.platform.settings),
        voice_id=voice_id,
        engine=engine,
    )
    assert made is None
    assert [r for r in chatterbox.state.calls("POST", "/v1/voices") if r["voice_name"] == name]
    assert name not in chatterbox.state.voices  # registered, then deleted at once
    assert await engine_voice(api, voice_id, "clone-server", timeout=0) is None


# --- the worker: speaking through an engine -----------------------------------------------


async def test_clone_server_gets_the_stored_clip_once_and_speaks_every_sentence(
    api: ApiServer, http: httpx.Client, org: Tenant, chatterbox: RunningEngine
) -> None:
    agent = agent_with_voice(http, org, voice_model="clone-server")
    name = f"vocable-{agent['voice_id']}"

    voice, events = await voice_for(api, new_session(http, org, agent["id"]))
    assert voice.cloned and events == []
    samples, rate = await speak(voice, "Thanks for calling Rosa's Bakery.")
    assert rate == RATE and len(samples) / rate > 0.5
    assert np.abs(samples).max() > 3000  # the engine's audio, not silence

    state = chatterbox.state
    uploads = [r for r in state.calls("POST", "/v1/voices") if r["voice_name"] == name]
    assert len(uploads) == 1
    assert uploads[0]["clip"] == stored_clip(http, org, agent["voice_id"])
    assert wav_info(uploads[0]["clip"])[0] == 24_000
    spoken = [r for r in state.calls("POST", "/v1/audio/speech") if r["voice"] == name]
    assert spoken[-1]["text"] == "Thanks for calling Rosa's Bakery."
    assert spoken[-1]["body"]["response_format"] == "wav"
    assert spoken[-1]["body"]["model"] == "chatterbox"

    # the next call reuses the registered voice: the API cached its name
    again, _ = await voice_for(api, new_session(http, org, agent["id"]))
    await speak(again, "Hello again.")
    assert len([r for r in state.calls("POST", "/v1/voices") if r["voice_name"] == name]) == 1


async def test_elevenlabs_clones_once_per_voice_and_streams_pcm(
    api: ApiServer, http: httpx.Client, org: Tenant, eleven: RunningEngine
) -> None:
    agent = agent_with_voice(http, org, language="de-DE")
    session_id = new_session(http, org, agent["id"], voice_model="elevenlabs")
    voice, events = await voice_for(api, session_id)
    samples, rate = await speak(voice, "Guten Tag, wie kann ich helfen?")
    assert voice.cloned and events == [] and rate == RATE and len(samples) > RATE // 2

    state = eleven.state
    adds = [r for r in state.calls("POST", "/v1/voices/add") if agent["voice_id"] in r["name"]]
    assert len(adds) == 1 and adds[0]["files"] == 1
    assert adds[0]["clip"] == stored_clip(http, org, agent["voice_id"])
    voice_id = next(v for v, c in state.voices.items() if c == adds[0]["clip"])
    streamed = state.calls("POST", f"/v1/text-to-speech/{voice_id}/stream")
    assert streamed[-1]["output_format"] == "pcm_24000"
    assert streamed[-1]["body"] == {
        "text": "Guten Tag, wie kann ich helfen?",
        "model_id": "eleven_flash_v2_5",
        "language_code": "de",
    }
    with api.platform.sessions() as db:
        cached = db.scalar(select(VoiceClone).where(VoiceClone.voice_id == agent["voice_id"]))
        assert cached is not None and cached.provider_voice_id == voice_id

    await voice_for(api, new_session(http, org, agent["id"], voice_model="elevenlabs"))
    again = [r for r in state.calls("POST", "/v1/voices/add") if agent["voice_id"] in r["name"]]
    assert len(again) == 1  # the API cached the voice id


async def test_a_first_cloned_call_fetches_the_reference_clip_once(
    api: ApiServer, http: httpx.Client, org: Tenant, eleven: RunningEngine, tmp_path: Path
) -> None:
    agent = agent_with_voice(http, org)  # embedded: the call's worker makes the voice
    session_id = new_session(http, org, agent["id"], voice_model="elevenlabs")
    channel = WorkerChannel(api_url=api.url, worker_token=api.platform.secrets.worker_token)
    fetched: list[str] = []

    async def count(request: httpx.Request) -> None:
        if request.url.path.startswith("/internal/voices/"):
            fetched.append(request.url.path)

    channel.http.event_hooks["request"].append(count)
    config = await channel.session_config(session_id)
    voice = await call_voice(
        config,
        base=EspeakTTS(language=config.language),
        channel=channel,
        settings=worker_settings(api, cache_dir=tmp_path),  # nothing enrolled yet
    )
    # enrolled for the embedded fallback and uploaded to the engine, from one download
    assert voice.cloned and isinstance(voice.tts, tts.FallbackAdapter)
    assert fetched == [f"/internal/voices/{agent['reference_audio_sha256']}"]
    adds = [
        r for r in eleven.state.calls("POST", "/v1/voices/add") if agent["voice_id"] in r["name"]
    ]
    assert len(adds) == 1


async def test_cartesia_clones_once_per_voice_and_streams_pcm(
    api: ApiServer, http: httpx.Client, org: Tenant, cartesia: RunningEngine
) -> None:
    agent = agent_with_voice(http, org, language="fr-FR")
    session_id = new_session(http, org, agent["id"], voice_model="cartesia")
    voice, events = await voice_for(api, session_id)
    samples, rate = await speak(voice, "Bonjour, comment puis-je vous aider ?")
    assert voice.cloned and events == [] and rate == RATE and len(samples) > RATE // 2
    assert np.abs(samples).max() > 3000  # the engine's audio, not silence

    state = cartesia.state
    clones = [r for r in state.calls("POST", "/voices/clone") if agent["voice_id"] in r["name"]]
    assert len(clones) == 1
    assert clones[0]["clip"] == stored_clip(http, org, agent["voice_id"])
    voice_id = next(v for v, c in state.voices.items() if c == clones[0]["clip"])
    spoken = [r for r in state.calls("POST", "/tts/bytes") if r["voice"] == voice_id]
    assert spoken[-1]["body"] == {
        "model_id": "sonic-3",
        "transcript": "Bonjour, comment puis-je vous aider ?",
        "voice": {"mode": "id", "id": voice_id},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24_000},
        "language": "fr",
    }
    with api.platform.sessions() as db:
        cached = db.scalar(
            select(VoiceClone).where(
                VoiceClone.voice_id == agent["voice_id"], VoiceClone.engine == "cartesia"
            )
        )
        assert cached is not None and cached.provider_voice_id == voice_id

    await voice_for(api, new_session(http, org, agent["id"], voice_model="cartesia"))
    again = [r for r in state.calls("POST", "/voices/clone") if agent["voice_id"] in r["name"]]
    assert len(again) == 1  # the API cached the voice id

    assert http.delete(f"/api/voices/{agent['voice_id']}", headers=key(org)).status_code == 204
    deadline = time.monotonic() + 15  # the engine is told in the background
    while voice_id in state.voices and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert voice_id not in state.voices


async def test_a_failing_engine_falls_back_to_the_embedded_voice_and_says_so(
    api: ApiServer, http: httpx.Client, org: Tenant, chatterbox: RunningEngine
) -> None:
    agent = agent_with_voice(http, org, voice_model="clone-server")
    voice, events = await voice_for(api, new_session(http, org, agent["id"]))
    chatterbox.state.fail_speech = 503
    try:
        samples, _ = await speak(voice, "The engine is down, but you still hear me.")
    finally:
        chatterbox.state.fail_speech = None
    assert np.abs(samples).max() > 1000  # eSpeak spoke instead
    assert {"type": "voice_fallback", "voice_model": "clone-server", "reason": "unavailable"} in (
        events
    )
    assert voice.usage()["fallback"] == "unavailable"


async def test_an_engine_that_cannot_make_the_voice_or_is_not_configured_falls_back(
    api: ApiServer, http: httpx.Client, org: Tenant
) -> None:
    agent = agent_with_voice(http, org, voice_model="clone-server")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    voice, events = await voice_for(
        api,
        new_session(http, org, agent["id"]),
        worker_settings(api, clone_server_url=dead, voice_clone_timeout_seconds=5.0),
    )
    assert isinstance(voice.tts, MatchedTTS)  # the embedded voice, matched to the reference
    assert events == [
        {"type": "voice_fallback", "voice_model": "clone-server", "reason": "clone_failed"}
    ]
    samples, _ = await speak(voice, "Still here.")
    assert np.abs(samples).max() > 1000

    voice, events = await voice_for(
        api,
        new_session(http, org, agent["id"], voice_model="elevenlabs"),
        worker_settings(api, elevenlabs_api_key=None),
    )
    assert not voice.cloned
    assert events == [
        {"type": "voice_fallback", "voice_model": "elevenlabs", "reason": "not_configured"}
    ]


async def test_deleting_a_voice_deletes_the_engines_copies(
    api: ApiServer,
    http: httpx.Client,
    org: Tenant,
    chatterbox: RunningEngine,
    eleven: RunningEngine,
) -> None:
    agent = agent_with_voice(http, org, voice_model="clone-server")
    await voice_for(api, new_session(http, org, agent["id"]))
    await voice_for(api, new_session(http, org, agent["id"], voice_model="elevenlabs"))
    with api.platform.sessions() as db:
        copies = list(
            db.scalars(select(VoiceClone).where(VoiceClone.voice_id == agent["voice_id"]))
        )
    assert {c.engine for c in copies} == {"clone-server", "elevenlabs"}
    ids = {c.engine: c.provider_voice_id for c in copies}

    assert http.delete(f"/api/voices/{agent['voice_id']}", headers=key(org)).status_code == 204
    with api.platform.sessions() as db:
        assert not db.scalars(
            select(VoiceClone).where(VoiceClone.voice_id == agent["voice_id"])
        ).all()
    deadline = time.monotonic() + 15  # the engines are told in the background
    while time.monotonic() < deadline:
        if ids["clone-server"] not in chatterbox.state.voices and (
            ids["elevenlabs"] not in eleven.state.voices
        ):
            break
        await asyncio.sleep(0.1)
    assert ids["clone-server"] not in chatterbox.state.voices
    assert ids["elevenlabs"] not in eleven.state.voices


# --- the wire formats, engine by engine -------------------------------------------------


async def test_clone_server_sends_its_key_and_knows_a_voice_registered_before(
    chatterbox: RunningEngine,
) -> None:
    engine = CloneServer(base_url=chatterbox.url, api_key=SERVER_KEY)
    label = secrets.token_hex(4)
    assert await engine.create_voice(clip(), label=label) == f"vocable-{label}"
    assert await engine.create_voice(clip(), label=label) == f"vocable-{label}"  # exists

    wrong = CloneServer(base_url=chatterbox.url, api_key="wrong")
    with pytest.raises(CloneEngineError) as refused:
        await wrong.create_voice(clip(), label=secrets.token_hex(4))
    assert refused.value.status == 401 and "wrong" not in str(refused.value)


async def test_a_voice_the_engine_lost_is_made_again_once(chatterbox: RunningEngine) -> None:
    engine = CloneServer(base_url=chatterbox.url, api_key=SERVER_KEY)
    label = secrets.token_hex(4)
    name = await engine.create_voice(clip(), label=label)
    made = 0

    async def recreate() -> str:
        nonlocal made
        made += 1
        return await engine.create_voice(clip(), label=label)

    cloned = ClonedTTS(engine=engine, voice_id=name, language="en", recreate=recreate)
    del chatterbox.state.voices[name]  # the server's library was reset
    async with cloned.synthesize("Hello.") as stream:
        frame = await stream.collect()
    assert made == 1 and frame.duration > 0.3


@pytest.mark.parametrize("provider", ["elevenlabs", "cartesia"])
async def test_a_hosted_engine_refuses_a_wrong_key_and_reports_a_missing_voice(
    provider: str, request: pytest.FixtureRequest
) -> None:
    kind, fixture, api_key = {
        "elevenlabs": (ElevenLabs, "eleven", ELEVEN_KEY),
        "cartesia": (Cartesia, "cartesia", CARTESIA_KEY),
    }[provider]
    url = request.getfixturevalue(fixture).url
    wrong = kind(api_key="not-the-key", base_url=url)
    with pytest.raises(CloneEngineError) as refused:
        await wrong.create_voice(clip(), label="x")
    assert refused.value.status == 401 and "not-the-key" not in str(refused.value)

    engine = kind(api_key=api_key, base_url=url)
    cloned = ClonedTTS(engine=engine, voice_id="no-such-voice", language="en")
    with pytest.raises(APIStatusError) as missing:
        async with cloned.synthesize("Hello.") as stream:
            await stream.collect()
    assert missing.value.status_code == 404


async def test_a_worker_drops_the_enrolments_of_deleted_voices(
    api: ApiServer, http: httpx.Client, org: Tenant, tmp_path: Path
) -> None:
    settings = worker_settings(api, cache_dir=tmp_path)
    kept = agent_with_voice(http, org, voice_model="embedded")
    deleted = agent_with_voice(http, org, voice_model="embedded")
    for agent in (kept, deleted):
        voice, _ = await voice_for(api, new_session(http, org, agent["id"]), settings)
        assert isinstance(voice.tts, MatchedTTS)  # enrolled, and the enrolment kept on disk
    sha = {a["id"]: a["reference_audio_sha256"] for a in (kept, deleted)}
    root = tmp_path / "voices"
    assert {sha[kept["id"]], sha[deleted["id"]]} <= set(cached_hashes(root))

    assert http.delete(f"/api/voices/{deleted['voice_id']}", headers=key(org)).status_code == 204
    channel = WorkerChannel(api_url=api.url, worker_token=api.platform.secrets.worker_token)
    assert await prune_enrolments(channel, root) == [sha[deleted["id"]]]
    assert set(cached_hashes(root)) == {sha[kept["id"]]}
