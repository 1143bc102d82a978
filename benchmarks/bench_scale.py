"""How analysis time and peak memory grow with timeline length and clip count.

Each point is analysed in a fresh child process (models loaded there, cache off),
which reports its wall time and its peak RSS (getrusage RUSAGE_SELF, i.e. what
RUSAGE_CHILDREN shows the parent for that one child) plus its RSS right after
the models loaded, so growth beyond the loaded models is visible, and its RSS through
the run (sampled every 20 ms: median and maximum of each tenth of the run). "Flat
memory" means the level does not grow with media length: the tenths show whether a
higher peak is a rising level or a rarer coincidence of the same transients.

Media: a 60 s segment of real face footage with speech (the repo's example clips,
looped) at 640×360 H.264 with a 10 s GOP, remuxed end to end into files of any
length without re-encoding (seconds per hour of media); cached under --work.

Series (default settings throughout):
  length   10 clips covering 1, 10, 30, 60 and 120 min of media
  clips    10, 100 and 1,000 clips of --short-clip-s seconds (default 1 s), every
           other second of the media (the seconds between are never decoded)

    python benchmarks/bench_scale.py                      # everything up to --max-media 30 min
    python benchmarks/bench_scale.py --max-media 120      # include 1 h and 2 h (slow on 2 cores)
    python benchmarks/bench_scale.py --series clips --max-clips 100
    python benchmarks/bench_scale.py --series length --min-media 120 --max-media 120 --smaps
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _media  # noqa: E402

LENGTH_MINUTES = (1, 10, 30, 60, 120)
CLIP_COUNTS = (10, 100, 1000)
SEGMENT_S = 60.0


def child(timeline: Path, device: str | None, modalities: str, smaps: bool, decode_ahead: bool = True) -> None:
    """Run inside the child: load, analyse once, print one JSON line."""
    from emoguide.pipeline.analyze import analyze_timeline
    from emoguide.pipeline.engine import Engine
    from emoguide.timeline.mapping import load_timeline

    with _common.Timer() as load:
        engine = Engine.load(device=device, modalities=tuple(modalities.split(",")))
    rss_loaded = _common.peak_rss_mb()
    tl = load_timeline(timeline)
    with _common.Timer() as run, _common.RssTrace(smaps_every=150 if smaps else 0) as trace:
        result = analyze_timeline(tl, base_dir=timeline.parent, engine=engine, decode_ahead=decode_ahead)
    ok = sum(c.status == "ok" for c in result.clips)
    print(json.dumps({"load_s": load.s, "analyze_s": run.s, "rss_loaded_mb": rss_loaded,
                      "peak_rss_mb": _common.peak_rss_mb(), "clips_ok": ok, "clips": len(result.clips),
                      "tenths": trace.tenths(rss_loaded)}))


def points(args) -> list[tuple[str, int, float, float, float]]:
    """(series, clips, clip seconds, spacing seconds, media seconds) for every point asked for."""
    out = []
    if args.series in ("length", "all"):
        for minutes in LENGTH_MINUTES:
            media_s = minutes * 60.0
            out.append(("length", 10, media_s / 10, media_s / 10, media_s))
    if args.series in ("clips", "all"):
        for n in CLIP_COUNTS:
            out.append(("clips", n, args.short_clip_s, 2 * args.short_clip_s, n * 2 * args.short_clip_s))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_common_args(p)
    p.add_argument("--series", choices=("length", "clips", "all"), default="all")
    p.add_argument("--max-media", type=float, default=30.0,
                   help="skip points whose used media exceeds this many minutes (default 30; 120 runs everything)")
    p.add_argument("--min-media", type=float, default=0.0,
                   help="skip points with less used media than this many minutes (to run long points separately)")
    p.add_argument("--max-clips", type=int, default=1000, help="skip points with more clips (default 1000)")
    p.add_argument("--short-clip-s", type=float, default=1.0, help="clip length of the clip-count series (default 1 s)")
    p.add_argument("--modalities", default="face,voice,text",
                   help="recognisers to load (default all); e.g. voice,text for the sound side alone")
    p.add_argument("--smaps", action="store_true",
                   help="also trace resident memory by kind of mapping (main heap, other anonymous maps, files) "
                        "every 3 s, to see where a rising level lives")
    p.add_argument("--no-decode-ahead", action="store_true",
                   help="start a decoder per clip instead of one thread decoding ahead across clips (the default), "
                        "to compare the two")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    _common.start_like_the_command()
    if args.child:
        child(args.child, args.device, args.modalities, args.smaps, not args.no_decode_ahead)
        return
    _common.print_machine("bench_scale: time and peak memory vs timeline length and clip count", args.device)
    segment = _media.face_media(args.work, (640, 360), "libx264", SEGMENT_S, gop_s=10.0)
    print(f"media           {segment.name}: 640×360 H.264, GOP 10 s, speech + faces; longer files are remuxed loops")
    print(f"modalities      {args.modalities}; pictures decoded "
          f"{'by a decoder per clip (--no-decode-ahead)' if args.no_decode_ahead else 'ahead across clips'}")
    print(f"limits          --min-media {args.min_media:g} min, --max-media {args.max_media:g} min, "
          f"--max-clips {args.max_clips}\n")
    header = (f"{'series':7} {'clips':>6} {'used media':>11} {'wall s':>8} {'s per media s':>14} {'× real time':>12} "
              f"{'RSS loaded MiB':>15} {'peak RSS MiB':>13} {'growth MiB':>11}  load avg")
    print(header, flush=True)
    for series, n, clip_s, spacing, media_s in points(args):
        used_s = n * clip_s
        label = f"{series:7} {n:6d} {_fmt_len(used_s):>11}"
        if used_s > args.max_media * 60 + 1e-6 or n > args.max_clips or used_s < args.min_media * 60 - 1e-6:
            print(f"{label}  not run (outside --min-media / --max-media / --max-clips)", flush=True)
            continue
        media = segment if media_s <= SEGMENT_S else _media.looped_media(args.work, segment, media_s)
        clips = [(media, k * spacing, clip_s) for k in range(n)]
        timeline = _media.write_timeline(args.work / f"scale_{series}_{n}_{int(media_s)}s.otio", f"scale {series} {n}", clips)
        load0 = _common.load_average().split()[0]
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(timeline), "--work", str(args.work),
               "--modalities", args.modalities] + (["--smaps"] if args.smaps else [])
        cmd += ["--no-decode-ahead"] if args.no_decode_ahead else []
        if args.device:
            cmd += ["--device", args.device]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{label}  FAILED: {(out.stderr or out.stdout).strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        wall = r["analyze_s"]
        print(f"{label} {wall:8.1f} {wall / used_s:14.3f} {used_s / wall:12.2f} {r['rss_loaded_mb']:15.0f} "
              f"{r['peak_rss_mb']:13.0f} {r['peak_rss_mb'] - r['rss_loaded_mb']:11.0f}  "
              f"{load0}→{_common.load_average().split()[0]}"
              + ("" if r["clips_ok"] == r["clips"] else f"  ({r['clips_ok']}/{r['clips']} clips ok)"), flush=True)
        tenths = r.get("tenths") or {}
        if tenths.get("median"):  # the level through the run, not only its highest moment
            print(f"{'':26} RSS growth by tenths of the run, median: {_row(tenths['median'])}\n"
                  f"{'':26} {'':28}max: {_row(tenths['max'])}", flush=True)
        if tenths.get("heap_in_use"):  # what is still referenced vs the heap's free holes (glibc)
            print(f"{'':26} heap in use by tenths, median: {_row(tenths['heap_in_use'])}\n"
                  f"{'':26} heap free (not handed back): {_row(tenths['heap_free'])}\n"
                  f"{'':26} mapped alone (big buffers):  {_row(tenths['mapped'])}", flush=True)
        if tenths.get("rss_brk"):  # resident by kind of mapping (--smaps): where a rising level lives
            print("\n".join(f"{'':26} resident, {name + ':':23}{_row(tenths['rss_' + kind])}" for kind, name in
                             (("brk", "main heap"), ("anon", "other anonymous"), ("file", "files"))), flush=True)


def _row(values) -> str:
    return " ".join(f"{v:5.0f}" for v in values)


def _fmt_len(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


if __name__ == "__main__":
    main()
