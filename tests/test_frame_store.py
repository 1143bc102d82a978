"""Decoded frames live in mapped blocks, not in the C heap (media/frame_store.py)."""

from __future__ import annotations

import gc
import mmap
import weakref
from fractions import Fraction

import numpy as np
import pytest
from media_fixtures import make_indexed_video, read_frame_index

from emoguide.media.frame_store import FrameBlocks
from emoguide.media.video import iter_video_frames
from emoguide.pipeline.native_memory import mallinfo


def _owner(array: np.ndarray):
    """What finally holds ``array``'s memory (numpy's base chain, then the buffer's exporter)."""
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def _frames(n, shape=(4, 5, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, shape, dtype=np.uint8) for _ in range(n)]


def test_copies_are_equal_views_into_mapped_blocks():
    store = FrameBlocks(block_bytes=10 * 4 * 5 * 3)  # ten frames per block
    images = _frames(35)
    copies = [store.copy(image) for image in images]
    assert store.blocks_mapped == 4 and store.blocks_reused == 0  # every frame still held: nothing reused
    for image, copy in zip(images, copies):
        assert np.array_equal(image, copy) and copy.flags.c_contiguous
        assert isinstance(_owner(copy), mmap.mmap)
    assert len({id(_owner(c)) for c in copies}) == 4


def test_a_block_is_reused_only_when_no_view_of_any_of_its_frames_is_left():
    import torch

    store = FrameBlocks(block_bytes=4 * 4 * 5 * 3)  # four frames per block
    images = _frames(400, seed=1)
    held = {}  # frame number -> something derived from it that must keep its pixels
    kept_images = {}
    for k, image in enumerate(images):
        frame = store.copy(image)
        if k % 37 == 0:
            held[k] = frame[::2, ::2]  # a view of a view
            kept_images[k] = image[::2, ::2]
        elif k % 41 == 0:
            held[k] = torch.from_numpy(frame)  # a tensor sharing the memory
            kept_images[k] = image
        elif k % 43 == 0:
            held[k] = memoryview(frame)
            kept_images[k] = image
        del frame
    assert store.blocks_reused > 50  # the blocks nobody holds came back
    for k, thing in held.items():
        assert np.array_equal(np.asarray(thing), kept_images[k]), f"frame {k} was overwritten while held"


def test_a_strided_source_and_a_new_shape_or_dtype_start_a_new_block():
    store = FrameBlocks()
    padded = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)[:, :7]  # libav's line padding: a strided view
    a = store.copy(padded)
    assert np.array_equal(a, padded)
    b = store.copy(np.zeros((3, 4, 3), np.uint8))
    c = store.copy(np.full((3, 4, 3), 300, np.uint16))
    assert store.blocks_mapped == 3 and b.shape == (3, 4, 3) and c.dtype == np.uint16 and int(c.max()) == 300
    assert np.array_equal(a, padded)


def test_a_block_is_released_with_its_last_frame_once_the_store_is_gone():
    store = FrameBlocks(block_bytes=2 * 4 * 5 * 3)  # two frames per block
    first = store.copy(np.ones((4, 5, 3), np.uint8))
    store.copy(np.ones((4, 5, 3), np.uint8))
    store.copy(np.ones((4, 5, 3), np.uint8))  # the store moves on to a second block
    block = weakref.ref(_owner(first))
    del store
    gc.collect()
    assert block() is not None and int(first.sum()) == 60  # ``first`` still views it
    del first
    gc.collect()
    assert block() is None  # unmapped: the mmap object is gone


@pytest.mark.skipif(mallinfo() is None, reason="needs glibc's mallinfo2")
def test_frames_held_by_the_analysis_do_not_sit_in_the_c_heap(tmp_path):
    """72 frames of 320×180 held at once (12.4 MB) barely move what malloc has handed out: libav's
    buffers go back to its pool as each frame is copied (before, each held frame pinned one)."""
    path = make_indexed_video(tmp_path / "v.mov", Fraction(25), 72, audio=False)
    list(iter_video_frames(path, 0.0, 0.5, max_side=320))  # warm: codecs, threads, the first pools
    gc.collect()
    before = mallinfo()
    frames = list(iter_video_frames(path, 0.0, 72 / 25, max_side=320))
    during = mallinfo()
    held = sum(f.image.nbytes for f in frames)
    assert len(frames) == 72 and held > 12e6
    grown = (during.uordblks + during.hblkhd) - (before.uordblks + before.hblkhd)
    assert grown < 0.25 * held, f"malloc holds {grown / 1e6:.1f} MB more for {held / 1e6:.1f} MB of frames"
    assert [read_frame_index(f.image) for f in frames] == list(range(72))


def _huge_kb_of_mapping(address: int) -> int:
    """AnonHugePages (kB) of the mapping holding ``address``, from /proc/self/smaps."""
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and ":" not in head:
                start, end = (int(x, 16) for x in head.split("-"))
                inside = start <= address < end
            elif inside and line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    raise AssertionError("no mapping holds the address")


def _thp_mode() -> str | None:
    from emoguide.pipeline.huge_page_heap import thp_mode

    return thp_mode()


@pytest.mark.skipif(_thp_mode() != "madvise", reason="needs Linux with transparent huge pages in madvise mode")
@pytest.mark.parametrize("advice", ["shipped", None])
def test_a_new_block_asks_for_huge_pages(monkeypatch, advice):
    """Each clip maps its frames' blocks afresh; 2 MiB pages fault them in 512× less often. The control
    (no advice) must get none, so the test cannot pass on a kernel that gives them unasked."""
    import emoguide.media.frame_store as frame_store

    if advice is None:
        monkeypatch.setattr(frame_store, "HUGE_PAGES", None)
    frame = np.ones((360, 640, 3), np.uint8)
    store = FrameBlocks(block_bytes=8 << 20)
    copies = [store.copy(frame) for _ in range(12)]  # fill the block: every page touched
    huge_kb = _huge_kb_of_mapping(copies[0].ctypes.data)
    if advice is None:
        assert huge_kb == 0
    else:
        assert huge_kb >= 4 << 10, huge_kb  # an 8 MiB map holds at least three aligned 2 MiB pages
