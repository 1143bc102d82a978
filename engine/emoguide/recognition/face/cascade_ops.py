"""The face cascade's box arithmetic: suppression, squaring, regression and crops, for every frame
of a batch at once and on whatever device the frames are on.

Why batched and on the device: on the lent H200 the cascade's nets ran 300-400x faster than on a
CPU while the detector as a whole ran only 2.5x faster (docs/performance.md, fourteenth pass). Its
time went to host work between the stages: a suppression per frame and per pyramid scale (~320
small calls for 32 frames, each waiting on the GPU), and crops cut one box at a time in a Python
loop from frames copied back to the host. Here each step is a handful of tensor operations over all
boxes of all frames, with the same answers:

* :func:`batched_nms` pads each frame's boxes into a (frames, boxes, boxes) overlap matrix computed
  with the same float operations as one frame's :func:`nms`, so the same pairs count as overlapping;
  the greedy pass is then a fixed-point iteration (see :func:`_greedy_keep`), exactly the greedy answer.
* :func:`crops` reads each box's area-resized crop from a summed-area table of the uint8 frames:
  the sums of ``F.interpolate(mode="area")``'s bins (= ``adaptive_avg_pool2d``'s) taken exactly in
  integers, so a crop equals the per-box resize of :func:`crops_by_box` to float rounding (6e-8 on
  real frames). :func:`area_resized` reads P-Net's pyramid levels from the same table, equal to
  ``F.interpolate`` of the float frames to the same rounding.

On the CPU the table pays too, once both stages read it (twenty-sixth pass in docs/performance.md):
built with numpy (:func:`summed_area_host`; torch's integer cumsum takes 10x the CPU) it costs ~1.5
CPU-ms per 640x360 frame and the pyramid read from it ~2, against ~11-12 for a float copy of the
frames plus eight ``F.interpolate`` area resizes; crops read from it cost ~2.5-3.5 CPU-ms a frame
against ~3.8-6 cut box by box. (The twenty-second pass had rejected a torch-built table for the
pyramid alone.) :func:`crops_by_box` and ``F.interpolate`` remain as the reference the tests hold the
table against (``FaceDetector.from_table = False``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: up to this many boxes, one frame's suppression uses one overlap matrix (4 MB) instead of a loop of tensor ops
NMS_MATRIX_MAX = 1024
#: the padded overlap matrices of one batched suppression hold at most this many entries; more frames than
#: fit are suppressed in several passes (32 frames of 33 boxes, typical of 480x360 frames, hold 35 k)
NMS_BATCH_ENTRIES = 4_000_000
#: the cascade's input scaling: (pixel - 127.5) / 128, so a pixel outside the frame (zero) is 127.5
PIXEL_MEAN, PIXEL_SCALE = 127.5, 0.0078125


def _overlap(b1: torch.Tensor, a1: torch.Tensor, b2: torch.Tensor, a2: torch.Tensor, mode: str) -> torch.Tensor:
    """Overlap of boxes ``b1`` with ``b2`` (broadcast), given their areas; one formula for every path."""
    xx1 = torch.maximum(b1[..., 0], b2[..., 0])
    yy1 = torch.maximum(b1[..., 1], b2[..., 1])
    xx2 = torch.minimum(b1[..., 2], b2[..., 2])
    yy2 = torch.minimum(b1[..., 3], b2[..., 3])
    inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
    denom = torch.minimum(a1, a2) if mode == "min" else a1 + a2 - inter
    return inter / denom.clamp(min=1e-9)


def _area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union") -> torch.Tensor:
    """Greedy non-maximum suppression of one frame's boxes; indices kept, best first (ties: lower
    index first). ``mode="min"`` divides the intersection by the smaller box instead of the union."""
    if len(boxes) <= NMS_MATRIX_MAX:  # one overlap matrix: the batched form with a single frame
        one_frame = torch.zeros(len(boxes), dtype=torch.long, device=boxes.device)
        return batched_nms(boxes, scores, one_frame, threshold, mode).cpu()
    order = scores.argsort(descending=True, stable=True)
    area = _area(boxes)
    keep = []
    while order.numel():
        i, rest = order[0], order[1:]
        keep.append(int(i))
        order = rest[_overlap(boxes[i], area[i], boxes[rest], area[rest], mode) <= threshold]
    return torch.tensor(keep, dtype=torch.long)


def _greedy_keep(suppress: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Greedy suppression's survivors for each row of ``suppress`` (G, M, M), boxes sorted best first.

    Box j survives iff no surviving box before it suppresses it. Iterating ``keep = valid & ~any(keep_i
    & suppress_ij, i < j)`` from all-true fixes one more leading box per pass (box 0 is right at once;
    once boxes < j are right, box j is right after the next pass), so it reaches the greedy answer, the
    only fixed point, in at most "longest chain of suppressions" passes: a few, with no per-box loop.
    """
    upper = torch.triu(suppress, diagonal=1)
    keep = valid.clone()
    while True:
        nxt = valid & ~(upper & keep[:, :, None]).any(1)
        if torch.equal(nxt, keep):
            return keep
        keep = nxt


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, threshold: float,
                mode: str = "union") -> torch.Tensor:
    """:func:`nms` within each group (frame) of boxes, all groups at once.

    Returns indices into ``boxes``: groups in ascending order, each group's survivors best first, as
    calling :func:`nms` group by group would. A group of more than :data:`NMS_MATRIX_MAX` boxes goes
    through :func:`nms` on its own (its matrix would dominate the padded batch).
    """
    device = boxes.device
    if not len(boxes):
        return torch.zeros(0, dtype=torch.long, device=device)
    # best first within each group, groups ascending: two stable sorts (ties keep index order, as nms)
    order = scores.argsort(descending=True, stable=True)
    order = order[groups[order].argsort(stable=True)]
    sorted_groups = groups[order]
    _, counts = torch.unique_consecutive(sorted_groups, return_counts=True)
    counts_host = counts.tolist()
    starts = np.concatenate([[0], np.cumsum(counts_host)[:-1]])
    kept, small = [], []
    for gi, (start, count) in enumerate(zip(starts.tolist(), counts_host)):
        if count > NMS_MATRIX_MAX:
            members = order[start:start + count]
            kept.append(members[nms(boxes[members], scores[members], threshold, mode).to(device)])
        else:
            small.append(gi)
    if small:
        small_t = torch.tensor(small, dtype=torch.long, device=device)
        width = max(counts_host[g] for g in small)
        per_pass = max(1, NMS_BATCH_ENTRIES // (width * width))
        for p in range(0, len(small), per_pass):
            part = small_t[p:p + per_pass]
            kept.append(_padded_nms(boxes, order, starts, counts, part, width, threshold, mode))
    kept = torch.cat(kept)
    return kept[groups[kept].argsort(stable=True)]  # groups ascending; within each, best first as found


def _padded_nms(boxes, order, starts, counts, part, width, threshold, mode):
    """Suppression of the groups ``part`` (indices into ``counts``), padded to ``width`` boxes each."""
    device = boxes.device
    starts_t = torch.as_tensor(starts, device=device)[part]
    rank = torch.arange(width, device=device)
    valid = rank[None, :] < counts[part][:, None]  # (G, width)
    slot = (starts_t[:, None] + rank[None, :]).clamp(max=len(order) - 1)
    index = torch.where(valid, order[slot], order[slot].new_zeros(()))
    padded = boxes[index]  # (G, width, 4): padding rows repeat box 0 and are masked out by `valid`
    area = _area(padded)
    suppress = _overlap(padded[:, :, None], area[:, :, None], padded[:, None, :], area[:, None, :], mode) > threshold
    suppress &= valid[:, :, None] & valid[:, None, :]
    keep = _greedy_keep(suppress, valid)
    return index[keep]  # row-major: groups ascending, best first within each


def square(boxes: torch.Tensor) -> torch.Tensor:
    """Each box grown to a square about its centre (the next stage's nets see square crops)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1 = boxes[:, 0] + (w - side) / 2
    y1 = boxes[:, 1] + (h - side) / 2
    return torch.stack([x1, y1, x1 + side, y1 + side], 1)


def regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Boxes moved by a stage's regression output (offsets in units of the box's width and height)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes + reg * torch.stack([w, h, w, h], 1)


def _table_dtype(h: int, w: int) -> torch.dtype:
    return torch.int32 if h * w * 255 < 2**31 else torch.int64


def summed_area(frames: torch.Tensor) -> torch.Tensor:
    """Summed-area table (T, 3, H + 1, W + 1) of uint8 planar frames (T, 3, H, W), in integers: exact
    sums (int32 while a frame's total fits, as at 4K; int64 beyond)."""
    t, c, h, w = frames.shape
    dtype = _table_dtype(h, w)
    table = torch.zeros(t, c, h + 1, w + 1, dtype=dtype, device=frames.device)
    table[:, :, 1:, 1:] = frames.to(dtype).cumsum(2, dtype=dtype).cumsum(3, dtype=dtype)
    return table


def summed_area_host(frames: np.ndarray) -> torch.Tensor:
    """:func:`summed_area` of RGB uint8 frames (T, H, W, 3) in host memory, built with numpy: the same
    integers for a tenth of torch's CPU time (~1.5 vs 14 CPU-ms for a 640x360 frame).

    Each row is summed along itself (a scan over contiguous memory), then the rows are added down each
    plane a whole row at a time: numpy's own scan along the non-contiguous axis costs ~2x that loop.
    """
    t, h, w, c = frames.shape
    dtype = np.int32 if _table_dtype(h, w) == torch.int32 else np.int64
    table = np.zeros((t, c, h + 1, w + 1), dtype)
    inner = table[:, :, 1:, 1:]
    np.cumsum(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)), axis=3, dtype=dtype, out=inner)
    rows = inner.transpose(2, 0, 1, 3)  # (H, T, 3, W): one row of every plane per step
    for y in range(1, h):
        rows[y] += rows[y - 1]
    return torch.from_numpy(table)


def area_resized(table: torch.Tensor, size: tuple[int, int], with_numpy: bool | None = None) -> torch.Tensor:
    """The frames area-resized to ``size`` (height, width), in the cascade's input scale, read from their
    :func:`summed_area` table: ``F.interpolate(frames_as_input, size, mode="area")`` to float rounding.

    Each output pixel is one bin's exact integer sum: rows gathered at the row bins' edges, then columns
    at the column bins' edges (on a CPU table with ``np.take``: half the CPU of torch's gathers). The
    sums stay exact in float32 while a bin holds under 2**24 / 255 pixels, so the mean is rounded once.
    ``with_numpy``: None reads a CPU table with numpy and any other with torch; False forces torch (the
    tests run an accelerator's path on the CPU that way).
    """
    def edges(extent: int, bins: int) -> tuple[torch.Tensor, torch.Tensor]:
        lo = torch.zeros(1, dtype=torch.long)  # on the host: a few hundred integers, no device round trip
        start, end = _bins(lo, lo + extent, bins)
        return start[0], end[0]

    (r0, r1), (c0, c1) = edges(table.shape[2] - 1, size[0]), edges(table.shape[3] - 1, size[1])
    n_bin = (r1 - r0)[:, None] * (c1 - c0)[None, :]
    wide = 255 * int(n_bin.max()) >= 2**24  # a bin's sum no longer exact in float32
    if with_numpy is None:
        with_numpy = table.device.type == "cpu"  # numpy: torch's two threads spin longer than these steps take
    if with_numpy:
        host = table.numpy()
        rows = np.take(host, r1.numpy(), axis=2) - np.take(host, r0.numpy(), axis=2)
        sums = (np.take(rows, c1.numpy(), axis=3) - np.take(rows, c0.numpy(), axis=3))
        sums = sums.astype(np.float64 if wide else np.float32)
        n = n_bin.numpy().astype(sums.dtype)
        sums -= PIXEL_MEAN * n
        sums *= PIXEL_SCALE
        sums /= n
        return torch.from_numpy(sums).float()
    r0, r1, c0, c1 = (edge.to(table.device) for edge in (r0, r1, c0, c1))
    rows = table.index_select(2, r1) - table.index_select(2, r0)
    sums = rows.index_select(3, c1) - rows.index_select(3, c0)
    n = n_bin.to(table.device, torch.float64 if wide else torch.float32)
    return sums.to(n.dtype).sub_(PIXEL_MEAN * n).mul_(PIXEL_SCALE).div_(n).float()


def _bins(lo: torch.Tensor, extent: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``adaptive_avg_pool2d``'s bins along one axis for boxes starting at ``lo`` of ``extent`` pixels:
    bin i covers [lo + floor(i * extent / size), lo + ceil((i + 1) * extent / size))."""
    i = torch.arange(size, device=lo.device)
    start = torch.div(i[None, :] * extent[:, None], size, rounding_mode="floor")
    end = torch.div((i[None, :] + 1) * extent[:, None] + size - 1, size, rounding_mode="floor")
    return lo[:, None] + start, lo[:, None] + end


def crops(table: torch.Tensor, groups: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Area-resized crops (K, 3, size, size) of the cascade's input (``(pixel - 127.5) / 128``), read
    from the :func:`summed_area` table of the frames. Parts of a box outside the frame are zero in that
    input (as the cascade was trained); a box under 2 pixels wide or high gives a zero crop."""
    _, _, h1, w1 = table.shape
    height, width = h1 - 1, w1 - 1
    corners = boxes.round().long()
    x1, y1, x2, y2 = corners.unbind(1)
    (r0, r1), (c0, c1) = _bins(y1, y2 - y1, size), _bins(x1, x2 - x1, size)
    n_bin = ((r1 - r0)[:, :, None] * (c1 - c0)[:, None, :]).clamp(min=1)  # (K, size, size), pixels per bin
    r0, r1, c0, c1 = r0.clamp(0, height), r1.clamp(0, height), c0.clamp(0, width), c1.clamp(0, width)
    n_in = (r1 - r0)[:, :, None] * (c1 - c0)[:, None, :]  # pixels of the bin inside the frame

    def corner(rows, cols):  # table[g, :, rows[k, i], cols[k, j]] -> (K, size, size, 3)
        return table[groups[:, None, None], :, rows[:, :, None], cols[:, None, :]]

    sums = (corner(r1, c1) - corner(r0, c1) - corner(r1, c0) + corner(r0, c0)).double()
    mean = (sums - PIXEL_MEAN * n_in[..., None]) * PIXEL_SCALE / n_bin[..., None]
    too_small = ((x2 - x1) < 2) | ((y2 - y1) < 2)
    mean[too_small] = 0
    return mean.float().permute(0, 3, 1, 2).contiguous()


def crops_by_box(images: torch.Tensor, groups: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """:func:`crops` cut and resized box by box from the cascade's float input ``images`` (T, 3, H, W):
    the reference the table is tested against (see the module's docstring), on one thread (see
    :class:`single_thread`)."""
    device = images.device
    images, groups, boxes = images.cpu(), groups.cpu(), boxes.cpu()
    _, _, height, width = images.shape
    out = torch.zeros(len(boxes), 3, size, size)
    with single_thread():
        for k, (g, b) in enumerate(zip(groups.tolist(), boxes.round().long().tolist())):
            x1, y1, x2, y2 = b
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            sx1, sy1, sx2, sy2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
            if sx2 <= sx1 or sy2 <= sy1:
                continue
            patch = torch.zeros(3, y2 - y1, x2 - x1)
            patch[:, sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = images[g, :, sy1:sy2, sx1:sx2]
            out[k] = F.interpolate(patch[None], size=(size, size), mode="area")[0]
    return out.to(device)


class single_thread:
    """Run a stretch of tiny tensor ops on one intra-op thread.

    Hundreds of per-box resizes are each too small to split across threads; with two
    OpenMP threads the spin-up and spin-wait cost 4-5x the work (551 boxes: 0.49 s CPU
    on 2 threads, 0.10 s on 1, same output).
    """

    def __enter__(self):
        self.threads = torch.get_num_threads()
        if self.threads != 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.threads != 1:
            torch.set_num_threads(self.threads)
