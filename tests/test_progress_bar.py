"""The CLI's progress renderings: what an editor sees on the terminal, what a wrapper parses."""

from __future__ import annotations

import json

from emoguide.cli.progress_bar import BatchTerminalProgress, JsonLinesProgress
from emoguide.pipeline.progress import ProgressEvent


def events_of_a_timeline(n_clips: int, result: str = "ok") -> list[ProgressEvent]:
    events = [ProgressEvent("timeline", 0, n_clips, message="cut")]
    for i in range(n_clips):
        events += [ProgressEvent("clip", i, n_clips, f"c{i}", f"clip {i}"),
                   ProgressEvent("clip_done", i + 1, n_clips, f"c{i}", "ok")]
    return events + [ProgressEvent("done", n_clips, n_clips, message=result)]


def test_a_ray_batch_shows_one_bar_over_the_clips_of_every_timeline(capsys):
    batch = BatchTerminalProgress()
    first, second = batch.for_timeline("reel1.otio"), batch.for_timeline("reel2.otio")
    a, b = events_of_a_timeline(2), events_of_a_timeline(3, result="partial")
    first(a[0]), second(b[0])  # a batch announces every timeline before any clip is back
    assert batch.bar.total == 5
    for event in [b[1], b[2], a[1], a[2], b[3], b[4], a[3], a[4], b[5], b[6]]:  # clips come back in any order
        (first if event in a else second)(event)
    second(ProgressEvent("warning", 0, 0, "c1", "no audio stream"))
    first(a[-1]), second(b[-1])
    assert batch.bar.n == 5 and batch.finished == 2
    batch.close()
    err = capsys.readouterr().err
    assert "batch (2/2 timelines)" in err and "5/5" in err
    assert "warning: reel2.otio: c1: no audio stream" in err
    assert "reel2.otio: partial" in err and "reel1.otio: ok" not in err  # only what needs a look is printed


def test_quiet_prints_nothing(capsys):
    batch = BatchTerminalProgress(quiet=True)
    for event in events_of_a_timeline(2):
        batch.for_timeline("reel.otio")(event)
    batch.close()
    assert capsys.readouterr().err == ""


def test_json_lines_are_whole_objects_with_the_timeline(capsys):
    progress = JsonLinesProgress("reel.otio")
    for event in events_of_a_timeline(1):
        progress(event)
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["stage"] for line in lines] == ["timeline", "clip", "clip_done", "done"]
    assert {json.loads(line)["timeline"] for line in lines} == {"reel.otio"}
