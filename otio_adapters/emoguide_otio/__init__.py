"""emoguide's OpenTimelineIO plugin package: captions in, markers out.

Registered through the ``opentimelineio.plugins`` entry point (see
``plugin_manifest.json``), so ``otioconvert``, ``otiopluginfo`` and any OTIO
user find these adapters with no configuration:

* ``emoguide_srt`` / ``emoguide_webvtt`` (.srt, .vtt): captions → a timeline
  with one caption track; each cue is a clip named with its text.
* ``emoguide_resolve_edl``: markers → the EDL marker list DaVinci Resolve
  imports (Timeline > Import > Timeline Markers from EDL). Pass
  ``adapter_name="emoguide_resolve_edl"``: it does not claim ``.edl`` from OTIO's
  own cmx_3600 adapter.
* ``emoguide_markers_csv`` (.csv) / ``emoguide_markers_json``: markers and
  guidance as rows with timecode at the timeline's rate.
* hook ``emoguide_resolve_notes`` (pre_adapter_write): copies our marker notes
  to ``metadata["Resolve_OTIO"]["Note"]``, where Resolve's OTIO import reads them.
"""
