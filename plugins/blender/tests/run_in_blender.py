"""Drive the extension inside real Blender (the ``bpy`` module from PyPI, or ``blender -b --python``).

    EMOGUIDE_CONNECTION_FILE=… python plugins/blender/tests/run_in_blender.py MEDIA_A MEDIA_B
    blender -b --python plugins/blender/tests/run_in_blender.py -- MEDIA_A MEDIA_B

Builds a sequencer with two movie strips (one trimmed), a sound strip and an
editor's marker, runs the real operator against the engine named by the
connection file, ticks the timer callback by hand (background Blender has no
event loop to fire timers), and prints one JSON line with what landed in the
scene; tests/test_plugins_blender.py checks it.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]

import bpy  # noqa: E402

import emoguide_blender as addon  # noqa: E402

media_a, media_b = args[0], args[1]
addon.register()
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 30, 1.0
scene.frame_start = 1
ed = scene.sequence_editor_create()
strips = ed.strips if hasattr(ed, "strips") else ed.sequences
a = strips.new_movie("shot_a", media_a, channel=2, frame_start=1)
a.frame_offset_start = 6  # trimmed: media starts 6 frames in
b = strips.new_movie("shot_b", media_b, channel=2, frame_start=int(a.frame_final_end) + 10)
s = strips.new_sound("voice", media_a, channel=1, frame_start=1)
scene.timeline_markers.new("editor note", frame=3)

timeline = addon.vse.timeline_from_scene(scene, bpy.path.abspath)
with bpy.context.temp_override(scene=scene):
    assert bpy.ops.emoguide.analyze() == {"FINISHED"}, "operator failed: " + addon._state["status"]
deadline = time.monotonic() + 30
while addon._state["job"] is not None and time.monotonic() < deadline:
    if addon.poll_once() is None:
        break
    time.sleep(0.05)
first_markers = sorted((m.name, m.frame) for m in scene.timeline_markers)
with bpy.context.temp_override(scene=scene):
    bpy.ops.emoguide.analyze()
while addon._state["job"] is not None and time.monotonic() < deadline:
    if addon.poll_once() is None:
        break
    time.sleep(0.05)
out = {
    "blender": bpy.app.version_string,
    "api": "strips" if hasattr(ed, "strips") else "sequences",
    "status": addon._state["status"],
    "timeline": timeline,
    "markers": sorted((m.name, m.frame) for m in scene.timeline_markers),
    "first_markers": first_markers,
    "tags": {x.name: x.color_tag for x in addon.vse.all_strips(ed)},
    "props": {x.name: dict(x["emoguide"]) for x in addon.vse.all_strips(ed) if "emoguide" in x},
}
addon.unregister()
print("EMOGUIDE_RESULT " + json.dumps(out))
