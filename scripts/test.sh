#!/usr/bin/env bash
# The whole test suite: lint, types, then unit, integration and end-to-end tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$repo/scripts/bootstrap.sh" test | tail -n 1)"
cd "$repo"
py="$venv/bin/python"
echo "== ruff"; "$py" -m ruff check src tests bench scripts examples; "$py" -m ruff format --check src tests bench scripts examples
echo "== mypy"; "$py" -m mypy
echo "== web (TypeScript: tsc --strict, vitest)"
npm test  # bootstrap installed and built them (npm workspaces at the repository root)
echo "== pytest"; exec "$py" -m pytest "$@"
