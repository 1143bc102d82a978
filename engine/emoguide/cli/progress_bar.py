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


class JsonLinesProgress:
    """One JSON object per event on stderr, for scripts and wrappers that parse progress."""

    def __init__(self, timeline: str):
        self.timeline = timeline

    def __call__(self, event: ProgressEvent) -> None:
        # one write per line: the picture and sound threads of a clip report at the same time
        sys.stderr.write(json.dumps({"timeline": self.timeline, **event.as_dict()}) + "\n")
        sys.stderr.flush()
