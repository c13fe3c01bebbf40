"""`vocable up --cluster`: every child reads the launcher's settings; ports and the proxy."""

from __future__ import annotations

from pathlib import Path

import pytest

from vocable.cli.cluster import Cluster, ClusterError, ClusterPorts, proxy_config, settings_env
from vocable.settings import Settings


def test_children_read_exactly_the_settings_the_launcher_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "database_url": "postgresql+psycopg://v@db/v",
            "worker_max_jobs": 3,
            "outbound_allow_hosts": ["mcp.lan", "10.0.0.0/8"],
            "livekit_api_secret": "s" * 40,
            "webhook_dispatch": False,
            "session_sweep_seconds": 1.5,
        }
    )
    env = settings_env(given)
    assert "VOCABLE_API_PORT" not in env  # defaults stay defaults
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert child.model_dump() == given.model_dump()
    assert child.livekit_api_secret is not None
    assert child.livekit_api_secret.get_secret_value() == "s" * 40


def test_ports_follow_the_api_and_livekit_ports(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    ports = ClusterPorts.from_settings(settings)
    assert (ports.api, ports.api_nodes) == (8000, (8001, 8002))
    assert (ports.livekit, ports.livekit_nodes) == (7880, (7890, 7900))
    assert ports.udp_ranges == ((50000, 50049), (50050, 50099))
    assert ports.redis == 6380
    external = Settings(data_dir=tmp_path, redis_url="redis://10.0.0.5:6390")
    assert ClusterPorts.from_settings(external).redis == 6390


def test_a_cluster_needs_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="PostgreSQL"):
        Cluster(Settings(data_dir=tmp_path))


def test_the_proxy_checks_every_api_and_node(tmp_path: Path) -> None:
    config = proxy_config(ClusterPorts.from_settings(Settings(data_dir=tmp_path)))
    assert "bind 127.0.0.1:8000" in config and "bind 127.0.0.1:7880" in config
    for line in (
        "server api-1 127.0.0.1:8001 check",
        "server api-2 127.0.0.1:8002 check",
        "server livekit-1 127.0.0.1:7890 check",
        "server livekit-2 127.0.0.1:7900 check",
        "option httpchk GET /healthz",
        "option redispatch",
    ):
        assert line in config
