"""``localfirst verify``: recompute the committed log's hash chain from the stored rows.

Through the running node when there is one, else offline under the data folder's lock.
Exit status 0 when the log is sound, 1 when damaged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localfirst import Replica


def add_command(subparsers: Any) -> None:
    """Register the ``verify`` command."""
    cmd = subparsers.add_parser("verify", help="check the library's stored log for damage")
    cmd.add_argument("--json", action="store_true", help="print the report as one JSON line")


def run(data: Path, args: argparse.Namespace) -> int:
    """Run the full verification and print what it found."""
    from ui.cli import _through_door

    def offline(replica: Replica) -> dict[str, Any]:
        found = replica.verify(full=True)
        return found.to_json() | {"summary": found.describe()}

    report = _through_door(data, {"cmd": "verify"}, "verifying the library", offline, timeout=None)
    if args.json:
        print(json.dumps(report))
    else:
        print(report["summary"])
    return 0 if report["ok"] else 1
