#!/usr/bin/env bash
# The whole test suite: lint, types, then unit, integration and end-to-end tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$repo/scripts/bootstrap.sh" test | tail -n 1)"
cd "$repo"
py="$venv/bin/python"
echo "== ruff"; "$py" -m ruff check src tests bench scripts; "$py" -m ruff format --check src tests bench scripts
echo "== mypy"; "$py" -m mypy
echo "== web (TypeScript: tsc --strict, vitest)"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm test)
echo "== pytest"; exec "$py" -m pytest "$@"
