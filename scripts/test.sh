#!/usr/bin/env bash
# One command for a fresh machine: set up, then run the whole test suite.
# Tests that need ../shared/data skip cleanly when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/setup_bpy.sh  # real Blender (PyPI bpy) for the Blender extension test
. .venv/bin/activate
exec python -m pytest -q "$@"
