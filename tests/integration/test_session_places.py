"""The session limits counted in the database (``sessions.limits``): an organisation's
places for concurrent calls, each free again when its call ends or its time is up, and
each key's session rate as a bucket that refills over the minute. SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.support.old_schema import database_at
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.accounts import service as accounts
from vocable.contracts.errors import LimitError
from vocable.contracts.sessions import SessionRequest
from vocable.db.migrate import upgrade_to_head
from vocable.db.models import ApiKey, SessionSlot, VoiceSession
from vocable.platform import Platform
from vocable.sessions import limits
from vocable.sessions.service import create_session, record_event

ENDPOINT = "/api/agents/agent-session/"
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def platform(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Platform]:
    url = database_url_for(request, backend, "p_" + secrets.token_hex(6))
    platform = make_platform(make_settings(tmp_path, url, max_concurrent_sessions_per_org=1))
    yield platform
    platform.engine.dispose()


def take(platform: Platform, org_id: str, session_id: str, now: datetime, limit: int = 1) -> None:
    with platform.sessions() as db:
        limits.take_place(
            db.connection(),
            org_id=org_id,
            session_id=session_id,
            until=now + timedelta(seconds=30),
            now=now,
            limit=limit,
        )
        db.commit()


def test_a_place_is_free_again_when_its_time_is_up(platform: Platform) -> None:
    t = make_tenant(platform)
    take(platform, t.org_id, "ses_a", T0)
    with pytest.raises(LimitError) as refused:
        take(platform, t.org_id, "ses_b", T0 + timedelta(seconds=29))
    assert refused.value.code == "concurrency_limited" and refused.value.retry_after
    # nobody joined: at its join deadline the place is free, with no sweeper involved
    take(platform, t.org_id, "ses_b", T0 + timedelta(seconds=30))


def test_places_grow_to_the_limit_and_no_further(platform: Platform) -> None:
    t = make_tenant(platform)
    for i in range(20):
        take(platform, t.org_id, f"ses_{i}", T0, limit=20)
    with pytest.raises(LimitError):
        take(platform, t.org_id, "ses_20", T0, limit=20)
    with platform.sessions() as db:
        numbers = db.scalars(select(SessionSlot.slot).where(SessionSlot.org_id == t.org_id))
        assert sorted(numbers) == list(range(20))


def test_a_started_call_holds_its_place_until_it_ends(platform: Platform) -> None:
    t = make_tenant(platform)
    with platform.sessions() as db:
        created = create_session(
            db, platform, org_id=t.org_id, key=None, req=SessionRequest(agent=t.agent_id)
        )
        row = db.get_one(VoiceSession, created.session_id)
        join_deadline = row.join_deadline
        record_event(db, row, kind="started", reason=None, usage=None)
    after_window = join_deadline + timedelta(seconds=1)
    with pytest.raises(LimitError):  # the call goes on past its join window
        take(platform, t.org_id, "ses_next", after_window)
    with platform.sessions() as db:
        record_event(
            db,
            db.get_one(VoiceSession, created.session_id),
            kind="ended",
            reason="caller_left",
            usage=None,
        )
    take(platform, t.org_id, "ses_next", datetime.now(UTC))


def spend(platform: Platform, key_id: str, now: datetime, limit: int = 3) -> None:
    with platform.sessions() as db:
        limits.spend_rate_token(db.connection(), key_id=key_id, limit=limit, now=now)
        db.commit()


def test_a_keys_rate_refills_over_the_minute(platform: Platform) -> None:
    t = make_tenant(platform)
    for _ in range(3):  # three a minute: three at once
        spend(platform, t.api_key_id, T0)
    with pytest.raises(LimitError) as refused:
        spend(platform, t.api_key_id, T0 + timedelta(seconds=1))
    assert refused.value.code == "rate_limited"
    assert refused.value.retry_after == 19  # one more every 20 s
    spend(platform, t.api_key_id, T0 + timedelta(seconds=20))
    with pytest.raises(LimitError):
        spend(platform, t.api_key_id, T0 + timedelta(seconds=21))
    # a quiet minute fills the bucket, never beyond the limit
    for _ in range(3):
        spend(platform, t.api_key_id, T0 + timedelta(minutes=5))
    with pytest.raises(LimitError):
        spend(platform, t.api_key_id, T0 + timedelta(minutes=5))


def test_requests_that_reach_the_bucket_out_of_clock_order_spend_one_each(
    platform: Platform,
) -> None:
    """Requests read the clock, then reach the key's row in another order (or come from
    API processes whose clocks differ a little): each still spends one."""
    t = make_tenant(platform)
    spend(platform, t.api_key_id, T0 + timedelta(seconds=2))
    spend(platform, t.api_key_id, T0)  # read the clock first, arrived second
    spend(platform, t.api_key_id, T0 + timedelta(seconds=1))
    with pytest.raises(LimitError):
        spend(platform, t.api_key_id, T0 + timedelta(seconds=2))


def test_a_refused_session_spends_nothing_and_leaves_no_row(platform: Platform) -> None:
    t = make_tenant(platform)
    with platform.sessions() as db:
        key = db.get_one(ApiKey, t.api_key_id)
        create_session(db, platform, org_id=t.org_id, key=key, req=SessionRequest(agent=t.agent_id))
        with pytest.raises(LimitError):  # the organisation's one place is taken
            create_session(
                db, platform, org_id=t.org_id, key=key, req=SessionRequest(agent=t.agent_id)
            )
        db.rollback()
        rows = db.scalars(select(VoiceSession.id).where(VoiceSession.org_id == t.org_id)).all()
        tokens = db.scalar(text("SELECT rate_tokens FROM api_keys WHERE id = :k"), {"k": key.id})
    assert len(rows) == 1
    assert tokens == pytest.approx(platform.settings.key_rate_limit_per_minute - 1, abs=0.1)


def test_a_session_refused_for_its_keys_rate_leaves_no_place_taken(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    """On PostgreSQL one statement takes the place, then spends the key's session: a key
    with none left must leave the place free (the organisation would lose a call)."""
    url = database_url_for(request, backend, "r_" + secrets.token_hex(6))
    settings = make_settings(
        tmp_path, url, max_concurrent_sessions_per_org=2, key_rate_limit_per_minute=1
    )
    platform = make_platform(settings)
    t = make_tenant(platform)
    req = SessionRequest(agent=t.agent_id)
    try:
        with platform.sessions() as db:
            first = db.get_one(ApiKey, t.api_key_id)
            second = accounts.create_api_key(db, org_id=t.org_id, name="b", created_by=None)
            other = db.get_one(ApiKey, second.row.id)
        with platform.sessions() as db:  # the organisation's places exist, one is held
            create_session(db, platform, org_id=t.org_id, key=first, req=req)
        with platform.sessions() as db, pytest.raises(LimitError) as refused:
            create_session(db, platform, org_id=t.org_id, key=first, req=req)
        assert refused.value.code == "rate_limited"
        with platform.sessions() as db:  # the other place is still free for another key
            create_session(db, platform, org_id=t.org_id, key=other, req=req)
        with platform.sessions() as db, pytest.raises(LimitError) as full:
            create_session(db, platform, org_id=t.org_id, key=other, req=req)
        assert full.value.code == "concurrency_limited"
        with platform.sessions() as db:
            held = db.scalars(
                select(SessionSlot.session_id).where(
                    SessionSlot.org_id == t.org_id, SessionSlot.session_id.is_not(None)
                )
            ).all()
            rows = db.scalars(select(VoiceSession.id).where(VoiceSession.org_id == t.org_id))
            assert sorted(held) == sorted(rows)  # a place per session, no place without one
    finally:
        platform.engine.dispose()


def test_a_session_row_holds_what_the_request_and_the_agent_made(platform: Platform) -> None:
    """The first session of an organisation adds its places in a transaction; the next
    ones are written by one statement on PostgreSQL: each holds the same."""
    t = make_tenant(platform)
    with platform.sessions() as db:
        key = db.get_one(ApiKey, t.api_key_id)
        first = create_session(
            db, platform, org_id=t.org_id, key=key, req=SessionRequest(agent=t.agent_id)
        )
        ended = db.get_one(VoiceSession, first.session_id)
        record_event(db, ended, kind="ended", reason="caller_left", usage=None)
        created = create_session(
            db,
            platform,
            org_id=t.org_id,
            key=key,
            req=SessionRequest(agent=t.agent_id, greeting="Hi there", mcp_headers={"a": "b"}),
        )
    with platform.sessions() as db:
        row = db.get_one(VoiceSession, created.session_id)
        used = db.get_one(ApiKey, t.api_key_id)
        assert (row.org_id, row.agent_id, row.api_key_id) == (t.org_id, t.agent_id, key.id)
        assert (row.room_name, row.participant_identity) == (
            created.room_name,
            created.participant_identity,
        )
        assert row.status == "created" and row.config["greeting"] == "Hi there"
        assert platform.box.open(row.mcp_headers_encrypted or "") == {"a": "b"}
        ttl = timedelta(seconds=platform.settings.token_ttl_seconds)
        assert row.join_deadline - row.created_at == ttl
        assert used.last_used_at is not None  # kept to the minute: the first session set it


# --- PostgreSQL: one organisation's requests do not wait for each other -------------------


@pytest.fixture
def pg_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    url = database_url_for(request, "postgresql", "q_" + secrets.token_hex(6))
    settings = make_settings(tmp_path_factory.mktemp("data"), url)
    with running_api(make_platform(settings)) as server:
        yield server


def test_a_request_in_the_middle_of_its_transaction_holds_up_no_other(
    pg_api: ApiServer,
) -> None:
    platform = pg_api.platform
    t: Tenant = make_tenant(platform)
    take(platform, t.org_id, "ses_warm", T0, limit=20)  # the organisation's first places
    with platform.sessions() as db:
        second = accounts.create_api_key(db, org_id=t.org_id, name="b", created_by=None).secret
    # another request of the organisation has taken a place and not yet committed
    held = platform.sessions()
    limits.take_place(
        held.connection(),
        org_id=t.org_id,
        session_id="ses_held",
        until=datetime.now(UTC) + timedelta(seconds=30),
        now=datetime.now(UTC),
        limit=20,
    )
    try:
        r = httpx.post(
            pg_api.url + ENDPOINT,
            json={"agent": t.agent_id},
            headers={"x-api-key": second},
            timeout=5,
        )
        assert r.status_code == 200, r.text
    finally:
        held.rollback()
        held.close()


def test_open_calls_keep_their_places_across_the_upgrade(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    future = datetime.now(UTC) + timedelta(minutes=5)
    past = datetime.now(UTC) - timedelta(minutes=5)
    with database_at(request, backend, tmp_path, "0016") as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO agents (id, org_id, name, system_prompt, greeting, language, "
                    "stt_engine, llm_engine, tts_engine, max_call_seconds, active, timezone, "
                    "variable_defaults, conversation, call_tools, session_overrides, "
                    "created_at, updated_at) VALUES ('agt_1', 'org_1', 'A', '', '', 'en', "
                    "'s', 'l', 't', 900, true, 'UTC', '{}', '{}', '{}', '[]', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            for sid, status, deadline in (
                ("ses_open", "active", future),
                ("ses_waiting", "created", future),
                ("ses_over", "created", past),
                ("ses_done", "ended", future),
            ):
                conn.execute(
                    VoiceSession.__table__.insert().values(
                        id=sid,
                        org_id="org_1",
                        agent_id="agt_1",
                        room_name="room_" + sid,
                        participant_identity="user_" + sid,
                        status=status,
                        config={},
                        created_at=past,
                        join_deadline=deadline,
                        hard_deadline=deadline,
                        usage={},
                    )
                )
        upgrade_to_head(engine)
        with engine.connect() as conn:
            held = conn.execute(
                select(SessionSlot.session_id, SessionSlot.held_until).order_by(SessionSlot.slot)
            ).all()
        assert sorted(sid for sid, _ in held) == ["ses_open", "ses_waiting"]
        assert all(abs((until - future).total_seconds()) < 1 for _, until in held)


@pytest.fixture
def pg_limited_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    url = database_url_for(request, "postgresql", "r_" + secrets.token_hex(6))
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        url,
        key_rate_limit_per_minute=5,
        max_concurrent_sessions_per_org=6,
        api_max_inflight_sessions=100,
    )
    with running_api(make_platform(settings)) as server:
        yield server


async def test_a_place_another_request_gives_back_is_taken_not_refused(
    pg_limited_api: ApiServer,
) -> None:
    """Eight requests at once on one key, with room for six calls and five a minute:
    exactly five pass and three are refused for the rate, none for the organisation's
    calls (the three give their places back). Before the bucket ignored clock order,
    requests reaching the key's row out of order spent more than one each (4 passed)."""
    import asyncio

    t = make_tenant(pg_limited_api.platform)
    async with httpx.AsyncClient(base_url=pg_limited_api.url, timeout=30) as http:
        responses = await asyncio.gather(
            *[
                http.post(ENDPOINT, json={"agent": t.agent_id}, headers={"x-api-key": t.api_key})
                for _ in range(8)
            ]
        )
    outcome = sorted((r.status_code, r.json().get("code")) for r in responses)
    assert outcome == [(200, None)] * 5 + [(429, "rate_limited")] * 3, outcome


def test_at_the_limit_a_request_waits_for_a_place_being_taken_then_takes_it(
    pg_limited_api: ApiServer,
) -> None:
    """The organisation's only free place is being taken by a request that has not
    finished (its key will refuse it): the next request waits for it and gets it."""
    import threading

    platform = pg_limited_api.platform
    t = make_tenant(platform)
    now = datetime.now(UTC)
    for i in range(5):  # five of the six places held by open calls
        take(platform, t.org_id, f"ses_open_{i}", now, limit=6)
    held = platform.sessions()
    limits.take_place(
        held.connection(),
        org_id=t.org_id,
        session_id="ses_being_refused",
        until=now + timedelta(seconds=30),
        now=now,
        limit=6,
    )
    answer: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: answer.append(
            httpx.post(
                pg_limited_api.url + ENDPOINT,
                json={"agent": t.agent_id},
                headers={"x-api-key": t.api_key},
                timeout=30,
            )
        )
    )
    try:
        request.start()
        request.join(timeout=1.0)
        assert not answer, "answered while the place was still being taken"
    finally:
        held.rollback()  # the other request is refused: its place is free again
        held.close()
    request.join(timeout=30)
    assert answer and answer[0].status_code == 200, answer[0].text if answer else "no answer"
