"""Stand-in engines that fail the way a Ray worker can: the process dies, or the code raises.

Imported inside Ray workers (the test puts tests/ on their PYTHONPATH). Which
clip fails is decided by the picture size of its generated media, since a
recogniser sees frames, not clip names.
"""

from __future__ import annotations

import os

from standin_engine import IndexReadingFace, standin_engine

CRASH_WIDTH = 160  # frames this wide kill the worker process
BUG_WIDTH = 192  # frames this wide raise inside the worker


class FailingFace(IndexReadingFace):
    def analyze_frames(self, frames, times, detect_every=1, every_frame=False, detections=None):
        width = frames[0].shape[1]  # frames: a list of (H, W, 3) images, as the pipeline passes them
        if width == CRASH_WIDTH:
            os._exit(3)  # what a segfault or the OOM killer looks like from outside
        if width == BUG_WIDTH:
            raise ValueError("stand-in bug in a recogniser")
        return super().analyze_frames(frames, times, detect_every)


def failing_engine():
    engine = standin_engine()
    engine.recognisers["face"] = FailingFace()
    return engine
