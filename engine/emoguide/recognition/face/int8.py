"""8-bit integer copies of the expression net for the CPU.

The expression net runs on every frame of every clip, and on the CPU it is a large share
of the picture side's time. Its int8 copy (statically quantised: weights per channel,
activations per tensor, calibrated once on FER2013 Training faces) runs 3.2–3.8× faster on
the 2-core dev machine (``bench_inference``, three nets with the mirror pass: 87–98 → 313–333
faces/s), and in int8 the shipped four-net ensemble agrees with its float nets on 99.4 % of
PrivateTest faces (accuracy 71.8 % int8, 71.7 % float).

Calibration needs real faces, which are not shipped, so it happens when the weights are
written (``training/face_ensemble.py``) and the quantised tensors (int8 weights,
scales, zero points) travel inside the checkpoint. At load the same int8 structure is
rebuilt and those tensors are loaded into it: no calibration data at run time.

The int8 kernels come from ``torch.ao.quantization`` (eager mode), which torch marks as
deprecated in favour of torchao (whose CPU int8 convolutions need ``torch.compile``).
torch is pinned, so it is here; if a later torch drops it, :func:`available` turns false
and the engine runs the float net, with the same results up to the quantisation error.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np
import torch
from torch import nn

#: the quantised-kernel library the checkpoint's int8 tensors were packed for
ENGINE = "x86"


def available() -> bool:
    """True when this torch has eager int8 quantisation and an x86 kernel library."""
    try:
        import torch.ao.quantization  # noqa: F401
    except ImportError:
        return False
    return ENGINE in torch.backends.quantized.supported_engines


@functools.cache  # once per process: each call would add the same filters again
def silence_deprecation_notes() -> None:
    """Hide torch's notes that this API is deprecated (see the module docstring): a user cannot act on them.

    Process-wide filters for those exact messages, not ``warnings.catch_warnings()``: the
    picture and sound sides run in threads, and that context manager is not thread-safe.
    """
    warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r"Please use quant_min and quant_max", category=UserWarning)
    warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel",
                            category=UserWarning)
    warnings.filterwarnings("ignore", message=r"TypedStorage is deprecated", category=UserWarning)  # loading them


class _Int8Net(nn.Module):
    """Float normalisation → quantise → fused int8 blocks and head → dequantise: logits, like the float net."""

    def __init__(self, net: nn.Module):
        import torch.ao.quantization as tq

        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.features, self.head = net.features, net.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(self.head(self.features(self.quant((x - 0.5) / 0.25))))


def _prepared(net: nn.Module) -> nn.Module:
    """An observed copy of ``net`` (an un-folded :class:`ExpressionNet` in eval mode): conv+BN+ReLU fused."""
    import copy

    import torch.ao.quantization as tq

    net = copy.deepcopy(net).cpu().to(memory_format=torch.contiguous_format).eval()
    for block in net.features:  # each block: conv, BN, ReLU, conv, BN, ReLU, pool
        tq.fuse_modules(block, [["0", "1", "2"], ["3", "4", "5"]], inplace=True)
    model = _Int8Net(net).eval()
    model.qconfig = tq.get_default_qconfig(ENGINE)
    return tq.prepare(model)


def calibrate(net: nn.Module, faces: np.ndarray, batch: int = 256) -> dict:
    """The int8 state of ``net`` calibrated on ``faces`` ((N, 48, 48) uint8 grey): store it in the checkpoint."""
    import torch.ao.quantization as tq

    silence_deprecation_notes()
    with _engine():
        model = _prepared(net)
        with torch.inference_mode():
            for i in range(0, len(faces), batch):
                x = torch.from_numpy(faces[i:i + batch]).float().div(255).unsqueeze(1)
                model(torch.cat([x, torch.flip(x, dims=[3])]))  # as it runs: faces and their mirrors
        return tq.convert(model).state_dict()


def from_state(net: nn.Module, state: dict) -> nn.Module:
    """The int8 copy of ``net`` with the calibrated ``state`` (from :func:`calibrate`) loaded into it."""
    import torch.ao.quantization as tq

    silence_deprecation_notes()
    with _engine():
        model = _prepared(net)
        with torch.inference_mode():
            model(torch.zeros(1, 1, 48, 48))  # any range, so convert builds the modules; the state replaces it
        model = tq.convert(model)
        model.load_state_dict(state)
    return model.eval()


@contextlib.contextmanager
def _engine():
    """Pack for (and run with) :data:`ENGINE`, restoring whatever engine the process had chosen."""
    before = torch.backends.quantized.engine
    torch.backends.quantized.engine = ENGINE
    try:
        yield
    finally:
        torch.backends.quantized.engine = before
