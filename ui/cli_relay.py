"""``localfirst relay add|list|remove``: the relays this device syncs through beyond one network.

A relay is an S3-compatible bucket (``s3://BUCKET/PREFIX --endpoint URL``, credentials from the
usual ``AWS_*`` variables or ``--credentials FILE`` readable only by you) or a folder another
program syncs (``folder:PATH``). The list lives in this device's data folder and is never synced;
a running node picks a change up within seconds. Credentials are never printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

NAMES = ("relay",)


def add_commands(subparsers: Any) -> None:
    """Register ``relay`` and its subcommands."""
    relay = subparsers.add_parser("relay", help="sync through an object store or a synced folder")
    sub = relay.add_subparsers(dest="relay_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a relay: s3://BUCKET/PREFIX or folder:PATH")
    add.add_argument("address", help="s3://BUCKET/PREFIX or folder:PATH")
    add.add_argument("--endpoint", help="the S3 endpoint URL (for a store other than AWS)")
    add.add_argument(
        "--credentials", type=Path, help="a KEY=VALUE file with AWS_* keys, readable only by you"
    )
    add.add_argument(
        "--silent-days",
        type=int,
        default=90,
        help="name a member in status once it has not read this relay for this many days (default 90)",
    )
    listing = sub.add_parser("list", help="the relays this device uses")
    listing.add_argument("--json", action="store_true", help="one JSON line")
    remove = sub.add_parser("remove", help="stop using a relay (what it holds stays there)")
    remove.add_argument("address", help="the address (or id) shown by relay list")


def run(name: str, data: Path, args: argparse.Namespace) -> int:
    """Run ``relay ACTION``; bad addresses or credentials end with one line."""
    from sync.relay import config
    from sync.relay.store import BadRelayAddress
    from ui.cli import CliExit

    try:
        if args.relay_command == "add":
            cfg = config.add(data, args.address, args.endpoint, args.credentials, args.silent_days)
            print(f"added relay {cfg.address} (id {cfg.id}); a running node uses it within seconds")
            return 0
        if args.relay_command == "remove":
            cfg = config.remove(data, args.address)
            print(f"removed relay {cfg.address}; what it holds was left in place")
            return 0
    except BadRelayAddress as exc:
        raise CliExit(str(exc)) from None
    relays = [_shown(r) for r in config.load(data)]
    if args.json:
        print(json.dumps(relays))
    elif not relays:
        print("no relays (add one: localfirst relay add s3://BUCKET/PREFIX --endpoint URL, or folder:PATH)")
    for r in [] if args.json else relays:
        extra = f"  endpoint {r['endpoint']}" if r["endpoint"] else ""
        creds = "  credentials from file" if r["credentials"] else ""
        print(f"{r['id']}  {r['address']}{extra}{creds}")
    return 0


def _shown(r: Any) -> dict[str, Any]:
    """What ``relay list`` shows: never a secret (a credentials file is named, not read)."""
    return {
        "id": r.id,
        "address": r.address,
        "endpoint": r.endpoint,
        "credentials": r.credentials,
        "silent_days": r.silent_days,
    }


def configured(data: Path) -> list[dict[str, Any]]:
    """The relays of a data folder whose node is not running (for ``status``): nothing syncs."""
    from sync.relay import config

    return [
        {"address": r.address, "id": r.id, "reachable": None, "error": "no node running here"}
        for r in config.load(data)
    ]


def status_lines(relays: list[dict[str, Any]]) -> list[str]:
    """The relay part of ``status``: one line per relay."""
    out = []
    for r in relays:
        state = {True: "reachable", False: "UNREACHABLE", None: "not in use"}[r.get("reachable")]
        line = f"  {r['address']}  {state}"
        if r.get("error"):
            line += f" ({r['error']})"
        if "segments" in r:
            up = _ago(r.get("last_upload"))
            down = _ago(r.get("last_download"))
            line += (
                f"; last upload {up}, last download {down}; {r['pending']} segment(s) waiting,"
                f" {r['segments']} in the store, {r['bytes']} bytes"
            )
            if r.get("unsent"):
                line += "; this device has writes still to upload"
        out.append(line)
        out.extend(f"    warning: {w}" for w in r.get("warnings", []))
    return out


def _ago(when: float | None) -> str:
    import time

    if when is None:
        return "never"
    return f"{max(0, int(time.time() - when))} s ago"
