"""The engine server over real sockets on loopback: round trip, cancel, queue bound, concurrency,
bad signatures, oversized and hostile messages, engine restart while a client waits, WebSocket bridge.

The analysis is a fast stand-in (``StandIn``) built on the test factories, so
everything after it — annotated OTIO and host markers — is the real code. One
test runs the real engine when a recogniser's weights are installed.
"""

from __future__ import annotations

import json
import random
import threading
import time

import opentimelineio as otio
import pytest
import zmq
from factories import make_analysis, make_timeline
from server_standin import StandIn, start_server

from emoguide.client import EmoguideClient, EngineUnavailable, JobFailed, JobLost, RequestError
from emoguide.server import protocol as P
from emoguide.server.connection import ConnectionInfo, new_key
from emoguide.server.host_markers import host_markers
from emoguide.server.runner import JobRunner
from emoguide.server.server import EngineServer
from emoguide.timeline.markers import annotated_copy


@pytest.fixture
def engine():
    servers = []

    def make(analyze=None, **kw):
        server, info = start_server(analyze or StandIn(), **kw)
        servers.append(server)
        return server, info

    yield make
    for s in servers:
        s.stop()


def client(info, **kw):
    return EmoguideClient(connection=info, timeout=kw.pop("timeout", 3.0), status_interval=kw.pop("status_interval", 0.5), **kw)


def raw_socket(info):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(info.control_url)
    return sock


def recv(sock, key, timeout_ms=3000):
    assert sock.poll(timeout_ms), "no reply from the server"
    return P.decode(sock.recv_multipart(), key)


def test_round_trip_client_server_markers(engine):
    _, info = engine()
    tl = make_timeline()
    with client(info) as c:
        assert c.ping()["engine"]["engine"] == "ready"
        job = c.analyze(tl)
        progress = []
        result = c.wait(job, timeout=10, on_progress=progress.append)
    expected_analysis = make_analysis(tl)
    expected = annotated_copy(tl, expected_analysis)
    # the server serialises through OTIO's writer, so its pre_adapter_write hooks (our Resolve notes) ran
    expected_json = otio.adapters.read_from_string(otio.adapters.write_to_string(expected), "otio_json")
    annotated = otio.adapters.read_from_string(json.dumps(result["timeline"]), "otio_json")
    assert annotated.is_equivalent_to(expected_json)
    assert result["markers"] == json.loads(json.dumps(host_markers(expected, expected_analysis)))
    by_id = {m["id"]: m for m in result["markers"]}
    first, second = by_id["V1/0:emotion:0"], by_id["V1/0:emotion:1"]
    assert (first["colour_key"], second["colour_key"]) == ("happy", "sad")
    assert first["start_s"] == pytest.approx(0.0) and second["start_s"] == pytest.approx(2.0, abs=1 / 29.97)
    assert by_id["V1/2:status"]["kind"] == "media_offline" and by_id["V1/2:status"]["track_number"] == 1
    assert progress and progress[-1]["stage"] == "decode"
    assert result["analysis"]["timeline_name"] == "cut" and result["partial"] is True


def test_status_answers_late_subscriber_with_result(engine):
    _, info = engine()
    with client(info) as c:
        job = c.analyze(make_timeline())
        deadline = time.monotonic() + 5
        while c.status(job, include_result=False)["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        late = c.status(job)
        assert late["result"]["markers"] and c.wait(job, timeout=5) == late["result"]
        assert [j["job_id"] for j in c.list_jobs()] == [job]


def test_cancel_mid_clip(engine):
    stand_in = StandIn(steps=400, step_s=0.01)
    _, info = engine(stand_in)
    with client(info) as c:
        job = c.analyze(make_timeline())
        events = c.events(job, timeout=10)
        for event in events:
            if event["type"] == "progress" and event["stage"] == "decode":
                break
        t0 = time.monotonic()
        assert c.cancel(job)["job_id"] == job
        with pytest.raises(JobFailed) as err:
            c.wait(job, timeout=5)
        assert err.value.state == "cancelled"
        assert time.monotonic() - t0 < 2.0
    assert stand_in.completed_steps == []  # it never ran to the end


def test_queue_is_bounded_and_says_so(engine):
    gate = threading.Event()
    _, info = engine(StandIn(steps=1, gate=gate), max_queue=2)
    with client(info) as c:
        running = c.analyze(make_timeline())
        deadline = time.monotonic() + 5
        while c.status(running, include_result=False)["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        queued = [c.analyze(make_timeline()) for _ in range(2)]
        with pytest.raises(RequestError) as err:
            c.analyze(make_timeline())
        assert err.value.code == "queue_full" and "limit 2" in err.value.message
        assert c.cancel(queued[0])["state"] == "cancelled"  # cancelling a queued job frees its place at once
        extra = c.analyze(make_timeline())
        gate.set()
        for job in (running, queued[1], extra):
            assert c.wait(job, timeout=10)["markers"]


@pytest.mark.parametrize("n_clients", [2, 8])
def test_concurrent_clients_get_exactly_their_own_results(engine, n_clients):
    _, info = engine(StandIn(steps=2, step_s=0.005), max_queue=n_clients)
    results: dict[int, list] = {}
    errors = []

    def one(i):
        try:
            tl = make_timeline()
            tl.name = f"client-{i}"
            with client(info, timeout=10) as c:
                job = c.analyze(tl)
                events = list(c.events(job, timeout=30))
                results[i] = [job, events]
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    assert not errors and len(results) == n_clients
    assert len({job for job, _ in results.values()}) == n_clients
    for i, (job, events) in results.items():
        finals = [e for e in events if e["type"] == "result" or e.get("state") == "done"]
        assert len(finals) == 1, f"client {i}: {len(finals)} final events"
        final = finals[0]
        result = final.get("result")
        assert result["analysis"]["timeline_name"] == f"client-{i}"
        assert all(e.get("job_id", job) == job for e in events)


def test_bad_signature_and_unsigned_are_rejected_and_answered(engine):
    _, info = engine()
    sock = raw_socket(info)
    sock.send_multipart(P.encode(b"not-the-key" * 4, "ping", {}, session="s"))
    reply = recv(sock, info.key_bytes)
    assert reply.type == "error_reply" and reply.content["error"]["code"] == "bad_signature"
    frames = P.encode(info.key_bytes, "ping", {}, session="s")
    frames[1] = b""
    sock.send_multipart(frames)
    assert recv(sock, info.key_bytes).content["error"]["code"] == "bad_signature"
    sock.close(0)


def test_oversized_messages_get_an_error_or_are_dropped_and_others_are_served(engine):
    _, info = engine(max_message_bytes=64 * 1024)
    sock = raw_socket(info)
    sock.send_multipart(P.encode(info.key_bytes, "analyze", {"timeline": "x" * 100_000}, session="s"))
    assert recv(sock, info.key_bytes).content["error"]["code"] == "too_large"
    sock.send_multipart(P.encode(info.key_bytes, "analyze", {"timeline": "x" * 300_000}, session="s"))
    assert not sock.poll(300)  # beyond the hard limit libzmq drops that peer's connection: no reply, no crash
    sock.close(0)
    with client(info) as c:
        assert c.ping()["ok"]


def test_hostile_messages_do_not_stop_the_server(engine):
    server, info = engine()
    rng = random.Random(7)
    sock = raw_socket(info)
    good = P.encode(info.key_bytes, "ping", {}, session="s")
    cases = [[], [b""], [P.DELIMITER], [P.DELIMITER] * 9, [b"x" * 10] * 6, good[:2] + [b"0" * 64] + good[3:],
             [P.DELIMITER, b"", b"{}", b"{}"], [P.DELIMITER, b"a" * 64, b"\xff\xfe", b"{}"]]
    cases += [[rng.randbytes(rng.randint(0, 64)) for _ in range(rng.randint(1, 6))] for _ in range(40)]
    answered = 0
    for frames in cases:
        if frames:
            sock.send_multipart(frames)
            answered += 1
    got = 0
    while sock.poll(500):
        reply = P.decode(sock.recv_multipart(), info.key_bytes)
        assert reply.type == "error_reply"
        got += 1
    assert got == answered and server.requests_rejected == answered
    sock.send_multipart(good)
    sock.send_multipart(good)  # replayed
    assert recv(sock, info.key_bytes).content["ok"] is True
    assert recv(sock, info.key_bytes).content["error"]["code"] == "replayed"
    sock.close(0)
    with client(info) as c:
        assert c.wait(c.analyze(make_timeline()), timeout=10)["markers"]


def _wait_in_thread(c, job):
    outcome = {}

    def waiter():
        t0 = time.monotonic()
        try:
            c.wait(job, timeout=20)
        except Exception as exc:  # noqa: BLE001
            outcome["error"] = exc
        outcome["s"] = time.monotonic() - t0

    t = threading.Thread(target=waiter)
    t.start()
    return t, outcome


def test_engine_stopping_while_a_plugin_waits_gives_a_clear_error(engine):
    gate = threading.Event()  # never set: the job runs until the engine goes away
    server, info = start_server(StandIn(steps=1, gate=gate))
    with client(info, timeout=0.5, status_interval=0.2) as c:
        t, outcome = _wait_in_thread(c, c.analyze(make_timeline()))
        time.sleep(0.3)
        server.stop()
        t.join(5)
        assert not t.is_alive(), "the client hung"
        assert isinstance(outcome["error"], EngineUnavailable) and "shut down" in str(outcome["error"])


CRASHING_ENGINE = """
import sys, threading, time
from emoguide.pipeline.progress import check_cancel
from emoguide.server.connection import load_connection
from emoguide.server.runner import JobRunner
from emoguide.server.server import EngineServer

def forever(timeline, options, progress, cancel):
    while True:
        check_cancel(cancel)
        time.sleep(0.01)

info = load_connection(sys.argv[1])
EngineServer(info, JobRunner(forever)).serve_forever()
"""


def test_engine_crash_and_restart_while_a_plugin_waits(tmp_path):
    """The engine process is killed mid-job: the waiting client errors out quickly, then sees the job is gone."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    from emoguide.server.connection import write_connection

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    info = ConnectionInfo(key=new_key(), control_port=ports[0], pub_port=ports[1], ws_port=None)
    path = write_connection(info, tmp_path / "connection.json")
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_ENGINE, str(path)])
    try:
        with client(info, timeout=0.5, status_interval=0.2) as c:
            deadline = time.monotonic() + 20
            while True:
                try:
                    c.ping()
                    break
                except EngineUnavailable:
                    assert time.monotonic() < deadline and proc.poll() is None, "engine subprocess did not start"
            job = c.analyze(make_timeline())
            t, outcome = _wait_in_thread(c, job)
            time.sleep(0.3)
            os.kill(proc.pid, signal.SIGKILL)
            t.join(5)
            assert not t.is_alive(), "the client hung"
            assert isinstance(outcome["error"], EngineUnavailable) and "did not answer" in str(outcome["error"])
            assert outcome["s"] < 3
            restarted, _ = start_server(StandIn(), info=info)  # back on the same ports, without the old job
            try:
                with pytest.raises(JobLost):
                    c.status(job)
                assert c.wait(c.analyze(make_timeline()), timeout=10)["markers"]
            finally:
                restarted.stop()
    finally:
        proc.kill()
        proc.wait(5)


def test_client_without_engine_raises_engine_unavailable():
    info = ConnectionInfo(key=new_key(), control_port=1, pub_port=2, ws_port=None)
    with client(info, timeout=0.3) as c:
        t0 = time.monotonic()
        with pytest.raises(EngineUnavailable):
            c.ping()
        assert time.monotonic() - t0 < 2


def test_guide_answers_not_available_without_guidance_module(engine, monkeypatch):
    import emoguide.server.server as srv

    monkeypatch.setattr(srv, "guidance_function", lambda: None)
    _, info = engine()
    with client(info) as c:
        with pytest.raises(RequestError) as err:
            c.guide(job_id="x", target={"arc": "rise"})
        assert err.value.code == "not_available"


def test_invalid_requests_get_precise_errors(engine):
    _, info = engine()
    with client(info) as c:
        for content, code in [({}, "invalid_request"), ({"timeline": {"OTIO_SCHEMA": "Clip.2"}}, "invalid_request"),
                              ({"timeline": {}, "options": {"nope": 1}}, "invalid_request"),
                              ({"timeline": {}, "options": {"settings": {"hop_s": 5, "window_s": 1}}}, "invalid_request"),
                              ({"timeline": {}, "options": {"settings": {"skip_loop_filter": "most"}}},
                               "invalid_request")]:
            with pytest.raises(RequestError) as err:
                c.request("analyze", content)
            assert err.value.code == code
        with pytest.raises(RequestError) as err:
            c.request("frobnicate", {})
        assert err.value.code == "unknown_type"
        with pytest.raises(JobLost):
            c.status("nope")


def test_websocket_bridge_same_protocol_same_key(engine):
    pytest.importorskip("websockets")
    from websockets.sync.client import connect

    from emoguide.server.websocket import WebSocketBridge

    _, info = engine()
    bridge = WebSocketBridge(info, port=0, max_message_bytes=1 << 20)
    port = bridge.start()
    key = info.key_bytes
    try:
        with connect(f"ws://127.0.0.1:{port}", max_size=None, open_timeout=5) as ws:
            ws.send("not json")
            reply = P.decode([f.encode() for f in json.loads(ws.recv(timeout=5))], key)
            assert reply.content["error"]["code"] == "bad_message"
            bad = P.encode(b"wrong" * 8, "ping", {}, session="ws")
            ws.send(json.dumps([f.decode() for f in bad]))
            assert P.decode([f.encode() for f in json.loads(ws.recv(timeout=5))], key).content["error"]["code"] == "bad_signature"
            tl = json.loads(otio.adapters.write_to_string(make_timeline(), "otio_json"))
            ws.send(json.dumps([f.decode() for f in P.encode(key, "analyze", {"timeline": tl}, session="ws")]))
            reply = P.decode([f.encode() for f in json.loads(ws.recv(timeout=5))], key)
            job = reply.content["job_id"]
            result = None
            while result is None:
                frames = [f.encode() for f in json.loads(ws.recv(timeout=10))]
                msg = P.decode(frames, key, with_topic=True)
                assert msg.topic == P.job_topic(job)
                if msg.type == "result":
                    result = msg.content["result"]
            assert {m["id"] for m in result["markers"]} >= {"V1/0:emotion:0", "V1/2:status"}
    finally:
        bridge.stop()


def test_real_engine_round_trip(tmp_path):
    """One job through the real pipeline (skips when no recogniser's weights are installed)."""
    from pathlib import Path

    from emoguide.pipeline.engine import Engine

    engine = Engine.load(modalities=("text",))
    if not engine.recognisers:
        pytest.skip(f"no recogniser available: {engine.unavailable}")
    demo = Path(__file__).resolve().parent.parent / "examples" / "demo.otio"
    timeline = otio.adapters.read_from_file(str(demo))
    for clip in timeline.find_clips():  # hosts send absolute media paths
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and not ref.target_url.startswith(("/", "file:")):
            ref.target_url = str((demo.parent / ref.target_url).resolve())
    runner = JobRunner(engine=engine)
    info = ConnectionInfo(key=new_key(), control_port=0, pub_port=0, ws_port=None)
    server = EngineServer(info, runner, context=zmq.Context())
    server.bind()
    server.start()
    try:
        with client(info, timeout=5) as c:
            result = c.wait(c.analyze(timeline, {"settings": {"spot_brief": False, "transcribe": False},
                                                 "cache": False}), timeout=120)
        ok = [clip for clip in result["analysis"]["clips"] if clip["status"] == "ok"]
        assert ok and any(m["kind"] == "emotion" for m in result["markers"])
    finally:
        server.stop()


def test_non_finite_analysis_values_travel_as_null(engine):
    """Real analyses hold NaN (pitch of unvoiced windows); the protocol refuses NaN, so they must arrive as null."""
    import numpy as np

    from emoguide.pipeline.results import TimelineAnalysis

    def with_nan(timeline, options, progress, cancel):
        analysis = make_analysis(timeline)
        windows = analysis.clips[0].windows
        windows.modalities["voice"]["pitch_hz"] = np.full(len(windows.start_s), np.nan, np.float32)
        return analysis

    _, info = engine(with_nan)
    with client(info) as c:
        result = c.wait(c.analyze(make_timeline()), timeout=10)
        assert c.ping()["engine"]["engine"] == "ready"  # the server survived sending it
    assert set(result["analysis"]["clips"][0]["windows"]["modalities"]["voice"]["pitch_hz"]) == {None}
    back = TimelineAnalysis.from_dict(result["analysis"]).clips[0].windows.modalities["voice"]["pitch_hz"]
    assert back.dtype == np.float32 and np.isnan(back).all()


def test_a_result_that_cannot_travel_fails_its_job_not_the_server():
    """If a runner ever returns something the wire refuses (here Infinity), that job fails with a clear
    error, the client is not left waiting, and the server goes on serving others."""
    class Unsendable(JobRunner):
        def run(self, job, progress):
            return {"analysis": {"loudness": float("inf")}}

    info = ConnectionInfo(key=new_key(), control_port=0, pub_port=0, ws_port=None)
    server = EngineServer(info, Unsendable(StandIn()), context=zmq.Context())
    server.bind()
    server.start()
    try:
        with client(info) as c:
            with pytest.raises(JobFailed) as failed:
                c.wait(c.analyze(make_timeline()), timeout=10)
            assert failed.value.error["code"] == "internal" and "cannot be sent" in failed.value.error["message"]
            assert c.ping()["engine"]["engine"] == "ready"
    finally:
        server.stop()
