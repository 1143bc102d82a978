"""emoguide for Blender's Video Sequencer: sidebar panel (N > emoguide) and operators.

"Analyse" builds the timeline from the sequencer strips, sends it to the local
``emoguide serve`` and returns at once; a ``bpy.app.timers`` callback polls the
engine on Blender's main thread (bpy is never touched from another thread) and
places timeline markers, strip colour tags and ``strip["emoguide"]`` properties
when the result arrives. ZeroMQ through the bundled pyzmq wheels, or the
engine's WebSocket bridge through the standard library when they are missing
(``EMOGUIDE_TRANSPORT`` = auto | zmq | ws).
"""

from __future__ import annotations

import os

import bpy

from . import emoguide_host as host
from . import vse

POLL_S = 0.5
_state = {"client": None, "job": None, "scene": None, "status": "idle", "progress": "", "last": None}


def _client():
    if _state["client"] is None:
        _state["client"] = host.HostClient(transport=os.environ.get("EMOGUIDE_TRANSPORT", "auto"), timeout=5.0)
    return _state["client"]


def _drop_client():
    client, _state["client"] = _state["client"], None
    if client is not None:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - it is being thrown away
            pass


def _redraw():
    wm = getattr(bpy.context, "window_manager", None)
    for window in (wm.windows if wm is not None else []):
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()


def poll_once():
    """One timer tick: returns the seconds until the next tick, or None when the job is over."""
    job, scene_name = _state["job"], _state["scene"]
    if job is None:
        return None
    try:
        state, value = _client().poll(job)
    except host.HostError as exc:
        _state.update(job=None, status="error: %s" % exc, progress="")
        _drop_client()
        _redraw()
        return None
    if state == "running":
        if value:
            _state["progress"] = "%s %s/%s" % (value.get("stage", ""), value.get("done", ""), value.get("total", ""))
        _redraw()
        return POLL_S
    scene = bpy.data.scenes.get(scene_name)
    if scene is None:
        _state.update(job=None, status="error: scene %s is gone" % scene_name)
        return None
    counts = vse.apply_result(scene, value, job)
    _state.update(job=None, status="done: %d markers, %d strips tagged%s" % (
        counts["markers"], counts["strips"], " (some clips offline)" if value.get("partial") else ""),
        progress="", last=counts)
    _redraw()
    return None


class EMOGUIDE_OT_analyze(bpy.types.Operator):
    bl_idname = "emoguide.analyze"
    bl_label = "Analyse emotions"
    bl_description = "Send this scene's sequencer timeline to the local emoguide engine and place emotion markers"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and context.scene.sequence_editor is not None and _state["job"] is None

    def execute(self, context):
        scene = context.scene
        try:
            timeline = vse.timeline_from_scene(scene, bpy.path.abspath)
            job = _client().analyze(timeline)
        except host.HostError as exc:
            _drop_client()
            self.report({"ERROR"}, str(exc))
            _state["status"] = "error: %s" % exc
            return {"CANCELLED"}
        _state.update(job=job, scene=scene.name, status="analysing", progress="queued")
        bpy.app.timers.register(poll_once, first_interval=0.2)
        return {"FINISHED"}


class EMOGUIDE_OT_cancel(bpy.types.Operator):
    bl_idname = "emoguide.cancel"
    bl_label = "Cancel"
    bl_description = "Stop the running analysis"

    @classmethod
    def poll(cls, context):
        return _state["job"] is not None

    def execute(self, context):
        try:
            _client().cancel(_state["job"])
        except host.HostError as exc:
            self.report({"WARNING"}, str(exc))
        return {"FINISHED"}


class EMOGUIDE_OT_clear(bpy.types.Operator):
    bl_idname = "emoguide.clear"
    bl_label = "Remove emoguide markers"
    bl_description = "Remove the markers emoguide placed (your own markers stay)"

    def execute(self, context):
        n = vse.remove_our_markers(context.scene)
        self.report({"INFO"}, "%d markers removed" % n)
        return {"FINISHED"}


class EMOGUIDE_PT_panel(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "emoguide"
    bl_label = "emoguide"

    def draw(self, context):
        layout = self.layout
        row = layout.row(align=True)
        row.operator(EMOGUIDE_OT_analyze.bl_idname, icon="PLAY")
        row.operator(EMOGUIDE_OT_cancel.bl_idname, icon="CANCEL", text="")
        layout.label(text=_state["status"])
        if _state["progress"]:
            layout.label(text=_state["progress"])
        layout.operator(EMOGUIDE_OT_clear.bl_idname, icon="TRASH")
        strip = getattr(context, "active_strip", None) or getattr(context, "active_sequence_strip", None)
        if strip is not None and "emoguide" in strip:
            info = strip["emoguide"]
            box = layout.box()
            box.label(text="%s %.0f%%" % (info.get("label", ""), 100 * info.get("probability", 0.0)))
            box.label(text="V %+.2f  A %+.2f  D %+.2f" % (info.get("valence", 0.0), info.get("arousal", 0.0),
                                                           info.get("dominance", 0.0)))


CLASSES = (EMOGUIDE_OT_analyze, EMOGUIDE_OT_cancel, EMOGUIDE_OT_clear, EMOGUIDE_PT_panel)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    if bpy.app.timers.is_registered(poll_once):
        bpy.app.timers.unregister(poll_once)
    _drop_client()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
