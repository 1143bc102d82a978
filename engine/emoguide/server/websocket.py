"""WebSocket bridge for hosts that cannot speak ZeroMQ (Premiere's UXP, Resolve's bare Python).

Same protocol, same key: one WebSocket text message is the JSON array of the
ZeroMQ frames as strings — ``["<EMG|MSG>", signature, header, content]`` for a
request or reply, ``[topic, "<EMG|MSG>", signature, header, content]`` for an
event. The bridge does not sign or trust anything itself: it forwards the
host's frames to the engine's ROUTER through its own DEALER (the engine checks
the signature) and relays replies and events back unchanged (the host checks
them). Each WebSocket connection only receives events of jobs it has been told
about in a reply (``job_id``), buffered briefly in case an event overtakes the
reply that names its job.

Messages that are not a JSON array of strings are answered by the bridge with
a signed ``error_reply`` (``bad_message``/``too_large``); frames beyond twice the
size limit close that connection (1009), as libzmq does on the ZeroMQ side.
Runs in its own thread with its own asyncio loop; needs the ``websockets`` package.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
from typing import Any

import zmq
import zmq.asyncio

from emoguide.server import protocol as P
from emoguide.server.connection import ConnectionInfo

log = logging.getLogger(__name__)

PENDING_EVENTS = 256


class WebSocketBridge:
    def __init__(self, connection: ConnectionInfo, *, host: str | None = None, port: int | None = None,
                 max_message_bytes: int = P.DEFAULT_MAX_BYTES):
        self.connection = connection
        self.host = host or connection.ip
        self.port = connection.ws_port if port is None else port
        self.max_bytes = max_message_bytes
        self.key = connection.key_bytes
        self.session = P.new_id()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.context = zmq.asyncio.Context()

    def start(self, timeout: float = 10.0) -> int:
        """Start serving in a background thread; returns the bound port."""
        self._thread = threading.Thread(target=self._run, name="emoguide-websocket", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"WebSocket bridge did not start: {self._error}")
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)
        self.context.destroy(0)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        async with serve(self._handle, self.host, self.port or 0, max_size=2 * self.max_bytes,
                         compression=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            log.info("WebSocket bridge on ws://%s:%s", self.host, self.port)
            await self._stopped.wait()

    async def _handle(self, ws) -> None:
        dealer = self.context.socket(zmq.DEALER)
        sub = self.context.socket(zmq.SUB)
        for s in (dealer, sub):
            s.setsockopt(zmq.LINGER, 0)
        dealer.connect(self.connection.control_url)
        sub.connect(self.connection.pub_url)
        sub.setsockopt(zmq.SUBSCRIBE, P.TOPIC_PREFIX.encode())
        known: set[str] = set()
        pending: collections.deque[tuple[str, list[bytes]]] = collections.deque(maxlen=PENDING_EVENTS)
        tasks = [asyncio.create_task(self._from_host(ws, dealer)),
                 asyncio.create_task(self._replies(ws, dealer, known, pending)),
                 asyncio.create_task(self._events(ws, sub, known, pending))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            dealer.close(0)
            sub.close(0)

    async def _from_host(self, ws, dealer) -> None:
        async for message in ws:
            try:
                frames = self._frames(message)
            except P.ProtocolError as exc:
                await ws.send(_text(P.encode(self.key, "error_reply", P.error_content(exc.code, exc.message),
                                             session=self.session)))
                continue
            await dealer.send_multipart(frames)

    def _frames(self, message: Any) -> list[bytes]:
        if isinstance(message, bytes):
            raise P.ProtocolError("bad_message", "send text messages: a JSON array of the frames as strings")
        if len(message) > self.max_bytes:
            raise P.ProtocolError("too_large", f"message of {len(message)} characters exceeds {self.max_bytes}")
        try:
            frames = json.loads(message)
        except (ValueError, RecursionError):
            raise P.ProtocolError("bad_message", "not JSON: expected [delimiter, signature, header, content]") from None
        if not (isinstance(frames, list) and len(frames) == 4 and all(isinstance(f, str) for f in frames)
                and frames[0] == P.DELIMITER.decode()):
            raise P.ProtocolError("bad_message", "expected a JSON array [\"<EMG|MSG>\", signature, header, content]")
        return [f.encode("utf-8") for f in frames]

    async def _replies(self, ws, dealer, known: set[str], pending) -> None:
        while True:
            frames = await dealer.recv_multipart()
            job_id = _job_id(frames[-1])
            await ws.send(_text(frames))
            if job_id and job_id not in known:
                known.add(job_id)
                topic = P.job_topic(job_id)
                for t, held in [p for p in pending if p[0] == topic]:
                    await ws.send(_text(held))

    async def _events(self, ws, sub, known: set[str], pending) -> None:
        while True:
            frames = await sub.recv_multipart()
            topic = frames[0].decode("utf-8", "replace")
            if topic[len(P.TOPIC_PREFIX):] in known:
                await ws.send(_text(frames))
            else:
                pending.append((topic, frames))


def _text(frames: list[bytes]) -> str:
    return json.dumps([f.decode("utf-8") for f in frames], ensure_ascii=False)


def _job_id(content: bytes) -> str | None:
    """The ``job_id`` a reply talks about (the bridge only needs this one field)."""
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        return None
    job_id = value.get("job_id") if isinstance(value, dict) else None
    return job_id if isinstance(job_id, str) else None
