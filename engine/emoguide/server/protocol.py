"""The wire format shared by the engine server, the Python client, the WebSocket bridge and the plugins.

One message is a list of frames, as in Jupyter's messaging protocol::

    [identity, ...,] DELIMITER, signature, header, content        (requests / replies)
    topic, DELIMITER, signature, header, content                  (PUB events)

``header`` and ``content`` are UTF-8 JSON objects; ``signature`` is the
lower-case hex HMAC-SHA256 of ``header + content`` (the exact bytes sent) with
the per-install key from the connection file. Anything that does not follow
this exactly raises :class:`ProtocolError` with a machine-readable ``code``:
the server answers it with an error reply and keeps serving everyone else.

Decoding is deliberately strict and cheap: sizes are checked before any JSON is
parsed, the signature before the header is trusted, NaN/Infinity and deep
nesting are refused. The WebSocket bridge carries the very same frames as a
JSON array of strings, so one key and one signature scheme cover every host.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from hashlib import sha256
from typing import Any, Sequence

PROTOCOL_VERSION = 1
DELIMITER = b"<EMG|MSG>"
DEFAULT_MAX_BYTES = 32 * 1024 * 1024  # a long OTIO timeline with metadata is a few MB
MAX_IDENTITY_FRAMES = 4
MAX_JSON_DEPTH = 64
TOPIC_PREFIX = "job."

REQUEST_TYPES = ("ping", "analyze", "guide", "status", "cancel", "list_jobs")
EVENT_TYPES = ("state", "progress", "result")
HEADER_KEYS = {"v", "msg_id", "type", "session", "date", "reply_to"}
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TYPE = re.compile(r"^[a-z_]{1,32}$")
_HEX64 = re.compile(rb"^[0-9a-f]{64}$")

#: error codes a reply may carry (documented in docs/protocol.md and the schema)
ERROR_CODES = (
    "bad_message", "bad_signature", "too_large", "unsupported_version", "replayed", "unknown_type",
    "invalid_request", "queue_full", "unknown_job", "not_available", "engine_unavailable", "internal",
)


class ProtocolError(ValueError):
    """A message that does not follow the protocol. ``header`` is set when it could be read and trusted."""

    def __init__(self, code: str, message: str, header: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.header = header


@dataclass
class Message:
    type: str
    content: dict[str, Any]
    header: dict[str, Any]
    identities: list[bytes] = field(default_factory=list)
    topic: str | None = None

    @property
    def msg_id(self) -> str:
        return self.header["msg_id"]


def new_id() -> str:
    return uuid.uuid4().hex


def sign(key: bytes, header: bytes, content: bytes) -> bytes:
    """Hex HMAC-SHA256 over the header then the content bytes (Jupyter's scheme)."""
    mac = hmac.new(key, digestmod=sha256)
    mac.update(header)
    mac.update(content)
    return mac.hexdigest().encode("ascii")


def make_header(msg_type: str, session: str, reply_to: str | None = None) -> dict[str, Any]:
    header = {"v": PROTOCOL_VERSION, "msg_id": new_id(), "type": msg_type, "session": session,
              "date": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
    if reply_to is not None:
        header["reply_to"] = reply_to
    return header


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode(key: bytes, msg_type: str, content: dict[str, Any], *, session: str, reply_to: str | None = None,
           identities: Sequence[bytes] = (), topic: str | None = None,
           header: dict[str, Any] | None = None) -> list[bytes]:
    """Frames for one signed message (``topic`` first for PUB events, ``identities`` first for ROUTER replies)."""
    h = dumps(header if header is not None else make_header(msg_type, session, reply_to))
    c = dumps(content)
    frames = [topic.encode("utf-8")] if topic is not None else list(identities)
    frames += [DELIMITER, sign(key, h, c), h, c]
    return frames


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(data: bytes, what: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("bad_message", f"{what} is not UTF-8") from exc
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ProtocolError("bad_message", f"{what} is nested too deeply") from exc
    except ValueError as exc:
        raise ProtocolError("bad_message", f"{what} is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ProtocolError("bad_message", f"{what} must be a JSON object")
    if _depth(value) > MAX_JSON_DEPTH:
        raise ProtocolError("bad_message", f"{what} is nested deeper than {MAX_JSON_DEPTH}")
    return value


def _depth(value: Any) -> int:
    """Nesting depth without recursion (a hostile message must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            return level
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def check_header(header: dict[str, Any]) -> None:
    unknown = set(header) - HEADER_KEYS
    if unknown:
        raise ProtocolError("bad_message", f"unknown header field(s): {', '.join(sorted(map(str, unknown)))}")
    v = header.get("v")
    if not isinstance(v, int) or isinstance(v, bool):
        raise ProtocolError("bad_message", "header.v (protocol version) must be an integer")
    if v != PROTOCOL_VERSION:
        raise ProtocolError("unsupported_version", f"protocol version {v} is not supported; this engine speaks "
                                                   f"version {PROTOCOL_VERSION}", header)
    for name, pattern in (("msg_id", _ID), ("type", _TYPE), ("session", _ID)):
        value = header.get(name)
        if not isinstance(value, str) or not pattern.match(value):
            raise ProtocolError("bad_message", f"header.{name} missing or malformed")
    for name in ("date", "reply_to"):
        if name in header and not (isinstance(header[name], str) and len(header[name]) <= 64):
            raise ProtocolError("bad_message", f"header.{name} must be a short string")


def decode(frames: Sequence[bytes], key: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
           with_topic: bool = False) -> Message:
    """Frames → verified :class:`Message`; raises :class:`ProtocolError` for anything else.

    ``with_topic``: the first frame is a PUB topic (events) rather than
    identities (ROUTER requests); replies received on a DEALER have neither.
    """
    if not isinstance(frames, (list, tuple)) or not frames:
        raise ProtocolError("bad_message", "empty message")
    if any(not isinstance(f, (bytes, bytearray, memoryview)) for f in frames):
        raise ProtocolError("bad_message", "frames must be bytes")
    frames = [bytes(f) for f in frames]
    total = sum(len(f) for f in frames)
    if total > max_bytes:
        raise ProtocolError("too_large", f"message of {total} bytes exceeds the limit of {max_bytes} bytes")
    try:
        at = frames.index(DELIMITER)
    except ValueError:
        raise ProtocolError("bad_message", "no delimiter frame") from None
    prefix, rest = frames[:at], frames[at + 1:]
    topic = None
    if with_topic:
        if len(prefix) != 1:
            raise ProtocolError("bad_message", "an event needs exactly one topic frame")
        try:
            topic = prefix[0].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("bad_message", "topic is not UTF-8") from None
        prefix = []
    elif len(prefix) > MAX_IDENTITY_FRAMES:
        raise ProtocolError("bad_message", "too many routing frames")
    if len(rest) != 3:
        raise ProtocolError("bad_message", f"expected signature, header and content after the delimiter, got {len(rest)} frames")
    signature, header_bytes, content_bytes = rest
    if not signature:
        raise ProtocolError("bad_signature", "unsigned message")
    if not _HEX64.match(signature):
        raise ProtocolError("bad_signature", "signature is not a hex HMAC-SHA256")
    if not hmac.compare_digest(signature, sign(key, header_bytes, content_bytes)):
        raise ProtocolError("bad_signature", "signature does not match (wrong key, or the message was altered)")
    header = _loads(header_bytes, "header")
    check_header(header)
    content = _loads(content_bytes, "content")
    return Message(type=header["type"], content=content, header=header, identities=prefix, topic=topic)


def error_content(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The content of an error reply: ``{"ok": false, "error": {"code", "message", …}}``."""
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


def reply_type(request_type: str) -> str:
    return f"{request_type}_reply" if request_type in REQUEST_TYPES else "error_reply"


def job_topic(job_id: str) -> str:
    return f"{TOPIC_PREFIX}{job_id}"
