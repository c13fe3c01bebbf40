"""Hold ``POST /api/agents/agent-session/`` at a sustained rate; find the rate p99 < 50 ms allows.

Run from the repository root::

    python bench/session_load.py [--rate R | --search] [--seconds 60] [--postgres]

The real API runs in its own uvicorn process (as ``vocable api``), on a fresh SQLite
database or, with ``--postgres``, a fresh database on one throwaway PostgreSQL server;
the per-key rate limit and per-organisation concurrency limit are lifted as in
``bench/session_endpoint.py``, whose setup this reuses. Admission control (the process's
cap on session requests in flight) keeps its shipped defaults unless
``--max-inflight``/``--admission-wait-ms`` say otherwise: it is part of what is measured.

Open loop: request ``i`` is sent at ``start + i / rate`` whether or not earlier ones have
answered, and its latency counts from that planned moment, so a stalled server shows up
as latency instead of silently lowering the offered rate (no coordinated omission). The
client is a minimal HTTP/1.1 one on asyncio streams (``LeanClient``): with httpx the load
generator itself fell behind at overload rates on 2 cores. Each line shows the client's
CPU share; near 100 % it would be measuring itself.

Each run reports the achieved rate, p50/p95/p99/max latency of the 200 answers, "shed"
(503 ``overloaded`` with ``Retry-After``: the server refused at once, by design),
errors (anything else but a 200 with a token, including client timeouts after 30 s),
and the session rows the run added: "lost" are 200 answers without a row, "unanswered"
rows without a 200 (a client that gave up after the commit, or a refused request that
wrote anyway); both must be 0.

``--search`` starts a fresh API process on a fresh database for every step, so no step
inherits another's backlog or data. It doubles the rate until a step fails (p99 at or
above the target, or any error, shed request or missing row), bisects with short
windows, then confirms with full ``--seconds`` runs: stepping down (x0.85) while they
fail, since short windows on a fresh database flatter, then bisecting up towards the
lowest full-length failure. Last, an overload step offers ``--overload-factor`` times
that rate to a fresh server and then, on the same server, ``--recovery-factor`` of it:
the server must shed the excess at once and serve normally right after, with no
backlog ("drained" is how long the last answers took after the last planned send).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.session_endpoint import (
    REPO_ROOT,
    SESSION_PATH,
    _own_cpu_s,
    _process_cpu_s,
    machine_description,
    prepare_vocable,
    running_server,
)

MAX_OUTSTANDING = 2_000
"""Requests in flight at most; beyond it the server is hopelessly behind (counted errors)."""
CLIENT_TIMEOUT_S = 30.0


def _pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


@dataclass
class Window:
    rate: float
    seconds: float
    label: str = ""
    latencies_ms: list[float] = field(default_factory=list)
    """Latencies of 200 answers with a token."""
    shed_ms: list[float] = field(default_factory=list)
    """Latencies of 503 ``overloaded`` answers (admission control refused at once)."""
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    rows_added: int = 0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    """CPU this process (the load generator) spent: near 1 s/s, it measures itself."""
    load_1m: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def shed(self) -> int:
        return len(self.shed_ms)

    @property
    def achieved(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    @property
    def drained_s(self) -> float:
        """From the last planned send to the last answer: the backlog left at the end."""
        return max(0.0, self.wall_s - self.seconds)

    @property
    def lost_rows(self) -> int:
        """200 answers without a session row (must be 0)."""
        return max(0, self.ok - self.rows_added)

    @property
    def unanswered_rows(self) -> int:
        """Rows without a 200: a client that gave up after the commit, or a refusal that wrote."""
        return max(0, self.rows_added - self.ok)

    def pct(self, p: int) -> float:
        return _pct(self.latencies_ms, p)

    def line(self) -> str:
        worst = max(self.latencies_ms) if self.latencies_ms else float("nan")
        cpu = self.server_cpu_s * 1000 / max(1, self.ok + self.shed + self.errors)
        shed = f"shed {self.shed:5d}"
        if self.shed:
            shed += f" (p99 {_pct(self.shed_ms, 99):.1f} ms)"
        return (
            f"{self.label}target {self.rate:6.1f}/s {self.seconds:3.0f} s: "
            f"achieved {self.achieved:6.1f}/s ok {self.ok:5d} {shed} errors {self.errors} "
            f"rows {self.rows_added} (lost {self.lost_rows}, unanswered {self.unanswered_rows}) "
            f"| p50 {self.pct(50):6.2f} p95 {self.pct(95):6.2f} p99 {self.pct(99):7.2f} "
            f"max {worst:7.2f} ms | drained {self.drained_s:.2f} s | "
            f"server CPU {cpu:5.2f} ms/req, client {self.client_cpu_s / self.wall_s:4.0%} "
            f"| load {self.load_1m:.2f}"
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

    def close(self) -> None:
        self._engine.dispose()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class LeanClient:
    """One fixed ``POST`` over HTTP/1.1 keep-alive connections, on asyncio streams.

    httpx costs milliseconds of CPU per request, and more as requests pile up (its pool
    looks at every connection for every request): at overload rates on 2 cores the load
    generator, not the server, fell behind its schedule and was what got measured.
    This client parses only what the checks below need (status, headers, a
    ``Content-Length`` body, which is all uvicorn sends here).
    """

    def __init__(self, base_url: str, path: str, headers: dict[str, str], body: object) -> None:
        url = urlsplit(base_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 80
        payload = json.dumps(body).encode()
        head = [
            f"POST {path} HTTP/1.1",
            f"host: {self._host}:{self._port}",
            "content-type: application/json",
            f"content-length: {len(payload)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self._request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self) -> Answer:
        if self._idle:  # a kept-alive connection the server may have closed meanwhile
            try:
                return await self._exchange(*self._idle.pop())
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
        return await self._exchange(*await asyncio.open_connection(self._host, self._port))

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Answer:
        try:
            writer.write(self._request)
            status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer))
        return Answer(int(status_line.split(" ", 2)[1]), headers, body)

    def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def _problem(answer: Answer) -> str | None:
    """``None`` for a real success (200, ``success``, a JWT), else what came back."""
    text = answer.body[:120].decode(errors="replace")
    if answer.status != 200:
        return f"HTTP {answer.status}: {text}"
    try:
        payload = answer.json()
    except ValueError:
        return "HTTP 200 with a body that is not JSON"
    data = payload.get("data") if isinstance(payload, dict) else None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(payload, dict) or payload.get("success") is not True:
        return f"HTTP 200 without success: {text}"
    if not isinstance(token, str) or token.count(".") != 2:
        return f"HTTP 200 without a token: {text}"
    return None


def _is_shed(answer: Answer) -> bool:
    """A 503 from admission control: ``overloaded`` in our envelope, with ``Retry-After``."""
    if answer.status != 503 or "retry-after" not in answer.headers:
        return False
    try:
        payload = answer.json()
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("code") == "overloaded"


async def _open_loop(target: Target, rate: float, seconds: float, window: Window) -> None:
    total = max(1, int(rate * seconds))
    client = LeanClient(target.base_url, SESSION_PATH, target.headers, target.body)
    outstanding: set[asyncio.Task[None]] = set()

    async def one(planned: float) -> None:
        shed = False
        try:
            answer = await asyncio.wait_for(client.post(), CLIENT_TIMEOUT_S)
            shed = _is_shed(answer)
            problem = None if shed else _problem(answer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        elapsed_ms = (time.perf_counter() - planned) * 1000
        if shed:
            window.shed_ms.append(elapsed_ms)
        elif problem is None:
            window.latencies_ms.append(elapsed_ms)
        else:
            window.errors += 1
            if len(window.error_samples) < 3:
                window.error_samples.append(problem)

    start = time.perf_counter()
    try:
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
    finally:
        client.close()
    # measured from the first planned send: ``seconds`` when nothing was left waiting
    window.wall_s = time.perf_counter() - start + 1 / rate


def run_window(target: Target, rate: float, seconds: float, label: str = "") -> Window:
    window = Window(rate=rate, seconds=seconds, label=label)
    rows_before, cpu_before = target.session_rows(), _process_cpu_s(target.pid)
    client_before = _own_cpu_s()
    try:
        import uvloop

        uvloop.run(_open_loop(target, rate, seconds, window))
    except ImportError:
        asyncio.run(_open_loop(target, rate, seconds, window))
    window.server_cpu_s = _process_cpu_s(target.pid) - cpu_before
    window.client_cpu_s = _own_cpu_s() - client_before
    window.rows_added = target.session_rows() - rows_before
    window.load_1m = os.getloadavg()[0]
    return window


def good(window: Window, p99_ms: float) -> bool:
    return (
        window.errors == 0
        and window.shed == 0
        and window.lost_rows == 0
        and window.unanswered_rows == 0
        and window.pct(99) < p99_ms
    )


def intact(window: Window) -> bool:
    """No errors and every row accounted for (shed requests allowed)."""
    return window.errors == 0 and window.lost_rows == 0 and window.unanswered_rows == 0


class Servers:
    """Fresh API processes on fresh databases, one per measured step."""

    def __init__(self, stack: ExitStack, args: argparse.Namespace) -> None:
        self._base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vocable-load-")))
        self._args = args
        self._admin_url: str | None = None
        self._steps = 0
        if args.postgres:
            sys.path.insert(0, str(REPO_ROOT))
            from tests.support.postgres import running_postgres

            self._admin_url = stack.enter_context(running_postgres())

    @contextmanager
    def fresh(self) -> Iterator[Target]:
        """A new database and API process, warmed up; both are gone afterwards."""
        self._steps += 1
        step_dir = self._base / f"step{self._steps}"
        database_url: str | None = None
        if self._admin_url is not None:
            from tests.support.postgres import create_database

            database_url = create_database(self._admin_url, "load_" + secrets.token_hex(4))
        prepared = prepare_vocable(step_dir / "data", database_url)
        env = dict(prepared.env)
        if self._args.max_inflight is not None:
            env["VOCABLE_API_MAX_INFLIGHT_SESSIONS"] = str(self._args.max_inflight)
        if self._args.admission_wait_ms is not None:
            env["VOCABLE_API_ADMISSION_WAIT_MS"] = str(self._args.admission_wait_ms)
        command = [sys.executable, "-m", "vocable.cli.main", "api"]
        try:
            with running_server(command, env, step_dir / "vocable.log", prepared.base_url) as proc:
                target = Target(
                    prepared.base_url,
                    prepared.api_key,
                    prepared.agent_id,
                    database_url or f"sqlite:///{step_dir / 'data' / 'vocable.db'}",
                )
                target.pid = proc.pid
                try:
                    if self._args.warmup > 0:
                        run_window(target, 10, self._args.warmup)
                    yield target
                finally:
                    target.close()
        finally:
            shutil.rmtree(step_dir, ignore_errors=True)


def measure(servers: Servers, rate: float, seconds: float, label: str = "") -> Window:
    with servers.fresh() as target:
        window = run_window(target, rate, seconds, label)
    print(window.line(), flush=True)
    return window


def search(servers: Servers, args: argparse.Namespace) -> tuple[list[Window], Window | None]:
    """Double, then bisect with short windows; confirm the best rate for ``--seconds``.

    Returns every window and the confirmed one (``None`` if even the start rate failed).
    """
    windows: list[Window] = []

    def probe(rate: float) -> bool:
        w = measure(servers, rate, args.step_seconds, "step    ")
        windows.append(w)
        return good(w, args.p99_ms)

    low, high = 0.0, args.start_rate
    while probe(high):
        low, high = high, high * 2
    for _ in range(args.bisect_steps):
        if high - low <= max(2.0, low * 0.05):
            break
        mid = round((low + high) / 2, 1)
        if probe(mid):
            low = mid
        else:
            high = mid
    # Short windows on a fresh database flatter: every session stays open (joinable) for
    # its 10-minute window and the limit checks count them, so a request costs more as a
    # run goes on. Step down until a full-length run holds, then bisect with full runs.
    best: Window | None = None
    failed: float | None = None
    rate = low
    for _ in range(args.step_downs):
        if rate <= 0:
            break
        full = measure(servers, rate, args.seconds, "confirm ")
        windows.append(full)
        if good(full, args.p99_ms):
            best = full
            break
        failed, rate = rate, round(rate * 0.85, 1)
    for _ in range(args.confirm_bisect_steps):
        if best is None or failed is None or failed - best.rate <= max(2.0, best.rate * 0.05):
            break
        mid = round((best.rate + failed) / 2, 1)
        full = measure(servers, mid, args.seconds, "confirm ")
        windows.append(full)
        if good(full, args.p99_ms):
            best = full
        else:
            failed = mid
    return windows, best


def overload(servers: Servers, rate: float, args: argparse.Namespace) -> list[Window]:
    """Offer ``rate * --overload-factor``, then ``rate * --recovery-factor``, to one server.

    Recovery runs below the confirmed rate by default: the sessions the flood created
    stay open and make every later request dearer, as a long run does.
    """
    with servers.fresh() as target:
        flood = run_window(target, rate * args.overload_factor, args.overload_seconds, "overload")
        print(flood.line(), flush=True)
        after = run_window(target, rate * args.recovery_factor, args.recovery_seconds, "after   ")
        print(after.line(), flush=True)
    return [flood, after]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, help="hold this rate (requests/s) and stop")
    parser.add_argument("--seconds", type=float, default=60, help="sustained run length")
    parser.add_argument("--search", action="store_true", help="find the rate with p99 < target")
    parser.add_argument("--p99-ms", type=float, default=50.0)
    parser.add_argument("--start-rate", type=float, default=10.0)
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--bisect-steps", type=int, default=4)
    parser.add_argument("--step-downs", type=int, default=6, help="full runs, x0.85 each")
    parser.add_argument("--confirm-bisect-steps", type=int, default=2, help="full runs")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at 10/s first")
    parser.add_argument("--overload-factor", type=float, default=3.0, help="0: no overload step")
    parser.add_argument("--overload-seconds", type=float, default=20.0)
    parser.add_argument("--recovery-seconds", type=float, default=20.0)
    parser.add_argument("--recovery-factor", type=float, default=0.5)
    parser.add_argument("--max-inflight", type=int, help="VOCABLE_API_MAX_INFLIGHT_SESSIONS")
    parser.add_argument("--admission-wait-ms", type=int, help="VOCABLE_API_ADMISSION_WAIT_MS")
    parser.add_argument("--postgres", action="store_true", help="throwaway PostgreSQL server")
    args = parser.parse_args(argv)
    if args.rate is None and not args.search:
        args.search = True
    return args


def _summary(confirmed: Window | None, flood: list[Window], p99_ms: float) -> list[str]:
    lines = []
    if confirmed is None:
        lines.append(f"no rate kept p99 < {p99_ms:.0f} ms with 0 errors, 0 shed, 0 lost rows")
    else:
        lines.append(
            f"highest rate with p99 < {p99_ms:.0f} ms, 0 errors, 0 shed, 0 lost rows for "
            f"{confirmed.seconds:.0f} s: {confirmed.rate:.1f}/s (p50 {confirmed.pct(50):.2f}, "
            f"p99 {confirmed.pct(99):.2f} ms)"
        )
    if flood:
        over, after = flood
        sheds = "sheds" if over.shed and intact(over) else "does NOT shed cleanly"
        back = "recovers" if good(after, p99_ms) else "does NOT recover"
        lines.append(
            f"overload {over.rate:.1f}/s: server {sheds} ({over.shed} refused, p99 of a 503 "
            f"{_pct(over.shed_ms, 99):.1f} ms; {over.ok} served, p99 {over.pct(99):.1f} ms; "
            f"errors {over.errors}, lost rows {over.lost_rows}, drained {over.drained_s:.2f} s); "
            f"then {after.rate:.1f}/s: {back} (p99 {after.pct(99):.2f} ms, shed {after.shed}, "
            f"errors {after.errors})"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with ExitStack() as stack:
        servers = Servers(stack, args)
        print(f"machine: {machine_description()}; load average {os.getloadavg()}")
        admission = f"max in flight {args.max_inflight or 'default'}, wait " + (
            f"{args.admission_wait_ms} ms" if args.admission_wait_ms is not None else "default"
        )
        print(
            f"database: {'PostgreSQL' if args.postgres else 'SQLite'}; open loop; 1 API process "
            f"per step, fresh database each; admission: {admission}",
            flush=True,
        )
        if args.rate is not None:
            windows = [measure(servers, args.rate, args.seconds)]
            failed = not intact(windows[0])
            lines: list[str] = []
        else:
            windows, confirmed = search(servers, args)
            flood: list[Window] = []
            if confirmed is not None and args.overload_factor > 0:
                flood = overload(servers, confirmed.rate, args)
            windows += flood
            lines = _summary(confirmed, flood, args.p99_ms)
            # the confirmed rate must exist; the flood may shed but never err or lose a
            # row, and the server must serve normally right after it
            failed = confirmed is None or (
                bool(flood) and not (intact(flood[0]) and good(flood[1], args.p99_ms))
            )
        for w in windows:
            for sample in w.error_samples:
                print(f"error at {w.rate:.1f}/s: {sample}")
        for line in lines:
            print(line)
        print(f"load average at the end {os.getloadavg()}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
