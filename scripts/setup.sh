#!/usr/bin/env bash
# Create .venv and install emoguide with everything it needs, offline-capable models included.
# Idempotent: re-running only installs what changed. Used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
stamp=.venv/.emoguide-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
  # torch first and pinned: an unpinned resolve would pull a multi-GB CUDA build
  pip install -q "torch==2.13.0"
  pip install -q -e ".[test,ray]"
  # facenet-pytorch: we use only its MTCNN weight files; its declared deps (torchvision, old torch)
  # would replace our torch, so it is installed without them.
  pip install -q --no-deps "facenet-pytorch==2.6.0"
  touch "$stamp"
fi
