"""``localfirst salvage OUT``: save every record that can still be read from a damaged library.

Reads the library file read-only (the one in the data folder, or ``--from FILE``, e.g. a file
moved aside) and writes each readable note as ``.md`` and each calendar as ``.ics`` into OUT,
with ``salvage-report.txt`` naming what could not be read. It never stops at the first bad
record and never changes the library file. Exit status 0 when everything was read, 1 when some
records were not (the files of the rest are written all the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_command(subparsers: Any) -> None:
    """Register the ``salvage`` command."""
    cmd = subparsers.add_parser(
        "salvage", help="save every readable note and calendar of a damaged library into OUT"
    )
    cmd.add_argument("out", type=Path, metavar="OUT")
    cmd.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=None,
        metavar="FILE",
        help="the library file to read (default: the one in the data folder)",
    )


def run(data: Path, args: argparse.Namespace) -> int:
    from sync.const import LIBRARY_FILE
    from sync.plainfiles import salvage

    source: Path = args.source or data / LIBRARY_FILE
    saved = salvage(source, args.out.absolute())
    for line in saved.problems:
        print(f"localfirst: {line}", file=sys.stderr)
    summary = {**saved.counts, "files": len(saved.written), "unreadable": len(saved.problems)}
    print(json.dumps(summary | {"report": str(saved.report)}))
    return 1 if saved.problems else 0
