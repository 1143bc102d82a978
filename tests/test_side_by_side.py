"""A clip's sound runs in a second thread beside its picture: same results, errors and cancels kept.

Also the speech-to-text setting that goes with it: greedy decoding without the
temperature fallback, and that setting in every cache key.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import opentimelineio as otio
import pytest
from conftest import EXAMPLES

from emoguide.pipeline.analyze import analyze_media, clip_cache_key
from emoguide.pipeline.clip import analyze_clip
from emoguide.pipeline.engine import Engine, default_torch_threads
from emoguide.pipeline.progress import Cancelled, check_cancel
from emoguide.pipeline.side_by_side import run_side_by_side
from emoguide.pipeline.windows import AnalysisSettings
from emoguide.timeline.mapping import clip_jobs

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
CLIP = EXAMPLES / "media" / "cremad_1001_DFA_angry.mp4"


def _job(path=CLIP, seconds: float = 2.4):
    tl = otio.schema.Timeline("t")
    track = otio.schema.Track()
    tl.tracks.append(track)
    track.append(otio.schema.Clip("c", media_reference=otio.schema.ExternalReference(target_url=str(path)),
                                  source_range=TR(RT(0, 25), RT(round(seconds * 25), 25))))
    [job] = clip_jobs(tl)
    return job


@pytest.fixture(scope="module")
def engine():
    return Engine.load(modalities=("face", "voice"))


def test_picture_and_sound_side_by_side_give_the_serial_results(engine, monkeypatch):
    from emoguide.pipeline import audio_blocks

    threads = []
    real = audio_blocks.analyze_audio_blocks
    monkeypatch.setattr(audio_blocks, "analyze_audio_blocks",
                        lambda *a, **k: threads.append(threading.current_thread().name) or real(*a, **k))
    job, settings = _job(), AnalysisSettings()
    engine.parallel_modalities = True
    parallel = analyze_media(job, engine, settings)
    engine.parallel_modalities = False
    serial = analyze_media(job, engine, settings)
    engine.parallel_modalities = True
    assert threads == ["emoguide-sound", threading.current_thread().name]  # really in a second thread, then not
    assert parallel.status == serial.status == "ok"
    a, b = parallel.windows, serial.windows
    assert set(a.modalities) == set(b.modalities) == {"face", "voice"}
    for name in a.modalities:
        for column, values in a.modalities[name].items():
            np.testing.assert_array_equal(values, b.modalities[name][column], err_msg=f"{name}.{column}")
    np.testing.assert_array_equal(a.probs, b.probs)
    assert a.modalities["voice"]["present"].any() and a.modalities["face"]["present"].any()


def _slow_side(stop, seconds=5.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        check_cancel(stop)
        time.sleep(0.01)
    return "side finished"


def test_a_failing_side_stops_the_other_and_its_error_is_raised():
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="sound broke"):
        run_side_by_side(_slow_side, lambda stop: (_ for _ in ()).throw(ValueError("sound broke")))
    with pytest.raises(KeyError, match="picture broke"):
        run_side_by_side(lambda stop: (_ for _ in ()).throw(KeyError("picture broke")), _slow_side)
    assert time.monotonic() - t0 < 4.0  # the healthy side stopped at its next check, not after 5 s each


def test_a_cancel_stops_both_sides():
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(Cancelled):
        run_side_by_side(_slow_side, _slow_side, cancel)


def test_results_of_both_sides_come_back_in_order():
    assert run_side_by_side(lambda stop: "picture", lambda stop: "sound") == ("picture", "sound")


def test_a_cancel_during_a_real_clip_raises_cancelled(engine):
    cancel = threading.Event()
    cancel.set()
    from emoguide.media.probe import probe

    job = _job()
    with pytest.raises(Cancelled):
        analyze_clip(job, probe(job.source.path), engine, AnalysisSettings(), cancel=cancel)


def test_torch_threads_are_shared_between_the_two_sides(monkeypatch):
    monkeypatch.delenv("EMOGUIDE_TORCH_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_torch_threads() == 15 and default_torch_threads(2) == 7
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert default_torch_threads() == 3 and default_torch_threads(2) == 2
    monkeypatch.setattr("os.cpu_count", lambda: 2)  # two threads each: measured faster than one
    assert default_torch_threads() == 2 and default_torch_threads(2) == 2
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert default_torch_threads(2) == 1
    monkeypatch.setenv("EMOGUIDE_TORCH_THREADS", "3")
    assert default_torch_threads(2) == 3


def test_the_engine_gives_numpys_blas_one_thread_unless_the_user_chose(tmp_path):
    """Why: OpenBLAS split our tiny numpy products over its threads, which then spun on the cores
    the models and decoder need (pipeline/engine.limit_numpy_blas_threads). Process-wide, so checked
    in fresh interpreters: one with the user's own setting, which must be left alone."""
    import json
    import os
    import subprocess
    import sys

    probe = ("import json, threadpoolctl; from emoguide.pipeline.engine import Engine; "
             "blas = lambda: [p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas']; "
             "before = blas(); Engine.load(modalities=()); print(json.dumps([before, blas()]))")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}

    def run(**extra):
        out = subprocess.run([sys.executable, "-c", probe], env={**env, **extra}, capture_output=True, text=True,
                             check=True, cwd=tmp_path)
        return json.loads(out.stdout.strip().splitlines()[-1])

    before, after = run()  # numpy's OpenBLAS before; after, also scipy's (loaded with the picture statistics)
    assert before and after and set(after) == {1}, (before, after)
    before, after = run(OPENBLAS_NUM_THREADS="2")
    assert set(before) == set(after) == {2}, (before, after)  # the user's choice stands


def test_transcription_decodes_greedily_without_temperature_fallback(monkeypatch):
    from emoguide.recognition.voice import whisper_backbone

    seen = {}

    class Model:
        def transcribe(self, audio, **kwargs):
            seen.update(kwargs)
            return iter(()), None

    backbone = object.__new__(whisper_backbone.WhisperBackbone)
    backbone.model = Model()
    assert backbone.transcribe(np.zeros(16000, np.float32)) == []
    assert seen["temperature"] == [0.0] and seen["beam_size"] == 1


def test_decoding_encoder_window_stretches_tracking_and_the_expression_gate_are_part_of_the_cache_key(engine, monkeypatch):
    from emoguide.recognition.voice import whisper_backbone

    job = _job()
    before = clip_cache_key(job, engine.versions(), AnalysisSettings())
    precision = whisper_backbone.ASR_COMPUTE_TYPES[engine.recognisers["voice"].backbone.device]
    assert engine.versions()["asr"] == \
        f"whisper-tiny.en greedy t=0 window 10s if speech<=5s {precision} stretch=125s carry=5s"
    monkeypatch.setattr(whisper_backbone, "TRANSCRIBE_TEMPERATURES", (0.0, 0.2))
    assert clip_cache_key(job, engine.versions(), AnalysisSettings()) != before
    monkeypatch.undo()
    monkeypatch.setattr(whisper_backbone, "ENCODER_WINDOW_RULE", "window 15s if speech<=5s")  # other words
    assert clip_cache_key(job, engine.versions(), AnalysisSettings()) != before
    monkeypatch.undo()
    from emoguide.pipeline import audio_blocks

    monkeypatch.setattr(audio_blocks, "TRANSCRIBE_STRETCH_S", 60.0)  # other stretch edges, other words
    assert clip_cache_key(job, engine.versions(), AnalysisSettings()) != before
    monkeypatch.undo()
    monkeypatch.setattr(engine.recognisers["voice"].backbone, "compute_type", "float16")  # other words
    assert clip_cache_key(job, engine.versions(), AnalysisSettings()) != before
    monkeypatch.undo()
    from emoguide.recognition.face import tracker

    assert engine.versions()["tracking"] == tracker.TRACKING
    monkeypatch.setattr(tracker, "TRACKING", "another choice of face per frame")  # other face readings
    assert clip_cache_key(job, engine.versions(), AnalysisSettings()) != before
    monkeypatch.undo()
    from emoguide.recognition.face import expression_gate

    assert engine.versions()["expression_gate"] == expression_gate.DEFAULT_GATE.describe()
    monkeypatch.setattr(expression_gate, "DEFAULT_GATE", expression_gate.ExpressionGate(max_prob_change=0.2))
    assert clip_cache_key(job, engine.versions(), AnalysisSettings()) != before  # other blended readings
    monkeypatch.undo()
    assert clip_cache_key(job, engine.versions(), AnalysisSettings(expression_every_frame=True)) != before
    assert clip_cache_key(job, engine.versions(), AnalysisSettings(skip_loop_filter="none")) != before  # exact decode
