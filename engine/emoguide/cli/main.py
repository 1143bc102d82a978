"""The ``emoguide`` command: a thin dispatcher; each sub-command lives in its own module.

Only this module exits the process; library code raises.
"""

from __future__ import annotations

import argparse
import logging
import sys

from emoguide import __version__


def build_parser() -> argparse.ArgumentParser:
    from emoguide.cli import analyze_cmd, model_cmds

    parser = argparse.ArgumentParser(
        prog="emoguide", description="What your cut makes people feel, and what to change.",
        epilog="run 'emoguide COMMAND --help' for the options of a command")
    parser.add_argument("--version", action="version", version=f"emoguide {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    analyze_cmd.add_parser(sub)
    model_cmds.add_parsers(sub)
    for module in ("emoguide.cli.guide_cmd", "emoguide.cli.serve_cmd"):
        try:  # optional commands register only when their module is present
            __import__(module, fromlist=["add_parser"]).add_parser(sub)
        except ImportError:
            pass
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("emoguide: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
