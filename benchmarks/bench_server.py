"""Latency of a real `emoguide serve` on loopback: cached re-analysis and `status`, 1 and 8 clients.

The script starts `python -m emoguide serve --port 0 --no-websocket` with its
own connection file (fresh HMAC key) and cache folder under --work, waits for
the models to load, analyses the timeline once (cold, fills the cache), then
measures with the shipped Python client (emoguide.client, one per thread):

  re-analysis   analyze + wait for the result of an already cached timeline:
                submit → result in hand, including the annotated OTIO and host
                markers the server sends back (what a plugin waits for)
  status        status(job, include_result=False) of a finished job (a poll),
                and with include_result=True (the poll that fetches the result)

each with 1 client and with 8 clients at once, and prints p50/p95/max in ms.
The server runs one analysis at a time (one worker thread owns the models),
so 8 concurrent re-analyses queue: their latency includes waiting in line.

    python benchmarks/bench_server.py
    python benchmarks/bench_server.py --timeline cut.otio --requests 50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def start_server(work: Path, device: str | None) -> tuple[subprocess.Popen, Path]:
    folder = work / "server" / str(time.time_ns())
    folder.mkdir(parents=True)
    conn = folder / "connection.json"
    env = dict(os.environ, EMOGUIDE_CACHE=str(folder / "cache"))
    cmd = [sys.executable, "-m", "emoguide", "serve", "--port", "0", "--no-websocket", "--connection-file", str(conn)]
    if device:
        cmd += ["--device", device]
    log = open(folder / "serve.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc, conn


def wait_ready(conn: Path, proc: subprocess.Popen, timeout: float = 300.0) -> float:
    from emoguide.client import EmoguideClient, EngineUnavailable

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"emoguide serve exited with {proc.returncode}; see {conn.parent / 'serve.log'}")
        if conn.exists():
            try:
                with EmoguideClient(conn, timeout=2.0) as c:
                    state = c.ping()["engine"]["engine"]
                if state == "ready":
                    return time.perf_counter() - t0
                if state == "failed":
                    raise RuntimeError(f"the engine failed to load; see {conn.parent / 'serve.log'}")
            except (EngineUnavailable, json.JSONDecodeError, OSError):
                pass
        time.sleep(0.2)
    raise TimeoutError(f"engine not ready after {timeout:g} s")


def concurrent(n_clients: int, per_client: int, conn: Path, work_fn) -> list[float]:
    """Run ``work_fn(client)`` ``per_client`` times in each of ``n_clients`` threads; latencies in ms."""
    from emoguide.client import EmoguideClient

    lat: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(n_clients)
    errors: list[BaseException] = []

    def worker():
        try:
            with EmoguideClient(conn, timeout=60.0) as c:
                work_fn(c)  # warm this client's sockets and subscription path
                start.wait()
                for _ in range(per_client):
                    t0 = time.perf_counter()
                    work_fn(c)
                    dt = (time.perf_counter() - t0) * 1000
                    with lock:
                        lat.append(dt)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return lat


def row(label: str, lat: list[float]) -> str:
    return (f"{label:44} {len(lat):6d} {_common.percentile(lat, 50):9.1f} {_common.percentile(lat, 95):9.1f} "
            f"{max(lat):9.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_common_args(p)
    p.add_argument("--timeline", type=Path, default=_common.REPO / "examples" / "demo.otio",
                   help="timeline to analyse (default: the demo); media paths resolve against its folder")
    p.add_argument("--requests", type=int, default=20, help="re-analyses per client (default 20)")
    p.add_argument("--polls", type=int, default=200, help="status requests per client (default 200)")
    args = p.parse_args()
    _common.start_like_the_command()
    _common.print_machine("bench_server: emoguide serve latency on loopback", args.device)
    from emoguide.client import EmoguideClient
    from emoguide.timeline.mapping import load_timeline

    timeline = load_timeline(args.timeline)
    options = {"base_dir": str(args.timeline.resolve().parent)}
    proc, conn = start_server(args.work, args.device)
    try:
        ready_s = wait_ready(conn, proc)
        print(f"server          pid {proc.pid}, ready (models loaded) {ready_s:.1f} s after start; "
              f"connection file {conn}")
        with EmoguideClient(conn, timeout=60.0) as c:
            t0 = time.perf_counter()
            job = c.analyze(timeline, options)
            result = c.wait(job, timeout=1800)
            cold_s = time.perf_counter() - t0
        size_kb = len(json.dumps(result)) / 1024
        print(f"timeline        {args.timeline.name}: cold analysis through the server {cold_s:.2f} s; "
              f"result {size_kb:.0f} KiB ({len(result['markers'])} host markers)\n")

        def reanalyze(c):
            c.wait(c.analyze(timeline, options), timeout=600)

        print(f"{'latency (ms)':44} {'n':>6} {'p50':>9} {'p95':>9} {'max':>9}")
        for n in (1, 8):
            per = max(1, args.requests if n == 1 else args.requests // 2)
            print(row(f"cached re-analysis, {n} client{'s' if n > 1 else ''}", concurrent(n, per, conn, reanalyze)),
                  flush=True)
        with EmoguideClient(conn, timeout=60.0) as c:  # a fresh finished job: the server keeps only recent ones
            job = c.analyze(timeline, options)
            c.wait(job, timeout=600)
        for include in (False, True):
            for n in (1, 8):
                lat = concurrent(n, args.polls if n == 1 else args.polls // 4, conn,
                                 lambda c, inc=include: c.status(job, include_result=inc))
                label = f"status{' + result' if include else ''}, {n} client{'s' if n > 1 else ''}"
                print(row(label, lat), flush=True)
        print(f"\nload average    {_common.load_average()} (at end)")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
