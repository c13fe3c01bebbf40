"""The data directory holds secrets, the database, call transcripts, voices and logs:
readable by the account that runs Vocable and nobody else.

Every Vocable process runs with umask 077 (``vocable.cli.main``), so what it creates is
0600 (files) or 0700 (folders); ``secure_data_dir`` also tightens what an older version
or another tool left readable to others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def secure_data_dir(root: Path) -> None:
    """Create ``root`` (0700) and remove group and other permissions below it."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    _restrict(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            _restrict(Path(folder) / name)


def _restrict(path: Path) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        return  # links point elsewhere; what belongs to another account is not ours
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        path.chmod(mode & 0o700)
