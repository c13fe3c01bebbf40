"""Voice-to-voice latency and turn-taking through a real room, measured where the caller is.

Starts LiveKit, the API and a worker with the embedded engines and joins as headless
callers that speak espeak-ng questions into their microphones. Four parts:

1. one call, ``--turns`` questions: end of the question's audio → first agent audio
   (voice-to-voice), with the worker's per-turn stage breakdown from the call record;
2. ``--greetings`` calls: join → first greeting audio;
3. two calls at once, each asking ``--turns / 2`` questions: each call's p50 against the
   single call's (``concurrent_p50_ratio``, the worse of the two);
4. turn-taking: a caller asks ``--pause-questions`` questions with a 2 s pause after each
   (``pause_unanswered``: questions whose answer was not heard before the next question
   began), then says sentences with a natural pause inside (``false_cutoffs``: the agent
   started talking before the sentence was finished).

Prints the figures and writes them to ``bench/results/voice_latency.json``.

    .venv/bin/python -m bench.voice_latency --turns 8 --llm qwen2.5-1.5b
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from tests.conftest import make_tenant
from tests.support.caller import SAMPLE_RATE, Caller, synthesize_speech
from tests.support.servers import make_settings, running_platform

from vocable.providers import registry

# older commits (compared back to back with a worktree) had the 0.45 s silence inline
SESSION_VAD_SILENCE = getattr(registry, "SESSION_VAD_SILENCE", 0.45)

RESULTS = Path(__file__).parent / "results" / "voice_latency.json"
PROMPT = (
    "You are the receptionist of Rosa's Bakery. The bakery opens at nine in the morning and "
    "closes at six in the evening. It sells bread, cakes and coffee."
)
GREETING = "Welcome to Rosa's Bakery!"
QUESTIONS = [
    "What time do you open?",
    "When do you close in the evening?",
    "Do you sell coffee?",
    "Can I buy a cake today?",
]
PAUSE_QUESTIONS = [
    "Hello, what time do you open in the morning?",
    "And when do you close in the evening?",
    "Do you sell coffee as well?",
    "What kinds of cake do you have?",
    "Can I order bread for tomorrow?",
    "Is the bakery open on Sunday?",
]
# (first half, second half): said with NATURAL_PAUSE between them, as one sentence
PAUSED_SENTENCES = [
    ("I would like to know", "when you open on Saturday."),
    ("My daughter has a birthday", "so can I order a chocolate cake?"),
    ("If I come at eight thirty", "will the bakery already be open?"),
    ("We need some bread", "and two coffees for the office."),
]
NATURAL_PAUSE = 0.4
ASK_PAUSE = 2.0
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


class Bench:
    def __init__(self, api_url: str, key: str, agent: str, work: Path) -> None:
        self.api_url = api_url
        self.key = key
        self.agent = agent
        self.work = work
        self.greetings: list[float] = []
        self._speech: dict[str, np.ndarray] = {}

    def speech(self, text: str) -> np.ndarray:
        if text not in self._speech:
            path = self.work / f"s{len(self._speech)}.wav"
            self._speech[text] = synthesize_speech(text, path)
        return self._speech[text]

    async def call(self) -> tuple[Caller, str]:
        """A new session, joined; returns once the greeting was heard and has finished."""
        async with httpx.AsyncClient(base_url=self.api_url) as http:
            resp = await http.post(
                "/api/agents/agent-session/",
                json={"agent": self.agent},
                headers={"x-api-key": self.key},
            )
            data = resp.json()["data"]
        caller = Caller()
        joined = time.monotonic()
        await caller.join(data["livekit_url"], data["token"])
        self.greetings.append(await caller.wait_for_sound(joined, timeout=120) - joined)
        await caller.wait_for_quiet()
        return caller, data["session_id"]

    async def record(self, session_id: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.api_url) as http:
            record: dict[str, Any] = {}
            for _ in range(150):
                resp = await http.get(
                    f"/api/sessions/{session_id}", headers={"x-api-key": self.key}
                )
                record = resp.json()
                if record.get("status") == "ended":
                    break
                await asyncio.sleep(0.2)
        return record

    async def ask(self, caller: Caller, questions: list[str]) -> list[float]:
        latencies = []
        for text in questions:
            end = await caller.speak(self.speech(text))
            first = await caller.wait_for_sound(end, timeout=120)
            latencies.append(first - end)
            await caller.wait_for_quiet(quiet_for=1.5, timeout=120)
        return latencies

    async def single(self, turns: int) -> tuple[list[float], list[dict[str, Any]]]:
        caller, session_id = await self.call()
        latencies = await self.ask(caller, [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)])
        await caller.leave()
        return latencies, (await self.record(session_id)).get("turns", [])

    async def concurrent(self, turns: int) -> list[list[float]]:
        async def one(offset: int) -> list[float]:
            caller, _ = await self.call()
            questions = [QUESTIONS[(i + offset) % len(QUESTIONS)] for i in range(turns)]
            try:
                return await self.ask(caller, questions)
            finally:
                await caller.leave()

        return list(await asyncio.gather(one(0), one(2)))

    async def turn_taking(self, questions: int) -> dict[str, int]:
        caller, _ = await self.call()
        silence = np.zeros(int(ASK_PAUSE * SAMPLE_RATE), dtype=np.int16)
        unanswered = 0
        for i in range(questions):
            end = await caller.speak(self.speech(PAUSE_QUESTIONS[i % len(PAUSE_QUESTIONS)]))
            if i < questions - 1:
                # the pause is part of the microphone's stream: the next question follows it
                await caller.speak(silence)
                heard = caller.first_sound_after(end)
                answered = heard is not None and heard < time.monotonic()
            else:
                try:
                    await caller.wait_for_sound(end, timeout=15)
                    answered = True
                except AssertionError:
                    answered = False
            unanswered += not answered
        await caller.wait_for_quiet(quiet_for=1.5, timeout=120)
        gap = np.zeros(int(NATURAL_PAUSE * SAMPLE_RATE), dtype=np.int16)
        cutoffs = 0
        for first, second in PAUSED_SENTENCES:
            start = time.monotonic()
            sentence = np.concatenate([trim(self.speech(first)), gap, trim(self.speech(second))])
            end = await caller.speak(sentence)
            heard = caller.first_sound_after(start)
            cutoffs += heard is not None and heard < end - 0.05
            await caller.wait_for_sound(start, timeout=120)
            await caller.wait_for_quiet(quiet_for=1.5, timeout=120)
        await caller.leave()
        return {
            "pause_questions": questions,
            "pause_unanswered": unanswered,
            "paused_sentences": len(PAUSED_SENTENCES),
            "false_cutoffs": cutoffs,
        }


def trim(samples: np.ndarray, threshold: int = 200) -> np.ndarray:
    """espeak-ng pads its speech with silence; the halves of a sentence are joined without it."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def stage_figures(turns: list[dict[str, Any]]) -> dict[str, float]:
    """Medians of the worker's stage metrics; end of turn and transcription are on the
    caller's turn, the rest on the agent's reply to it."""
    paired: list[dict[str, float]] = []
    caller: dict[str, float] = {}
    for turn in turns:
        metrics = turn.get("metrics") or {}
        if turn.get("role") == "user":
            caller = metrics
        elif turn.get("role") == "agent" and caller:
            paired.append({**caller, **metrics})
            caller = {}
    figures: dict[str, float] = {}
    for stage in STAGES:
        values = [m[stage] for m in paired if stage in m]
        if values:
            figures[f"{stage}_p50_s"] = round(statistics.median(values), 3)
    # what is left of the worker's own e2e once its measured stages are taken out: the
    # wait for the first speakable text (and the hand-offs between the stages)
    parts = ("e2e_latency", "end_of_turn_delay", "llm_node_ttft", "tts_node_ttfb")
    rest = [
        m["e2e_latency"] - m["end_of_turn_delay"] - m["llm_node_ttft"] - m["tts_node_ttfb"]
        for m in paired
        if all(k in m for k in parts)
    ]
    if rest:
        figures["first_text_wait_p50_s"] = round(statistics.median(rest), 3)
    return figures


async def run_all(
    bench: Bench, args: argparse.Namespace
) -> tuple[list[float], list[dict[str, Any]], list[list[float]], dict[str, int]]:
    latencies, turns = await bench.single(args.turns)
    for _ in range(args.greetings):
        caller, _sid = await bench.call()
        await caller.leave()
    together = (
        await bench.concurrent(max(2, args.turns // 2)) if "concurrent" not in args.skip else []
    )
    taking = await bench.turn_taking(args.pause_questions) if "pause" not in args.skip else {}
    return latencies, turns, together, taking


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--greetings", type=int, default=3)
    parser.add_argument("--pause-questions", type=int, default=6)
    parser.add_argument("--llm", default="qwen2.5-1.5b")
    parser.add_argument("--skip", nargs="*", default=[], choices=["concurrent", "pause"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vocable-bench-") as tmp:
        work = Path(tmp)
        settings = make_settings(work / "data", worker_prewarm_llm=args.llm, worker_max_jobs=4)
        with running_platform(settings) as api:
            tenant = make_tenant(
                api.platform, system_prompt=PROMPT, greeting=GREETING, llm_engine=args.llm
            )
            bench = Bench(api.url, tenant.api_key, tenant.agent_id, work)
            latencies, turns, together, taking = asyncio.run(run_all(bench, args))
    single_p50 = statistics.median(latencies)
    figures: dict[str, float] = {
        "v2v_p50_s": round(single_p50, 3),
        "v2v_p95_s": round(pct(latencies, 95), 3),
        "v2v_min_s": round(min(latencies), 3),
        "v2v_max_s": round(max(latencies), 3),
        "greeting_p50_s": round(statistics.median(bench.greetings), 3),
        "greeting_max_s": round(max(bench.greetings), 3),
        "endpoint_silence_s": SESSION_VAD_SILENCE,
        **stage_figures(turns),
    }
    if together:
        worst = max(statistics.median(call) for call in together)
        figures["concurrent_p50_s"] = round(worst, 3)
        figures["concurrent_p50_ratio"] = round(worst / single_p50, 3)
    figures.update({k: float(v) for k, v in taking.items()})
    result = {
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''} "
        f"{_cores()} cores, Python {sys.version.split()[0]}".replace("  ", " "),
        "command": "python -m bench.voice_latency " + " ".join(sys.argv[1:]),
        "engines": {"stt": "whisper tiny.en (streamed phrases)", "llm": args.llm, "tts": "piper"},
        "figures": figures,
        "per_turn_s": [round(x, 3) for x in latencies],
        "greetings_s": [round(x, 3) for x in bench.greetings],
    }
    print(f"llm={args.llm} turns={len(latencies)}")
    print(f"per turn: {' '.join(f'{x:.2f}' for x in latencies)}")
    for name, value in figures.items():
        print(f"  {name:<28} {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
