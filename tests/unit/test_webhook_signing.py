"""Webhook signatures (Standard Webhooks), retry rules and the failure reasons."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from vocable.api.errors import status_of
from vocable.contracts.errors import InvalidError
from vocable.settings import Settings
from vocable.webhooks import WebhookVerificationError, new_secret, sign, verify
from vocable.webhooks.delivery import classify, parse_retry_after, retry_delay
from vocable.webhooks.outbox import is_failure
from vocable.webhooks.service import check_endpoint_url
from vocable.webhooks.signing import signature_header

# the published Standard Webhooks test vector: our signatures must match it exactly
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(secret: str, body: str, *, msg_id: str = "evt_1", ts: int | None = None) -> dict:
    stamp = int(time.time()) if ts is None else ts
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, msg_id, stamp, body),
    }


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {
        "Webhook-Id": VECTOR_ID,
        "Webhook-Timestamp": str(VECTOR_TS),
        "Webhook-Signature": VECTOR_SIGNATURE,
    }
    verify(VECTOR_SECRET, headers, VECTOR_BODY.encode(), now=VECTOR_TS + 10)


def test_new_secrets_are_random_whsec_values() -> None:
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and b.startswith("whsec_") and a != b
    assert len(a) == len("whsec_") + 44  # 32 bytes in base64


def test_verify_accepts_an_authentic_request() -> None:
    secret, body = new_secret(), '{"id":"evt_1","type":"session.ended"}'
    verify(secret, _headers(secret, body), body)
    verify(secret, _headers(secret, body), body.encode())


@pytest.mark.parametrize(
    "case",
    ["tampered_body", "wrong_secret", "other_id", "stale", "future", "missing", "bad_stamp"],
)
def test_verify_refuses_forged_replayed_and_stale_requests(case: str) -> None:
    secret, body = new_secret(), '{"id":"evt_1","type":"session.ended"}'
    headers = _headers(secret, body)
    if case == "tampered_body":
        body = body.replace("ended", "started")
    elif case == "wrong_secret":
        headers = _headers(new_secret(), body)
    elif case == "other_id":
        headers["webhook-id"] = "evt_2"  # a signature is bound to its id
    elif case == "stale":
        headers = _headers(secret, body, ts=int(time.time()) - 301)  # a replay, later
    elif case == "future":
        headers = _headers(secret, body, ts=int(time.time()) + 301)
    elif case == "missing":
        del headers["webhook-signature"]
    elif case == "bad_stamp":
        headers["webhook-timestamp"] = "soon"
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, body)


def test_replay_of_a_captured_request_fails_once_outside_the_tolerance() -> None:
    secret, body = new_secret(), "{}"
    captured = _headers(secret, body, ts=1_700_000_000)
    verify(secret, captured, body, now=1_700_000_000 + 299)
    with pytest.raises(WebhookVerificationError):
        verify(secret, captured, body, now=1_700_000_000 + 301)
    verify(secret, captured, body, tolerance=600, now=1_700_000_000 + 301)


def test_during_a_rotation_either_secret_verifies() -> None:
    old, new, body, ts = new_secret(), new_secret(), "{}", int(time.time())
    header = signature_header((new, old), "evt_1", ts, body)
    assert len(header.split(" ")) == 2
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(ts), "webhook-signature": header}
    verify(new, headers, body)
    verify(old, headers, body)
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), headers, body)


@pytest.mark.parametrize(
    ("status", "delivered", "retry"),
    [
        (200, True, False),
        (204, True, False),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (410, False, False),
        (301, False, False),
        (408, False, True),
        (429, False, True),
        (500, False, True),
        (503, False, True),
    ],
)
def test_which_answers_are_retried(status: int, delivered: bool, retry: bool) -> None:
    outcome = classify(status)
    assert (outcome.delivered, outcome.retry, outcome.status_code) == (delivered, retry, status)


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert classify(429, "7").retry_after == 7.0


def test_backoff_doubles_with_jitter_up_to_the_cap_and_respects_retry_after() -> None:
    settings = Settings(webhook_retry_base_seconds=120, webhook_retry_max_seconds=3600)
    for attempts, nominal in [(1, 120), (2, 240), (3, 480), (6, 3600), (7, 3600)]:
        delay = retry_delay(settings, attempts)
        assert 0.75 * nominal <= delay <= 1.25 * nominal
    assert retry_delay(settings, 1, retry_after=900) >= 900
    assert retry_delay(settings, 1, retry_after=86_400) <= 3600 * 1.25  # capped
    total = sum(120 * 2**n if 120 * 2**n < 3600 else 3600 for n in range(7))
    assert 2 * 3600 < total < 4 * 3600  # 8 attempts span about three hours


@pytest.mark.parametrize(
    ("reason", "failed"),
    [
        ("caller_left", False),
        ("max_duration", False),
        ("revoked", False),
        ("room_closed", False),
        ("duplicate_join", False),
        ("error", True),
        ("unknown", True),
        ("worker_lost", True),
        ("session_closed:error", True),
        (None, True),
    ],
)
def test_which_end_reasons_are_failures(reason: str | None, failed: bool) -> None:
    assert is_failure(reason) is failed


def _resolver(host: str) -> list[str]:
    raise AssertionError("numeric hosts are not resolved")


def test_production_requires_https_for_endpoints() -> None:
    prod = Settings(environment="production")
    with pytest.raises(InvalidError) as refused:
        check_endpoint_url("http://93.184.216.34/hook", prod, resolver=_resolver)
    assert status_of(refused.value) == 422
    assert refused.value.errors == [{"field": "url", "message": "webhook URLs must use https"}]
    check_endpoint_url("https://93.184.216.34/hook", prod, resolver=_resolver)
    check_endpoint_url("http://93.184.216.34/hook", Settings(), resolver=_resolver)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:192.168.0.1]/hook",
        "http://2130706433/hook",
        "http://localhost/hook",
    ],
)
def test_private_endpoint_urls_are_refused_naming_url(url: str) -> None:
    with pytest.raises(InvalidError) as refused:
        check_endpoint_url(url, Settings(), resolver=_resolver)
    assert status_of(refused.value) == 422
    assert refused.value.errors[0]["field"] == "url"
    assert "10.0.0.5" not in refused.value.message and "/hook" not in refused.value.message
