"""``localfirst verify``: recompute the committed log's hash chain from the stored rows.

Through the running node when there is one, else offline under the data folder's lock.
Exit status 0 when the log is sound, 1 when damaged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_command(subparsers: Any) -> None:
    """Register the ``verify`` command."""
    cmd = subparsers.add_parser("verify", help="check the library's stored log for damage")
    cmd.add_argument("--json", action="store_true", help="print the report as one JSON line")


def run(data: Path, args: argparse.Namespace) -> int:
    """Run the full verification and print what it found."""
    from ui.cli import _door, _open_existing

    got = _door(data, {"cmd": "verify"}, "verifying the library", timeout=None)
    if isinstance(got, dict):
        report: dict[str, Any] = got
    else:
        with got:
            replica = _open_existing(data)
            try:
                found = replica.verify(full=True)
                report = found.to_json() | {"summary": found.describe()}
            finally:
                replica.close()
    if args.json:
        print(json.dumps(report))
    else:
        print(report["summary"])
    return 0 if report["ok"] else 1
