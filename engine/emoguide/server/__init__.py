"""The engine as a local service: ZeroMQ server, job queue, WebSocket bridge (see docs/protocol.md).

``protocol`` frames and signs messages, ``connection`` keeps the key and ports,
``jobs`` queues work for one worker thread that owns the hot models, ``runner``
turns a job into analysis + annotated OTIO + host markers, ``server`` is the
ROUTER/PUB loop and ``websocket`` the bridge for hosts without ZeroMQ.
"""
