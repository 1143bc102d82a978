"""The engine server: a ZeroMQ ROUTER for requests and a PUB for job events, one loop, never dies on a message.

Requests (``ping``, ``analyze``, ``guide``, ``status``, ``cancel``,
``list_jobs``) are answered at once — analysis is only enqueued and the reply
carries the job id. Progress, state changes and the result are published on the
PUB socket under the topic ``job.<id>`` (first frame), so hosts subscribe to
exactly their jobs. PUB drops events for subscribers that joined late, which is
why ``status`` returns the latest state and, once done, the full result.

Every message is verified by :mod:`emoguide.server.protocol` before anything
else; a malformed, unsigned, oversized, replayed or hostile message gets an
error reply and the loop carries on with everyone else. Only this loop thread
touches the sockets; the worker hands events over through a queue.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import threading
from typing import Any

import zmq

from emoguide import __version__
from emoguide.server import protocol as P
from emoguide.server.connection import ConnectionInfo
from emoguide.server.jobs import DONE, JobError, JobManager, QueueFull, Runner
from emoguide.server.runner import guidance_function, parse_timeline, validate_options

log = logging.getLogger(__name__)

POLL_MS = 20
REPLAY_WINDOW = 10000


class EngineServer:
    def __init__(self, connection: ConnectionInfo, runner: Runner, *, max_queue: int = 8, keep_finished: int = 32,
                 max_message_bytes: int = P.DEFAULT_MAX_BYTES, context: zmq.Context | None = None):
        self.connection = connection
        self.key = connection.key_bytes
        self.runner = runner
        self.max_bytes = max_message_bytes
        self.session = P.new_id()
        self.context = context or zmq.Context.instance()
        self.jobs = JobManager(runner, self.publish, max_queue=max_queue, keep_finished=keep_finished)
        self._events: "queue.SimpleQueue[tuple[str, str, dict]]" = queue.SimpleQueue()
        self._seen: collections.deque[str] = collections.deque(maxlen=REPLAY_WINDOW)
        self._seen_set: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.router = self.pub = None
        self.requests_served = 0
        self.requests_rejected = 0

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def bind(self) -> ConnectionInfo:
        """Bind both sockets (port 0 picks a free one) and return the connection info with the real ports."""
        c = self.connection
        self.router = self.context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        # hard limit: libzmq drops the connection of a peer that sends more; the soft limit
        # (max_message_bytes) below it is checked by the decoder and answered with ``too_large``.
        self.router.setsockopt(zmq.MAXMSGSIZE, 2 * self.max_bytes)
        self.pub = self.context.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        base = f"{c.transport}://{c.ip}"
        c.control_port = self._bind(self.router, base, c.control_port)
        c.pub_port = self._bind(self.pub, base, c.pub_port)
        c.max_message_bytes = self.max_bytes
        c.pid = os.getpid()
        return c

    @staticmethod
    def _bind(sock: zmq.Socket, base: str, port: int | None) -> int:
        if not port:
            return sock.bind_to_random_port(base)
        sock.bind(f"{base}:{port}")
        return int(port)

    def start(self) -> "EngineServer":
        """Serve in a background thread (tests, and ``emoguide serve`` with the WebSocket bridge)."""
        if self.router is None:
            self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="emoguide-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        if self.router is None:
            self.bind()
        self.jobs.start()
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        log.info("emoguide engine listening on %s (events on %s)", self.connection.control_url, self.connection.pub_url)
        try:
            while not self._stop.is_set():
                ready = dict(poller.poll(POLL_MS))
                if self.router in ready:
                    for _ in range(64):  # bounded burst, then let events out
                        try:
                            frames = self.router.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._handle(frames)
                self._drain_events()
        finally:
            self.jobs.stop()
            self._drain_events()
            self.router.close(0)
            self.pub.close(0)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- events ----------------------------------------------------------------------------------------------------
    def publish(self, job_id: str, event_type: str, content: dict[str, Any]) -> None:
        """Thread-safe: queue an event; the loop thread sends it on the PUB socket."""
        self._events.put((job_id, event_type, content))

    def _drain_events(self) -> None:
        while True:
            try:
                job_id, event_type, content = self._events.get_nowait()
            except queue.Empty:
                return
            try:
                frames = P.encode(self.key, event_type, content, session=self.session, topic=P.job_topic(job_id))
                self.pub.send_multipart(frames)
            except Exception:  # noqa: BLE001 - an unencodable event must not stop the loop
                log.exception("could not publish %s for job %s", event_type, job_id)

    # -- requests --------------------------------------------------------------------------------------------------
    def _handle(self, frames: list[bytes]) -> None:
        identities = _identities(frames)
        try:
            msg = P.decode(frames, self.key, max_bytes=self.max_bytes)
            self._check_replay(msg)
        except P.ProtocolError as exc:
            self.requests_rejected += 1
            log.info("rejected message: %s", exc)
            reply_to = exc.header.get("msg_id") if exc.header else None
            self._send(identities, "error_reply", P.error_content(exc.code, exc.message), reply_to)
            return
        try:
            content = self._dispatch(msg)
        except JobError as exc:
            content = P.error_content(exc.code, str(exc))
        except Exception as exc:  # noqa: BLE001 - the loop must survive any request
            log.exception("request %s failed", msg.type)
            content = P.error_content("internal", f"{type(exc).__name__}: {exc}")
        self.requests_served += 1
        self._send(msg.identities, P.reply_type(msg.type), content, msg.msg_id)

    def _send(self, identities: list[bytes], msg_type: str, content: dict[str, Any], reply_to: str | None) -> None:
        if not identities:
            return
        try:
            frames = P.encode(self.key, msg_type, content, session=self.session, reply_to=reply_to,
                              identities=identities)
        except (TypeError, ValueError) as exc:  # an unencodable reply is our bug: answer with an error, keep serving
            log.exception("could not encode a %s", msg_type)
            frames = P.encode(self.key, "error_reply", P.error_content("internal", f"reply could not be encoded: {exc}"),
                              session=self.session, reply_to=reply_to, identities=identities)
        try:
            self.router.send_multipart(frames, zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # peer gone or its queue full: nothing more to do for it
            log.info("could not reply to a peer: %s", exc)

    def _check_replay(self, msg: P.Message) -> None:
        if msg.msg_id in self._seen_set:
            raise P.ProtocolError("replayed", "this msg_id was already used; every message needs a fresh id",
                                  msg.header)
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(msg.msg_id)
        self._seen_set.add(msg.msg_id)

    def _dispatch(self, msg: P.Message) -> dict[str, Any]:
        handler = getattr(self, f"_on_{msg.type}", None) if msg.type in P.REQUEST_TYPES else None
        if handler is None:
            raise JobError("unknown_type", f"unknown request type {msg.type!r}; expected one of {', '.join(P.REQUEST_TYPES)}")
        return handler(msg)

    def _on_ping(self, msg: P.Message) -> dict[str, Any]:
        return {"ok": True, "protocol_version": P.PROTOCOL_VERSION, "emoguide_version": __version__,
                "server_session": self.session, "pid": os.getpid(), "engine": self.runner.info(),
                "queue": {"queued": self.jobs.queued(), "max": self.jobs.max_queue},
                "guidance": guidance_function() is not None, "max_message_bytes": self.max_bytes}

    def _on_analyze(self, msg: P.Message) -> dict[str, Any]:
        c = msg.content
        if "timeline" not in c or not isinstance(c["timeline"], (dict, str)):
            raise JobError("invalid_request", "analyze needs 'timeline': the OTIO JSON of one timeline")
        if set(c) - {"timeline", "options"}:
            raise JobError("invalid_request", f"unknown field(s): {', '.join(sorted(set(c) - {'timeline', 'options'}))}")
        options = validate_options(c.get("options"))
        timeline = parse_timeline(c["timeline"])
        return self._submit("analyze", {"timeline": timeline, "options": options}, msg)

    def _on_guide(self, msg: P.Message) -> dict[str, Any]:
        if guidance_function() is None:
            raise JobError("not_available", "guidance is not available in this engine build (emoguide.guidance missing)")
        c = msg.content
        target = c.get("target") or {}
        if not isinstance(target, dict):
            raise JobError("invalid_request", "target must be an object")
        if isinstance(c.get("job_id"), str):
            job = self.jobs.get(c["job_id"])
            if job is None:
                raise JobError("unknown_job", f"no job {c['job_id']} (finished long ago, or the engine restarted)")
            if job.state != DONE or job.kind != "analyze":
                raise JobError("invalid_request", f"job {job.id} is an unfinished or non-analysis job ({job.state})")
            request = {"analysis": job.result["analysis"], "timeline": job.request["timeline"], "target": target}
        elif isinstance(c.get("analysis"), dict):
            request = {"analysis": c["analysis"], "timeline": c.get("timeline"), "target": target}
        else:
            raise JobError("invalid_request", "guide needs 'job_id' of a finished analysis, or 'analysis'")
        return self._submit("guide", request, msg)

    def _submit(self, kind: str, request: dict[str, Any], msg: P.Message) -> dict[str, Any]:
        try:
            job = self.jobs.submit(kind, request, session=msg.header["session"])
        except QueueFull as exc:
            raise JobError("queue_full", str(exc)) from exc
        return {"ok": True, "job_id": job.id, "state": job.state, "topic": P.job_topic(job.id),
                "queued": self.jobs.queued()}

    def _job(self, msg: P.Message):
        job_id = msg.content.get("job_id")
        if not isinstance(job_id, str):
            raise JobError("invalid_request", "job_id (a string) is required")
        job = self.jobs.get(job_id)
        if job is None:
            raise JobError("unknown_job", f"no job {job_id} here (finished long ago, or the engine restarted)")
        return job

    def _on_status(self, msg: P.Message) -> dict[str, Any]:
        job = self._job(msg)
        return {"ok": True, **job.status(include_result=bool(msg.content.get("include_result", True)))}

    def _on_cancel(self, msg: P.Message) -> dict[str, Any]:
        job = self.jobs.cancel(self._job(msg).id)
        return {"ok": True, **job.summary()}

    def _on_list_jobs(self, msg: P.Message) -> dict[str, Any]:
        return {"ok": True, "jobs": [j.summary() for j in self.jobs.jobs()]}


def _identities(frames: list[bytes]) -> list[bytes]:
    """The routing frames of a ROUTER message, even when the rest is garbage (so the error can be answered)."""
    if not frames:
        return []
    try:
        at = frames.index(P.DELIMITER)
    except ValueError:
        return frames[:1]
    return frames[:at] if 0 < at <= P.MAX_IDENTITY_FRAMES else frames[:1]
