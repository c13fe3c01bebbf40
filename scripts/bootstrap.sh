#!/usr/bin/env bash
# Installs what Vocable needs and prints the virtualenv's path on the last line.
#   scripts/bootstrap.sh run    -> Python packages + LiveKit server
#   scripts/bootstrap.sh test   -> the same + PostgreSQL server binaries for the tests
# Heavy installs are cached under $VOCABLE_CACHE_DIR (default ~/.cache/vocable), so a
# second run, even from a fresh clone, takes seconds.
set -euo pipefail

mode="${1:-run}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${VOCABLE_CACHE_DIR:-$HOME/.cache/vocable}"
python="${VOCABLE_PYTHON:-python3}"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else say "need root to run: $*"; return 1
  fi
}

apt_install() {
  # $@: Debian package names
  if ! command -v apt-get >/dev/null; then
    say "please install these packages with your package manager: $*"; return 1
  fi
  say "installing Debian packages: $*"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

# --- Python ---------------------------------------------------------------------------
"$python" - <<'PY' || { say "Python 3.11 to 3.13 is required (set VOCABLE_PYTHON)"; exit 1; }
import sys
sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)
PY
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
lock_hash="$(cat "$repo/requirements.lock" | sha256sum | cut -c1-12)"
venv="$cache/venv-py$pyver-$lock_hash"
mkdir -p "$cache"
if [ ! -f "$venv/.complete" ]; then
  say "creating virtualenv $venv (first run only)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # every transitive dependency is pinned in the lock: no resolver surprises
  "$venv/bin/python" -m pip install -q --no-deps -r "$repo/requirements.lock" >&2
  "$venv/bin/python" -m pip check >&2
  touch "$venv/.complete"
fi
# the project itself, editable, from this checkout (seconds)
if [ "$(cat "$venv/.vocable-src" 2>/dev/null)" != "$repo" ] || [ ! -x "$venv/bin/vocable" ]; then
  "$venv/bin/python" -m pip install -q --no-deps -e "$repo" >&2
  echo "$repo" > "$venv/.vocable-src"
fi
ln -sfn "$venv" "$repo/.venv"

# --- LiveKit server (Go, from the module proxy; cached) -------------------------------
VOCABLE_CACHE_DIR="$cache" "$venv/bin/vocable" livekit install >/dev/null

# --- test-only system packages --------------------------------------------------------
if [ "$mode" = test ]; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null; then
    apt_install postgresql
  fi
fi

echo "$venv"
