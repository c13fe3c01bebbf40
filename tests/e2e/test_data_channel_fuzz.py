"""Thousands of malformed packets during a live call: the call survives and still answers.

Real LiveKit server, API and worker (embedded 0.5B LLM); a headless caller floods
``voice.user_text`` (and a few other topics) with junk from ``tests/fuzz/data_channel.py``,
then types a real question. ``bench/fuzz_data_channel.py`` runs a longer flood.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import Tenant, make_tenant
from tests.fuzz.data_channel import QUESTION, fuzz_call
from tests.support.servers import ApiServer, make_settings, running_platform

TEST_LLM = "qwen2.5-0.5b"
PACKETS = 2_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, Tenant]]:
    settings = make_settings(tmp_path_factory.mktemp("data"), worker_prewarm_llm=TEST_LLM)
    with running_platform(settings) as api:
        tenant = make_tenant(
            api.platform,
            llm_engine=TEST_LLM,
            system_prompt="You are the receptionist of Rosa's Bakery, open nine to six.",
            greeting="Welcome to Rosa's Bakery.",
        )
        yield api, tenant


async def test_a_flood_of_malformed_packets_neither_ends_nor_silences_the_call(
    stack: tuple[ApiServer, Tenant],
) -> None:
    api, tenant = stack
    call = await fuzz_call(api.url, tenant.api_key, tenant.agent_id, count=PACKETS, seed=7)
    assert call.flood.sent + call.flood.refused_by_sdk == PACKETS
    assert call.flood.sent >= PACKETS * 0.95, call.flood.errors
    assert call.agent_present_after
    assert call.echo == QUESTION and call.reply.strip()
    record = call.record
    assert record["status"] == "ended" and record["end_reason"] == "caller_left", record
    usage = record["usage"]
    assert isinstance(usage, dict)
    # every junk packet on voice.user_text was ignored and counted, none was answered
    assert usage["ignored_messages"] == call.flood.sent_on_user_text, (usage, call.flood)
    turns = record["turns"]
    assert isinstance(turns, list)
    assert [t["text"] for t in turns if t["role"] == "user"] == [QUESTION]
