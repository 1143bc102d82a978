#!/usr/bin/env bash
# One command for a fresh machine: set up, then run the whole test suite.
# Tests that need ../shared/data skip cleanly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
exec python -m pytest -q "$@"
