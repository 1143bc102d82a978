"""Protocol framing, signatures, limits, connection file and the JSON schema; fuzzing of the decoder.

No sockets here: the decoder and the server's request handler are driven
directly (the handler with a stand-in ROUTER that records replies), so
hypothesis can throw hundreds of hostile messages at them in seconds.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emoguide.server import protocol as P
from emoguide.server.connection import ConnectionInfo, existing_key, load_connection, new_key, write_connection
from emoguide.server.runner import JobRunner
from emoguide.server.server import EngineServer

KEY = b"k" * 64
SCHEMA = Path(__file__).resolve().parent.parent / "engine" / "emoguide" / "server" / "protocol.schema.json"


def valid(msg_type="ping", content=None, key=KEY):
    return P.encode(key, msg_type, content if content is not None else {}, session="s1", identities=[b"peer"])


def test_round_trip_keeps_type_content_identities():
    msg = P.decode(valid("status", {"job_id": "abc"}), KEY)
    assert (msg.type, msg.content, msg.identities) == ("status", {"job_id": "abc"}, [b"peer"])
    assert msg.header["v"] == P.PROTOCOL_VERSION and len(msg.msg_id) == 32


def test_events_carry_topic_first():
    frames = P.encode(KEY, "progress", {"done": 1}, session="s", topic="job.x")
    assert frames[0] == b"job.x" and frames[1] == P.DELIMITER
    assert P.decode(frames, KEY, with_topic=True).topic == "job.x"


@pytest.mark.parametrize("mutate, code", [
    (lambda f: f[:2] + [b""] + f[3:], "bad_signature"),  # unsigned
    (lambda f: f[:2] + [b"0" * 64] + f[3:], "bad_signature"),  # wrong signature
    (lambda f: f[:4] + [b'{"a":2}'], "bad_signature"),  # content altered after signing
    (lambda f: f[:1] + f[2:], "bad_message"),  # no delimiter
    (lambda f: f[:-1], "bad_message"),  # missing content frame
])
def test_rejects_tampered_and_malformed(mutate, code):
    with pytest.raises(P.ProtocolError) as err:
        P.decode(mutate(valid()), KEY)
    assert err.value.code == code


def test_wrong_key_is_rejected():
    with pytest.raises(P.ProtocolError) as err:
        P.decode(valid(key=b"other" * 13), KEY)
    assert err.value.code == "bad_signature"


def test_version_and_header_checks_after_signature():
    header = P.make_header("ping", "s")
    header["v"] = 99
    with pytest.raises(P.ProtocolError) as err:
        P.decode(P.encode(KEY, "ping", {}, session="s", header=header), KEY)
    assert err.value.code == "unsupported_version" and err.value.header["msg_id"] == header["msg_id"]
    header = P.make_header("ping", "s")
    header["extra"] = 1
    with pytest.raises(P.ProtocolError, match="unknown header"):
        P.decode(P.encode(KEY, "ping", {}, session="s", header=header), KEY)


def test_size_limit_checked_before_parsing():
    frames = valid("analyze", {"timeline": "x" * 5000})
    with pytest.raises(P.ProtocolError) as err:
        P.decode(frames, KEY, max_bytes=4096)
    assert err.value.code == "too_large"


def test_nan_and_deep_nesting_are_refused():
    for content in (b'{"a": NaN}', b'{"a":' + b"[" * 100 + b"]" * 100 + b"}", b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"):
        h = P.dumps(P.make_header("ping", "s"))
        with pytest.raises(P.ProtocolError) as err:
            P.decode([P.DELIMITER, P.sign(KEY, h, content), h, content], KEY)
        assert err.value.code == "bad_message"


# -- fuzzing ---------------------------------------------------------------------------------------------------------

frames_strategy = st.lists(st.binary(max_size=200), max_size=8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=frames_strategy)
def test_fuzz_random_frames_only_raise_protocol_error(frames):
    try:
        P.decode(frames, KEY, max_bytes=4096)
    except P.ProtocolError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=json_values | st.binary(max_size=60).map(lambda b: b.decode("latin-1")), content=json_values,
       raw=st.booleans())
def test_fuzz_correctly_signed_garbage_only_raises_protocol_error(header, content, raw):
    """Signed with the right key, so parsing and header checks are what gets fuzzed."""
    h = header.encode("utf-8", "surrogatepass") if raw and isinstance(header, str) else P.dumps(header)
    c = P.dumps(content)
    try:
        msg = P.decode([b"id", P.DELIMITER, P.sign(KEY, h, c), h, c], KEY)
    except P.ProtocolError:
        return
    assert isinstance(msg.content, dict) and msg.header["v"] == P.PROTOCOL_VERSION


class RecordingRouter:
    def __init__(self):
        self.sent = []

    def send_multipart(self, frames, flags=0):
        self.sent.append(frames)


def handler_server(tmp_path=None):
    info = ConnectionInfo(key=KEY.decode(), control_port=0, pub_port=0, ws_port=None)
    server = EngineServer(info, JobRunner(lambda *a: None), max_queue=2, max_message_bytes=8192)
    server.router = RecordingRouter()
    return server


request_content = st.dictionaries(
    st.sampled_from(["timeline", "options", "job_id", "target", "analysis", "include_result", "x"]),
    json_values, max_size=4)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg_type=st.sampled_from(list(P.REQUEST_TYPES) + ["nope", "status_reply"]), content=request_content)
def test_fuzz_request_handler_answers_everything_and_never_raises(msg_type, content):
    """Signed requests with arbitrary content: exactly one reply each, the handler never raises."""
    server = handler_server()
    server._handle(P.encode(KEY, msg_type, content, session="s", identities=[b"peer"]))
    assert len(server.router.sent) == 1
    reply = P.decode(server.router.sent[0], KEY)
    assert reply.identities == [b"peer"] and "ok" in reply.content
    assert reply.type == (f"{msg_type}_reply" if msg_type in P.REQUEST_TYPES else "error_reply")


def test_handler_rejects_replayed_message():
    server = handler_server()
    frames = valid("ping")
    server._handle(frames)
    server._handle(frames)
    second = P.decode(server.router.sent[1], KEY)
    assert second.content["error"]["code"] == "replayed"


def test_handler_answers_unsigned_message_with_error():
    server = handler_server()
    frames = valid("ping")
    frames[2] = b""
    server._handle(frames)
    reply = P.decode(server.router.sent[0], KEY)  # the error itself is signed
    assert reply.type == "error_reply" and reply.content["error"]["code"] == "bad_signature"


# -- connection file ------------------------------------------------------------------------------------------------

def test_connection_file_is_private_and_key_is_kept(tmp_path):
    path = tmp_path / "cfg" / "connection.json"
    info = ConnectionInfo(key=new_key(), control_port=1234, pub_port=1235, ws_port=1236)
    write_connection(info, path)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_connection(path)
    assert loaded.key == info.key and loaded.control_url == "tcp://127.0.0.1:1234"
    assert existing_key(path) == info.key
    assert existing_key(tmp_path / "missing.json") is None


# -- schema ---------------------------------------------------------------------------------------------------------

def test_schema_lists_the_same_types_and_error_codes_as_the_code():
    schema = json.loads(SCHEMA.read_text())
    defs = schema["$defs"]
    assert set(defs["header"]["properties"]) == P.HEADER_KEYS
    assert set(defs["request_type"]["enum"]) == set(P.REQUEST_TYPES)
    assert set(defs["event_type"]["enum"]) == set(P.EVENT_TYPES)
    assert set(defs["error"]["properties"]["code"]["enum"]) >= set(P.ERROR_CODES)
    assert defs["header"]["properties"]["v"]["const"] == P.PROTOCOL_VERSION
    for name in P.REQUEST_TYPES:
        assert f"{name}_request" in defs, f"schema lacks the content of '{name}'"
