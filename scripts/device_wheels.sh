#!/usr/bin/env bash
# Here, once before a device call: the Python packages the lent GPU machine lacks for `bench_analyze`
# (PyAV and OpenTimelineIO) and facenet-pytorch's detector weights, sized to travel with the repository.
#
# The device tool sends the working tree plus carried paths, 64 MiB in all; the repository is ~32 MB
# and PyAV's wheel 36 MB (its bundled libav), one too many. Unpacked and recompressed with xz it is
# ~25 MB, so one call can carry it:
#   scripts/device_wheels.sh            # → .device_data/av_site.tar.xz, .whl/{opentimelineio,facenet_pytorch}-*.whl
#   # device tool: run(command="scripts/device_checks.sh", carry=[".device_data/av_site.tar.xz", ".whl"])
# That machine runs Python 3.12 (PyAV's wheel is abi3, any CPython ≥ 3.11). Voice and text stay
# unavailable there (Whisper's and MiniLM's wheels are 75-90 MB each), so its `analyze` is the picture
# side: face detection, expression on every frame, brief expressions, fusion of what is present.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
AV=${AV_VERSION:-$("$py" -c 'import av; print(av.__version__)')}
OTIO=${OTIO_VERSION:-$("$py" -c 'import opentimelineio as o; print(o.__version__)')}
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
mkdir -p .whl .device_data
download() {
  "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$1" "$2"
}
download .whl "opentimelineio==$OTIO"
download .whl "facenet-pytorch==2.6.0"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
download "$tmp" "av==$AV"
mkdir "$tmp/site"
(cd "$tmp/site" && unzip -q "$tmp"/av-*.whl)
tar -C "$tmp/site" -cf - . | xz -9 -T0 > .device_data/av_site.tar.xz
du -b .device_data/av_site.tar.xz .whl/*.whl
git ls-files -z | xargs -0 du -cb | tail -1 | sed 's/total/repository (tracked files)/'
