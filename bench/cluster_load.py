"""Sustained session creation on the two-API cluster against one API process, same run.

Run from the repository root::

    python bench/cluster_load.py [--rates 100 200 300 400 500] [--seconds 15]

Starts a throwaway PostgreSQL and ``vocable up --cluster``'s processes without workers
(``vocable.cli.cluster.Cluster``: Redis, two LiveKit nodes, two API processes on one
database, HAProxy in front; sessions are created, nobody joins). For each rate, an open
loop (``bench/session_load.py``: request ``i`` sent at ``start + i/rate``, latency from
that planned moment) runs ``--seconds`` against API process 1 alone, then against
HAProxy, which spreads the requests over both. The per-key rate and per-organisation
concurrency limits are lifted; admission control keeps its defaults.

A rate is *sustained* when the window has p99 < 50 ms, no errors, nothing shed and every
200 matched by a session row. Writes ``bench/results/cluster_load.json`` with
``sustained_rps_one_api``, ``sustained_rps_two_apis`` (the highest sustained rate of the
ladder), their ratio, and the p99 of each at its sustained rate. On one 2-core machine
both APIs, PostgreSQL and the load generator share the same cores: the ratio says what a
second process adds there, not what a second machine would.
"""

from __future__ import annotations

import argparse
import datetime
import json
import secrets
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.cluster_ports import free_cluster_ports
from tests.support.postgres import create_database, running_postgres

from bench.session_endpoint import HIGH_LIMIT, REPO_ROOT, machine_description, prepare_vocable
from bench.session_load import Target, Window, good, run_window
from bench.voice_latency import git_commit
from vocable.cli.cluster import Cluster
from vocable.settings import Settings

RESULTS = REPO_ROOT / "bench" / "results" / "cluster_load.json"
P99_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 200, 300, 400, 500])
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()

    with running_postgres() as server, tempfile.TemporaryDirectory() as tmp:
        database = create_database(server, "cluster_load_" + secrets.token_hex(4))
        tenant = prepare_vocable(Path(tmp) / "tenant", database)
        ports, _ = free_cluster_ports()
        settings = Settings.model_validate(
            {
                "data_dir": Path(tmp) / "cluster",
                "database_url": database,
                "api_port": ports.api,
                "livekit_port": ports.livekit,
                "key_rate_limit_per_minute": HIGH_LIMIT,
                "max_concurrent_sessions_per_org": HIGH_LIMIT,
                "log_level": "warning",
            }
        )
        cluster = Cluster(settings, ports=ports, workers=0, notify=lambda _m: None)
        try:
            cluster.start()
            one = Target(cluster.api_node_url(0), tenant.api_key, tenant.agent_id, database)
            both = Target(cluster.api_url, tenant.api_key, tenant.agent_id, database)
            one.pid = both.pid = cluster.process("api-1").pid
            windows: dict[str, list[Window]] = {"one_api": [], "two_apis": []}
            for rate in args.rates:
                for name, target in (("one_api", one), ("two_apis", both)):
                    window = run_window(target, rate, args.seconds, label=f"{name:9s} ")
                    windows[name].append(window)
                    print(window.line(), flush=True)
            one.close()
            both.close()
        finally:
            cluster.stop()

    figures: dict[str, float] = {}
    for name, runs in windows.items():
        passed = [w for w in runs if good(w, P99_MS)]
        best = max(passed, key=lambda w: w.rate) if passed else None
        figures[f"sustained_rps_{name}"] = round(best.achieved, 1) if best else 0.0
        figures[f"p99_ms_{name}"] = round(best.pct(99), 2) if best else float("nan")
    if figures["sustained_rps_one_api"]:
        figures["ratio_two_apis"] = round(
            figures["sustained_rps_two_apis"] / figures["sustained_rps_one_api"], 2
        )
    result = {
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "command": "python bench/cluster_load.py "
        + " ".join(["--rates", *map(str, args.rates), "--seconds", str(args.seconds)]),
        "figures": figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
