#!/usr/bin/env sh
# Download pyzmq wheels for Blender's Python (3.11) on each platform into emoguide_blender/wheels/
# and list them in blender_manifest.toml, then build the extension:
#   sh plugins/blender/fetch_wheels.sh && blender --command extension build --source-dir plugins/blender/emoguide_blender
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/emoguide_blender/wheels"
mkdir -p "$dest"
for platform in manylinux_2_28_x86_64 macosx_11_0_arm64 macosx_10_15_x86_64 win_amd64; do
  python -m pip download pyzmq --dest "$dest" --only-binary=:all: --python-version 3.11 --platform "$platform" --no-deps
done
list=$(cd "$here/emoguide_blender" && ls wheels/*.whl | sed 's/.*/  "\.\/&",/')
python - "$here/emoguide_blender/blender_manifest.toml" "$list" <<'PY'
import re, sys
path, entries = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"wheels = \[.*?\]", "wheels = [\n" + entries + "\n]", text, flags=re.S)
open(path, "w").write(text)
PY
