"""Retention of the webhook delivery log on both databases: the session sweeper deletes
delivered and failed deliveries past ``webhook_delivery_retention_days``, never pending or
in-flight ones, at most once per purge interval; the API runs it with its sweeper. Events
(their payloads hold transcripts) past the same retention go too, with their finished
deliveries, unless a pending or in-flight delivery still needs them."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session
from tests.conftest import Tenant, database_url_for, make_tenant
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.db.models import WebhookDelivery, WebhookEvent
from vocable.ids import new_id
from vocable.platform import Platform
from vocable.sessions.sweeper import SessionSweeper
from vocable.settings import Settings
from vocable.webhooks import service
from vocable.webhooks.retention import purge_old_events
from vocable.webhooks.schemas import WebhookEndpointCreate

DAY = timedelta(days=1)


class NoRooms:
    """LiveKit with no rooms: the sweeper's session checks find nothing to do."""

    def list_rooms(self) -> set[str]:
        return set()

    def delete_room(self, room: str) -> bool:
        return False

    def remove_all_but(self, room: str, identity: str) -> list[str]:
        return []


class Log:
    """An endpoint of ``tenant`` with one event (created ``event_age`` ago), to hang
    deliveries of any age on."""

    def __init__(
        self, platform: Platform, tenant: Tenant, event_age: timedelta = timedelta(0)
    ) -> None:
        self.platform = platform
        with platform.sessions() as db:
            created = service.create_endpoint(
                db,
                platform.box,
                org_id=tenant.org_id,
                # a port nobody listens on; no delivery here is ever due
                data=WebhookEndpointCreate(url="http://127.0.0.1:9/hook"),
                created_by=None,
                max_endpoints=10,
            )
            self.org_id, self.endpoint_id = tenant.org_id, created.row.id
            self.event_id = add_event(db, self.org_id, event_age)

    def add(self, status: str, age: timedelta, count: int = 1) -> str:
        """Deliveries that reached ``status`` ``age`` ago (pending ones due tomorrow);
        returns the id of the last one."""
        now = datetime.now(UTC)
        at = now - age
        rows = [self._row(status, at, now) for _ in range(count)]
        with self.platform.sessions() as db:
            db.add_all(rows)
            db.commit()
        return rows[-1].id

    def _row(self, status: str, at: datetime, now: datetime) -> WebhookDelivery:
        return WebhookDelivery(
            id=new_id("whd"),
            org_id=self.org_id,
            endpoint_id=self.endpoint_id,
            event_id=self.event_id,
            event_type="session.ended",
            status=status,
            attempts=1,
            next_attempt_at=now + DAY,
            lease_expires_at=now + DAY if status == "delivering" else None,
            created_at=at,
            updated_at=at,
            delivered_at=at if status == "delivered" else None,
        )

    def remaining(self) -> set[str]:
        with self.platform.sessions() as db:
            query = select(WebhookDelivery.id).where(
                WebhookDelivery.endpoint_id == self.endpoint_id
            )
            return set(db.scalars(query))

    def event_kept(self) -> bool:
        return event_exists(self.platform, self.event_id)


def add_event(db: Session, org_id: str, age: timedelta) -> str:
    """An event created ``age`` ago, with a transcript in its payload; returns its id."""
    event_id = new_id("whe")
    db.add(
        WebhookEvent(
            id=event_id,
            org_id=org_id,
            type="session.ended",
            payload='{"data":{"session":{"turns":[{"text":"my card number is"}]}}}',
            created_at=datetime.now(UTC) - age,
        )
    )
    db.commit()
    return event_id


def event_exists(platform: Platform, event_id: str) -> bool:
    with platform.sessions() as db:
        return db.get(WebhookEvent, event_id) is not None


def sweeper(platform: Platform, retention: timedelta | None) -> SessionSweeper:
    return SessionSweeper(
        sessions=platform.sessions,
        rooms=NoRooms(),
        interval_seconds=60,
        delivery_retention=retention,
    )


def test_finished_deliveries_past_the_retention_are_deleted_pending_ones_never(
    api: ApiServer, tenant: Tenant
) -> None:
    log = Log(api.platform, tenant)
    old_delivered = log.add("delivered", 10 * DAY)
    old_failed = log.add("failed", 8 * DAY)
    kept = {
        log.add("delivered", 5 * DAY),
        log.add("failed", 6 * DAY),
        log.add("pending", 60 * DAY),
        log.add("delivering", 60 * DAY),
    }
    other_org = Log(api.platform, make_tenant(api.platform))
    other_old = other_org.add("delivered", 9 * DAY)

    sweeper(api.platform, retention=7 * DAY).sweep()

    assert log.remaining() == kept
    assert old_delivered not in log.remaining() and old_failed not in log.remaining()
    assert other_old not in other_org.remaining()  # retention is the platform's, not per org


def test_the_purge_runs_on_the_first_pass_then_once_per_interval(
    api: ApiServer, tenant: Tenant
) -> None:
    log = Log(api.platform, tenant)
    first = log.add("delivered", 10 * DAY)
    sweeper_ = sweeper(api.platform, retention=7 * DAY)
    now = datetime.now(UTC)
    sweeper_.sweep(now)
    assert first not in log.remaining()

    second = log.add("failed", 10 * DAY)
    sweeper_.sweep(now + timedelta(minutes=5))  # the next sweeps leave the log alone
    assert second in log.remaining()
    sweeper_.sweep(now + timedelta(minutes=61))  # an hour later: purged again
    assert second not in log.remaining()


def test_without_a_retention_nothing_is_deleted(api: ApiServer, tenant: Tenant) -> None:
    log = Log(api.platform, tenant)
    ancient = log.add("delivered", 3000 * DAY)
    sweeper_ = sweeper(api.platform, retention=None)
    sweeper_.sweep()
    assert sweeper_.purge_deliveries(datetime.now(UTC)) == 0
    assert ancient in log.remaining()


def test_many_old_deliveries_are_deleted_in_batches(api: ApiServer, tenant: Tenant) -> None:
    log = Log(api.platform, tenant)
    log.add("delivered", 10 * DAY, count=1203)
    fresh = log.add("delivered", DAY)
    assert sweeper(api.platform, retention=7 * DAY).purge_deliveries(datetime.now(UTC)) >= 1203
    assert log.remaining() == {fresh}


def test_retention_defaults_to_30_days() -> None:
    assert Settings.model_fields["webhook_delivery_retention_days"].default == 30


def test_the_api_purges_the_delivery_log_with_its_sweeper(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path / "data",
        database_url_for(request, backend, "r_" + secrets.token_hex(6)),
        webhook_delivery_retention_days=2,
        session_sweep_seconds=0.2,
    )
    platform = make_platform(settings)
    tenant = make_tenant(platform)
    log = Log(platform, tenant)
    old = log.add("delivered", 3 * DAY)
    recent = log.add("failed", DAY)
    waiting = log.add("pending", 3 * DAY)
    with platform.sessions() as db:
        old_event = add_event(db, tenant.org_id, 3 * DAY)
    with running_api(platform) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        deadline = time.monotonic() + 20
        while (old in log.remaining() or event_exists(platform, old_event)) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        listed = c.get(
            f"/api/webhooks/{log.endpoint_id}/deliveries", headers={"x-api-key": tenant.api_key}
        )
    assert listed.status_code == 200, listed.text
    assert {d["id"] for d in listed.json()} == {recent, waiting}
    assert log.remaining() == {recent, waiting}
    assert not event_exists(platform, old_event)
    assert log.event_kept()  # created just now


def test_an_old_event_whose_deliveries_are_all_finished_is_deleted_with_them(
    api: ApiServer, tenant: Tenant
) -> None:
    log = Log(api.platform, tenant, event_age=10 * DAY)
    log.add("delivered", 10 * DAY)
    log.add("failed", 9 * DAY)
    log.add("delivered", DAY)  # redelivered lately: the event's age decides, not this
    assert log.event_kept()

    sweeper(api.platform, retention=7 * DAY).sweep()

    assert not log.event_kept()
    assert log.remaining() == set()


def test_an_old_event_that_a_pending_or_in_flight_delivery_needs_stays(
    api: ApiServer, tenant: Tenant
) -> None:
    waiting = Log(api.platform, tenant, event_age=20 * DAY)
    pending = waiting.add("pending", 20 * DAY)
    old_delivered = waiting.add("delivered", 20 * DAY)
    sending = Log(api.platform, tenant, event_age=20 * DAY)
    delivering = sending.add("delivering", 20 * DAY)
    finished = sending.add("failed", 2 * DAY)

    sweeper(api.platform, retention=7 * DAY).sweep()

    assert waiting.event_kept() and sending.event_kept()
    assert waiting.remaining() == {pending}  # the finished one went with the delivery log
    assert old_delivered not in waiting.remaining()
    assert sending.remaining() == {delivering, finished}


def test_events_within_the_retention_stay(api: ApiServer, tenant: Tenant) -> None:
    log = Log(api.platform, tenant, event_age=5 * DAY)
    delivered = log.add("delivered", 5 * DAY)
    with api.platform.sessions() as db:
        lone = add_event(db, tenant.org_id, 6 * DAY)

    sweeper(api.platform, retention=7 * DAY).sweep()

    assert log.event_kept() and event_exists(api.platform, lone)
    assert log.remaining() == {delivered}


def test_an_old_event_without_any_delivery_is_deleted(api: ApiServer, tenant: Tenant) -> None:
    # an organisation without endpoints: its events never had a delivery
    with api.platform.sessions() as db:
        lone = add_event(db, tenant.org_id, 8 * DAY)
        recent = add_event(db, tenant.org_id, 6 * DAY)

    sweeper(api.platform, retention=7 * DAY).sweep()

    assert not event_exists(api.platform, lone)
    assert event_exists(api.platform, recent)


def test_without_a_retention_no_event_is_deleted(api: ApiServer, tenant: Tenant) -> None:
    with api.platform.sessions() as db:
        ancient = add_event(db, tenant.org_id, 3000 * DAY)
    sweeper(api.platform, retention=None).sweep()
    assert event_exists(api.platform, ancient)


def test_an_event_redelivered_while_it_is_purged_stays_with_its_delivery(
    api: ApiServer, tenant: Tenant
) -> None:
    """The deletes check again what the select found: a delivery queued for redelivery
    between the two is pending, so neither it nor its event is deleted."""
    log = Log(api.platform, tenant, event_age=10 * DAY)
    redelivered = log.add("failed", 10 * DAY)
    raced = []

    def redeliver_first(state: ORMExecuteState) -> None:
        if state.is_delete and not raced:
            raced.append(True)
            with api.platform.sessions() as other:
                endpoint = service.get_endpoint(other, log.org_id, log.endpoint_id)
                assert service.redeliver(other, endpoint, redelivered).status == "pending"

    with api.platform.sessions() as db:
        event.listen(db, "do_orm_execute", redeliver_first)
        purge_old_events(db, before=datetime.now(UTC) - 7 * DAY)

    assert raced
    assert log.event_kept()
    assert log.remaining() == {redelivered}


def test_many_old_events_are_deleted_in_batches(api: ApiServer, tenant: Tenant) -> None:
    now = datetime.now(UTC)
    ids = [new_id("whe") for _ in range(1203)]
    with api.platform.sessions() as db:
        db.add_all(
            WebhookEvent(
                id=i,
                org_id=tenant.org_id,
                type="session.ended",
                payload="{}",
                created_at=now - 10 * DAY,
            )
            for i in ids
        )
        db.commit()
        assert purge_old_events(db, before=now - 7 * DAY, batch=100) >= 1203
        assert db.scalars(select(WebhookEvent.id).where(WebhookEvent.id.in_(ids))).all() == []
