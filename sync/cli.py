"""The ``localfirst`` command: the desktop app by default, and headless tools for nodes.

Qt is imported only by the ``gui`` command (lazily), so a headless machine never loads it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    commands.add_parser("init", help="create this device's identity and a new library (if none)")
    serve = commands.add_parser("serve", help="run a headless node until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    serve.add_argument("--port", type=int, default=0, help="listen port (default: any free one)")
    serve.add_argument(
        "--interface",
        action="append",
        default=None,
        help="address zeroconf binds to and announces (repeatable; default: 127.0.0.1)",
    )
    serve.add_argument(
        "--peer", action="append", default=[], type=_host_port, help="member to dial, HOST:PORT"
    )
    serve.add_argument("--no-discovery", action="store_true", help="do not use zeroconf")
    serve.add_argument("--name", default="", help="this device's name (first run)")
    serve.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    invite = commands.add_parser("invite", help="open a pairing listener and print its one-time code")
    invite.add_argument("--wait", action="store_true", help="wait for the outcome and print it")
    invite.add_argument("--host", default="127.0.0.1", help="listen address if no node runs here")
    join = commands.add_parser("join", help="join a library with the code another device shows")
    join.add_argument("code")
    join.add_argument(
        "--peer",
        type=_host_port,
        default=None,
        help="the inviting device's HOST:PORT, for a network without multicast (default: search "
        "the network for it with zeroconf)",
    )
    join.add_argument(
        "--interface",
        action="append",
        default=None,
        help="address zeroconf searches on without --peer (repeatable; default: 127.0.0.1)",
    )
    join.add_argument("--no-discovery", action="store_true", help="do not use zeroconf (needs --peer)")
    join.add_argument("--name", default="", help="this device's name")
    imp = commands.add_parser("import", help="import .ics calendars and .md notes (each file all or nothing)")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    exp = commands.add_parser("export", help="write every note (.md) and calendar (.ics) into DIR")
    exp.add_argument("directory", type=Path, metavar="DIR")
    status = commands.add_parser("status", help="members, peers, vectors, pending writes")
    status.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _request(data: Path, request: dict[str, Any], timeout: float = 10.0) -> list[dict[str, Any]] | None:
    """Ask the node running in ``data``; None if none runs there."""
    from sync.node import control_request

    try:
        return asyncio.run(control_request(data, request, timeout=timeout))
    except (OSError, ConnectionError):
        return None


def _serve(data: Path, args: argparse.Namespace) -> int:
    from sync.node import Node

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    interfaces = args.interface or ["127.0.0.1"]

    async def run() -> None:
        node = Node(
            data,
            name=args.name,
            host=args.host,
            port=args.port,
            interfaces=interfaces,
            discovery=not args.no_discovery,
            peers=args.peer,
        )
        await node.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(json.dumps({"port": node.port, "device": node.device}), flush=True)
        try:
            await stop.wait()
        finally:
            await node.stop()

    asyncio.run(run())
    return 0


def _invite(data: Path, args: argparse.Namespace) -> int:
    replies = _request(data, {"cmd": "invite", "wait": args.wait}, timeout=300)
    if replies is not None:
        for reply in replies:
            if "error" in reply:
                print(f"localfirst: {reply['error']}", file=sys.stderr)
                return 1
            print(json.dumps(reply), flush=True)
        return 0
    from sync.node import Node

    async def run() -> int:
        node = Node(data, host=args.host, control=False)
        await node.start()
        try:
            inv = await node.invite()
            print(json.dumps({"code": inv.code, "port": inv.port, "host": args.host}), flush=True)
            try:
                peer = await inv.wait()
            except Exception as exc:
                print(f"localfirst: {exc}", file=sys.stderr)
                return 1
            print(json.dumps({"paired": peer.device_id, "name": peer.name}), flush=True)
            return 0
        finally:
            await node.stop()

    return asyncio.run(run())


def _join(data: Path, args: argparse.Namespace) -> int:
    from sync.const import PAIRING_SEARCH_S
    from sync.discovery import search_pairing
    from sync.node import join_from_welcome, library_path, load_identity
    from sync.pairing import PairedPeer, PairingError, join, join_found, normalize_code

    if library_path(data).exists():
        print(f"localfirst: {data} already holds a library", file=sys.stderr)
        return 1
    if args.peer is None and args.no_discovery:
        print("localfirst: no address given and discovery is off: use --peer HOST:PORT", file=sys.stderr)
        return 1
    identity = load_identity(data, args.name)

    async def search() -> tuple[PairedPeer, bytes]:
        normalize_code(args.code)  # a typo fails before searching
        print(
            f"localfirst: searching the network for the inviting device (up to {PAIRING_SEARCH_S:.0f} s)…",
            file=sys.stderr,
            flush=True,
        )
        found = search_pairing(args.interface or ["127.0.0.1"], PAIRING_SEARCH_S)
        async with contextlib.aclosing(found):
            peer, welcome, _host = await join_found(args.code, found, identity)
        return peer, welcome

    try:
        if args.peer is not None:
            host, port = args.peer
            peer, welcome = asyncio.run(join(args.code, host, port, identity))
        else:
            peer, welcome = asyncio.run(search())
    except PairingError as exc:
        print(f"localfirst: pairing failed: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # zeroconf could not bind to the interfaces
        print(f"localfirst: cannot search the network ({exc}); use --peer HOST:PORT", file=sys.stderr)
        return 1
    replica = join_from_welcome(data, identity, welcome)
    try:
        print(
            json.dumps({"joined": replica.library, "inviter": peer.device_id, "device": identity.device_id})
        )
    finally:
        replica.close()
    return 0


def _status(data: Path, args: argparse.Namespace) -> int:
    replies = _request(data, {"cmd": "status"})
    if replies:
        status = replies[0]
    else:
        from sync.node import library_path, load_identity

        if not library_path(data).exists():
            print(f"localfirst: no library in {data} (run init, serve or join)", file=sys.stderr)
            return 1
        from storage import open_replica

        identity = load_identity(data)
        replica = open_replica(library_path(data))
        try:
            status = {
                "device": identity.device_id,
                "library": replica.library,
                "primary": replica.primary,
                "csn": replica.csn,
                "chain": replica.chain.hex(),
                "vector": replica.vector.as_dict(),
                "tentative": len(replica.tentative()),
                "members": replica.members(),
                "peers": {},
                "running": False,
            }
        finally:
            replica.close()
    if args.json:
        print(json.dumps(status))
        return 0
    print(f"device   {status['device']}")
    print(f"library  {status['library']}  primary {status['primary'][:12]}")
    print(f"commits  #{status['csn']}  tentative writes pending: {status['tentative']}")
    print("vector   " + " ".join(f"{o[:8]}:{s}" for o, s in sorted(status["vector"].items())))
    print("members")
    for device, name in sorted(status["members"].items()):
        peer = status["peers"].get(device)
        if device == status["device"]:
            where = "this device"
        elif peer is None:
            where = "not seen"
        else:
            online = "online" if peer["online"] else "offline"
            proven = peer["identical_up_to"]
            where = online + (f", identical up to commit #{proven}" if proven is not None else "")
        print(f"  {device[:12]}  {name or '-':20}  {where}")
    return 0


def _plain_files(data: Path, args: argparse.Namespace) -> int:
    """``import`` and ``export``: through the running node if there is one, else on the file."""
    if args.command == "export":
        request: dict[str, Any] = {"cmd": "export", "directory": str(args.directory.absolute())}
    else:
        request = {"cmd": "import", "files": [str(p.absolute()) for p in args.files]}
    replies = _request(data, request, timeout=600)
    if replies:
        result = replies[-1]
        if "error" in result:
            print(f"localfirst: {result['error']}", file=sys.stderr)
            return 1
    else:
        from sync.node import library_path

        if not library_path(data).exists():
            print(f"localfirst: no library in {data} (run init, serve or join)", file=sys.stderr)
            return 1
        result = _plain_files_offline(library_path(data), args)
    if args.command == "export":
        for path in result["written"]:
            print(path)
        return 0
    for line in result.pop("messages"):
        print(f"localfirst: {line}", file=sys.stderr)
    ok = result.pop("ok")
    print(json.dumps(result))
    return 0 if ok else 1


def _plain_files_offline(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    from storage import open_replica
    from storage.files import export_library, import_files
    from sync.node import import_summary

    replica = open_replica(path)
    try:
        if args.command == "export":
            return {"written": [str(p) for p in export_library(replica, args.directory)]}
        summary = import_summary(import_files(replica, args.files))
        if replica.primary == replica.device and replica.tentative():
            replica.commit()  # as the node would
        return summary
    finally:
        replica.close()


def _init(data: Path) -> int:
    from sync.node import load_identity, open_or_create

    identity = load_identity(data)
    replica = open_or_create(data, identity)
    try:
        print(json.dumps({"device": identity.device_id, "library": replica.library}))
    finally:
        replica.close()
    return 0


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
    if args.command == "init":
        return _init(data)
    if args.command == "serve":
        return _serve(data, args)
    if args.command == "invite":
        return _invite(data, args)
    if args.command == "join":
        return _join(data, args)
    if args.command == "status":
        return _status(data, args)
    if args.command in ("import", "export"):
        return _plain_files(data, args)
    parser.error(f"unknown command {args.command}")  # exits


if __name__ == "__main__":
    sys.exit(main())
