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
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="run 'emoguide COMMAND --help' for the options of a command\n\n"
               "environment: EMOGUIDE_HUGE_PAGES=0 keeps glibc's default pages (on Linux the command\n"
               "restarts itself once with GLIBC_TUNABLES=glibc.malloc.hugetlb=1: fewer page faults)")
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


def entry() -> int:
    """The installed command (and ``python -m emoguide``): first restarts the process with a heap that
    asks for huge pages where that helps (``pipeline/huge_page_heap.py``), then :func:`main`.
    Tests and scripts call :func:`main`, which never restarts anything."""
    from emoguide.pipeline.huge_page_heap import restart_with_huge_pages

    restart_with_huge_pages()
    return main()


if __name__ == "__main__":
    sys.exit(entry())
