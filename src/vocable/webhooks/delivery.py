"""The delivery thread: claim due deliveries, POST them signed, record the outcome.

State lives in the database, so any API process can deliver and a restart loses
nothing: a claim is a conditional UPDATE that sets a lease; a delivery whose lease ran
out (its process stopped mid-attempt) is claimed again. Attempts are counted when they
are claimed, so a delivery that keeps killing its process still ends ``failed``.

Outcomes of one attempt:

- 2xx: ``delivered``;
- network errors, timeouts, 408, 429 and 5xx: retried with exponential backoff and
  ±25 % jitter (a longer ``Retry-After`` is respected, up to the cap) until
  ``webhook_max_attempts``, then ``failed``;
- redirects and any other status (4xx): ``failed`` at once; a URL the outbound rules
  now refuse (it resolves to a private address): ``failed`` at once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from vocable.db.engine import rows_affected
from vocable.db.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from vocable.outbound import OutboundRefused, Resolver, async_outbound_client, system_resolver
from vocable.security.crypto import SecretBox
from vocable.settings import Settings
from vocable.webhooks.service import endpoint_secrets, webhook_policy
from vocable.webhooks.signing import signature_header

log = logging.getLogger("vocable.webhooks")

USER_AGENT = "Vocable-Webhooks/1"
THREAD_NAME = "webhook-delivery"


def _not_from_delivery(record: logging.LogRecord) -> bool:
    return record.threadName != THREAD_NAME


# httpx logs every request URL at INFO; a customer's webhook URL may carry a token in its
# query string, so the delivery thread's requests stay out of the logs.
logging.getLogger("httpx").addFilter(_not_from_delivery)
_RETRY_STATUSES = frozenset({408, 429})
_jitter = secrets.SystemRandom()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, repr=False)
class Job:
    """A claimed delivery with everything needed to send it (secrets: never log)."""

    delivery_id: str
    token: str
    attempts: int
    url: str
    secrets: tuple[str, ...]
    event_id: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; ``error`` is our wording, never the receiver's."""

    delivered: bool = False
    retry: bool = False
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None


def classify(status: int, retry_after: str | None = None) -> Outcome:
    """The outcome of an HTTP answer (see the module docstring)."""
    if 200 <= status < 300:
        return Outcome(delivered=True, status_code=status)
    if status in _RETRY_STATUSES or status >= 500:
        return Outcome(
            retry=True,
            status_code=status,
            error=f"receiver answered HTTP {status}",
            retry_after=parse_retry_after(retry_after),
        )
    if 300 <= status < 400:
        return Outcome(status_code=status, error=f"redirect (HTTP {status}) is not followed")
    return Outcome(status_code=status, error=f"receiver refused with HTTP {status}")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if valid."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or _now())).total_seconds())


def retry_delay(settings: Settings, attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` attempts (≥ 1)."""
    cap = settings.webhook_retry_max_seconds
    backoff = min(cap, settings.webhook_retry_base_seconds * 2 ** max(0, attempts - 1))
    delay: float = backoff * _jitter.uniform(0.75, 1.25)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


@dataclass
class WebhookDispatcher:
    """Background delivery for one API process: :meth:`start`, :meth:`stop`.

    :meth:`run_once` claims up to ``webhook_concurrency`` due deliveries, sends them
    concurrently and records the outcomes; the thread repeats it, waiting
    ``webhook_poll_seconds`` when nothing was due.
    """

    sessions: sessionmaker[Session]
    box: SecretBox
    settings: Settings
    resolver: Resolver = system_resolver
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the batch in flight (bounded by the attempt timeout)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self.settings.webhook_timeout_seconds + 5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = self.run_once()
            except Exception:
                # Task boundary: a database hiccup must not end deliveries for good; the
                # claimed rows' leases run out and they are picked up again.
                log.exception("webhook delivery failed unexpectedly")
                sent = 0
            if not sent:
                self._stopping.wait(self.settings.webhook_poll_seconds)

    # --- one batch ----------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim, send and record one batch; returns how many deliveries were attempted."""
        jobs = self.claim(self.settings.webhook_concurrency)
        if not jobs:
            return 0
        outcomes = asyncio.run(self._send_all(jobs))
        for job, outcome in zip(jobs, outcomes, strict=True):
            self.finish(job, outcome)
        return len(jobs)

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        return or_(
            and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
            and_(
                WebhookDelivery.status == "delivering",
                or_(
                    WebhookDelivery.lease_expires_at.is_(None),
                    WebhookDelivery.lease_expires_at < now,
                ),
            ),
        )

    def claim(self, limit: int) -> list[Job]:
        """Claim up to ``limit`` due deliveries (another process never gets the same one)."""
        now = _now()
        lease = timedelta(seconds=self.settings.webhook_lease_seconds)
        jobs: list[Job] = []
        with self.sessions() as db:
            candidates = db.scalars(
                select(WebhookDelivery.id)
                .where(self._claimable(now))
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            ).all()
            for delivery_id in candidates:
                token = secrets.token_hex(8)
                result = db.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id, self._claimable(now))
                    .values(
                        status="delivering",
                        claim_token=token,
                        lease_expires_at=now + lease,
                        attempts=WebhookDelivery.attempts + 1,
                        last_attempt_at=now,
                        updated_at=now,
                    )
                )
                db.commit()
                if rows_affected(result) != 1:
                    continue  # another process claimed it first
                job = self._job(db, delivery_id, token, now)
                if job is not None:
                    jobs.append(job)
        return jobs

    def _job(self, db: Session, delivery_id: str, token: str, now: datetime) -> Job | None:
        row = db.get(WebhookDelivery, delivery_id, populate_existing=True)
        if row is None:
            return None
        endpoint = db.get(WebhookEndpoint, row.endpoint_id)
        event = db.get(WebhookEvent, row.event_id)
        if endpoint is None or event is None:
            return None
        if row.attempts > self.settings.webhook_max_attempts:
            # its process stopped during the last allowed attempt
            self.finish_claim(db, delivery_id, token, Outcome(error="attempts exhausted"))
            return None
        if not endpoint.active:
            self.finish_claim(db, delivery_id, token, Outcome(error="endpoint is disabled"))
            return None
        return Job(
            delivery_id=delivery_id,
            token=token,
            attempts=row.attempts,
            url=endpoint.url,
            secrets=endpoint_secrets(self.box, endpoint, now),
            event_id=event.id,
            body=event.payload.encode(),
        )

    async def _send_all(self, jobs: Sequence[Job]) -> list[Outcome]:
        timeout = self.settings.webhook_timeout_seconds
        connect = min(timeout, self.settings.outbound_connect_timeout_seconds)
        async with async_outbound_client(
            webhook_policy(self.settings),
            resolver=self.resolver,
            timeout=httpx.Timeout(timeout, connect=connect),
            headers={"User-Agent": USER_AGENT},
        ) as client:
            return list(await asyncio.gather(*(self.send(client, job) for job in jobs)))

    async def send(self, client: httpx.AsyncClient, job: Job) -> Outcome:
        """One signed POST of ``job``; never raises for anything the receiver does."""
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": job.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(job.secrets, job.event_id, timestamp, job.body),
        }
        seconds = self.settings.webhook_timeout_seconds
        try:
            async with asyncio.timeout(seconds):
                async with client.stream("POST", job.url, content=job.body, headers=headers) as r:
                    # the receiver's body is never read: only its status matters
                    return classify(r.status_code, r.headers.get("Retry-After"))
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(retry=True, error=f"no answer within {seconds:g} s")
        except OutboundRefused as e:
            return Outcome(retry=e.retryable, error=f"{e.reason.value}: {e.message}")
        except httpx.HTTPError as e:
            return Outcome(retry=True, error=f"connection failed ({type(e).__name__})")

    def finish(self, job: Job, outcome: Outcome) -> None:
        with self.sessions() as db:
            self.finish_claim(db, job.delivery_id, job.token, outcome, attempts=job.attempts)

    def finish_claim(
        self,
        db: Session,
        delivery_id: str,
        token: str,
        outcome: Outcome,
        *,
        attempts: int | None = None,
    ) -> None:
        """Record an attempt's outcome, if the claim is still ours."""
        now = _now()
        values: dict[str, object] = {
            "claim_token": None,
            "lease_expires_at": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error[:300] if outcome.error else None,
            "updated_at": now,
        }
        if outcome.delivered:
            values.update(status="delivered", delivered_at=now)
        elif (
            outcome.retry and attempts is not None and attempts < self.settings.webhook_max_attempts
        ):
            delay = retry_delay(self.settings, attempts, outcome.retry_after)
            values.update(status="pending", next_attempt_at=now + timedelta(seconds=delay))
        else:
            values.update(status="failed")
        db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claim_token == token)
            .values(**values)
        )
        db.commit()
        if outcome.delivered:
            log.info("webhook %s delivered", delivery_id)
        else:
            log.info("webhook %s attempt failed: %s", delivery_id, outcome.error)
