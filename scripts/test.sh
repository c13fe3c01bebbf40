#!/usr/bin/env bash
# The whole test suite: lint, types, then unit, integration and end-to-end tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$repo/scripts/bootstrap.sh" test | tail -n 1)"
cd "$repo"
export PATH="$venv/bin:$PATH"
echo "== ruff"; ruff check src tests bench scripts; ruff format --check src tests bench scripts
echo "== mypy"; mypy
echo "== pytest"; exec pytest "$@"
