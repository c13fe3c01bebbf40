"""The admission gate: a bounded number inside, a short wait in order, then 503."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from pydantic import ValidationError

from vocable.api.admission import Admission, AdmissionGate
from vocable.api.errors import ApiError
from vocable.settings import Settings


async def test_up_to_the_limit_enter_at_once_and_the_next_is_refused_with_503() -> None:
    gate = AdmissionGate(what="session requests", limit=2, wait_seconds=0)
    async with AsyncExitStack() as held:
        await held.enter_async_context(gate.slot())
        await held.enter_async_context(gate.slot())
        assert gate.in_flight == 2
        with pytest.raises(ApiError) as refused:
            async with gate.slot():
                pytest.fail("a third request entered a gate of two")
    assert refused.value.status == 503
    assert refused.value.code == "overloaded"
    assert refused.value.headers == {"Retry-After": "1"}
    assert "session requests" in refused.value.message
    assert gate.in_flight == 0 and gate.refused == 1
    async with gate.slot():  # the load has passed: admitted again
        assert gate.in_flight == 1


async def test_a_waiting_request_takes_the_first_slot_that_frees() -> None:
    gate = AdmissionGate(what="session requests", limit=1, wait_seconds=3600)
    entered = asyncio.Event()

    async def second() -> None:
        async with gate.slot():
            entered.set()

    async with AsyncExitStack() as held:
        await held.enter_async_context(gate.slot())
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0)  # the waiter starts and finds the gate full
        assert not entered.is_set()
    await waiter
    assert entered.is_set() and gate.refused == 0 and gate.in_flight == 0


async def test_a_request_that_waits_in_vain_is_refused_and_leaves_the_slots_whole() -> None:
    gate = AdmissionGate(what="sign-ins", limit=1, wait_seconds=0.01)
    async with gate.slot():
        with pytest.raises(ApiError):
            async with gate.slot():
                pytest.fail("entered a full gate")
    # the refused waiter took nothing with it: one slot, usable again
    async with gate.slot():
        with pytest.raises(ApiError):
            async with gate.slot():
                pytest.fail("entered a full gate")


async def test_a_failing_request_gives_its_slot_back() -> None:
    gate = AdmissionGate(what="session requests", limit=1, wait_seconds=0)
    with pytest.raises(ApiError, match="agent"):
        async with gate.slot():
            raise ApiError(404, "agent_not_found", "no such agent")
    assert gate.in_flight == 0
    async with gate.slot():
        pass


def test_settings_size_the_gates() -> None:
    admission = Admission.from_settings(
        Settings(api_max_inflight_sessions=3, api_max_inflight_logins=1, api_admission_wait_ms=0)
    )
    assert (admission.sessions.limit, admission.sessions.wait_seconds) == (3, 0)
    assert admission.logins.limit == 1
    defaults = Settings()
    assert defaults.api_max_inflight_sessions >= 1 and defaults.api_admission_wait_ms > 0
    with pytest.raises(ValidationError):
        Settings(api_max_inflight_sessions=0)
