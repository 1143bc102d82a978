"""The README's main job, for real: `emoguide analyze` on the bundled demo with the shipped models.

One analysis of the demo is shared by the tests below (it loads every model
once); each test then checks one promise about what the user gets.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import opentimelineio as otio
import pytest
from conftest import EXAMPLES

from emoguide import NAMESPACE
from emoguide.cli.main import main
from emoguide.timeline.markers import remove_our_markers


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    shutil.copytree(EXAMPLES, work / "examples")
    src = work / "examples" / "demo.otio"
    before = sha(src)
    out = work / "out" / "demo.emotions.otio"
    code = main(["analyze", str(src), "-o", str(out), "--report", str(work / "report"), "--quiet",
                 "--cache-dir", str(work / "cache")])
    return {"code": code, "src": src, "before": before, "out": out, "report": work / "report", "work": work}


def test_exit_code_and_input_untouched(demo_run):
    assert demo_run["code"] == 0
    assert sha(demo_run["src"]) == demo_run["before"]


def test_every_clip_gets_emotion_markers_from_real_models(demo_run):
    tl = otio.adapters.read_from_file(str(demo_run["out"]))
    clips = list(tl.find_clips())
    assert len(clips) == 5
    for clip in clips:
        kinds = [m.metadata[NAMESPACE]["kind"] for m in clip.markers if NAMESPACE in m.metadata]
        assert "emotion" in kinds, clip.name
        assert clip.metadata[NAMESPACE]["summary"]["modalities"], clip.name
    talking = [c for c in clips if c.name.startswith("cremad")]
    for clip in talking:  # a talking face on screen: face and voice both heard
        assert {"face", "voice"} <= set(clip.metadata[NAMESPACE]["summary"]["modalities"]), clip.name
    # the user's marker is still there, untouched
    user = [m for m in clips[2].markers if NAMESPACE not in m.metadata]
    assert [m.name for m in user] == ["Director: is this take too much?"]


def test_round_trip_is_lossless_and_media_still_resolves(demo_run):
    annotated = otio.adapters.read_from_file(str(demo_run["out"]))
    original = otio.adapters.read_from_file(str(demo_run["src"]))
    remove_our_markers(annotated)
    # written to another folder, relative media paths were rebased so they still resolve
    for clip in annotated.find_clips():
        url = clip.media_reference.target_url
        assert url.startswith("../examples/media/")
        assert (demo_run["out"].parent / url).is_file()
        clip.media_reference.target_url = url.replace("../examples/", "")
    assert annotated.is_equivalent_to(original)


def test_report_files(demo_run):
    html = (demo_run["report"] / "index.html").read_text()
    assert "<svg" in html and "cremad_1001_DFA_angry" in html and "data:image/jpeg;base64" in html
    data = json.loads((demo_run["report"] / "analysis.json").read_text())
    assert len(data["clips"]) == 5 and not data["partial"]
    rows = (demo_run["report"] / "windows.csv").read_text().splitlines()
    assert len(rows) > 10


def test_rerun_is_idempotent_and_cached(demo_run, tmp_path):
    again = tmp_path / "again.otio"
    code = main(["analyze", str(demo_run["out"]), "-o", str(again), "--quiet",
                 "--cache-dir", str(demo_run["work"] / "cache")])
    assert code == 0
    first = otio.adapters.read_from_file(str(demo_run["out"]))
    second = otio.adapters.read_from_file(str(again))
    count = lambda tl: sum(1 for c in tl.find_clips() for m in c.markers)  # noqa: E731
    assert count(first) == count(second)


def test_refuses_to_overwrite_input_and_reports_bad_files(demo_run, tmp_path):
    src = demo_run["src"]
    assert main(["analyze", str(src), "-o", str(src), "--quiet", "--modalities", "text"]) == 1
    assert sha(src) == demo_run["before"]
    bad = tmp_path / "bad.otio"
    bad.write_text("{not json")
    assert main(["analyze", str(bad), "--quiet", "--modalities", "text"]) == 1


def test_offline_media_gives_partial_exit_code(demo_run, tmp_path):
    tl = otio.adapters.read_from_file(str(demo_run["src"]))
    first = next(iter(tl.find_clips()))
    first.media_reference.target_url = str(tmp_path / "gone.mp4")
    path = tmp_path / "offline.otio"
    otio.adapters.write_to_file(tl, str(path))
    out = tmp_path / "offline.emotions.otio"
    # relative media of the other clips resolve against the timeline's folder: copy the media beside it
    shutil.copytree(demo_run["src"].parent / "media", tmp_path / "media")
    assert main(["analyze", str(path), "-o", str(out), "--quiet", "--modalities", "text",
                 "--cache-dir", str(tmp_path / "c")]) == 3
    annotated = otio.adapters.read_from_file(str(out))
    names = [m.name for m in next(iter(annotated.find_clips())).markers]
    assert any("media offline" in n for n in names)


def test_batch_over_a_folder_and_guide_command(demo_run, tmp_path):
    folder = tmp_path / "timelines"
    shutil.copytree(demo_run["src"].parent, folder)
    shutil.copy(folder / "demo.otio", folder / "second.otio")
    out = tmp_path / "annotated"
    code = main(["analyze", str(folder), "--out-dir", str(out), "--report", str(tmp_path / "reports"), "--quiet",
                 "--modalities", "face,text", "--no-brief", "--cache-dir", str(tmp_path / "c")])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["demo.emotions.otio", "second.emotions.otio"]
    assert (tmp_path / "reports" / "second" / "index.html").is_file()
    guidance_json = tmp_path / "g.json"
    code = main(["guide", str(folder / "demo.otio"), "--target", "falling", "--json", str(guidance_json), "--quiet",
                 "-o", str(tmp_path / "guided.otio"), "--modalities", "face,text", "--no-brief",
                 "--cache-dir", str(tmp_path / "c")])
    assert code == 0
    data = json.loads(guidance_json.read_text())
    assert data["target"] == "falling" and data["suggestions"]
    guided = otio.adapters.read_from_file(str(tmp_path / "guided.otio"))
    names = [m.name for c in guided.find_clips() for m in c.markers] + [m.name for m in guided.tracks.markers]
    assert any(n.startswith("▸ ") for n in names)


def test_the_loop_filter_option_offers_the_media_layers_levels_and_reaches_the_settings():
    import argparse

    from emoguide.cli.common import add_analysis_arguments, settings_from_args
    from emoguide.media.video import LOOP_FILTER_SKIPS
    from emoguide.pipeline.windows import AnalysisSettings

    parser = argparse.ArgumentParser()
    add_analysis_arguments(parser)
    option = next(a for a in parser._actions if a.dest == "skip_loop_filter")
    assert tuple(option.choices) == LOOP_FILTER_SKIPS
    assert settings_from_args(parser.parse_args([])) == AnalysisSettings()  # the CLI's defaults are the engine's
    assert settings_from_args(parser.parse_args(["--skip-loop-filter", "none"])).skip_loop_filter == "none"
    with pytest.raises(ValueError, match="skip_loop_filter"):
        AnalysisSettings(skip_loop_filter="most")
