"""emoguide for DaVinci Resolve: Workspace > Scripts > emoguide_resolve.

Sends the current timeline to a running ``emoguide serve`` and places the
emotion markers on it. Runs in the Python that Resolve embeds, with nothing
installed: it talks to the engine's WebSocket bridge with the standard library
(the host client below is generated from plugins/common/emoguide_host.py), or
ZeroMQ when pyzmq happens to be importable.

How the timeline travels: ``Timeline.Export(path, resolve.EXPORT_OTIO)`` when
this Resolve can export OTIO (18.5+), else the items are read one by one
(``GetItemListInTrack``, ``GetStart``, ``GetLeftOffset``, the media pool item's
"File Path", ``GetSetting('timelineFrameRate')``) and written as OTIO JSON.

How markers land: ``AddMarker(frameId, color, name, note, duration,
customData)``, frames counted from the timeline's first frame (item positions
are converted with ``GetStartFrame()``), colours from the shared table
(Resolve's 16 marker colours), and ``customData = "emoguide:<id>"`` so a re-run
first deletes exactly our markers (``DeleteMarkerByCustomData``) and never the
editor's. Set ``EMOGUIDE_RESOLVE_TARGET=items`` to put clip markers on the
timeline items instead of the timeline ruler.

Resolve (free) runs this script from its Workspace menu, but not from outside
Resolve; when no Resolve object can be had, the script says so and explains the
OTIO-file route (export OTIO, ``emoguide analyze``, import the result).
"""

import json
import os
import tempfile
import types

_HOST_SOURCE = r'''"""emoguide host client: what every Python host plugin (Resolve, Blender) needs to talk to ``emoguide serve``.

Standard library only, because it runs inside the host's own Python (Resolve's,
Blender's) where nothing can be installed: connection file, HMAC signing,
a minimal WebSocket client (RFC 6455, client side) for the engine's bridge, and
ZeroMQ through pyzmq when the host has it (Blender's extension bundles wheels).
The wire format is docs/protocol.md; the colour table is generated from
``emoguide.timeline.colours`` by ``plugins/sync_shared.py`` — edit that table,
never this copy. Copies of this file live in the plugins; a test fails if they drift.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import time
import uuid
from datetime import datetime, timezone

PROTOCOL_VERSION = 1
DELIMITER = "<EMG|MSG>"
MARKER_TAG = "emoguide:"  # prefix of our ids in a host's marker custom data / comments

# --- BEGIN GENERATED COLOURS (plugins/sync_shared.py) ---
COLOURS = {
    "neutral": {"otio": "WHITE", "resolve": "Cream", "premiere": 5, "blender": "COLOR_09"},
    "happy": {"otio": "YELLOW", "resolve": "Yellow", "premiere": 4, "blender": "COLOR_03"},
    "sad": {"otio": "BLUE", "resolve": "Blue", "premiere": 6, "blender": "COLOR_05"},
    "angry": {"otio": "RED", "resolve": "Red", "premiere": 1, "blender": "COLOR_01"},
    "fearful": {"otio": "PURPLE", "resolve": "Purple", "premiere": 2, "blender": "COLOR_06"},
    "disgust": {"otio": "GREEN", "resolve": "Green", "premiere": 0, "blender": "COLOR_04"},
    "surprised": {"otio": "ORANGE", "resolve": "Sand", "premiere": 3, "blender": "COLOR_02"},
    "guidance": {"otio": "CYAN", "resolve": "Cyan", "premiere": 7, "blender": "COLOR_05"},
    "mixed_signals": {"otio": "PINK", "resolve": "Pink", "premiere": 2, "blender": "COLOR_07"},
    "brief_expression": {"otio": "MAGENTA", "resolve": "Fuchsia", "premiere": 2, "blender": "COLOR_07"},
    "media_offline": {"otio": "BLACK", "resolve": "Cocoa", "premiere": 1, "blender": "COLOR_08"},
    "analysis_error": {"otio": "BLACK", "resolve": "Cocoa", "premiere": 1, "blender": "COLOR_08"},
    "timeline": {"otio": "CYAN", "resolve": "Sky", "premiere": 7, "blender": "COLOR_05"},
}
# --- END GENERATED COLOURS ---


class HostError(RuntimeError):
    """Base of everything raised here; ``str()`` is meant to be shown to the editor as is."""


class EngineUnavailable(HostError):
    pass


class RequestError(HostError):
    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code


class JobFailed(HostError):
    def __init__(self, state, error):
        error = error or {}
        super().__init__("analysis %s: %s" % (state, error.get("message", "")))
        self.state = state
        self.error = error


def colour(key, host):
    """A host's colour for a marker's ``colour_key`` (unknown keys fall back to neutral)."""
    return COLOURS.get(key, COLOURS["neutral"])[host]


# -- connection file ------------------------------------------------------------------------------------------------

def connection_path():
    env = os.environ.get("EMOGUIDE_CONNECTION_FILE")
    if env:
        return env
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "emoguide", "connection.json")


def read_connection(path=None):
    path = path or connection_path()
    try:
        with open(path, "r", encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        raise EngineUnavailable("No engine connection file at %s. Start the engine first: run 'emoguide serve' "
                                "in a terminal (it writes that file)." % path)
    if not isinstance(info, dict) or not isinstance(info.get("key"), str):
        raise EngineUnavailable("%s has no key; restart 'emoguide serve'" % path)
    return info


# -- messages -------------------------------------------------------------------------------------------------------

def _dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def sign(key, header, content):
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(header)
    mac.update(content)
    return mac.hexdigest()


def encode(key, msg_type, content, session):
    """Frames (as str) of one signed request, and its msg_id."""
    header = {"v": PROTOCOL_VERSION, "msg_id": uuid.uuid4().hex, "type": msg_type, "session": session,
              "date": datetime.now(timezone.utc).isoformat()[:23]}
    h, c = _dumps(header), _dumps(content)
    return [DELIMITER, sign(key, h.encode("utf-8"), c.encode("utf-8")), h, c], header["msg_id"]


def decode(key, frames):
    """Verified (topic or None, type, header, content); raises HostError on anything forged or malformed."""
    frames = [f.decode("utf-8") if isinstance(f, bytes) else f for f in frames]
    if DELIMITER not in frames:
        raise HostError("malformed message from the engine")
    at = frames.index(DELIMITER)
    topic = frames[0] if at == 1 else None
    rest = frames[at + 1:]
    if len(rest) != 3:
        raise HostError("malformed message from the engine")
    signature, h, c = rest
    if not hmac.compare_digest(signature.encode("ascii", "replace"), sign(key, h.encode("utf-8"), c.encode("utf-8")).encode()):
        raise HostError("message with a bad signature: is the connection file from this engine?")
    header, content = json.loads(h), json.loads(c)
    return topic, header.get("type"), header, content


# -- WebSocket (client side of RFC 6455, enough for the bridge) --------------------------------------------------------

class _Timeout(Exception):
    pass


class WebSocket:
    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host, port, timeout=5.0):
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise EngineUnavailable("cannot reach the engine's WebSocket bridge at %s:%s (%s); is 'emoguide serve' "
                                    "running?" % (host, port, exc))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET / HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host, port, key)).encode())
        self.buf = b""
        self._parts = []
        deadline = time.monotonic() + timeout
        try:
            while b"\r\n\r\n" not in self.buf:
                self._recv_some(deadline)
        except _Timeout:
            raise EngineUnavailable("the engine's WebSocket bridge at %s:%s did not answer" % (host, port))
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        if b" 101 " not in head.split(b"\r\n", 1)[0] or accept.encode() not in head:
            raise EngineUnavailable("the engine's WebSocket bridge refused the connection")

    def _recv_some(self, deadline):
        self.sock.settimeout(max(0.0, deadline - time.monotonic()))  # 0: a non-blocking look
        try:
            data = self.sock.recv(1 << 20)
        except (socket.timeout, BlockingIOError):
            raise _Timeout()
        except OSError as exc:
            raise EngineUnavailable("connection to the engine lost (%s)" % exc)
        if not data:
            raise EngineUnavailable("the engine closed the connection")
        self.buf += data

    def _send_frame(self, opcode, payload):
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, mask)
        try:
            self.sock.sendall(head + mask + masked)
        except OSError as exc:
            raise EngineUnavailable("connection to the engine lost (%s)" % exc)

    def send_text(self, text):
        self._send_frame(0x1, text.encode("utf-8"))

    def recv_text(self, timeout):
        """The next text message, or None when nothing complete arrived within ``timeout`` seconds."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                opcode, fin, payload = self._frame(deadline)
            except _Timeout:
                return None  # partial frames stay in self.buf, finished fragments in self._parts
            if opcode == 0x8:
                raise EngineUnavailable("the engine closed the connection")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            self._parts.append(payload)
            if fin:
                text, self._parts = b"".join(self._parts).decode("utf-8"), []
                return text

    def _frame(self, deadline):
        while True:
            if len(self.buf) >= 2:
                b0, b1 = self.buf[0], self.buf[1]
                n, at = b1 & 0x7F, 2
                if n == 126 and len(self.buf) >= 4:
                    n, at = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
                elif n >= 126:
                    n = None
                if n is not None and len(self.buf) >= at + n:
                    payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
                    return b0 & 0x0F, bool(b0 & 0x80), payload
            self._recv_some(deadline)

    def close(self):
        try:
            self._send_frame(0x8, b"")
        except HostError:
            pass
        self.sock.close()


def _mask_fast(payload, mask):
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class WebSocketTransport:
    def __init__(self, info, timeout):
        host = "127.0.0.1" if info.get("ip") in (None, "", "0.0.0.0", "*") else info["ip"]
        if not info.get("ws_port"):
            raise EngineUnavailable("the engine runs without its WebSocket bridge; restart it without --no-websocket")
        self.ws = WebSocket(host, int(info["ws_port"]), timeout)

    def send(self, frames):
        self.ws.send_text(json.dumps(frames))

    def recv(self, timeout):
        text = self.ws.recv_text(timeout)
        return None if text is None else json.loads(text)

    def subscribe(self, job_id):
        pass  # the bridge forwards the events of jobs named in our replies

    def close(self):
        self.ws.close()


class ZmqTransport:
    def __init__(self, info, timeout):
        import zmq

        host = "127.0.0.1" if info.get("ip") in (None, "", "0.0.0.0", "*") else info["ip"]
        self.zmq = zmq
        self.ctx = zmq.Context.instance()
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.sub = self.ctx.socket(zmq.SUB)
        for s in (self.dealer, self.sub):
            s.setsockopt(zmq.LINGER, 0)
        self.dealer.connect("tcp://%s:%s" % (host, info["control_port"]))
        self.sub.connect("tcp://%s:%s" % (host, info["pub_port"]))
        self.poller = zmq.Poller()
        self.poller.register(self.dealer, zmq.POLLIN)
        self.poller.register(self.sub, zmq.POLLIN)

    def send(self, frames):
        self.dealer.send_multipart([f.encode("utf-8") for f in frames])

    def recv(self, timeout):
        ready = dict(self.poller.poll(int(max(0.0, timeout) * 1000)))
        for sock in (self.dealer, self.sub):
            if sock in ready:
                return [f.decode("utf-8") for f in sock.recv_multipart()]
        return None

    def subscribe(self, job_id):
        self.sub.setsockopt(self.zmq.SUBSCRIBE, ("job." + job_id).encode())

    def close(self):
        self.dealer.close(0)
        self.sub.close(0)


def _have_zmq():
    try:
        import zmq  # noqa: F401
    except ImportError:
        return False
    return True


class HostClient:
    """Requests with timeouts, events buffered per job; ``transport``: "auto" (ZeroMQ if pyzmq imports), "zmq", "ws"."""

    def __init__(self, info=None, transport="auto", timeout=10.0, status_interval=2.0):
        self.info = info or read_connection()
        self.key = self.info["key"].encode("ascii")
        self.timeout = timeout
        self.status_interval = status_interval
        self.session = uuid.uuid4().hex
        use_zmq = transport == "zmq" or (transport == "auto" and _have_zmq())
        self.transport = ZmqTransport(self.info, timeout) if use_zmq else WebSocketTransport(self.info, timeout)
        self.events = {}
        self._last_status = {}

    def close(self):
        self.transport.close()

    def _take(self, frames):
        """File an incoming message: an event goes to its job's queue; a reply is returned."""
        topic, msg_type, header, content = decode(self.key, frames)
        if topic is not None:
            self.events.setdefault(topic[len("job."):], []).append(dict(content, type=msg_type))
            return None
        return header, content

    def request(self, msg_type, content=None, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        frames, msg_id = encode(self.key, msg_type, content or {}, self.session)
        self.transport.send(frames)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            got = self.transport.recv(remaining) if remaining > 0 else None
            if got is None:
                raise EngineUnavailable("The emoguide engine did not answer within %g s. Is 'emoguide serve' running?"
                                        % timeout)
            reply = self._take(got)
            if reply is None:
                continue
            header, body = reply
            if header.get("reply_to") in (msg_id, None):
                break
        if body.get("ok") is False:
            err = body.get("error") or {}
            raise RequestError(err.get("code", "internal"), err.get("message", ""))
        return body

    def ping(self, timeout=None):
        return self.request("ping", {}, timeout)

    def analyze(self, timeline, options=None):
        content = {"timeline": timeline}
        if options:
            content["options"] = options
        job_id = self.request("analyze", content)["job_id"]
        self.transport.subscribe(job_id)
        self._last_status[job_id] = time.monotonic()
        return job_id

    def cancel(self, job_id):
        return self.request("cancel", {"job_id": job_id})

    def poll(self, job_id, wait_s=0.0):
        """One non-blocking step (for Blender's timers): returns ("running", progress) or ("done", result).

        Raises JobFailed / EngineUnavailable. Asks ``status`` when no event came for a while,
        which is how a dead engine is noticed, and how events missed before subscribing are recovered.
        """
        deadline = time.monotonic() + wait_s
        while True:
            got = self.transport.recv(max(0.0, deadline - time.monotonic()))
            if got is None:
                break
            self._take(got)
        progress = None
        for event in self.events.pop(job_id, []):
            self._last_status[job_id] = time.monotonic()
            outcome = _outcome(event)
            if outcome is not None:
                return outcome
            if event["type"] == "progress":
                progress = event
        if time.monotonic() - self._last_status.get(job_id, 0.0) >= self.status_interval:
            status = self.request("status", {"job_id": job_id})
            self._last_status[job_id] = time.monotonic()
            outcome = _outcome(dict(status, type="state"))
            if outcome is not None:
                return outcome
            progress = status.get("progress") or progress
        return "running", progress

    def wait(self, job_id, timeout=3600.0, on_progress=None):
        """Block until the job is done (Resolve); returns the result."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state, value = self.poll(job_id, wait_s=0.25)
            if state == "done":
                return value
            if value is not None and on_progress is not None:
                on_progress(value)
        raise HostError("the analysis did not finish within %g s" % timeout)


def _outcome(event):
    if event.get("type") == "result":
        return "done", event["result"]
    if event.get("type") == "state":
        state = event.get("state")
        if state == "done" and event.get("result") is not None:
            return "done", event["result"]
        if state in ("failed", "cancelled"):
            error = event.get("error") or {}
            if error.get("code") == "engine_unavailable":
                raise EngineUnavailable(error.get("message", "the engine shut down"))
            raise JobFailed(state, error)
    return None

'''

host = types.ModuleType("emoguide_host")
exec(compile(_HOST_SOURCE, "emoguide_host.py", "exec"), host.__dict__)

FREE_MESSAGE = (
    "emoguide could not reach DaVinci Resolve's scripting API.\n"
    "- Run this script from inside Resolve: Workspace > Scripts > emoguide_resolve.\n"
    "- DaVinci Resolve (free) does not allow scripts from outside Resolve (external scripting is a Studio feature).\n"
    "Fallback that works everywhere: File > Export > Timeline... as OpenTimelineIO (.otio), run\n"
    "    emoguide analyze cut.otio\n"
    "then File > Import > Timeline... cut.emotions.otio (markers included)."
)


def log(message):
    print("[emoguide] " + message)


def get_resolve(namespace=None):
    """The Resolve object: the one Resolve hands to scripts, or DaVinciResolveScript (Studio, external)."""
    namespace = namespace if namespace is not None else globals()
    for name in ("resolve",):
        if namespace.get(name) is not None:
            return namespace[name]
    app = namespace.get("app")
    if app is not None and hasattr(app, "GetResolve"):
        return app.GetResolve()
    try:
        import DaVinciResolveScript as dvr  # noqa: N813 - Resolve's module name
    except ImportError:
        return None
    return dvr.scriptapp("Resolve")


def frame_rate(timeline, project=None):
    for owner in (timeline, project):
        if owner is None:
            continue
        try:
            value = float(owner.GetSetting("timelineFrameRate"))
        except (TypeError, ValueError, AttributeError):
            continue
        if value > 0:
            return value
    return 24.0


def export_otio(resolve, timeline):
    """OTIO JSON via Resolve's own exporter, or None when this Resolve cannot do it."""
    kind = getattr(resolve, "EXPORT_OTIO", None)
    if kind is None:
        return None
    folder = tempfile.mkdtemp(prefix="emoguide-")
    path = os.path.join(folder, "timeline.otio")
    try:
        ok = timeline.Export(path, kind, getattr(resolve, "EXPORT_NONE", 0))
        if not ok or not os.path.exists(path):
            return None
        with open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError, TypeError):
        return None
    finally:
        try:
            os.remove(path)
            os.rmdir(folder)
        except OSError:
            pass


def _rt(value, rate):
    return {"OTIO_SCHEMA": "RationalTime.1", "value": float(value), "rate": float(rate)}


def _range(start, duration, rate):
    return {"OTIO_SCHEMA": "TimeRange.1", "start_time": _rt(start, rate), "duration": _rt(duration, rate)}


def timeline_from_items(timeline, rate):
    """OTIO JSON built from the timeline items (Resolve without OTIO export)."""
    start_frame = int(timeline.GetStartFrame())
    tracks = []
    for kind, otio_kind in (("video", "Video"), ("audio", "Audio")):
        for index in range(1, int(timeline.GetTrackCount(kind) or 0) + 1):
            children, cursor = [], 0
            items = sorted(timeline.GetItemListInTrack(kind, index) or [], key=lambda it: it.GetStart())
            for item in items:
                position = int(item.GetStart()) - start_frame  # frames from the timeline's first frame
                length = int(item.GetDuration())
                if position > cursor:
                    children.append({"OTIO_SCHEMA": "Gap.1", "name": "", "source_range": _range(0, position - cursor, rate)})
                media = item.GetMediaPoolItem()
                path = media.GetClipProperty("File Path") if media is not None else ""
                ref = ({"OTIO_SCHEMA": "ExternalReference.1", "target_url": path, "available_range": None}
                       if path else {"OTIO_SCHEMA": "MissingReference.1"})
                children.append({"OTIO_SCHEMA": "Clip.2", "name": item.GetName(), "media_references": {"DEFAULT_MEDIA": ref},
                                 "active_media_reference_key": "DEFAULT_MEDIA",
                                 "source_range": _range(int(item.GetLeftOffset() or 0), length, rate),
                                 "metadata": {"resolve": {"track_type": kind, "track_index": index,
                                                          "start_frame": int(item.GetStart())}}})
                cursor = position + length
            tracks.append({"OTIO_SCHEMA": "Track.1", "name": "%s%d" % (otio_kind[0], index), "kind": otio_kind,
                           "children": children})
    return {"OTIO_SCHEMA": "Timeline.1", "name": timeline.GetName(), "global_start_time": _rt(start_frame, rate),
            "tracks": {"OTIO_SCHEMA": "Stack.1", "name": "tracks", "children": tracks}}


def current_timeline_otio(resolve):
    project = resolve.GetProjectManager().GetCurrentProject()
    if project is None:
        raise host.HostError("no project is open")
    timeline = project.GetCurrentTimeline()
    if timeline is None:
        raise host.HostError("no timeline is open: open the timeline to analyse")
    rate = frame_rate(timeline, project)
    otio_json = export_otio(resolve, timeline)
    route = "Timeline.Export (OTIO)"
    if otio_json is None:
        otio_json, route = timeline_from_items(timeline, rate), "timeline items"
    return project, timeline, rate, otio_json, route


def remove_our_markers(owner):
    """Delete every marker whose customData is ours; the editor's markers stay."""
    removed = 0
    for _frame, info in sorted((owner.GetMarkers() or {}).items()):
        data = (info or {}).get("customData") or ""
        if data.startswith(host.MARKER_TAG) and owner.DeleteMarkerByCustomData(data):
            removed += 1
    return removed


def _item_for(timeline, marker, rate):
    """The timeline item a clip marker belongs to: same track, covering the marker's start."""
    kind = "audio" if marker.get("track_kind") == "Audio" else "video"
    frame = int(timeline.GetStartFrame()) + int(round(marker["start_s"] * rate))
    for item in timeline.GetItemListInTrack(kind, int(marker.get("track_number") or 1)) or []:
        if int(item.GetStart()) <= frame < int(item.GetEnd()):
            return item
    return None


def place_markers(timeline, markers, rate, target="timeline"):
    """Replace our markers with ``markers`` (host markers from the engine); returns (placed, skipped)."""
    owners = {id(timeline): timeline}
    if target == "items":
        for m in markers:
            if m.get("on") == "clip":
                item = _item_for(timeline, m, rate)
                if item is not None:
                    owners[id(item)] = item
    for owner in owners.values():
        remove_our_markers(owner)
    taken = {}
    placed = skipped = 0
    for m in markers:
        owner, frame = timeline, int(round(m["start_s"] * rate))
        if target == "items" and m.get("on") == "clip":
            item = _item_for(timeline, m, rate)
            if item is not None:
                owner = item
                frame -= int(item.GetStart()) - int(timeline.GetStartFrame())
        used = taken.setdefault(id(owner), set(float(f) for f in (owner.GetMarkers() or {})))
        duration = max(1, int(round(m["duration_s"] * rate)))
        for attempt in range(8):  # Resolve keeps one marker per frame: nudge onto the next free frame
            f = frame + attempt
            if float(f) in used:
                continue
            if owner.AddMarker(f, host.colour(m["colour_key"], "resolve"), m["name"], m["note"], duration,
                               host.MARKER_TAG + m["id"]):
                used.add(float(f))
                placed += 1
                break
        else:
            skipped += 1
    return placed, skipped


def run(resolve, client=None, target=None, timeout=3600.0):
    """The whole script: timeline → engine → markers. Returns a summary dict (also printed)."""
    if resolve is None:
        raise host.HostError(FREE_MESSAGE)
    target = target or os.environ.get("EMOGUIDE_RESOLVE_TARGET", "timeline")
    project, timeline, rate, otio_json, route = current_timeline_otio(resolve)
    log("sending '%s' (%s, %.3f fps) to the engine" % (timeline.GetName(), route, rate))
    own_client = client is None
    client = client or host.HostClient()
    try:
        client.ping()
        job = client.analyze(otio_json)
        last = [None]

        def progress(event):
            line = "%s %s/%s %s" % (event.get("stage"), event.get("done"), event.get("total"), event.get("clip_id", ""))
            if line != last[0]:
                log(line)
                last[0] = line

        result = client.wait(job, timeout=timeout, on_progress=progress)
    finally:
        if own_client:
            client.close()
    placed, skipped = place_markers(timeline, result["markers"], rate, target)
    summary = {"job_id": job, "placed": placed, "skipped": skipped, "partial": result.get("partial", False), "route": route}
    log("%d markers placed%s%s" % (placed, ", %d skipped (frames taken)" % skipped if skipped else "",
                                    "; some clips could not be analysed (see the 'media offline' markers)"
                                    if summary["partial"] else ""))
    return summary


def main():
    try:
        run(get_resolve())
    except host.HostError as exc:
        log(str(exc))


if __name__ == "__main__":
    main()
