"""Keep native memory from piling up over a run: the C heap's freed memory (glibc) and oneDNN's kernels.

Why: the big buffers of an analysis (decoded frames, 120 s audio blocks,
Whisper's features) are allocated and freed by several threads: the sound thread
is new for every clip, and so was the decode thread (a timeline run now keeps one
for all its clips: pipeline/decode_ahead.py). glibc gives each
thread its own malloc arena (up to 8 per core) and keeps what was freed in an
arena for reuse instead of returning it, so peak RSS crept up clip after clip
although nothing was still referenced. Measured on ten 60 s clips (2 cores):
2,222 MiB peak as glibc is by default, 1,974 MiB with a trim after each clip,
1,766 MiB with two arenas and a trim (one 6 min clip alone, picture and sound
one after the other: 1,705 MiB). Both calls are cheap (a trim walks the arenas
once per clip).

Within a clip the same happens on a smaller scale: each video chunk (8 s of frames
with the detector's activations) and each 120 s sound block leaves free holes that
the next one does not quite fit, and a long clip's peak crept up chunk after chunk.
So the trim also runs after every video chunk and every sound block (a few
milliseconds each): three 60 s clips peaked at 1,447-1,501 MiB with trims between
clips only and 1,277-1,398 MiB with them, in the same time. Over hours the holes
still multiply; :func:`fix_mmap_threshold` keeps buffers of 4 MiB and more out of
the heap altogether, at a price in time (~10 %; ``EMOGUIDE_MMAP_THRESHOLD=0`` turns it off):
each such buffer is mapped afresh and faulted in page by page. The ``emoguide``
command starts with glibc asking for huge pages for those maps
(:mod:`emoguide.pipeline.huge_page_heap`): 3× fewer faults, a quarter less kernel time.

The cap has a price: the 10-minute benchmark ran 7 % slower with it (192.7 vs
180.1 s) for 7 % less peak memory (1,833 vs 1,979 MiB; the trim alone did most
of the saving). ``EMOGUIDE_MALLOC_ARENAS=0`` leaves glibc's arena count alone
(where speed matters more, or in a host process that allocates from many
threads of its own); other platforms and C libraries are left untouched.

Not the heap but held all the same: oneDNN (torch's CPU convolutions) compiles
and keeps a kernel per input shape, up to 1,024 of them. Shapes that vary clip
after clip (each clip's last stretch of audio for the voice encoder, odd batch
lengths) kept adding to it: 200 voice encodes of random length (3-40 s) raised
the floor from 56 to 76 MB, still rising; with a cap of 16, 50 to 53 MB.
:func:`limit_kernel_cache` caps it at 256 (no slower on the expression nets'
batches than 1,024 or 64); the face side also pads its batches to few lengths
(``recognition/batch_shapes.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter numbers
M_MMAP_THRESHOLD = -3
DEFAULT_ARENAS = 2
DEFAULT_MMAP_THRESHOLD = 4 << 20  # bytes; 0 would leave glibc's own dynamic threshold (see fix_mmap_threshold)
DEFAULT_KERNEL_CACHE = 256  # oneDNN kernels kept (its own default: 1,024)


@functools.lru_cache(maxsize=1)
def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both exist only in glibc (musl has neither)
    except (OSError, AttributeError):
        return None
    return libc


class MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33+): byte counts summed over every arena."""

    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def mallinfo() -> MallInfo2 | None:
    """glibc's own account of the heap (``uordblks`` in use, ``fordblks`` free, ``hblks``/``hblkhd``
    buffers mapped on their own), or None without glibc 2.33+. For the benchmarks and tests that
    tell memory still referenced from a fragmented heap's holes; the engine never needs it."""
    libc = _glibc()
    mallinfo2 = getattr(libc, "mallinfo2", None) if libc is not None else None
    if mallinfo2 is None:
        return None
    mallinfo2.restype = MallInfo2
    return mallinfo2()


def limit_arenas() -> int | None:
    """Cap glibc's malloc arenas (``$EMOGUIDE_MALLOC_ARENAS``, default 2); the cap set, or None if left alone."""
    libc = _glibc()
    wanted = int(os.environ.get("EMOGUIDE_MALLOC_ARENAS", DEFAULT_ARENAS))
    if libc is None or wanted <= 0:
        return None
    if libc.mallopt(M_ARENA_MAX, wanted) != 1:
        log.debug("mallopt(M_ARENA_MAX, %d) refused", wanted)
        return None
    return wanted


def fix_mmap_threshold() -> int | None:
    """Serve buffers of ``$EMOGUIDE_MMAP_THRESHOLD`` bytes and more straight from the system, so
    freeing one hands it back at once (default :data:`DEFAULT_MMAP_THRESHOLD`, 4 MiB); the threshold
    set, or None if left alone.

    Why: glibc starts at 128 KiB but raises its threshold to the
    largest buffer freed so far (up to 32 MiB), and from then on carves the
    analysis's big transients (Whisper's features, encoder activations, the
    detector's pyramid, the expression ensemble's activations) from the heap,
    between buffers that outlive them. Over hours the heap's holes multiply: the
    sound side of a 2-hour timeline kept ~370 MiB in use clip after clip while
    the heap's free part grew 58 -> 180 MiB and the clips' peaks 898 -> 1,050 MiB
    (docs/performance.md, twelfth pass). A fixed threshold was priced then at
    9-20 % more time (1 MiB) and left the full run still rising, because the
    decoded frames (691 KB, below it) sat in the heap for whole chunks. With the
    frames in mapped blocks (``media/frame_store.py``) what remains in the heap
    long-lived is small, and 4 MiB (above the frames' and most small buffers'
    sizes, below the models' 4-32 MiB activations) made the 10-minute point flat
    from its second tenth: RSS medians over the loaded models 340-348 MiB, heap
    free level at 68 MiB, peak +471 vs +568 MiB, for 10 % more time (219 vs 198 s)
    (sixteenth pass). 2 hours: peak +626 vs +829 MiB, level from the third tenth, 7 % more time.
    ``0``, or glibc's own ``MALLOC_MMAP_THRESHOLD_`` / ``GLIBC_TUNABLES`` set by
    the user, leaves glibc alone.
    """
    libc = _glibc()
    wanted = int(os.environ.get("EMOGUIDE_MMAP_THRESHOLD", DEFAULT_MMAP_THRESHOLD))
    users_own = "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get("GLIBC_TUNABLES", "")
    if libc is None or wanted <= 0 or users_own:
        return None
    if libc.mallopt(M_MMAP_THRESHOLD, wanted) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD, %d) refused", wanted)
        return None
    return wanted


def limit_kernel_cache() -> int | None:
    """Cap oneDNN's compiled-kernel cache (``$EMOGUIDE_KERNEL_CACHE``, default 256); the cap, or None if left alone.

    Through oneDNN's own variable, which it reads when it builds its first kernel:
    so call this before any torch model has run. A capacity the user or the host
    process already set (``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` or ``DNNL_…``) stands;
    ``EMOGUIDE_KERNEL_CACHE=-1`` leaves oneDNN's default.
    """
    if any(f"{lib}_PRIMITIVE_CACHE_CAPACITY" in os.environ for lib in ("ONEDNN", "DNNL")):
        return None
    wanted = int(os.environ.get("EMOGUIDE_KERNEL_CACHE", DEFAULT_KERNEL_CACHE))
    if wanted < 0:
        return None
    os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = str(wanted)
    return wanted


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the system (after each clip); False where not available."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
