"""One thread decodes the pictures of a run's clips ahead of the models: same frames, bounded, errors kept."""

from __future__ import annotations

import threading
import time
from fractions import Fraction

import opentimelineio as otio
import pytest
from media_fixtures import make_indexed_video, read_frame_index
from standin_engine import standin_engine
from test_pipeline import clip_for

from emoguide.pipeline import decode_ahead as decode_ahead_module
from emoguide.pipeline.analyze import analyze_timeline, clip_cache_key, pictures_to_decode
from emoguide.pipeline.cache import AnalysisCache
from emoguide.pipeline.decode_ahead import DecodeAhead, PictureJob
from emoguide.pipeline.plan import TimelinePlan
from emoguide.pipeline.windows import AnalysisSettings


class Source:
    """A clip's frames ``(key, 0) … (key, n-1)``, recording what was produced and whether it was closed."""

    def __init__(self, key: int, n: int, fail_at: int | None = None, log: list | None = None):
        self.key, self.n, self.fail_at = key, n, fail_at
        self.produced = 0
        self.closed = False
        self.log = log if log is not None else []

    def frames(self):
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise OSError(f"clip {self.key} is damaged at frame {i}")
                self.produced += 1
                self.log.append(("decoded", self.key, i))
                yield (self.key, i)
        finally:
            self.closed = True


def job(source: Source, limit: int = 3) -> PictureJob:
    return PictureJob(source.key, lambda: (source.frames(), limit))


def wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_each_clip_gets_its_own_frames_and_the_next_clip_decodes_before_its_turn():
    log: list = []
    sources = [Source(key, n, log=log) for key, n in ((0, 2), (2, 2), (5, 3))]
    with DecodeAhead([job(s) for s in sources]) as ahead:
        got = {}
        for key in (0, 2, 5):
            frames = ahead.frames(key)
            got[key] = [next(frames)]
            if key == 0:  # the models are on clip 0's first frame: clip 2's decoding has already begun
                wait_for(lambda: ("decoded", 2, 0) in log)
            got[key] += list(frames)
            log.append(("analysed", key))
    assert got == {0: [(0, 0), (0, 1)], 2: [(2, 0), (2, 1)], 5: [(5, 0), (5, 1), (5, 2)]}
    assert log.index(("decoded", 2, 0)) < log.index(("analysed", 0))
    assert all(s.closed for s in sources)
    assert ahead.frames(1) is None  # not a picture job of this run (cached, audio only, ...)


def test_the_buffer_holds_no_more_than_the_clip_s_bound():
    source = Source(0, 40)
    taken = 0
    with DecodeAhead([job(source, limit=4)]) as ahead:
        for _ in ahead.frames(0):
            taken += 1
            time.sleep(0.002)  # slower than the decoder: it keeps running into the bound
            assert source.produced - taken <= 4 + 1  # the bound, plus the one frame in the decoder's hands
    assert taken == 40


def test_a_decoding_error_reaches_only_its_own_clip_after_its_good_frames():
    sources = [Source(0, 2), Source(1, 5, fail_at=2), Source(2, 2)]
    with DecodeAhead([job(s) for s in sources]) as ahead:
        assert list(ahead.frames(0)) == [(0, 0), (0, 1)]
        received = []
        with pytest.raises(OSError, match="clip 1 is damaged"):
            for frame in ahead.frames(1):
                received.append(frame)
        assert received == [(1, 0), (1, 1)]
        assert list(ahead.frames(2)) == [(2, 0), (2, 1)]


def test_a_clip_that_cannot_even_open_fails_alone():
    def broken():
        raise OSError("no such file")

    with DecodeAhead([job(Source(0, 1)), PictureJob(1, broken), job(Source(2, 1))]) as ahead:
        assert list(ahead.frames(0)) == [(0, 0)]
        with pytest.raises(OSError, match="no such file"):
            list(ahead.frames(1))
        assert list(ahead.frames(2)) == [(2, 0)]


def test_a_clip_stopped_early_or_never_asked_for_is_dropped_and_the_next_clips_are_whole():
    long_clip, unasked, last = Source(0, 500), Source(1, 500), Source(2, 3)
    with DecodeAhead([job(long_clip), job(unasked), job(last)]) as ahead:
        for frame in ahead.frames(0):
            break  # the models failed on the first chunk
        ahead.frames(1)  # made but never read: the clip turned out to be cached
        assert list(ahead.frames(2)) == [(2, 0), (2, 1), (2, 2)]
    assert long_clip.closed and long_clip.produced < 500  # dropped, not decoded to the end
    assert unasked.closed or unasked.produced == 0  # dropped too, or never opened (the thread got there late)
    assert unasked.produced < 500


def test_closing_stops_a_decoder_waiting_on_a_full_buffer():
    source = Source(0, 10_000)
    ahead = DecodeAhead([job(source, limit=2)])
    with ahead:
        wait_for(lambda: source.produced >= 2)
    assert not ahead._thread.is_alive()
    assert source.closed and source.produced < 10_000
    assert ahead.frames(0) is None  # closed: nothing more to hand out


def test_keys_must_ascend():
    with pytest.raises(ValueError):
        DecodeAhead([job(Source(2, 1)), job(Source(1, 1))])


def three_file_timeline(tmp_path):
    rate = Fraction(25)
    files = [make_indexed_video(tmp_path / f"m{i}.mov", rate, 60) for i in range(3)]
    tl = otio.schema.Timeline(name="t")
    track = otio.schema.Track()
    for path, first, count in ((files[0], 3, 30), (files[1], 0, 12), (files[0], 40, 15), (files[2], 10, 45)):
        track.append(clip_for(path, rate, 0, first, count, n_media=60))
    tl.tracks.append(track)
    return tl


def test_a_run_decoding_ahead_reads_the_same_frames_and_gives_the_same_results(tmp_path, monkeypatch):
    tl = three_file_timeline(tmp_path)
    threads = []
    real = decode_ahead_module.DecodeAhead._decode
    monkeypatch.setattr(decode_ahead_module.DecodeAhead, "_decode",
                        lambda self, j: threads.append(threading.current_thread().name) or real(self, j))
    results, seen, arrived = {}, {}, {}
    for ahead in (True, False):
        engine = standin_engine()
        results[ahead] = analyze_timeline(tl, engine=engine, settings=AnalysisSettings(spot_brief=True),
                                          decode_ahead=ahead)
        seen[ahead] = engine.recognisers["face"].seen
        arrived[ahead] = engine.recognisers["face"].arrived
    assert threads == ["emoguide-decode-ahead"] * 4  # every clip's picture came from the one thread
    assert seen[True] == seen[False] == [*range(3, 33), *range(12), *range(40, 55), *range(10, 55)]
    # each chunk (here each clip: all shorter than one) is offered to the detector frame by frame as it arrives
    assert arrived[True] == arrived[False] == [*range(1, 31), *range(1, 13), *range(1, 16), *range(1, 46)]
    for a, b in zip(results[True].clips, results[False].clips):
        assert a.status == b.status == "ok"
        assert (a.windows.probs == b.windows.probs).all() and (a.windows.start_s == b.windows.start_s).all()


def test_a_run_cancelled_between_clips_stops_its_decode_thread(tmp_path):
    from emoguide.pipeline.progress import Cancelled

    cancel = threading.Event()

    def on_event(event):
        if event.stage == "clip_done":  # the decode thread is on the next clips by now
            cancel.set()

    with pytest.raises(Cancelled):
        analyze_timeline(three_file_timeline(tmp_path), engine=standin_engine(), progress=on_event, cancel=cancel)
    assert not [t for t in threading.enumerate() if t.name == "emoguide-decode-ahead"]


def test_the_clips_of_a_run_share_one_frame_store_and_reuse_its_blocks(tmp_path):
    """Why: a store per clip mapped and faulted in fresh blocks for every clip (100 one-second clips:
    5-10x the page faults, ~10 % more decoding CPU). Frames still held must never be overwritten: every
    clip's frames, held until all clips are decoded, still show their own frame numbers."""
    tl = three_file_timeline(tmp_path)
    jobs = pictures_to_decode(TimelinePlan.of(tl), standin_engine(), AnalysisSettings(), AnalysisCache(enabled=False))
    stores = {id(job.open.args[2]) for job in jobs}
    assert len(stores) == 1
    with DecodeAhead(jobs) as ahead:
        held = [list(ahead.frames(job.key)) for job in jobs]  # every frame of every clip held to the end
    assert [len(frames) for frames in held] == [30, 12, 15, 45]
    assert [[read_frame_index(f.image) for f in frames] for frames in held] == \
        [list(range(3, 33)), list(range(12)), list(range(40, 55)), list(range(10, 55))]
    del held
    jobs = pictures_to_decode(TimelinePlan.of(tl), standin_engine(), AnalysisSettings(), AnalysisCache(enabled=False))
    store = jobs[0].open.args[2]
    with DecodeAhead(jobs) as ahead:
        for job in jobs:
            for _ in ahead.frames(job.key):
                pass  # frames dropped as they come, as the models' chunks are
    assert store.blocks_reused > 0 and store.blocks_mapped < 6


def test_only_clips_that_will_be_analysed_are_decoded_ahead(tmp_path):
    tl = three_file_timeline(tmp_path)
    cache = AnalysisCache(tmp_path / "cache")
    settings = AnalysisSettings()
    engine = standin_engine()
    plan = TimelinePlan.of(tl)
    cache.put(clip_cache_key(plan.jobs[1], engine.versions(), settings), {"status": "ok"})
    assert [j.key for j in pictures_to_decode(plan, engine, settings, cache)] == [0, 2, 3]
    del engine.recognisers["face"]  # a run without the face model decodes no picture
    assert pictures_to_decode(plan, engine, settings, cache) == []
