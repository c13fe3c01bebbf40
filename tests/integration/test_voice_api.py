"""Reference voices over the real API on both databases: upload, URL intake, sessions, delete."""

from __future__ import annotations

import hashlib
import io
import secrets
import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.support.audio import voiced_clip as clip
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.db.models import Voice, VoiceAudio, VoiceSession
from vocable.voices.store import VoiceStore

SESSIONS = "/api/agents/agent-session/"


class AudioServer:
    """A loopback HTTP server for reference clips; counts the GETs of each path."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        self.hits: dict[str, int] = {}
        files, hits = self.files, self.hits

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                hits[path] = hits.get(path, 0) + 1
                if path not in files:
                    self.send_error(404)
                    return
                content_type, body = files[path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def serve(self, body: bytes, content_type: str = "audio/wav") -> str:
        """Publish ``body`` under a fresh path; returns its URL (with a query to hide)."""
        path = f"/{secrets.token_hex(4)}/voice.wav"
        self.files[path] = (content_type, body)
        return f"http://127.0.0.1:{self.port}{path}?sig=SECRET-TOKEN"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def audio() -> Iterator[AudioServer]:
    server = AudioServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    audio: AudioServer,
) -> Iterator[ApiServer]:
    """The API with the audio server's one loopback port allow-listed, nothing else."""
    db_url = database_url_for(request, backend, "t_" + secrets.token_hex(6))
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        db_url,
        max_concurrent_sessions_per_org=1000,
        key_rate_limit_per_minute=1000,
        outbound_allow_hosts=[f"127.0.0.1:{audio.port}"],
    )
    with running_api(make_platform(settings)) as server:
        yield server


@pytest.fixture(scope="module")
def org(api: ApiServer) -> Tenant:
    """One organisation for the module (creating one hashes a password, slow on purpose)."""
    return make_tenant(api.platform)


@pytest.fixture(scope="module")
def other(api: ApiServer) -> Tenant:
    return make_tenant(api.platform)


def key(t: Tenant) -> dict[str, str]:
    return {"x-api-key": t.api_key}


def new_agent(http: httpx.Client, t: Tenant) -> str:
    resp = http.post("/api/agents", json={"name": "Fresh"}, headers=key(t))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def upload(
    http: httpx.Client, t: Tenant, data: bytes, agent_id: str | None = None, name: str = "ada.wav"
) -> httpx.Response:
    return http.put(
        f"/api/agents/{agent_id or t.agent_id}/voice",
        files={"file": (name, data)},
        headers=key(t),
    )


def voice_dir(api: ApiServer, sha256: str) -> Path:
    """Where this process keeps what engines derive from a clip (its enrolment caches)."""
    return api.platform.settings.data_dir / "voices" / sha256


def stored_audio(api: ApiServer, sha256: str) -> bytes | None:
    """The clip as stored, in the database every API process shares."""
    with api.platform.sessions() as db:
        return db.scalar(select(VoiceAudio.wav).where(VoiceAudio.sha256 == sha256))


def worker(api: ApiServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.platform.secrets.worker_token}"}


def assert_refused(resp: httpx.Response, field: str, reason: str) -> None:
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["success"] is False and body["code"] == reason
    assert {"field": field, "reason": reason} in [
        {"field": e["field"], "reason": e.get("reason")} for e in body["errors"]
    ]
    assert "SECRET-TOKEN" not in resp.text and "data" not in body


def test_uploaded_clip_plays_back_as_normalised_wav_with_provenance(
    http: httpx.Client, api: ApiServer, org: Tenant
) -> None:
    resp = upload(http, org, clip())
    assert resp.status_code == 200, resp.text
    agent = resp.json()
    sha = agent["reference_audio_sha256"]

    played = http.get(f"/api/agents/{org.agent_id}/voice", headers=key(org))
    assert played.status_code == 200
    assert played.headers["content-type"] == "audio/wav"
    assert hashlib.sha256(played.content).hexdigest() == sha
    with wave.open(io.BytesIO(played.content)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, 24_000, 2)

    voice = http.get(f"/api/voices/{agent['voice_id']}", headers=key(org)).json()
    assert voice["sha256"] == sha and voice["source"] == "upload"
    assert voice["name"] == "ada.wav" and voice["source_url"] is None
    assert (voice["created_by_kind"], voice["created_by_id"]) == ("api_key", org.api_key_id)
    assert voice["created_at"] and voice["duration_seconds"] == pytest.approx(4.0, abs=0.01)
    assert stored_audio(api, sha) == played.content
    audio = http.get(f"/api/voices/{agent['voice_id']}/audio", headers=key(org))
    assert audio.content == played.content


def test_dashboard_upload_is_recorded_as_the_signed_in_user(
    http: httpx.Client, org: Tenant
) -> None:
    login = http.post("/api/auth/login", json={"email": org.email, "password": org.password})
    csrf = {"x-csrf-token": login.json()["csrf_token"]}
    resp = http.put(
        f"/api/agents/{new_agent(http, org)}/voice",
        files={"file": ("me.mp3", clip(pitch=160.0))},
        headers=csrf,
    )
    assert resp.status_code == 200, resp.text
    voice = http.get(f"/api/voices/{resp.json()['voice_id']}").json()
    assert (voice["created_by_kind"], voice["created_by_id"]) == (
        "user",
        login.json()["user"]["id"],
    )
    assert voice["source_format"] == "wav/pcm_s16le"  # judged by content, not by the name


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 2000, "not_audio"),
        (b"just some notes, saved as voice.wav\n" * 50, "not_audio"),
        (clip(seconds=1.0), "too_short"),
        (clip(seconds=61.0, rate=8_000), "too_long"),
    ],
    ids=["fake-wav", "text", "short", "long"],
)
def test_refused_upload_is_422_naming_file_and_leaves_the_agent_alone(
    http: httpx.Client, org: Tenant, data: bytes, reason: str
) -> None:
    before = http.get(f"/api/agents/{org.agent_id}", headers=key(org)).json()
    voices = http.get("/api/voices", headers=key(org)).json()
    assert_refused(upload(http, org, data), "file", reason)
    assert http.get(f"/api/agents/{org.agent_id}", headers=key(org)).json() == before
    assert http.get("/api/voices", headers=key(org)).json() == voices


def test_upload_larger_than_the_limit_is_refused_before_it_is_read(
    http: httpx.Client, org: Tenant
) -> None:
    big = b"RIFF" + b"\x00" * (10 * 1024 * 1024 + 70 * 1024)
    assert_refused(upload(http, org, big), "file", "too_large")


def test_agent_reference_url_is_fetched_checked_and_stored_without_its_query(
    http: httpx.Client, org: Tenant, audio: AudioServer
) -> None:
    url = audio.serve(clip(pitch=180.0))
    resp = http.post(
        "/api/agents", json={"name": "Ada", "reference_audio_url": url}, headers=key(org)
    )
    assert resp.status_code == 201, resp.text
    agent = resp.json()
    assert agent["reference_audio_url"] == url and agent["reference_audio_sha256"]
    voice = http.get(f"/api/voices/{agent['voice_id']}", headers=key(org)).json()
    assert voice["source"] == "url" and voice["source_url"] == url.split("?", 1)[0]
    assert voice["name"] == "voice.wav"
    played = http.get(f"/api/agents/{agent['id']}/voice", headers=key(org))
    assert hashlib.sha256(played.content).hexdigest() == agent["reference_audio_sha256"]


def test_refused_agent_url_is_422_on_the_field_and_changes_nothing(
    http: httpx.Client, api: ApiServer, org: Tenant, audio: AudioServer
) -> None:
    agent_url = f"/api/agents/{new_agent(http, org)}"
    good = audio.serve(clip(pitch=170.0))
    first = http.patch(agent_url, json={"reference_audio_url": good}, headers=key(org))
    assert first.status_code == 200, first.text
    before = first.json()
    not_allowed = api.url + "/healthz?sig=SECRET-TOKEN"  # loopback, but not the listed port
    cases = [
        (not_allowed, "private_address"),
        (audio.serve(b"<html>hi</html>", "text/html"), "unexpected_content_type"),
        (audio.serve(b"plain text pretending to be audio" * 40), "not_audio"),
        (f"http://127.0.0.1:{audio.port}/missing.wav?sig=SECRET-TOKEN", "http_status"),
    ]
    for url, reason in cases:
        resp = http.patch(agent_url, json={"reference_audio_url": url}, headers=key(org))
        assert_refused(resp, "reference_audio_url", reason)
        assert http.get(agent_url, headers=key(org)).json() == before
    agents = http.get("/api/agents", headers=key(org)).json()
    created = http.post(
        "/api/agents", json={"name": "X", "reference_audio_url": not_allowed}, headers=key(org)
    )
    assert_refused(created, "reference_audio_url", "private_address")
    assert http.get("/api/agents", headers=key(org)).json() == agents


def test_clearing_the_url_drops_its_voice_and_voice_id_links_an_existing_one(
    http: httpx.Client, org: Tenant, audio: AudioServer
) -> None:
    agent_url = f"/api/agents/{new_agent(http, org)}"
    url = audio.serve(clip(pitch=130.0))
    fetched = http.patch(agent_url, json={"reference_audio_url": url}, headers=key(org)).json()
    cleared = http.patch(agent_url, json={"reference_audio_url": None}, headers=key(org)).json()
    assert cleared["voice_id"] is None and cleared["reference_audio_sha256"] is None
    relinked = http.patch(agent_url, json={"voice_id": fetched["voice_id"]}, headers=key(org))
    assert relinked.json()["voice_id"] == fetched["voice_id"]
    assert relinked.json()["reference_audio_url"] is None
    assert relinked.json()["reference_audio_sha256"] == fetched["reference_audio_sha256"]


def test_session_url_is_stored_once_and_reaches_the_worker_as_a_clip(
    http: httpx.Client, api: ApiServer, org: Tenant, audio: AudioServer
) -> None:
    url = audio.serve(clip(pitch=120.0))
    body = {"agent": org.agent_id, "reference_audio_url": url}
    first = http.post(SESSIONS, json=body, headers=key(org))
    second = http.post(SESSIONS, json=body, headers=key(org))
    assert first.status_code == second.status_code == 200, first.text
    path = url.split("?", 1)[0].removeprefix(f"http://127.0.0.1:{audio.port}")
    assert audio.hits[path] == 1  # the second session used the stored voice

    session_id = first.json()["data"]["session_id"]
    cfg = http.get(f"/internal/sessions/{session_id}", headers=worker(api)).json()
    sha = cfg["reference_audio_sha256"]
    assert cfg["reference_audio_path"] == f"/internal/voices/{sha}"
    served = http.get(cfg["reference_audio_path"], headers=worker(api))
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == sha
    assert http.get(f"/internal/voices/{sha}", headers=key(org)).status_code == 401
    assert http.get("/internal/voices/" + "0" * 64, headers=worker(api)).status_code == 404
    assert http.get("/internal/voices/..%2f..%2fetc", headers=worker(api)).status_code == 404

    voices = http.get("/api/voices", headers=key(org)).json()
    recorded = [v for v in voices if v["sha256"] == sha]
    assert [(v["source"], v["created_by_id"]) for v in recorded] == [("url", org.api_key_id)]


def test_session_with_forbidden_url_is_422_without_token_or_session_row(
    http: httpx.Client, api: ApiServer, org: Tenant
) -> None:
    def count() -> int:
        with api.platform.sessions() as db:
            return db.scalar(select(func.count()).select_from(VoiceSession)) or 0

    before = count()
    for url, reason in [
        (api.url + "/healthz?sig=SECRET-TOKEN", "private_address"),
        ("http://169.254.169.254/latest/meta-data/?sig=SECRET-TOKEN", "private_address"),
        ("http://metadata/computeMetadata/v1/?sig=SECRET-TOKEN", "host_not_allowed"),
    ]:
        body = {"agent": org.agent_id, "reference_audio_url": url}
        assert_refused(
            http.post(SESSIONS, json=body, headers=key(org)), "reference_audio_url", reason
        )
    assert count() == before


def test_deleting_a_voice_removes_its_audio_and_enrolments_and_unlinks_agents(
    http: httpx.Client, api: ApiServer, org: Tenant
) -> None:
    agent_id = new_agent(http, org)
    agent = upload(http, org, clip(pitch=210.0), agent_id).json()
    sha, voice_id = agent["reference_audio_sha256"], agent["voice_id"]
    enrolment = voice_dir(api, sha) / "enrolments" / "dsp-match"
    enrolment.mkdir(parents=True)
    (enrolment / "profile.json").write_text("{}")

    assert http.delete(f"/api/voices/{voice_id}", headers=key(org)).status_code == 204
    assert not voice_dir(api, sha).exists() and stored_audio(api, sha) is None
    after = http.get(f"/api/agents/{agent_id}", headers=key(org)).json()
    assert after["voice_id"] is None and after["reference_audio_sha256"] is None
    assert http.get(f"/api/voices/{voice_id}", headers=key(org)).status_code == 404
    assert http.get(f"/api/agents/{agent_id}/voice", headers=key(org)).status_code == 404
    assert http.get(f"/internal/voices/{sha}", headers=worker(api)).status_code == 404


def test_voices_are_private_to_their_organisation_and_shared_content_outlives_one_delete(
    http: httpx.Client, api: ApiServer, org: Tenant, other: Tenant
) -> None:
    data = clip(pitch=95.0)
    voice_a = upload(http, org, data, new_agent(http, org)).json()["voice_id"]
    voice_b = upload(http, other, data, new_agent(http, other)).json()["voice_id"]
    assert voice_a != voice_b
    for path in (f"/api/voices/{voice_a}", f"/api/voices/{voice_a}/audio"):
        assert http.get(path, headers=key(other)).status_code == 404
    assert http.delete(f"/api/voices/{voice_a}", headers=key(other)).status_code == 404
    assert voice_a not in {v["id"] for v in http.get("/api/voices", headers=key(other)).json()}
    linked = http.patch(
        f"/api/agents/{other.agent_id}", json={"voice_id": voice_a}, headers=key(other)
    )
    assert linked.status_code == 422 and linked.json()["errors"][0]["field"] == "voice_id"

    with api.platform.sessions() as db:
        sha = db.scalars(select(Voice.sha256).where(Voice.id == voice_a)).one()
    assert http.delete(f"/api/voices/{voice_a}", headers=key(org)).status_code == 204
    assert http.get(f"/api/voices/{voice_b}/audio", headers=key(other)).status_code == 200
    assert stored_audio(api, sha) is not None
    assert http.delete(f"/api/voices/{voice_b}", headers=key(other)).status_code == 204
    assert stored_audio(api, sha) is None


def test_a_voice_uploaded_through_one_api_process_is_served_by_another(
    http: httpx.Client, api: ApiServer, org: Tenant, tmp_path: Path
) -> None:
    """A second API process on the same database with a data directory of its own (another
    machine) serves the clip to the dashboard and to workers."""
    agent = upload(http, org, clip(pitch=180.0), new_agent(http, org)).json()
    sha = agent["reference_audio_sha256"]
    settings = make_settings(
        tmp_path / "elsewhere",
        api.platform.settings.resolved_database_url,
        worker_token=api.platform.secrets.worker_token,
    )
    with running_api(make_platform(settings)) as second, httpx.Client(base_url=second.url) as h2:
        played = h2.get(f"/api/voices/{agent['voice_id']}/audio", headers=key(org))
        assert played.status_code == 200, played.text
        assert hashlib.sha256(played.content).hexdigest() == sha
        served = h2.get(f"/internal/voices/{sha}", headers=worker(api))
        assert served.status_code == 200 and served.content == played.content


def test_a_clip_stored_as_a_file_by_an_older_version_moves_into_the_database(
    http: httpx.Client, api: ApiServer, org: Tenant
) -> None:
    agent = upload(http, org, clip(pitch=140.0), new_agent(http, org)).json()
    sha = agent["reference_audio_sha256"]
    wav = stored_audio(api, sha)
    assert wav is not None
    with api.platform.sessions() as db:  # as an older version left it: a file, no row
        db.execute(delete(VoiceAudio).where(VoiceAudio.sha256 == sha))
        db.commit()
    VoiceStore(root=api.platform.settings.data_dir / "voices").save(sha, wav)
    served = http.get(f"/internal/voices/{sha}", headers=worker(api))
    assert served.status_code == 200 and served.content == wav
    assert stored_audio(api, sha) == wav
    assert not (voice_dir(api, sha) / "voice.wav").exists()
