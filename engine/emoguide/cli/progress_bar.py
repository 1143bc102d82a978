"""Terminal and machine-readable renderings of pipeline progress events."""

from __future__ import annotations

import json
import sys

from emoguide.pipeline.progress import ProgressEvent


class TerminalProgress:
    """A tqdm bar over clips, with the current clip and decode position in its postfix."""

    def __init__(self, label: str, quiet: bool = False):
        self.label = label
        self.quiet = quiet
        self.bar = None

    def __call__(self, event: ProgressEvent) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if event.stage == "timeline":
            self.bar = tqdm(total=int(event.total), desc=self.label, unit="clip", leave=True, file=sys.stderr,
                            dynamic_ncols=True)
        elif self.bar is None:
            return
        elif event.stage == "clip":
            self.bar.set_postfix_str(event.message[:40])
        elif event.stage == "decode" and event.total:
            self.bar.set_postfix_str(f"{event.clip_id} {event.done:.0f}/{event.total:.0f}s")
        elif event.stage == "clip_done":
            self.bar.update(1)
        elif event.stage == "warning":
            self.bar.write(f"warning: {event.clip_id}: {event.message}", file=sys.stderr)
        elif event.stage == "done":
            self.bar.close()


class BatchTerminalProgress:
    """One tqdm bar over the clips of every timeline of a Ray batch.

    A Ray batch announces all its timelines at once and their clips finish in any order, so
    one :class:`TerminalProgress` per timeline would open dozens of bars that redraw over each
    other. Here each timeline gets a listener (:meth:`for_timeline`) that grows the one bar's
    total when the timeline is announced, advances it per clip, and prints a line when the
    timeline is complete (its outputs are written after the whole batch).
    """

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar = None
        self.timelines = 0
        self.finished = 0

    def for_timeline(self, label: str):
        def listener(event: ProgressEvent) -> None:
            self._on(label, event)
        return listener

    def _on(self, label: str, event: ProgressEvent) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=0, desc="batch", unit="clip", leave=True, file=sys.stderr, dynamic_ncols=True)
        if event.stage == "timeline":
            self.timelines += 1
            self.bar.total += int(event.total)
            self.bar.refresh()
        elif event.stage == "clip_done":
            self.bar.update(1)
            self.bar.set_postfix_str(f"{label} {event.clip_id}"[:40])
        elif event.stage == "warning":
            self.bar.write(f"warning: {label}: {event.clip_id}: {event.message}", file=sys.stderr)
        elif event.stage == "done":
            self.finished += 1
            self.bar.set_description(f"batch ({self.finished}/{self.timelines} timelines)")
            if event.message != "ok":
                self.bar.write(f"{label}: {event.message}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class JsonLinesProgress:
    """One JSON object per event on stderr, for scripts and wrappers that parse progress."""

    def __init__(self, timeline: str):
        self.timeline = timeline

    def __call__(self, event: ProgressEvent) -> None:
        # one write per line: the picture and sound threads of a clip report at the same time
        sys.stderr.write(json.dumps({"timeline": self.timeline, **event.as_dict()}) + "\n")
        sys.stderr.flush()
