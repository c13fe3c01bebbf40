"""The generated LiveKit server configuration and the worker's dispatch parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from vocable.livekit.server import server_config
from vocable.platform_secrets import load_or_create_secrets
from vocable.settings import Settings
from vocable.worker.main import session_id_from_metadata


def test_server_config_uses_our_keys_loopback_and_no_stun(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, livekit_port=7999)
    secrets = load_or_create_secrets(settings)
    config = server_config(settings, secrets)
    assert config["keys"] == {secrets.livekit_api_key: secrets.livekit_api_secret}
    assert config["bind_addresses"] == ["127.0.0.1"]
    assert config["port"] == 7999
    rtc = config["rtc"]
    assert isinstance(rtc, dict)
    assert rtc["use_external_ip"] is False and rtc["node_ip"] == "127.0.0.1"
    assert "redis" not in config
    # dispatch fills a worker up to VOCABLE_WORKER_MAX_JOBS (tests/e2e/test_cluster.py)
    assert config["agents"] == {"target_load": 1.0}


def test_server_config_goes_multi_node_with_redis(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://10.0.0.5:6379")
    config = server_config(settings, load_or_create_secrets(settings))
    assert config["redis"] == {"address": "10.0.0.5:6379"}


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ('{"session_id": "ses_abc"}', "ses_abc"),
        ("", None),
        ("not json", None),
        ('["ses_abc"]', None),
        ('{"session_id": 5}', None),
        ('{"session_id": "room_abc"}', None),
    ],
)
def test_worker_accepts_only_a_session_id_in_dispatch_metadata(
    metadata: str, expected: str | None
) -> None:
    assert session_id_from_metadata(metadata) == expected
