"""End-to-end pipeline plumbing on generated media: exact frames, odd rates, timecode, bad input."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest
from media_fixtures import make_corrupt_file, make_indexed_video
from standin_engine import standin_engine

from emoguide import NAMESPACE
from emoguide.pipeline.analyze import analyze_timeline
from emoguide.pipeline.cache import AnalysisCache
from emoguide.pipeline.progress import Cancelled
from emoguide.pipeline.windows import AnalysisSettings
from emoguide.timeline.markers import annotated_copy

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
#: (rate, start timecode in frames at that rate: 01:00:00:00, DF for 29.97)
CASES = [(Fraction(24000, 1001), 86313), (Fraction(30000, 1001), 107892), (Fraction(25), 90000)]


def clip_for(path, rate, tc_frames, first, count, n_media=72):
    r = float(rate)
    ref = otio.schema.ExternalReference(target_url=str(path), available_range=TR(RT(tc_frames, r), RT(n_media, r)))
    return otio.schema.Clip(name=path.stem, media_reference=ref, source_range=TR(RT(tc_frames + first, r), RT(count, r)))


def one_clip_timeline(clip, rate=24.0):
    tl = otio.schema.Timeline(name="t", global_start_time=RT(86400, rate))
    track = otio.schema.Track(name="V1")
    track.append(otio.schema.Gap(duration=RT(10, rate)))
    track.append(clip)
    tl.tracks.append(track)
    return tl


@pytest.mark.parametrize("rate,tc", CASES, ids=["23.976", "29.97DF", "25"])
def test_pipeline_decodes_exactly_the_used_frames_and_places_markers(tmp_path, rate, tc):
    media = make_indexed_video(tmp_path / "m.mov", rate, 72, timecode="01:00:00;00" if tc == 107892 else "01:00:00:00")
    tl = one_clip_timeline(clip_for(media, rate, tc, first=17, count=37))
    engine = standin_engine()
    analysis = analyze_timeline(tl, engine=engine, settings=AnalysisSettings(spot_brief=True))
    assert engine.recognisers["face"].seen == list(range(17, 54))  # every used frame, nothing else
    (clip,) = [c for c in analysis.clips]
    assert clip.status == "ok"
    assert clip.windows.timeline_start_s[0] == pytest.approx(10 / 24)
    annotated = annotated_copy(tl, analysis)
    marker = [m for m in annotated.tracks[0][1].markers if m.metadata[NAMESPACE]["kind"] == "emotion"][0]
    assert marker.marked_range.start_time.value == tc + 17
    assert marker.marked_range.start_time.rate == pytest.approx(float(rate))
    assert marker.marked_range.end_time_exclusive().value == tc + 17 + 37


def test_sampled_rate_uses_fewer_frames(tmp_path):
    rate = Fraction(25)
    media = make_indexed_video(tmp_path / "m.mov", rate, 72)
    engine = standin_engine()
    analyze_timeline(one_clip_timeline(clip_for(media, rate, 90000, 0, 50)), engine=engine,
                     settings=AnalysisSettings(spot_brief=False, sample_fps=5))
    assert engine.recognisers["face"].seen == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]


def test_bad_media_is_reported_per_clip_and_the_batch_continues(tmp_path):
    rate = Fraction(25)
    good = make_indexed_video(tmp_path / "good.mov", rate, 48)
    corrupt = make_corrupt_file(tmp_path / "corrupt.mov")
    tl = otio.schema.Timeline(name="t")
    track = otio.schema.Track()
    for path in (good, tmp_path / "missing.mov", corrupt, good):
        track.append(clip_for(path, rate, 0, 0, 24, n_media=48))
    track.append(clip_for(good, rate, 0, 0, 0))  # zero-length
    tl.tracks.append(track)
    events = []
    engine = standin_engine()
    analysis = analyze_timeline(tl, engine=engine, progress=events.append)
    assert [c.status for c in analysis.clips] == ["ok", "offline", "error", "ok", "error"]
    # the run's decode-ahead thread met the corrupt file too: only that clip lost anything
    assert engine.recognisers["face"].seen == [*range(24), *range(24)]
    assert "missing.mov" in analysis.clips[1].message and "corrupt.mov" in analysis.clips[2].message
    assert analysis.partial
    assert any(e.stage == "warning" for e in events) and events[-1].stage == "done"
    annotated = annotated_copy(tl, analysis)
    offline = [m for m in annotated.tracks[0][1].markers if m.metadata[NAMESPACE]["kind"] == "media_offline"]
    assert offline and "offline" in offline[0].name


def test_cache_makes_the_rerun_skip_decoding(tmp_path):
    rate = Fraction(25)
    media = make_indexed_video(tmp_path / "m.mov", rate, 48)
    tl = one_clip_timeline(clip_for(media, rate, 0, 0, 40, n_media=48))
    cache = AnalysisCache(tmp_path / "cache")
    first = analyze_timeline(tl, engine=standin_engine(), cache=cache)
    engine = standin_engine()
    second = analyze_timeline(tl, engine=engine, cache=cache)
    assert engine.recognisers["face"].seen == [] and second.clips[0].from_cache
    assert (second.clips[0].windows.probs == first.clips[0].windows.probs).all()


def test_cancel_stops_the_run(tmp_path):
    import threading

    rate = Fraction(25)
    media = make_indexed_video(tmp_path / "m.mov", rate, 48)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        analyze_timeline(one_clip_timeline(clip_for(media, rate, 0, 0, 40, n_media=48)), engine=standin_engine(),
                         cancel=cancel)


def test_image_sequence_reference_is_decoded_frame_exactly(tmp_path):
    from media_fixtures import index_image
    from PIL import Image

    folder = tmp_path / "seq"
    folder.mkdir()
    for frame in range(1001, 1031):
        Image.fromarray(index_image(frame - 1001)).save(folder / f"shot.{frame:04d}.png")
    ref = otio.schema.ImageSequenceReference(target_url_base=str(folder) + "/", name_prefix="shot.",
                                             name_suffix=".png", start_frame=1001, frame_zero_padding=4, rate=24,
                                             available_range=TR(RT(1001, 24), RT(30, 24)))
    clip = otio.schema.Clip(name="seq", media_reference=ref, source_range=TR(RT(1006, 24), RT(12, 24)))
    engine = standin_engine()
    analysis = analyze_timeline(one_clip_timeline(clip), engine=engine)
    assert analysis.clips[0].status == "ok", analysis.clips[0].message
    assert engine.recognisers["face"].seen == list(range(5, 17))


def test_audio_only_clip_goes_to_the_voice_recogniser(tmp_path):
    from media_fixtures import make_audio_only

    wav = make_audio_only(tmp_path / "dialogue.wav", seconds=2.0)
    ref = otio.schema.ExternalReference(target_url=str(wav), available_range=TR(RT(0, 24), RT(48, 24)))
    clip = otio.schema.Clip(name="dialogue", media_reference=ref, source_range=TR(RT(12, 24), RT(24, 24)))
    tl = otio.schema.Timeline(name="t")
    track = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    track.append(clip)
    tl.tracks.append(track)
    engine = standin_engine()
    analysis = analyze_timeline(tl, engine=engine)
    assert analysis.clips[0].status == "ok" and analysis.clips[0].job.clip_id == "A1/0"
    assert engine.recognisers["voice"].samples == 16000  # exactly the used second at 16 kHz
    assert engine.recognisers["face"].seen == []


def test_a_bug_met_in_one_clip_fails_that_clip_only_as_under_ray(tmp_path):
    """Locally as on a Ray worker (tests/test_ray_batch.py): status error, the same message, the batch goes on."""
    from ray_standins import BUG_WIDTH, failing_engine

    ok = make_indexed_video(tmp_path / "ok.mp4", Fraction(25), 30, audio=False, timecode=None)
    bug = make_indexed_video(tmp_path / "bug.mp4", Fraction(25), 30, size=(BUG_WIDTH, 108), audio=False,
                             timecode=None)
    tl = otio.schema.Timeline(name="t")
    track = otio.schema.Track(name="V1")
    tl.tracks.append(track)
    for path in (ok, bug, ok):
        track.append(clip_for(path, Fraction(25), 0, 0, 25, n_media=30))
    events = []
    result = analyze_timeline(tl, settings=AnalysisSettings(), engine=failing_engine(), progress=events.append)
    assert [c.status for c in result.clips] == ["ok", "error", "ok"]
    assert result.clips[1].message == "internal error: ValueError: stand-in bug in a recogniser"
    assert result.partial
    assert [e.message for e in events if e.stage == "warning"] == [result.clips[1].message]
