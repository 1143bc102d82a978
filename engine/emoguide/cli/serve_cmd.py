"""``emoguide serve``: keep the models loaded and answer hosts (Resolve, Premiere, Blender) over ZeroMQ/WebSocket.

Writes the connection file (ports + the per-install HMAC key, mode 0600) that
plugins read, then serves until interrupted. Binds 127.0.0.1 unless told
otherwise; binding another address is allowed but warned about, since anyone
who can reach the port and read the key can run analyses.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

log = logging.getLogger("emoguide")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from emoguide.server.connection import DEFAULT_CONTROL_PORT, DEFAULT_WS_PORT

    p = sub.add_parser(
        "serve", help="run the engine as a local service for NLE plugins",
        description="Load the models once and serve analysis requests from editing-host plugins over ZeroMQ "
                    "(and a WebSocket bridge for Premiere). See docs/protocol.md and docs/plugins.md.",
        epilog="examples:\n  emoguide serve\n  emoguide serve --port 0 --ws-port 0 --connection-file /tmp/emo.json\n"
               "  emoguide serve --device cuda --max-queue 4\n"
               "  EMOGUIDE_MMAP_THRESHOLD=0 emoguide serve   # glibc's own malloc threshold: ~10 % faster,\n"
               "                                            # memory rising over hours (docs/performance.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connection-file", type=Path,
                   help="where to write ports and key (default ~/.config/emoguide/connection.json or "
                        "$EMOGUIDE_CONNECTION_FILE); an existing file's key is kept")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_CONTROL_PORT,
                   help=f"request (ROUTER) port; events use port+1 (default {DEFAULT_CONTROL_PORT}; 0 = any free)")
    p.add_argument("--pub-port", type=int, help="event (PUB) port (default: --port + 1, or any free with --port 0)")
    p.add_argument("--ws-port", type=int, default=DEFAULT_WS_PORT,
                   help=f"WebSocket bridge port (default {DEFAULT_WS_PORT}; 0 = any free)")
    p.add_argument("--no-websocket", action="store_true", help="do not start the WebSocket bridge")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--modalities", default="face,voice,text", help="comma list of face,voice,text (default: all)")
    p.add_argument("--fusion", help="fusion method (default: learned when shipped, else late)")
    p.add_argument("--max-queue", type=int, default=8, help="jobs allowed to wait (default 8); more are refused")
    p.add_argument("--max-message-mb", type=float, default=32.0, help="largest accepted request in MiB (default 32)")
    p.add_argument("--new-key", action="store_true", help="replace the installed key (plugins must re-read the file)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from emoguide.server.connection import ConnectionInfo, existing_key, new_key, write_connection, default_connection_path
    from emoguide.server.runner import JobRunner
    from emoguide.server.server import EngineServer

    path = args.connection_file or default_connection_path()
    key = None if args.new_key else existing_key(path)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("binding %s: other machines can reach the engine; only the key protects it", args.host)
    pub_port = args.pub_port if args.pub_port is not None else (args.port + 1 if args.port else 0)
    info = ConnectionInfo(key=key or new_key(), ip=args.host, control_port=args.port, pub_port=pub_port,
                          ws_port=None if args.no_websocket else args.ws_port)
    modalities = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    max_bytes = int(args.max_message_mb * 1024 * 1024)
    server = EngineServer(info, JobRunner(device=args.device, modalities=modalities, fusion=args.fusion),
                          max_queue=args.max_queue, max_message_bytes=max_bytes)
    try:
        server.bind()
    except Exception as exc:  # noqa: BLE001 - e.g. port in use: say so and exit
        log.error("cannot listen on %s:%s/%s: %s", args.host, args.port, pub_port, exc)
        return 1
    bridge = None
    if info.ws_port is not None:
        from emoguide.server.websocket import WebSocketBridge

        try:
            bridge = WebSocketBridge(info, max_message_bytes=max_bytes)
            info.ws_port = bridge.start()
        except Exception as exc:  # noqa: BLE001 - ZeroMQ hosts still work without it
            log.error("WebSocket bridge unavailable (%s); Premiere cannot connect", exc)
            info.ws_port, bridge = None, None
    write_connection(info, path)
    print(f"emoguide engine: requests {info.control_url}, events {info.pub_url}"
          + (f", WebSocket {info.ws_url}" if info.ws_url else "") + f"\nconnection file: {path}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if bridge is not None:
            bridge.stop()
        server.stop()
    return 0
