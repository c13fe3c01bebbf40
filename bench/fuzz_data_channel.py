"""A longer data-channel flood during a live call, with figures.

Run from the repository root::

    python bench/fuzz_data_channel.py [--packets N] [--calls C] [--seed S]

Starts LiveKit, the API and a worker (embedded ``qwen2.5-0.5b``), then for each call
floods ``voice.user_text`` (and a few other topics) with ``--packets`` junk packets from
``tests/fuzz/data_channel.py`` as fast as the SDK takes them, and asks one real question.
Prints the packet rate, whether the agent stayed and answered, how long the answer took,
and the call record's end reason and ``ignored_messages``; exits 1 if any call broke.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.conftest import make_tenant  # noqa: E402 - needs the repository root on the path
from tests.fuzz.data_channel import QUESTION, fuzz_call  # noqa: E402
from tests.support.servers import make_settings, running_platform  # noqa: E402

LLM = "qwen2.5-0.5b"


async def _calls(url: str, key: str, agent: str, args: argparse.Namespace) -> bool:
    healthy = True
    for i in range(args.calls):
        call = await fuzz_call(url, key, agent, count=args.packets, seed=args.seed + i)
        usage = call.record.get("usage") or {}
        ignored = usage.get("ignored_messages") if isinstance(usage, dict) else None
        ok = (
            call.agent_present_after
            and call.echo == QUESTION
            and bool(call.reply.strip())
            and call.record.get("end_reason") == "caller_left"
            and ignored == call.flood.sent_on_user_text
        )
        healthy &= ok
        f = call.flood
        print(
            f"call {i + 1}: sent {f.sent} packets ({f.sent_on_user_text} on voice.user_text, "
            f"{f.bytes_sent / 1e6:.1f} MB) in {f.seconds:.1f} s = {f.rate:.0f}/s; "
            f"refused by the SDK {f.refused_by_sdk}; agent stayed {call.agent_present_after}; "
            f"answered in {call.answer_seconds:.1f} s; end {call.record.get('end_reason')}; "
            f"ignored_messages {ignored}; {'OK' if ok else 'BROKEN'}"
        )
        for error in f.errors:
            print(f"  SDK error: {error}")
    return healthy


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp) / "data", worker_prewarm_llm=LLM)
        with running_platform(settings) as api:
            tenant = make_tenant(
                api.platform,
                llm_engine=LLM,
                system_prompt="You are the receptionist of Rosa's Bakery, open nine to six.",
                greeting="Welcome to Rosa's Bakery.",
            )
            healthy = asyncio.run(_calls(api.url, tenant.api_key, tenant.agent_id, args))
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
