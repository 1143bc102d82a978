"""Decoded frames kept outside the C heap: copied into blocks mapped straight from the system.

Why: libav hands out each scaled RGB frame from its filter graph's buffer pool,
and a frame's numpy array is a view that keeps the pool's buffer alive. The
analysis holds a chunk of frames (8 s) plus the prefetch queue (2 s), so per
clip the pool grew to ~250 buffers of 691 KB (640×360), allocated by the decode
thread one at a time from glibc's heap, interleaved with the sound thread's
blocks and transients in the same arena, and freed together when the clip's
decoder closed. A malloc trace of three 60 s clips (docs/performance.md,
sixteenth pass) found these buffers the largest long-lived allocations of the
whole run: 248 per clip, living ~57 s each, ~170 MB at once; every other large
allocation of the picture side lived ~50 ms. Long-lived buffers laid between
short-lived ones are what leaves the heap's holes behind (the rise in
``bench_scale``'s free heap over hours).

Here each frame is copied (one ``memcpy``) into an anonymous memory map of
about :data:`BLOCK_BYTES`, and libav's buffer goes back to its pool at once, so
that pool stays at a few buffers. A full block is reused only once no frame
views it any more (CPython's reference count says so: every view holds its
block through numpy's ``base``), so no frame is overwritten while anyone holds
it; until then the store maps a new one. Reuse matters: a fresh map's pages are
faulted in by the copy, 1.0-1.3 ms per 640×360 frame on the 2-core VM, against
~0.1 ms for a copy into a block already touched. Every clip starts a new store and
maps its working set afresh (a chunk and the queue: ~20 blocks), so new blocks ask
for transparent huge pages, which are faulted in 2 MiB at a time. When the decoder
is done the blocks are unmapped whole, leaving no hole in any heap.
"""

from __future__ import annotations

import mmap
import sys

import numpy as np

#: bytes per mapped block: ~12 frames at 640×360 RGB. Small, so a block kept alive by its last
#: frame (a chunk's edge) holds little; large enough that mapping is rare (one ``mmap`` per ~0.5 s).
BLOCK_BYTES = 8 << 20
#: full blocks remembered for reuse; beyond that the oldest is forgotten (unmapped once its frames go)
MAX_RETIRED = 64
#: ``madvise`` advice for each new block (Linux: transparent huge pages, in the kernel's ``madvise``
#: mode; ignored in ``always``/``never``), or None where this Python or OS has none
HUGE_PAGES = getattr(mmap, "MADV_HUGEPAGE", None)
_PRIVATE = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}  # POSIX; Windows has no flags


class FrameBlocks:
    """Copies frames into mapped blocks and returns each copy as a view into its block.

    One per decoding generator (not thread-safe). Frames of another shape or dtype
    start a new block. A block is the flat array over its map; each frame is a
    reshaped slice of it, and numpy points every view's ``base`` (a view of a view's
    too) at that flat array, the first one up the chain that sits on a foreign
    buffer. So the flat array's reference count is its holders' plus one per view:
    the test of whether a full block may be reused.
    """

    def __init__(self, block_bytes: int = BLOCK_BYTES):
        self.block_bytes = block_bytes
        self._block: np.ndarray | None = None  # flat uint8 array over the current map
        self._shape: tuple[int, ...] = ()
        self._dtype = np.dtype(np.uint8)
        self._next = 0
        self._retired: list[tuple[np.ndarray, tuple[int, ...], np.dtype]] = []  # full blocks, oldest first
        self.blocks_mapped = 0
        self.blocks_reused = 0

    def copy(self, image: np.ndarray) -> np.ndarray:
        """A copy of ``image`` that lives in a mapped block, not in the C heap."""
        shape, dtype = image.shape, image.dtype
        frame_bytes = max(1, image.nbytes)  # numpy's own count: no product per frame on the decode thread
        block = self._block
        if block is None or (self._next + 1) * frame_bytes > len(block) or shape != self._shape or dtype != self._dtype:
            if block is not None:
                self._retire(block)
            block = self._block = self._free_block(shape, dtype, frame_bytes)
            self._shape, self._dtype, self._next = shape, dtype, 0
        start = self._next * frame_bytes
        out = block[start:start + frame_bytes].view(dtype).reshape(shape)
        self._next += 1
        np.copyto(out, image)
        return out

    def _retire(self, block: np.ndarray) -> None:
        self._retired.append((block, self._shape, self._dtype))
        if len(self._retired) > MAX_RETIRED:
            del self._retired[0]

    def _free_block(self, shape: tuple[int, ...], dtype: np.dtype, frame_bytes: int) -> np.ndarray:
        for i, refs in enumerate(_refcounts(self._retired)):
            block, block_shape, block_dtype = self._retired[i]
            if block_shape == shape and block_dtype == dtype and refs <= _UNVIEWED_REFS:
                self.blocks_reused += 1
                del self._retired[i]
                return block
        self.blocks_mapped += 1
        count = max(1, self.block_bytes // frame_bytes)
        # private and anonymous: zero pages, faulted in by the first copies (a shared map would be shmem,
        # which the kernel backs with huge pages only where shmem_enabled allows: mostly never)
        memory = mmap.mmap(-1, count * frame_bytes, **_PRIVATE)
        if HUGE_PAGES is not None:
            try:  # 2 MiB pages where the kernel has them to give: ~512× fewer faults for the first copies
                memory.madvise(HUGE_PAGES)
            except OSError:
                pass
        return np.frombuffer(memory, dtype=np.uint8)


def _refcounts(retired: list[tuple]) -> list[int]:
    """Each retired block's reference count, as seen from here (a view of any of its frames adds one)."""
    return [sys.getrefcount(block) for block, _, _ in retired]


#: what :func:`_refcounts` reports for a block held by nothing but its retired entry: measured, not
#: assumed, since what an interpreter counts for loop variables and arguments differs between versions
_UNVIEWED_REFS = _refcounts([(np.frombuffer(bytearray(8), np.uint8), (), None)])[0]
