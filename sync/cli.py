"""The ``localfirst`` command: the desktop app by default, and headless tools for nodes.

Qt is imported only by the ``gui`` command (lazily), so a headless machine never loads it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from localfirst import __version__


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("localfirst", appauthor=False))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localfirst",
        description="A local-first calendar and notes app: your library on every device, "
        "synced directly over the local network, encrypted, with no server.",
    )
    parser.add_argument("--version", action="version", version=f"localfirst {__version__}")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="data folder holding this device's identity and library (default: %(default)s "
        "means the platform's user data folder)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("gui", help="open the desktop app (the default)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:  # noqa: RET503 -- parser.error exits
    parser = build_parser()
    args = parser.parse_args(argv)
    data: Path = args.data or default_data_dir()
    if args.command in (None, "gui"):
        try:
            app = importlib.import_module("ui.app")
        except ImportError as exc:
            print(f"localfirst: the desktop app is not available here ({exc})", file=sys.stderr)
            return 2
        result: int = app.run(data)
        return result
    parser.error(f"unknown command {args.command}")  # exits


if __name__ == "__main__":
    sys.exit(main())
