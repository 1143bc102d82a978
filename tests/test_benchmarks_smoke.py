"""The benchmark scripts' media generator and decode-only baselines count what they claim to.

A ratio "analysis time / decode time of the used ranges" is only meaningful if
the decode-only side really decodes exactly the frames the timeline uses (not
the whole file, not a frame short). This checks that on a small generated,
looped timeline, without timing anything.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import _common  # noqa: E402
import _media  # noqa: E402

pytestmark = pytest.mark.skipif("libx264" not in av.codecs_available, reason="needs the libx264 encoder")


def test_generated_timeline_decodes_exactly_its_used_ranges(tmp_path):
    from emoguide.media.probe import probe
    from emoguide.pipeline.windows import AnalysisSettings
    from emoguide.timeline.mapping import clip_jobs, load_timeline

    segment = _media.face_media(tmp_path, (320, 180), "libx264", 5.0, gop_s=2.0)
    assert _media.face_media(tmp_path, (320, 180), "libx264", 5.0, gop_s=2.0) == segment  # cached, not re-encoded
    long = _media.looped_media(tmp_path, segment, 16.0)
    info = probe(long)
    assert info.has_video and info.has_audio and (info.width, info.height) == (320, 180)
    assert 15.5 < info.duration_s < 16.5

    path = _media.write_timeline(tmp_path / "t.otio", "smoke", _media.sub_range_clips(long, 16.0, 4))
    jobs = clip_jobs(load_timeline(path), path.parent)
    assert len(jobs) == 4 and not any(j.problem for j in jobs)
    used_s = sum(j.media_duration_s for j in jobs)
    assert used_s == pytest.approx(0.6 * 16.0, abs=4 / 24)  # 60 % of the media, frame-rounded per clip

    expected = _common.expected_frames(jobs)
    assert expected == pytest.approx(used_s * float(_media.RATE), abs=4)
    raw = _common.raw_decode(jobs)
    assert raw.video_frames == expected  # the raw baseline decodes the used ranges, not the file
    assert _common.raw_decode(jobs, "bidir").video_frames == expected  # without the loop filter: the same frames
    assert raw.audio_samples == pytest.approx(used_s * _media.AUDIO_RATE, abs=4 * 2048)  # whole AAC frames at edges
    mine = _common.pipeline_decode(jobs, AnalysisSettings())  # default: every frame (brief-expression spotting)
    assert mine.video_frames == expected
    import bench_stages

    assert bench_stages.decode_alone(path, AnalysisSettings()) > 0  # the decoding share of the stage table
    assert mine.audio_samples == pytest.approx(used_s * 16000, abs=4 * 2)


def standin_timeline(tmp_path):
    """A 2-clip timeline of 3 s of generated footage and the stand-in engine that reads its frame numbers,
    for the A/B comparisons' plumbing."""
    from standin_engine import standin_engine

    segment = _media.face_media(tmp_path, (320, 180), "libx264", 3.0, gop_s=2.0)
    path = _media.write_timeline(tmp_path / "t.otio", "smoke", _media.sub_range_clips(segment, 3.0, 2))
    return path, standin_engine()


def test_the_overlap_benchmark_runs_each_arm_as_named_and_restores_the_detector(tmp_path, capsys):
    import bench_analyze

    from emoguide.pipeline.windows import AnalysisSettings

    path, engine = standin_timeline(tmp_path)
    face = engine.recognisers["face"]
    bench_analyze.ab_overlap(path, engine, AnalysisSettings(), tmp_path, rounds=2)
    out = capsys.readouterr().out
    assert "overlapped" in out and "before ÷ overlapped" in out
    assert "detect_arrived" not in vars(face)  # the "before" arm's stand-in is gone again
    frames_per_run = len(face.seen) // 4  # two rounds of two arms, every run reads the same frames
    assert frames_per_run > 0 and len(face.arrived) == 2 * frames_per_run  # offered as they arrive in one arm only


def test_the_half_rate_benchmark_runs_each_arm_at_its_detection_rate(tmp_path, capsys):
    import bench_analyze

    from emoguide.pipeline.windows import AnalysisSettings

    path, engine = standin_timeline(tmp_path)
    bench_analyze.ab_half_fps(path, engine, AnalysisSettings(sample_fps=4.0), tmp_path, rounds=2)
    assert "2 fps ÷ 4 fps" in capsys.readouterr().out
    every = round(float(_media.RATE) / 4)
    assert sorted(set(engine.recognisers["face"].intervals)) == [every, 2 * every]


def test_the_table_benchmark_runs_one_arm_with_the_table_and_one_without_then_restores_it(tmp_path, capsys):
    import bench_analyze

    from emoguide.pipeline.windows import AnalysisSettings

    path, engine = standin_timeline(tmp_path)
    face = engine.recognisers["face"]
    bench_analyze.ab_table(path, engine, AnalysisSettings(), tmp_path, rounds=2)
    out = capsys.readouterr().out
    assert "float frames ÷ table" in out
    pairs = re.search(r"pairs \(wall, float frames ÷ table, round by round\): ([\d. ]+); median [\d.]+×, "
                      r"table faster in ([012]) of 2", out)
    assert pairs and len(pairs.group(1).split()) == 2  # one ratio a round
    assert face.from_table.count(True) == face.from_table.count(False) > 0  # half the chunks each way
    assert face.detector.from_table  # the shipped default again


def test_the_schedule_benchmark_detects_each_frame_once_and_looks_the_same_faces_up(tmp_path):
    import bench_detect_schedule
    import bench_expression_gate

    from emoguide.recognition.face.recogniser import FaceRecogniser

    face = FaceRecogniser.load("cpu")
    clip = _common.REPO / "examples" / "media" / "cremad_1001_DFA_happy.mp4"
    frames, times, rate, every = bench_expression_gate.decode_file(clip)
    real = face.analyze_frames(frames, times, detect_every=every)

    remembered = bench_detect_schedule.RememberedDetector(face.detector.detect)
    remembered.learn(frames, batch=8)
    assert remembered.frames_detected == len(frames) and remembered.cpu_s > 0

    def no_second_detection(_):
        raise AssertionError("a frame was detected twice")

    remembered.detect_for_real = no_second_detection
    face.detector.detect = remembered
    looked_up = face.analyze_frames(frames, times, detect_every=every)
    for name, value in vars(real).items():  # the looked-up faces give the same readings to the bit
        np.testing.assert_array_equal(getattr(looked_up, name), value, err_msg=name)
    with pytest.raises(KeyError):
        remembered(np.zeros((1, *frames[0].shape), np.uint8))  # a frame it never saw

    rows = bench_detect_schedule.rows(face, frames, times, rate, every, [rate / (2 * every)])
    names = [r["schedule"] for r in rows]
    assert names[:every - 1] == [f"phase +{p}" for p in range(1, every)]
    assert names[every - 1].endswith(f"(every {2 * every})") and names[-1] == "every frame"
    assert rows[-1]["key"] == len(frames) and rows[every - 1]["key"] == len(range(0, len(frames), 2 * every))
    assert all(len(r["window_d"]) and np.isfinite(r["window_d"]).all() for r in rows)


def test_the_loop_filter_benchmark_compares_the_same_frames_of_each_decode(tmp_path):
    import bench_loop_filter as blf

    segment = _media.face_media(tmp_path, (320, 180), "libx264", 3.0, gop_s=2.0)
    exact, times, rate, timer = blf.decode(segment, 2.0, "none")
    skipped, times_skipped, _, _ = blf.decode(segment, 2.0, "all")
    assert len(exact) == len(times) == round(2.0 * rate) and np.array_equal(times, times_skipped)
    assert timer.cpu > 0 and blf.decoder_work(segment, 2.0, "bidir") > 0
    quality = blf.psnr(exact, skipped)
    assert quality.shape == (len(exact),) and 30.0 < quality.min() and quality.min() < 99.0  # changed, slightly
    assert np.all(blf.psnr(exact, exact) == 99.0)
    grey = np.full((1, 4, 4, 3), 100, np.uint8)
    assert blf.psnr(grey, grey + 1)[0] == pytest.approx(10 * np.log10(255.0 ** 2), abs=1e-4)  # MSE 1


def test_transcription_benchmark_counts_word_errors_correctly():
    import bench_transcription as bt

    ref = bt.words_of("Don't forget a jacket.")
    assert ref == ["don't", "forget", "a", "jacket"]
    assert bt.edit_distance(ref, bt.words_of("Don't forget to check it.")) == 3  # 2 substitutions + 1 insertion
    assert bt.edit_distance(ref, ref) == 0
    assert bt.edit_distance(ref, []) == 4 and bt.edit_distance([], ref) == 4
    assert bt.edit_distance(["kids", "are", "talking"], ["kids", "talking"]) == 1  # one deletion


def test_the_short_speech_benchmark_reports_how_far_the_same_words_moved():
    import bench_transcription as bt

    from emoguide.recognition.voice.whisper_backbone import Word

    before = [Word(0.5, 0.9, "kids", 0.9), Word(1.0, 1.2, "are", 0.9)]
    assert bt.times_moved(before, [Word(0.52, 0.9, "kids", 0.9), Word(1.0, 1.5, "are", 0.9)]) == \
        pytest.approx([0.02, 0.3])
    assert bt.times_moved(before, before[:1]) == []  # other words: nothing to compare
    assert bt.times_moved(before, [Word(0.5, 0.9, "dogs", 0.9), before[1]]) == []


def test_the_stage_clock_charges_each_call_to_its_stage():
    import bench_stages

    class Model:
        def run(self, n):
            return sum(i * i for i in range(n))

    model, other = Model(), Model()
    clock = bench_stages.StageClock(bench_stages.DecoderThreads())
    clock.wrap(model, "run", "busy")
    assert model.run(300_000) == other.run(300_000)  # the answer passes through
    model.run(10)
    other.run(300_000)  # only the wrapped object is timed
    assert clock.calls == {"busy": 2} and clock.cpu["busy"] > 0 and clock.wall["busy"] > 0
    clock.clear()
    assert not clock.calls and not clock.cpu


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread CPU comes from Linux's /proc")
def test_the_stage_clock_leaves_the_decode_threads_cpu_out_of_the_stage():
    import threading
    import time

    import bench_stages

    def burn(stop):
        while not stop.is_set():
            sum(i * i for i in range(10_000))

    class Model:
        def wait(self):
            time.sleep(0.4)  # a stage that itself uses no CPU

    decoders, model = bench_stages.DecoderThreads(), Model()
    clock = bench_stages.StageClock(decoders)
    clock.wrap(model, "wait", "idle model")
    stop = threading.Event()
    decoder = threading.Thread(target=burn, args=(stop,), name="emoguide-decode-ahead")
    before = decoders.cpu()
    decoder.start()
    try:
        model.wait()
    finally:
        stop.set()
        decoder.join()
    decoded = decoders.cpu() - before
    assert decoded > 0.1  # the decode thread ran beside the model (GIL permitting, most of 0.4 s)
    assert clock.cpu["idle model"] < decoded / 2  # and is not charged to it
    assert decoders.cpu() == pytest.approx(before + decoded)  # an ended thread keeps its last reading


def test_stretch_benchmark_feeds_the_pipeline_transcriber_and_scores_it(capsys):
    """A backbone that hears every whole second exactly scores WER 0 at every stretch length."""
    import math

    import bench_transcription as bt

    from emoguide.recognition.voice.whisper_backbone import Word

    def spoken(sec: int) -> str:  # letters only, as words_of keeps them
        return "w" + "".join("abcdefghij"[int(d)] for d in str(sec))

    class Ramp:  # audio[i] = second(i) / 1000, as in test_pipeline_blocks
        def transcribe(self, audio):
            secs = np.round(audio[::16000] * 1000).astype(int)
            return [Word(k + 0.2, k + 0.7, spoken(s), 1.0) for k, s in enumerate(secs) if (k + 1) * 16000 <= len(audio)]

    total = 250
    audio = (np.arange(16000 * total) // 16000).astype(np.float32) / 1000
    bt.run_stretches(Ramp(), [30.0, math.inf], {"joined": [(audio, " ".join(spoken(s) for s in range(total)))]})
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.split()[:1] in (["30"], ["inf"])]
    assert [(r[0], r[3], r[4]) for r in rows] == [("30", "0.000", str(total)), ("inf", "0.000", str(total))]
    assert int(rows[0][5]) >= total // 25 and rows[1][5] == "1"  # ~25 s of new words per 30 s stretch; whole: one call


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS is read from /proc")
def test_rss_trace_shows_where_in_the_run_memory_was_held():
    """A 64 MiB buffer held in the run's second half shows there, and not in the first half."""
    import mmap
    import time

    with _common.RssTrace(interval_s=0.005) as trace:
        time.sleep(0.3)
        # fresh pages straight from the kernel, each touched: a heap allocation could reuse pages this
        # long-lived test process already holds, and then RSS would not move
        held = mmap.mmap(-1, 64 * 2**20)
        held.write(b"\1" * len(held))
        time.sleep(0.6)  # held from about 0.33 of the run: a margin of tenths either side for a busy machine
        held.close()
    base = min(rss for _, rss in trace.samples)
    tenths = trace.tenths(base)
    assert len(tenths["median"]) == len(tenths["max"]) == 10
    assert max(tenths["max"][:3]) < 16 and min(tenths["median"][6:]) > 48


def test_a_tenth_without_samples_reads_the_value_standing_before_it():
    """A sampler starved for a tenth of the run (it happened under CI load) leaves no hole in the table."""
    trace = _common.RssTrace()
    trace.samples = [(0.0, 100.0), (0.05, 100.0), (0.35, 164.0), (0.5, 164.0), (1.0, 164.0)] + \
        [(0.9 + i / 1000, 164.0) for i in range(6)]
    trace.samples.sort()
    tenths = trace.tenths(100.0)
    assert tenths["median"][:3] == [0.0, 0.0, 0.0]  # tenths 1 and 2 are empty: the 100 MiB standing
    assert tenths["median"][3:] == [64.0] * 7


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="mappings are read from /proc")
def test_resident_by_kind_adds_up_to_rss_and_puts_a_mapped_buffer_under_anonymous():
    import mmap

    def rss_mb() -> float:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))

    before, rss = _common.resident_by_kind(), rss_mb()
    assert set(before) == set(_common.MAPPING_KINDS)
    assert abs(sum(before.values()) - rss) < 0.05 * rss + 4  # the same pages, counted by mapping
    assert before["file"] > 1  # python itself and its libraries
    # fresh pages straight from the kernel, each touched. (A 48 MiB np.ones, which malloc should map on its
    # own, sometimes came from resident free heap after the tests before it in one process: RSS +0.1 MiB.)
    held, page_run = mmap.mmap(-1, 48 * 2**20), b"\1" * 2**20
    for offset in range(0, len(held), len(page_run)):  # a MiB at a time: no 48 MiB temporary on the heap
        held[offset:offset + len(page_run)] = page_run
    after = _common.resident_by_kind()
    held.close()
    assert after["anon"] - before["anon"] > 44
    assert abs(after["brk"] - before["brk"]) < 8 and abs(after["file"] - before["file"]) < 8


def test_allocation_lifetimes_are_paired_and_summed_by_thread_and_size(tmp_path):
    import bench_alloc_lifetimes as bal

    mib = 1 << 20
    records = np.array([  # (t ns, size, address, thread, op): two frames held 2 s, one transient of 10 ms
        (0, 2 * mib, 0xA0, 7, 1), (1_000_000, 0, 0xA0, 7, 2),  # freed after 1 ms
        (0, mib // 2 + 1, 0xB0, 8, 1), (10_000_000, 64 * mib, 0xC0, 7, 1), (20_000_000, 0, 0xC0, 7, 2),
        (0, 0, 0xD0, 7, 2),  # a free of a block allocated before tracing started: ignored
        (2_000_000_000, 0, 0xB0, 8, 2), (2_000_000_000, 3 * mib, 0xE0, 7, 1),  # never freed
    ], dtype=bal.RECORD)
    trace = tmp_path / "t.bin"
    records.tofile(trace)
    rows, never_freed, n = bal.lifetimes(trace)
    assert n == 8 and never_freed == 3 * mib
    assert sorted((size, tid, round(life, 3)) for size, tid, life, _ in rows) == [
        (mib // 2 + 1, 8, 2.0), (2 * mib, 7, 0.001), (64 * mib, 7, 0.01)]
    later, never_freed_later, _ = bal.lifetimes(trace, since_ns=5_000_000)  # the models' loading left out
    assert [(size, round(life, 3)) for size, _, life, _ in later] == [(64 * mib, 0.01)] and never_freed_later == 3 * mib
    lines = bal.summarise(rows, {7: "main", 8: "emoguide-prefetch"}, long_s=0.5)
    assert "emoguide-prefetch" in lines[1] and "512 KiB-1 MiB" in lines[1] and "long" in lines[1]
    assert any("main" in line and ">= 32 MiB" in line and "short" in line for line in lines)
    assert "100.0 %" in lines[-1]  # the only long-lived block carries all the long-lived mass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD of a glibc shim")
def test_the_allocation_tracer_records_a_real_process(tmp_path):
    import os
    import shutil
    import subprocess

    import bench_alloc_lifetimes as bal

    if not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler")
    shim = bal.build_shim(tmp_path)
    trace = tmp_path / "t.bin"
    # ``b`` outlives ``a`` by a clear margin: without the pause the interpreter's exit freed ``b`` so soon
    # after ``del a`` that ``a``'s lifetime (which spans filling ``b``) could be the longer (17.5 vs 17.0 ms)
    code = ("import time; import numpy as np; a = np.ones(3 << 20, np.uint8); b = np.ones(5 << 20, np.uint8); "
            "del a; time.sleep(0.2)")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env=dict(os.environ, LD_PRELOAD=str(shim), EMOGUIDE_ALLOC_TRACE_OUT=str(trace)))
    rows, unfreed, records = bal.lifetimes(trace)
    life = {size: lives for size, _, lives, _ in rows if size in (3 << 20, 5 << 20)}
    seen = f"{records} records; paired (size, lifetime s): {[(size, lives) for size, _, lives, _ in rows]}; " \
           f"never freed: {unfreed} bytes"  # say what the trace held if it fails
    assert set(life) == {3 << 20, 5 << 20}, seen  # both allocated and freed (``b`` at the interpreter's exit): paired
    assert life[3 << 20] < life[5 << 20], seen  # ``a`` was dropped first
