"""How many calls one worker process holds on this machine: voice-to-voice latency with
1, 2, 3, ... simultaneous calls on one worker, each against the single call's.

Starts LiveKit, the API and one worker with the embedded engines (as
``bench/voice_latency.py``), then for each count N joins N headless callers at once; each
asks ``--turns`` spoken questions, the callers a second apart (people do not all speak at
the same instant). Voice-to-voice is the end of a question's audio to the first audio of
its answer, measured where the caller is.

Prints the figures and writes ``bench/results/worker_capacity.json``: per N,
``calls_N_p50_s`` and ``calls_N_p95_s`` (over every turn of every call), ``calls_N_ratio``
(that p95 over the single call's), and ``holds_calls``: the largest N whose p95 stays
within ``--budget`` seconds (a reply that starts within it still feels live), the figure
``VOCABLE_WORKER_MAX_JOBS`` defaults to.

    .venv/bin/python -m bench.worker_capacity --max-calls 4 --turns 3
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
import statistics
import tempfile
from pathlib import Path

from tests.conftest import make_tenant
from tests.support.servers import make_settings, running_platform

from bench.voice_latency import GREETING, PROMPT, QUESTIONS, Bench, _cores, git_commit, pct

RESULTS = Path(__file__).parent / "results" / "worker_capacity.json"


async def calls_at_once(bench: Bench, count: int, turns: int) -> list[float]:
    """Every voice-to-voice latency of ``count`` simultaneous calls."""

    async def one(index: int) -> list[float]:
        await asyncio.sleep(index * 1.0)
        caller, _ = await bench.call()
        try:
            questions = [QUESTIONS[(index + i) % len(QUESTIONS)] for i in range(turns)]
            return await bench.ask(caller, questions)
        finally:
            await caller.leave()

    results = await asyncio.gather(*(one(i) for i in range(count)))
    return [latency for call in results for latency in call]


async def run(bench: Bench, max_calls: int, turns: int) -> dict[int, list[float]]:
    by_count: dict[int, list[float]] = {}
    for count in range(1, max_calls + 1):
        by_count[count] = await calls_at_once(bench, count, turns)
        print(
            f"{count} call(s): p50 {statistics.median(by_count[count]):.2f} s, "
            f"p95 {pct(by_count[count], 95):.2f} s over {len(by_count[count])} turns",
            flush=True,
        )
    return by_count


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--max-calls", type=int, default=4)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--llm", default="qwen2.5-1.5b")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings = make_settings(
            work / "data",
            worker_max_jobs=max(args.max_calls, 1),
            worker_prewarm_llm=args.llm,
            max_concurrent_sessions_per_org=100,
        )
        with running_platform(settings) as api:
            tenant = make_tenant(
                api.platform, system_prompt=PROMPT, greeting=GREETING, llm_engine=args.llm
            )
            bench = Bench(api.url, tenant.api_key, tenant.agent_id, work)
            by_count = asyncio.run(run(bench, args.max_calls, args.turns))

    single_p95 = pct(by_count[1], 95)
    figures: dict[str, float] = {}
    holds = 0
    for count, latencies in by_count.items():
        p95 = pct(latencies, 95)
        figures[f"calls_{count}_p50_s"] = round(statistics.median(latencies), 3)
        figures[f"calls_{count}_p95_s"] = round(p95, 3)
        figures[f"calls_{count}_ratio"] = round(p95 / single_p95, 2)
        if p95 <= args.budget and holds == count - 1:
            holds = count
    figures["holds_calls"] = holds
    figures["budget_s"] = args.budget
    command = (
        f"python -m bench.worker_capacity --max-calls {args.max_calls} --turns {args.turns} "
        f"--budget {args.budget} --llm {args.llm}"
    )
    result = {
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {_cores()} cores, Python {platform.python_version()}",
        "command": command,
        "figures": figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"one worker holds {holds} call(s) within a {args.budget:.1f} s p95 on this machine")


if __name__ == "__main__":
    main()
