"""A fast stand-in for the analysis and a server starter, shared by the server and plugin tests."""

from __future__ import annotations

import threading
import time

import zmq
from factories import make_analysis

from emoguide.pipeline.progress import check_cancel, emit
from emoguide.server.connection import ConnectionInfo, new_key
from emoguide.server.runner import JobRunner
from emoguide.server.server import EngineServer


class StandIn:
    """Analysis stand-in: ``steps`` chunks of ``step_s`` each, checking cancel like the pipeline does."""

    def __init__(self, steps: int = 3, step_s: float = 0.01, gate: threading.Event | None = None):
        self.steps, self.step_s, self.gate = steps, step_s, gate
        self.calls, self.completed_steps = 0, []

    def __call__(self, timeline, options, progress, cancel):
        self.calls += 1
        emit(progress, "timeline", 0, self.steps, message=timeline.name)
        done = 0
        for i in range(self.steps):
            if self.gate is not None:
                while not self.gate.wait(0.01):
                    check_cancel(cancel)
            check_cancel(cancel)
            time.sleep(self.step_s)
            done = i + 1
            emit(progress, "decode", done, self.steps, "V1/0")
        self.completed_steps.append(done)
        analysis = make_analysis(timeline)
        analysis.timeline_name = timeline.name
        return analysis


def start_server(analyze, info=None, **kw):
    info = info or ConnectionInfo(key=new_key(), control_port=0, pub_port=0, ws_port=None)
    server = EngineServer(info, JobRunner(analyze), context=zmq.Context(), **kw)
    server.bind()
    return server.start(), info
