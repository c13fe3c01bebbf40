"""Voice-to-voice latency through a real room, measured where the caller is.

Starts LiveKit, the API and a worker with the embedded engines, joins as a headless
caller, and for each turn plays a spoken question into the microphone, then times from
the end of the question's audio to the first agent audio frame above a silence
threshold. Also times join → first greeting audio, and prints the worker's per-turn
stage breakdown (end of turn, STT, LLM first token, TTS first byte) from the call record.

    .venv/bin/python -m bench.voice_latency --turns 8 --llm qwen2.5-1.5b
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import make_tenant
from tests.support.caller import Caller, synthesize_speech
from tests.support.servers import (
    make_settings,
    running_platform,
)

PROMPT = (
    "You are the receptionist of Rosa's Bakery. The bakery opens at nine in the morning and "
    "closes at six in the evening. It sells bread, cakes and coffee."
)
QUESTIONS = [
    "What time do you open?",
    "When do you close in the evening?",
    "Do you sell coffee?",
    "Can I buy a cake today?",
]
STAGES = (
    "end_of_turn_delay",
    "transcription_delay",
    "llm_node_ttft",
    "tts_node_ttfb",
    "e2e_latency",
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run_turns(api_url: str, key: str, agent: str, turns: int, work: Path) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api_url) as http:
        resp = await http.post(
            "/api/agents/agent-session/", json={"agent": agent}, headers={"x-api-key": key}
        )
        data = resp.json()["data"]
    caller = Caller()
    joined = time.monotonic()
    await caller.join(data["livekit_url"], data["token"])
    greeting_audio = await caller.wait_for_sound(joined, timeout=120) - joined
    await caller.wait_for_quiet()
    latencies = []
    for i in range(turns):
        question = synthesize_speech(QUESTIONS[i % len(QUESTIONS)], work / f"q{i}.wav")
        end = await caller.speak(question)
        first = await caller.wait_for_sound(end, timeout=120)
        latencies.append(first - end)
        await caller.wait_for_quiet(quiet_for=1.5, timeout=120)
    await caller.leave()
    async with httpx.AsyncClient(base_url=api_url) as http:
        record: dict[str, Any] = {}
        for _ in range(100):
            record = (
                await http.get(f"/api/sessions/{data['session_id']}", headers={"x-api-key": key})
            ).json()
            if record.get("status") == "ended":
                break
            await asyncio.sleep(0.2)
    return {"greeting": greeting_audio, "latencies": latencies, "turns": record.get("turns", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--llm", default="qwen2.5-1.5b")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vocable-bench-") as tmp:
        work = Path(tmp)
        settings = make_settings(work / "data", worker_prewarm_llm=args.llm)
        with running_platform(settings) as api:
            platform = api.platform
            tenant = make_tenant(
                platform,
                system_prompt=PROMPT,
                greeting="Welcome to Rosa's Bakery!",
                llm_engine=args.llm,
            )
            result = asyncio.run(
                run_turns(api.url, tenant.api_key, tenant.agent_id, args.turns, work)
            )
    lat = result["latencies"]
    print(f"llm={args.llm} turns={len(lat)}")
    print(f"join -> first greeting audio: {result['greeting']:.2f} s")
    print(
        f"end of question -> first agent audio (at the caller): "
        f"p50 {statistics.median(lat):.2f} s  p95 {pct(lat, 95):.2f} s  "
        f"min {min(lat):.2f} s  max {max(lat):.2f} s"
    )
    print("per turn:", " ".join(f"{x:.2f}" for x in lat))
    print("worker stage breakdown (median over turns, seconds):")
    for stage in STAGES:
        values = [t["metrics"][stage] for t in result["turns"] if stage in t["metrics"]]
        if values:
            print(f"  {stage:<22} p50 {statistics.median(values):.3f}  p95 {pct(values, 95):.3f}")


if __name__ == "__main__":
    main()
