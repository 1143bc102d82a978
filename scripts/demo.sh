#!/usr/bin/env bash
# One command for a fresh machine: set up, then analyse the bundled example timeline against a rising
# arc (so the guidance shows too; another --target given here wins: argparse keeps the last).
# Writes out/demo.emotions.otio and the report out/report/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
rc=0
emoguide analyze examples/demo.otio -o out/demo.emotions.otio --report out/report --cache-dir out/cache --target rising "$@" || rc=$?
echo "open out/report/index.html to see the report"
exit $rc
