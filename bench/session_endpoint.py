"""Benchmark ``POST /api/agents/agent-session/`` against a bare token-signing endpoint.

Run from the repository root::

    python bench/session_endpoint.py [--requests N] [--rounds R] [--concurrency C]
                                     [--warmup W] [--database-url URL | --postgres | --both]

Each target is measured ``--rounds`` times, in turn (baseline, vocable, baseline, ...);
the ratio reported is the median round's, so a burst of other work on a shared machine
moves one round rather than the figure. ``--both`` runs SQLite, then a throwaway
PostgreSQL, and writes
``bench/results/session_endpoint.json`` (``ratio_sqlite``, ``ratio_postgres``: vocable's
throughput over the baseline measured beside it, and the p99s).

Everything runs on loopback, on free ports, in a temporary data directory:

* **vocable**: the real API (``python -m vocable.cli.main api``) in its own process, on a
  fresh SQLite database (default), on ``--database-url`` (an empty PostgreSQL database),
  or on a throwaway PostgreSQL server started with ``--postgres`` (uses
  ``tests/support/postgres.py``, so the repository's tests directory must be present).
  The per-key rate limit and the per-organisation concurrency limit are set very high,
  so the benchmark measures the work of the endpoint, not its refusals.
* **baseline**: a bare FastAPI endpoint in its own process that parses the same body and
  only signs a LiveKit join token, returned in the same envelope.

Both are served by uvicorn with the same settings (one worker, log level ``warning``,
access log off). The load generator is an asyncio httpx client in this process, with
``--concurrency`` requests in flight. A response counts as a success only when it is
HTTP 200 with ``success: true`` and a JWT in ``data.token``; latencies are those of
successes. Every process started here is stopped on exit, also on error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform as pyplatform
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx
import uvicorn
from fastapi import FastAPI
from livekit import api as lk
from pydantic import BaseModel

from vocable.processes import stop_process, wait_until_answering

SESSION_PATH = "/api/agents/agent-session/"
HOST = "127.0.0.1"
UVICORN_LOG_LEVEL = "warning"
HIGH_LIMIT = 1_000_000_000
REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results" / "session_endpoint.json"


# --- the baseline server ---------------------------------------------------------------


class BaselineRequest(BaseModel):
    """The body both targets receive: ``{"agent": AGENT_ID}``."""

    agent: str


class BaselineCredentials(BaseModel):
    """What the baseline returns inside ``data``."""

    token: str
    room_name: str


class BaselineEnvelope(BaseModel):
    """The same envelope as Vocable's session endpoint."""

    success: bool = True
    message: str = "Request successful"
    data: BaselineCredentials


def baseline_app() -> FastAPI:
    """A FastAPI app whose session route only signs a LiveKit token (no auth, no database).

    The route is a plain ``def`` like Vocable's, so both run in uvicorn's thread pool.
    """
    app = FastAPI()
    api_key = "bench"
    api_secret = secrets.token_urlsafe(32)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(SESSION_PATH)
    def create(req: BaselineRequest) -> BaselineEnvelope:
        room = "room_" + secrets.token_hex(8)
        token = (
            lk.AccessToken(api_key, api_secret)
            .with_identity("user_" + secrets.token_hex(8))
            .with_grants(lk.VideoGrants(room_join=True, room=room))
            .to_jwt()
        )
        return BaselineEnvelope(data=BaselineCredentials(token=token, room_name=room))

    return app


def serve_baseline(port: int) -> None:
    """Serve :func:`baseline_app` with the uvicorn settings Vocable's ``api`` command uses."""
    uvicorn.run(baseline_app(), host=HOST, port=port, log_level=UVICORN_LOG_LEVEL, access_log=False)


# --- processes -------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on the loopback interface that is free right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def running_server(
    args: list[str], env: dict[str, str], log_path: Path, base_url: str, timeout: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``args`` as a child process, wait for ``/healthz``, stop it afterwards."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            wait_until_answering(
                base_url + "/healthz",
                proc,
                timeout=timeout,
                details=lambda: "; log:\n" + _log_tail(log_path),
            )
            yield proc
        finally:
            stop_process(proc)


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    # turn SIGTERM into SystemExit so that the ExitStack stops the child processes
    raise SystemExit(143)


def _clean_env() -> dict[str, str]:
    """This process's environment without any ``VOCABLE_`` setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VOCABLE_")}


# --- the Vocable target ----------------------------------------------------------------


@dataclass
class VocableTarget:
    """A migrated database with one organisation, API key and agent, and the API's env."""

    base_url: str
    api_key: str
    agent_id: str
    env: dict[str, str]


def prepare_vocable(data_dir: Path, database_url: str | None) -> VocableTarget:
    """Migrate the database and create a tenant; return what the API process needs."""
    from vocable.accounts import service as accounts
    from vocable.agents.service import create_agent
    from vocable.contracts.agents import AgentCreate
    from vocable.db.migrate import upgrade_to_head
    from vocable.platform import build_platform
    from vocable.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = _clean_env()
    env.update(
        {
            "VOCABLE_DATA_DIR": str(data_dir),
            "VOCABLE_CACHE_DIR": str(data_dir / "cache"),
            "VOCABLE_API_HOST": HOST,
            "VOCABLE_API_PORT": str(port),
            "VOCABLE_LOG_LEVEL": UVICORN_LOG_LEVEL,
            "VOCABLE_KEY_RATE_LIMIT_PER_MINUTE": str(HIGH_LIMIT),
            "VOCABLE_MAX_CONCURRENT_SESSIONS_PER_ORG": str(HIGH_LIMIT),
        }
    )
    if database_url:
        env["VOCABLE_DATABASE_URL"] = database_url
    settings = Settings(
        data_dir=data_dir,
        cache_dir=data_dir / "cache",
        database_url=database_url,
        api_host=HOST,
        api_port=port,
        key_rate_limit_per_minute=HIGH_LIMIT,
        max_concurrent_sessions_per_org=HIGH_LIMIT,
    )
    # creates the platform secrets in data_dir; the API process reads the same ones
    platform = build_platform(settings)
    try:
        upgrade_to_head(platform.engine)
        with platform.sessions() as db:
            user = accounts.create_admin(
                db,
                email="bench@example.com",
                password=secrets.token_urlsafe(16),
                org_name="Bench",
            )
            key = accounts.create_api_key(db, org_id=user.org_id, name="bench", created_by=user.id)
            agent = create_agent(
                db, org_id=user.org_id, data=AgentCreate.model_validate({"name": "Bench"})
            )
            return VocableTarget(f"http://{HOST}:{port}", key.secret, agent.id, env)
    finally:
        platform.engine.dispose()


# --- load ------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """Outcome of one measured run against one target."""

    name: str
    requests: int
    wall_s: float
    latencies_ms: list[float] = field(default_factory=list)
    """Latencies of successful requests, in completion order."""
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    server_cpu_s: float = 0.0
    """CPU time (user + system) the server process spent during the run."""
    client_cpu_s: float = 0.0
    """CPU time this process (the load generator) spent during the run."""
    other_cpu_s: float = 0.0
    """CPU time the rest of the machine spent during the run (PostgreSQL, other work)."""

    @property
    def throughput(self) -> float:
        """Successful requests per second over the whole run."""
        return len(self.latencies_ms) / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def server_cpu_ms_per_request(self) -> float:
        """Server CPU milliseconds per answered request (successes and errors)."""
        done = len(self.latencies_ms) + self.errors
        return self.server_cpu_s * 1000 / done if done else 0.0

    def percentile(self, p: int) -> float:
        """The ``p``-th percentile latency in ms (``nan`` without successes)."""
        data = self.latencies_ms
        if not data:
            return float("nan")
        if len(data) == 1:
            return data[0]
        return statistics.quantiles(data, n=100, method="inclusive")[p - 1]

    def p50_of_slice(self, start: float, end: float) -> float:
        """Median latency of the successes between fractions ``start`` and ``end`` of the run."""
        n = len(self.latencies_ms)
        part = self.latencies_ms[int(n * start) : max(int(n * end), int(n * start) + 1)]
        return statistics.median(part) if part else float("nan")


def merged(runs: Sequence[LoadResult]) -> LoadResult:
    """Several runs against one target as one: latencies pooled, times and counts added."""
    return LoadResult(
        name=runs[0].name,
        requests=sum(r.requests for r in runs),
        wall_s=sum(r.wall_s for r in runs),
        latencies_ms=[ms for r in runs for ms in r.latencies_ms],
        errors=sum(r.errors for r in runs),
        error_samples=[e for r in runs for e in r.error_samples][:5],
        server_cpu_s=sum(r.server_cpu_s for r in runs),
        client_cpu_s=sum(r.client_cpu_s for r in runs),
        other_cpu_s=sum(r.other_cpu_s for r in runs),
    )


@dataclass
class Comparison:
    """The baseline and Vocable, measured in turn ``rounds`` times on the same servers."""

    baseline: LoadResult
    vocable: LoadResult
    round_ratios: list[float]
    """Vocable's throughput over the baseline's, round by round."""

    @property
    def ratio(self) -> float:
        """The median round's ratio: a burst of other work on this shared machine during
        one run moves one round, not the figure."""
        return statistics.median(self.round_ratios)


def _check(resp: httpx.Response) -> str | None:
    """``None`` for a real success, else a short description of what came back."""
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}: {resp.text[:120]}"
    try:
        payload = resp.json()
    except ValueError:
        return "HTTP 200 with a body that is not JSON"
    if not isinstance(payload, dict):
        return "HTTP 200 with a body that is not a JSON object"
    data = payload.get("data")
    token = data.get("token") if isinstance(data, dict) else None
    if payload.get("success") is not True or not isinstance(token, str) or token.count(".") != 2:
        return f"HTTP 200 without success and a token: {resp.text[:120]}"
    return None


async def run_load(
    name: str,
    base_url: str,
    headers: dict[str, str],
    body: dict[str, str],
    total: int,
    concurrency: int,
) -> LoadResult:
    """Send ``total`` requests with ``concurrency`` in flight; time each one."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    issued = 0
    result = LoadResult(name=name, requests=total, wall_s=0.0)

    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            nonlocal issued
            while issued < total:
                issued += 1
                started = time.perf_counter()
                try:
                    resp = await client.post(SESSION_PATH, json=body)
                    problem = _check(resp)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                elapsed_ms = (time.perf_counter() - started) * 1000
                if problem is None:
                    result.latencies_ms.append(elapsed_ms)
                else:
                    result.errors += 1
                    if len(result.error_samples) < 5:
                        result.error_samples.append(problem)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.wall_s = time.perf_counter() - began
    return result


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the command name: utime and stime are the 12th and 13th fields
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """Non-idle CPU seconds of the whole machine since boot (Linux ``/proc/stat``)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is counted in user)
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _stop_on_sigterm(coro: Coroutine[None, None, LoadResult]) -> LoadResult:
    """Await ``coro``; SIGTERM cancels it and becomes ``SystemExit``.

    A plain signal handler may fire inside an event-loop callback, where the loop logs
    and drops its exception, so while a loop runs SIGTERM cancels the main task instead.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await coro
    except asyncio.CancelledError:
        if terminated:
            raise SystemExit(143) from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _run(coro: Coroutine[None, None, LoadResult]) -> LoadResult:
    """Run the load on uvloop when it is installed (it is, with ``uvicorn[standard]``)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_stop_on_sigterm(coro))
    return uvloop.run(_stop_on_sigterm(coro))


def measure(
    name: str,
    base_url: str,
    server_pid: int,
    headers: dict[str, str],
    body: dict[str, str],
    args: argparse.Namespace,
) -> LoadResult:
    """Warm up (not counted), then run the measured load against one target."""
    if args.warmup > 0:
        _run(run_load(name, base_url, headers, body, args.warmup, args.concurrency))
    server_before, client_before = _process_cpu_s(server_pid), _own_cpu_s()
    machine_before = _machine_busy_s()
    result = _run(run_load(name, base_url, headers, body, args.requests, args.concurrency))
    result.server_cpu_s = _process_cpu_s(server_pid) - server_before
    result.client_cpu_s = _own_cpu_s() - client_before
    machine = _machine_busy_s() - machine_before
    result.other_cpu_s = max(0.0, machine - result.server_cpu_s - result.client_cpu_s)
    return result


# --- report ----------------------------------------------------------------------------


def machine_description() -> str:
    """CPU count and model name, as ``nproc`` and ``lscpu`` would give them."""
    model = pyplatform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} cores, {model}, Python {pyplatform.python_version()}"


def format_report(compared: Comparison, database: str, args: argparse.Namespace) -> str:
    """A compact table of both targets and the Vocable/baseline ratios."""
    results = (compared.baseline, compared.vocable)
    lines = [
        f"machine: {machine_description()}",
        f"database: {database}; requests: {args.rounds} rounds of {args.requests} "
        f"(+{args.warmup} warm-up each) per target, taken in turn; "
        f"concurrency: {args.concurrency}",
        "",
        f"{'target':<10}{'ok':>7}{'errors':>8}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'srv CPU ms/req':>16}{'client CPU':>12}{'other CPU':>11}",
    ]
    for r in results:
        worst = max(r.latencies_ms) if r.latencies_ms else float("nan")
        client_share = r.client_cpu_s / r.wall_s if r.wall_s > 0 else float("nan")
        other_share = r.other_cpu_s / r.wall_s if r.wall_s > 0 else float("nan")
        lines.append(
            f"{r.name:<10}{len(r.latencies_ms):>7}{r.errors:>8}{r.throughput:>10.1f}"
            f"{r.percentile(50):>9.2f}{r.percentile(95):>9.2f}{r.percentile(99):>9.2f}"
            f"{worst:>9.2f}{r.server_cpu_ms_per_request:>16.2f}{client_share:>11.0%}{other_share:>11.0%}"
        )
    base, voc = results
    if base.throughput > 0 and voc.latencies_ms and base.latencies_ms:
        rounds = ", ".join(f"{r:.2f}" for r in compared.round_ratios)
        ratios = (
            f"vocable/baseline: throughput {compared.ratio:.2f}x (median round; rounds {rounds}), "
            f"p50 {voc.percentile(50) / base.percentile(50):.2f}x, "
            f"p99 {voc.percentile(99) / base.percentile(99):.2f}x"
        )
        if base.server_cpu_ms_per_request > 0:
            cpu = voc.server_cpu_ms_per_request / base.server_cpu_ms_per_request
            ratios += f", server CPU per request {cpu:.2f}x"
        lines += ["", ratios]
    for r in results:
        lines.append(
            f"{r.name} p50 over the run: first 10% {r.p50_of_slice(0, 0.1):.2f} ms, "
            f"last 10% {r.p50_of_slice(0.9, 1):.2f} ms"
        )
        lines += [f"{r.name} error: {sample}" for sample in r.error_samples]
    lines.append(
        "CPU columns: share of one core during the measured run; 'other' is the rest of the "
        "machine (PostgreSQL when used, and anything else running)"
    )
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return number

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; ``--serve-baseline`` is internal (the baseline child process)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=_at_least(1), default=2000, help="measured requests")
    parser.add_argument("--concurrency", type=_at_least(1), default=8, help="requests in flight")
    parser.add_argument(
        "--rounds",
        type=_at_least(1),
        default=3,
        help="times each target is measured, in turn (default 3; the ratio is the median's)",
    )
    parser.add_argument(
        "--warmup", type=_at_least(0), default=200, help="unmeasured requests first (default 200)"
    )
    db = parser.add_mutually_exclusive_group()
    db.add_argument(
        "--database-url",
        help="SQLAlchemy URL of an empty loopback database (default: SQLite in a temp dir)",
    )
    db.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server (tests/support/postgres.py) and use it",
    )
    db.add_argument(
        "--both",
        action="store_true",
        help="SQLite, then a throwaway PostgreSQL; writes bench/results/session_endpoint.json",
    )
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> str:
    """Start both servers, load each in turn, stop everything; return the report."""
    report, _ = run_one(args)
    return report


def run_one(args: argparse.Namespace) -> tuple[str, Comparison]:
    """One database: the report and the comparison of the two targets."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vocable-bench-")))
        database_url: str | None = args.database_url
        if args.postgres:
            sys.path.insert(0, str(REPO_ROOT))
            from tests.support.postgres import create_database, running_postgres

            admin_url = stack.enter_context(running_postgres())
            database_url = create_database(admin_url, "bench_" + secrets.token_hex(4))
        database = "SQLite" if database_url is None else database_url.split("://", 1)[0]

        target = prepare_vocable(tmp / "data", database_url)
        baseline_port = free_port()
        baseline_url = f"http://{HOST}:{baseline_port}"
        baseline = stack.enter_context(
            running_server(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--serve-baseline",
                    str(baseline_port),
                ],
                _clean_env(),
                tmp / "baseline.log",
                baseline_url,
            )
        )
        vocable = stack.enter_context(
            running_server(
                [sys.executable, "-m", "vocable.cli.main", "api"],
                target.env,
                tmp / "vocable.log",
                target.base_url,
            )
        )
        body = {"agent": target.agent_id}
        pairs = [
            (
                measure("baseline", baseline_url, baseline.pid, {}, body, args),
                measure(
                    "vocable",
                    target.base_url,
                    vocable.pid,
                    {"x-api-key": target.api_key},
                    body,
                    args,
                ),
            )
            for _ in range(args.rounds)
        ]
        compared = Comparison(
            baseline=merged([b for b, _ in pairs]),
            vocable=merged([v for _, v in pairs]),
            round_ratios=[v.throughput / b.throughput if b.throughput else 0.0 for b, v in pairs],
        )
        return format_report(compared, database, args), compared


def figures_of(compared: Comparison, suffix: str) -> dict[str, float]:
    """The run's named numbers: vocable against the baseline measured beside it."""
    baseline, vocable = compared.baseline, compared.vocable
    return {
        f"ratio_{suffix}": round(compared.ratio, 3),
        f"ratio_lowest_round_{suffix}": round(min(compared.round_ratios), 3),
        f"ratio_highest_round_{suffix}": round(max(compared.round_ratios), 3),
        f"rps_{suffix}": round(vocable.throughput, 1),
        f"baseline_rps_{suffix}": round(baseline.throughput, 1),
        f"p50_ms_{suffix}": round(vocable.percentile(50), 2),
        f"p99_ms_{suffix}": round(vocable.percentile(99), 2),
        f"baseline_p99_ms_{suffix}": round(baseline.percentile(99), 2),
        f"server_cpu_ms_per_request_{suffix}": round(vocable.server_cpu_ms_per_request, 2),
        f"baseline_server_cpu_ms_per_request_{suffix}": round(
            baseline.server_cpu_ms_per_request, 2
        ),
        f"errors_{suffix}": float(vocable.errors + baseline.errors),
    }


def run_both(args: argparse.Namespace, argv: Sequence[str]) -> str:
    """SQLite, then a throwaway PostgreSQL, each beside its own baseline run; writes
    ``bench/results/session_endpoint.json``."""
    import datetime
    import json

    reports, figures = [], {}
    for suffix, postgres in (("sqlite", False), ("postgres", True)):
        one = argparse.Namespace(**{**vars(args), "postgres": postgres, "database_url": None})
        report, compared = run_one(one)
        reports.append(report)
        figures.update(figures_of(compared, suffix))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT
    ).stdout.strip()
    out = {
        "commit": commit or "unknown",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "command": "python bench/session_endpoint.py " + " ".join(argv),
        "figures": figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    return "\n\n".join([*reports, f"wrote {RESULTS}"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the benchmark, or the baseline server when ``--serve-baseline`` is given."""
    args = parse_args(argv)
    if args.serve_baseline is not None:
        serve_baseline(args.serve_baseline)
        return 0
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(run_both(args, sys.argv[1:] if argv is None else argv) if args.both else run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
