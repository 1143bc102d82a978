"""The Premiere UXP panel, run by Node: unit tests against the premierepro stand-in, and one end-to-end run
of the panel code over a real WebSocket to a real engine server (analysis stand-in).

CI command for the JavaScript tests alone: ``node --test plugins/premiere/test/panel.test.js``.
Skips when ``node`` is not installed; the end-to-end run needs Node's WebSocket (20.10+).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from server_standin import StandIn, start_server

from emoguide.server.connection import write_connection

REPO = Path(__file__).resolve().parent.parent
PREMIERE = REPO / "plugins" / "premiere"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def node_has_websocket() -> bool:
    probe = subprocess.run([NODE, "--experimental-websocket", "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def test_panel_unit_tests_with_node():
    proc = subprocess.run([NODE, "--test", str(PREMIERE / "test" / "panel.test.js")], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout


def test_panel_end_to_end_against_the_engine(tmp_path):
    if not node_has_websocket():
        pytest.skip("this node has no WebSocket (needs 20.10+)")
    from emoguide.server.websocket import WebSocketBridge

    server, info = start_server(StandIn())
    bridge = WebSocketBridge(info, port=0)
    info.ws_port = bridge.start()
    path = write_connection(info, tmp_path / "connection.json")
    try:
        proc = subprocess.run([NODE, "--experimental-websocket", str(PREMIERE / "e2e" / "run_against_engine.js"), str(path)],
                              capture_output=True, text=True, timeout=60)
    finally:
        bridge.stop()
        server.stop()
    line = [x for x in proc.stdout.splitlines() if x.startswith("EMOGUIDE_RESULT ")]
    assert proc.returncode == 0 and line, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(line[0].split(" ", 1)[1])
    assert out["first"]["placed"] == out["second"]["placed"] == out["second"]["removed"] == len(out["markers"])
    happy = [m for m in out["markers"] if m["name"].startswith("happy")]
    assert happy and happy[0]["colour"] == 4 and happy[0]["ticks"] == "0"
    offline = [m for m in out["markers"] if "[emoguide:V1/2:status]" in m["comments"]]
    assert offline and offline[0]["ticks"] == str(round(6 * 254016000000))  # b starts at frame 150 of 25 fps
