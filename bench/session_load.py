"""Hold ``POST /api/agents/agent-session/`` at a sustained rate; find the rate p99 < 50 ms allows.

Run from the repository root::

    python bench/session_load.py [--rate R | --search] [--seconds 60] [--postgres]

The real API runs in its own uvicorn process (as ``vocable api``), on a fresh SQLite
database or, with ``--postgres``, a throwaway PostgreSQL server; limits are lifted as in
``bench/session_endpoint.py``, whose setup this reuses.

Open loop: request ``i`` is sent at ``start + i / rate`` whether or not earlier ones have
answered, and its latency counts from that planned moment, so a stalled server shows up
as latency instead of silently lowering the offered rate (no coordinated omission).

Each run reports the achieved rate, p50/p95/p99/max latency, errors (anything but a 200
with a token, including client timeouts after 30 s) and the session rows the run added to
the database: "lost" are 200 answers without a row, "unanswered" rows whose client gave
up before the answer; both must be 0. ``--search`` doubles the rate until p99 reaches
the target or errors appear, bisects with short windows, then confirms the best rate with
a full-length run.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.session_endpoint import (
    REPO_ROOT,
    SESSION_PATH,
    _check,
    _process_cpu_s,
    machine_description,
    prepare_vocable,
    running_server,
)

MAX_OUTSTANDING = 2_000
"""Requests in flight at most; beyond it the server is hopelessly behind (counted errors)."""


@dataclass
class Window:
    rate: float
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    rows_added: int = 0
    server_cpu_s: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def achieved(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    @property
    def lost_rows(self) -> int:
        """200 answers without a session row (must be 0)."""
        return max(0, self.ok - self.rows_added)

    @property
    def unanswered_rows(self) -> int:
        """Rows whose request got no 200: the client gave up (timeout) after the commit."""
        return max(0, self.rows_added - self.ok)

    def pct(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]

    def line(self) -> str:
        worst = max(self.latencies_ms) if self.latencies_ms else float("nan")
        cpu = self.server_cpu_s * 1000 / max(1, self.ok + self.errors)
        return (
            f"target {self.rate:7.1f}/s {self.seconds:4.0f} s: achieved {self.achieved:7.1f}/s "
            f"ok {self.ok:6d} errors {self.errors:4d} rows {self.rows_added:6d} "
            f"(lost {self.lost_rows}, unanswered {self.unanswered_rows}) | "
            f"p50 {self.pct(50):7.2f} p95 {self.pct(95):7.2f} p99 {self.pct(99):7.2f} "
            f"max {worst:8.2f} ms | server CPU {cpu:5.2f} ms/req"
        )


class Target:
    """The API process and a way to count its session rows."""

    def __init__(self, base_url: str, api_key: str, agent_id: str, database_url: str) -> None:
        from sqlalchemy import create_engine

        self.base_url = base_url
        self.headers = {"x-api-key": api_key}
        self.body = {"agent": agent_id}
        url = database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        self._engine = create_engine(url)
        self.pid = 0

    def session_rows(self) -> int:
        from sqlalchemy import text

        with self._engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM sessions")).scalar_one())


async def _open_loop(target: Target, rate: float, seconds: float, window: Window) -> None:
    total = max(1, int(rate * seconds))
    limits = httpx.Limits(max_connections=MAX_OUTSTANDING, max_keepalive_connections=256)
    async with httpx.AsyncClient(
        base_url=target.base_url, headers=target.headers, limits=limits, timeout=30
    ) as client:
        outstanding: set[asyncio.Task[None]] = set()

        async def one(planned: float) -> None:
            try:
                resp = await client.post(SESSION_PATH, json=target.body)
                problem = _check(resp)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem is None:
                window.latencies_ms.append((time.perf_counter() - planned) * 1000)
            else:
                window.errors += 1
                if len(window.error_samples) < 3:
                    window.error_samples.append(problem)

        start = time.perf_counter()
        for i in range(total):
            planned = start + i / rate
            delay = planned - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(outstanding) >= MAX_OUTSTANDING:
                window.errors += 1
                continue
            task = asyncio.create_task(one(planned))
            outstanding.add(task)
            task.add_done_callback(outstanding.discard)
        if outstanding:
            await asyncio.wait(outstanding)
        window.wall_s = time.perf_counter() - start


def run_window(target: Target, rate: float, seconds: float) -> Window:
    window = Window(rate=rate, seconds=seconds)
    rows_before, cpu_before = target.session_rows(), _process_cpu_s(target.pid)
    try:
        import uvloop

        uvloop.run(_open_loop(target, rate, seconds, window))
    except ImportError:
        asyncio.run(_open_loop(target, rate, seconds, window))
    window.server_cpu_s = _process_cpu_s(target.pid) - cpu_before
    window.rows_added = target.session_rows() - rows_before
    return window


def good(window: Window, p99_ms: float) -> bool:
    return (
        window.errors == 0
        and window.lost_rows == 0
        and window.unanswered_rows == 0
        and window.pct(99) < p99_ms
    )


def search(target: Target, args: argparse.Namespace) -> list[Window]:
    """Double, then bisect with short windows; confirm the best rate for ``--seconds``."""
    windows: list[Window] = []

    def probe(rate: float) -> bool:
        w = run_window(target, rate, args.step_seconds)
        windows.append(w)
        print(w.line(), flush=True)
        return good(w, args.p99_ms)

    low, high = 0.0, args.start_rate
    while probe(high):
        low, high = high, high * 2
    for _ in range(args.bisect_steps):
        if high - low <= max(2.0, low * 0.05):
            break
        mid = (low + high) / 2
        if probe(mid):
            low = mid
        else:
            high = mid
    if low == 0:
        return windows
    confirm = run_window(target, low, args.seconds)
    print("confirm: " + confirm.line(), flush=True)
    windows.append(confirm)
    if not good(confirm, args.p99_ms):  # short windows were lucky: one step down
        confirm = run_window(target, low * 0.8, args.seconds)
        print("confirm: " + confirm.line(), flush=True)
        windows.append(confirm)
    return windows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, help="hold this rate (requests/s) and stop")
    parser.add_argument("--seconds", type=float, default=60, help="sustained run length")
    parser.add_argument("--search", action="store_true", help="find the rate with p99 < target")
    parser.add_argument("--p99-ms", type=float, default=50.0)
    parser.add_argument("--start-rate", type=float, default=10.0)
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--bisect-steps", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at 10/s first")
    parser.add_argument("--postgres", action="store_true", help="throwaway PostgreSQL server")
    args = parser.parse_args(argv)
    if args.rate is None and not args.search:
        args.search = True
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vocable-load-")))
        database_url: str | None = None
        if args.postgres:
            sys.path.insert(0, str(REPO_ROOT))
            from tests.support.postgres import create_database, running_postgres

            admin_url = stack.enter_context(running_postgres())
            database_url = create_database(admin_url, "load_" + secrets.token_hex(4))
        prepared = prepare_vocable(tmp / "data", database_url)
        proc = stack.enter_context(
            running_server(
                [sys.executable, "-m", "vocable.cli.main", "api"],
                prepared.env,
                tmp / "vocable.log",
                prepared.base_url,
            )
        )
        target = Target(
            prepared.base_url,
            prepared.api_key,
            prepared.agent_id,
            database_url or f"sqlite:///{tmp / 'data' / 'vocable.db'}",
        )
        target.pid = proc.pid
        print(f"machine: {machine_description()}")
        print(f"database: {'PostgreSQL' if database_url else 'SQLite'}; open loop; 1 API process")
        if args.warmup > 0:
            run_window(target, 10, args.warmup)
        if args.rate is not None:
            w = run_window(target, args.rate, args.seconds)
            print(w.line())
            windows = [w]
        else:
            windows = search(target, args)
        for w in windows:
            for sample in w.error_samples:
                print(f"error at {w.rate:.1f}/s: {sample}")
        final = windows[-1] if windows else None
        if final is not None and args.search:
            verdict = "meets" if good(final, args.p99_ms) else "does NOT meet"
            print(
                f"highest rate with p99 < {args.p99_ms:.0f} ms: {final.rate:.1f}/s "
                f"({final.seconds:.0f} s run {verdict} it: p99 {final.pct(99):.2f} ms, "
                f"errors {final.errors}, lost rows {final.lost_rows})"
            )
        failed = any(
            w.errors or w.lost_rows or w.unanswered_rows
            for w in windows
            if w.seconds >= args.seconds
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
