"""A small Python client for a running ``emoguide serve``.

Usage::

    from emoguide.client import EmoguideClient

    with EmoguideClient() as engine:                  # reads ~/.config/emoguide/connection.json
        job = engine.analyze(timeline)                # an OTIO Timeline, its JSON dict or string
        result = engine.wait(job, timeout=600, on_progress=print)
        result["markers"]                             # host-ready markers; result["timeline"]: annotated OTIO JSON

Every request has a timeout: when the engine does not answer (not started,
crashed, restarting) the client raises :class:`EngineUnavailable` instead of
hanging, and rebuilds its socket so a stale request is never delivered later
(ZeroMQ's "lazy pirate" pattern). A job the engine no longer knows (it
restarted) raises :class:`JobLost`. One client per thread: ZeroMQ sockets are
not thread-safe.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import zmq

from emoguide.server import protocol as P
from emoguide.server.connection import ConnectionInfo, load_connection


class ClientError(RuntimeError):
    """Base class of everything this client raises."""


class EngineUnavailable(ClientError):
    """The engine did not answer in time (not running, busy beyond the timeout, or restarting)."""


class RequestError(ClientError):
    """The engine answered with an error reply (``code`` is one of protocol.ERROR_CODES)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class JobLost(RequestError):
    """The engine no longer knows the job (it restarted, or the result aged out); send it again."""


class JobFailed(ClientError):
    """The job ended ``failed`` or ``cancelled``; ``state`` and ``error`` say which and why."""

    def __init__(self, state: str, error: dict[str, Any] | None):
        error = error or {}
        super().__init__(f"job {state}: {error.get('message', '')}".rstrip(": "))
        self.state = state
        self.error = error


class WaitTimeout(ClientError, TimeoutError):
    """The job was still running when ``wait``'s timeout ran out (the engine is alive)."""


class EmoguideClient:
    def __init__(self, connection_file: str | Path | None = None, *, connection: ConnectionInfo | None = None,
                 timeout: float = 10.0, status_interval: float = 2.0, context: zmq.Context | None = None):
        self.connection = connection or load_connection(connection_file)
        self.key = self.connection.key_bytes
        self.timeout = timeout
        self.status_interval = status_interval
        self.session = P.new_id()
        self.context = context or zmq.Context.instance()
        self._dealer: zmq.Socket | None = None
        self._sub: zmq.Socket | None = None
        self._subscribed: set[str] = set()

    # -- sockets -------------------------------------------------------------------------------------------------
    def _request_socket(self) -> zmq.Socket:
        if self._dealer is None:
            s = self.context.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(self.connection.control_url)
            self._dealer = s
        return self._dealer

    def _event_socket(self) -> zmq.Socket:
        if self._sub is None:
            s = self.context.socket(zmq.SUB)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(self.connection.pub_url)
            self._sub = s
        return self._sub

    def _reset_request_socket(self) -> None:
        if self._dealer is not None:
            self._dealer.close(0)
            self._dealer = None

    def close(self) -> None:
        self._reset_request_socket()
        if self._sub is not None:
            self._sub.close(0)
            self._sub = None

    def __enter__(self) -> "EmoguideClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------------------------------
    def request(self, msg_type: str, content: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Send one request and return its reply content; raises on error replies and timeouts."""
        timeout = self.timeout if timeout is None else timeout
        sock = self._request_socket()
        header = P.make_header(msg_type, self.session)
        sock.send_multipart(P.encode(self.key, msg_type, content or {}, session=self.session, header=header))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(int(remaining * 1000) + 1, zmq.POLLIN):
                self._reset_request_socket()
                raise EngineUnavailable(f"the engine at {self.connection.control_url} did not answer {msg_type!r} within "
                                        f"{timeout:g} s; is 'emoguide serve' running?")
            reply = P.decode(sock.recv_multipart(), self.key, max_bytes=1 << 31)
            reply_to = reply.header.get("reply_to")
            if reply_to == header["msg_id"] or (reply_to is None and reply.type == "error_reply"):
                break  # anything else answers an earlier request that timed out
        body = reply.content
        if body.get("ok") is False:
            err = body.get("error") or {}
            cls = JobLost if err.get("code") == "unknown_job" else RequestError
            raise cls(str(err.get("code", "internal")), str(err.get("message", "")))
        return body

    def ping(self, timeout: float | None = None) -> dict[str, Any]:
        return self.request("ping", {}, timeout)

    def analyze(self, timeline: Any, options: dict[str, Any] | None = None) -> str:
        """Queue an analysis of ``timeline`` and return its job id at once."""
        content: dict[str, Any] = {"timeline": timeline_json(timeline)}
        if options:
            content["options"] = options
        return self.request("analyze", content)["job_id"]

    def guide(self, job_id: str | None = None, target: dict[str, Any] | None = None,
              analysis: dict[str, Any] | None = None, timeline: Any = None) -> str:
        content: dict[str, Any] = {"target": target or {}}
        if job_id is not None:
            content["job_id"] = job_id
        if analysis is not None:
            content["analysis"] = analysis
        if timeline is not None:
            content["timeline"] = timeline_json(timeline)
        return self.request("guide", content)["job_id"]

    def status(self, job_id: str, include_result: bool = True) -> dict[str, Any]:
        return self.request("status", {"job_id": job_id, "include_result": include_result})

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.request("cancel", {"job_id": job_id})

    def list_jobs(self) -> list[dict[str, Any]]:
        return self.request("list_jobs", {})["jobs"]

    # -- events ------------------------------------------------------------------------------------------------------
    def subscribe(self, job_id: str) -> None:
        topic = P.job_topic(job_id)
        if topic not in self._subscribed:
            self._event_socket().setsockopt_string(zmq.SUBSCRIBE, topic)
            self._subscribed.add(topic)

    def events(self, job_id: str, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Yield ``{"type": "state"|"progress"|"result", **content}`` for one job until it finishes.

        Subscribes first, then asks ``status`` (events sent before the subscription
        reached the engine are lost by PUB/SUB by design), and asks again whenever
        nothing arrived for ``status_interval`` seconds — which is also how a dead
        engine is noticed (:class:`EngineUnavailable`) instead of waiting forever.
        """
        self.subscribe(job_id)
        sub = self._event_socket()
        deadline = None if timeout is None else time.monotonic() + timeout
        status = self.status(job_id)
        yield {"type": "state", **_without(status, "ok")}
        if status["state"] in ("done", "failed", "cancelled"):
            return
        last_seen = time.monotonic()
        while True:
            wait_s = self.status_interval - (time.monotonic() - last_seen)
            if deadline is not None:
                if time.monotonic() >= deadline:
                    raise WaitTimeout(f"job {job_id} still running after {timeout:g} s")
                wait_s = min(wait_s, deadline - time.monotonic())
            if wait_s > 0 and sub.poll(int(wait_s * 1000) + 1, zmq.POLLIN):
                msg = P.decode(sub.recv_multipart(), self.key, max_bytes=1 << 31, with_topic=True)
                if msg.topic != P.job_topic(job_id):
                    continue
                last_seen = time.monotonic()
                event = {"type": msg.type, **msg.content}
                yield event
                if msg.type == "result" or (msg.type == "state" and msg.content.get("state") in ("done", "failed", "cancelled")):
                    return
            elif wait_s <= 0 or time.monotonic() - last_seen >= self.status_interval:
                status = self.status(job_id)  # raises EngineUnavailable / JobLost
                last_seen = time.monotonic()
                if status["state"] in ("done", "failed", "cancelled"):
                    yield {"type": "state", **_without(status, "ok")}
                    return

    def wait(self, job_id: str, timeout: float | None = None,
             on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Block until the job is done and return its result; raises JobFailed, JobLost, EngineUnavailable, WaitTimeout."""
        for event in self.events(job_id, timeout):
            if event["type"] == "progress" and on_progress is not None:
                on_progress(event)
            elif event["type"] == "result":
                return event["result"]
            elif event["type"] == "state" and event.get("state") == "done":
                return event["result"] if event.get("result") is not None else self.status(job_id)["result"]
            elif event["type"] == "state" and event.get("state") in ("failed", "cancelled"):
                error = event.get("error") or {}
                if error.get("code") == "engine_unavailable":
                    raise EngineUnavailable(error.get("message", "the engine shut down"))
                raise JobFailed(event["state"], error)
        raise JobFailed("unknown", {"message": "the event stream ended without a result"})


def timeline_json(timeline: Any) -> Any:
    """An OTIO Timeline → its JSON object; dicts and JSON strings pass through; a path is read with OTIO."""
    if isinstance(timeline, (dict, str)) and not (isinstance(timeline, str) and not timeline.lstrip().startswith("{")):
        return timeline
    if isinstance(timeline, (str, Path)):
        from emoguide.timeline.mapping import load_timeline

        timeline = load_timeline(timeline)
    import opentimelineio as otio

    return json.loads(otio.adapters.write_to_string(timeline, "otio_json"))


def _without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}
