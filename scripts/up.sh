#!/usr/bin/env bash
# Start the whole platform: LiveKit server, API (with dashboard) and a voice worker.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$repo/scripts/bootstrap.sh" run | tail -n 1)"
exec "$venv/bin/vocable" up "$@"
