"""The data directory (secrets, database, transcripts, voices, logs) is its account's alone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def others_can_read(root: Path) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if stat.S_IMODE(path.lstat().st_mode) & 0o077:
                found.append(f"{path.relative_to(root)} {oct(path.lstat().st_mode & 0o777)}")
    return found


def vocable(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOCABLE_")}
    env["VOCABLE_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "vocable.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_what_vocable_writes_and_what_an_older_install_left_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "voices" / "ab").mkdir(parents=True)
    (data / "logs").mkdir()
    for old in (data / "logs" / "api.log", data / "voices" / "ab" / "clip.wav"):
        old.write_text("written by an older version")
        old.chmod(0o644)
    for folder in (data, data / "voices", data / "voices" / "ab", data / "logs"):
        folder.chmod(0o755)
    shell = os.umask(0o022)  # a typical shell's: without Vocable's own care, files are 0644
    try:
        vocable(data, "admin", "create", "--email", "ops@example.com")
        assert (data / "vocable.db").is_file()  # created by that command, after its start
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert others_can_read(data) == []
        vocable(data, "keys", "create", "--name", "backend")
        assert others_can_read(data) == []
    finally:
        os.umask(shell)
