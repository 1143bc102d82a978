#!/usr/bin/env bash
# A second venv, .venv-bpy, holding PyPI's `bpy` (Blender as a Python module, ~370 MB) and pyzmq,
# so tests/test_plugins_blender.py drives the Blender extension inside real Blender.
# Separate from .venv because bpy pins its own numpy and is only needed by that one test.
# Idempotent. Skip with EMOGUIDE_SKIP_BPY=1 (the real-Blender test then skips, saying why).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${EMOGUIDE_SKIP_BPY:-0}" = "1" ] && { echo "setup_bpy: skipped (EMOGUIDE_SKIP_BPY=1)"; exit 0; }
PY=${PYTHON:-python3}
stamp=.venv-bpy/.emoguide-installed
[ -f "$stamp" ] && [ "$stamp" -nt scripts/setup_bpy.sh ] && exit 0
case "$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" in
  3.11) ;;
  *) echo "setup_bpy: PyPI's bpy needs Python 3.11; the real-Blender test will skip" >&2; exit 0 ;;
esac
[ -x .venv-bpy/bin/python ] || "$PY" -m venv .venv-bpy
PIP_DISABLE_PIP_VERSION_CHECK=1 .venv-bpy/bin/pip install -q "bpy==5.0.1" "pyzmq>=25"
touch "$stamp"
