"""The ``localfirst`` command: the desktop app by default, and headless tools for nodes.

Qt is imported only by the ``gui`` command (lazily), so a headless machine never loads it.
One owner, one door: if a node runs in the data folder, every command asks it over the control
socket (``sync.control``); if none runs, the command takes the folder's lock (``sync.lock``)
and opens the library itself. A folder held by a process that does not answer is refused with
one line naming it, and a node that stops mid-request fails the command: nothing is ever run a
second time behind the node's back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import platformdirs

from localfirst import __version__
from sync.lock import LibraryBusy, LibraryLock
from ui import cli_library, cli_relay, cli_salvage, cli_verify
from ui.cli_errors import add_verbose, run_command

if TYPE_CHECKING:
    from localfirst import Replica
    from sync.identity import Identity
    from sync.pairing import PairedPeer

_T = TypeVar("_T")

#: How long a command waits for a data folder held by a process that does not answer (a node
#: still starting, another command) before it gives up with one line naming the holder.
BUSY_WAIT_S = 2.0


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
    cli_verify.add_command(commands)
    commands.add_parser("init", help="create this device's identity and a new library (if none)")
    serve = commands.add_parser("serve", help="run a headless node until SIGTERM/SIGINT")
    _network_arguments(serve, "listen address (default: every address of this machine)")
    serve.add_argument("--port", type=int, default=0, help="listen port (default: any free one)")
    serve.add_argument(
        "--peer", action="append", default=[], type=_host_port, help="member to dial, HOST:PORT"
    )
    serve.add_argument("--no-discovery", action="store_true", help="do not use zeroconf")
    serve.add_argument("--name", default="", help="this device's name (first run)")
    serve.add_argument(
        "--mirror", type=Path, default=None, metavar="DIR", help="keep DIR in step with the library"
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    invite = commands.add_parser("invite", help="open a pairing listener and print its one-time code")
    invite.add_argument("--wait", action="store_true", help="wait for the outcome and print it")
    invite.add_argument(
        "--port", type=int, default=0, help="pairing port, e.g. one a firewall lets through (default: any)"
    )
    _network_arguments(invite, "listen address if no node runs here (default: every address)")
    join = commands.add_parser("join", help="join a library with the code another device shows")
    join.add_argument("code")
    join.add_argument(
        "--peer",
        type=_host_port,
        default=None,
        help="the inviting device's HOST:PORT, for a network without multicast (default: search "
        "the network for it with zeroconf)",
    )
    join.add_argument("--no-discovery", action="store_true", help="do not use zeroconf (needs --peer)")
    join.add_argument("--name", default="", help="this device's name")
    join.add_argument(
        "--replace",
        action="store_true",
        help="replace this device's own library without asking (the old file is kept aside)",
    )
    _network_arguments(join, None)
    imp = commands.add_parser("import", help="import .ics calendars and .md notes (each file all or nothing)")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    exp = commands.add_parser("export", help="write every note (.md) and calendar (.ics) into DIR")
    exp.add_argument("directory", type=Path, metavar="DIR")
    status = commands.add_parser("status", help="members, peers, vectors, pending writes")
    status.add_argument("--json", action="store_true", help="print JSON")
    cli_library.add_commands(commands)
    cli_salvage.add_command(commands)
    cli_relay.add_commands(commands)
    return parser


def _network_arguments(parser: argparse.ArgumentParser, host_help: str | None) -> None:
    """``--loopback`` and the overrides of the LAN default (``sync.node.network_options``)."""
    parser.add_argument(
        "--loopback",
        action="store_true",
        help="stay on 127.0.0.1: listen and use zeroconf on this machine only (tests, demos)",
    )
    if host_help is not None:
        parser.add_argument("--host", default=None, help=host_help)
    parser.add_argument(
        "--interface",
        action="append",
        default=None,
        metavar="ADDRESS",
        help="address zeroconf binds to and announces (repeatable; default: every LAN interface "
        "that is up, followed as interfaces come and go)",
    )


def _network(args: argparse.Namespace) -> dict[str, Any]:
    """Node options: the shared default (LAN, or loopback), with the command's overrides."""
    from sync.node import network_options

    options = network_options(loopback=args.loopback)
    if getattr(args, "host", None):
        options["host"] = args.host
    if args.interface:
        options["interfaces"] = list(args.interface)
    if getattr(args, "no_discovery", False):
        options["discovery"] = False
    return options


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


class CliExit(Exception):
    """End the command with one line on stderr and an exit status (never a traceback)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _no_library(data: Path) -> CliExit:
    return CliExit(f"no library in {data} (run init, serve or join)")


class _Progress:
    """Progress of long work on stderr: about once a second, and the last step if any was shown."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self._shown = time.monotonic()
        self._any = False

    def __call__(self, done: int, total: int, what: str = "files") -> None:
        now = time.monotonic()
        if now - self._shown < 1.0 and not (done == total and self._any):
            return  # quick work shows no progress at all
        self._shown, self._any = now, True
        print(f"localfirst: {self.verb} {done}/{total} {what}", file=sys.stderr, flush=True)

    async def step(self, done: int, total: int) -> None:
        self(done, total)


def _ask(
    data: Path,
    request: dict[str, Any],
    doing: str,
    *,
    timeout: float | None = 10.0,
    on_note: Callable[[dict[str, Any]], None] | None = None,
    progress: _Progress | None = None,
) -> dict[str, Any] | None:
    """The reply of the node running in ``data``; None if no node runs there.

    Once the node took the request there is no way back to the file: if the node goes away
    the command fails (the work may be half done; running it again is safe).
    """
    from sync.control import ControlError, NodeNotRunning, NodeStopped, control_request

    try:
        return asyncio.run(
            control_request(data, request, timeout=timeout, on_note=on_note, on_progress=progress)
        )
    except NodeNotRunning:
        return None
    except NodeStopped:
        raise CliExit(f"the node stopped while {doing}; run the command again") from None
    except TimeoutError:
        raise CliExit(f"the node in {data} did not answer within {timeout:.0f} s") from None
    except ControlError as exc:
        raise CliExit(str(exc)) from None


def _door(
    data: Path, request: dict[str, Any], doing: str, *, timeout: float | None = 10.0, **kw: Any
) -> dict[str, Any] | LibraryLock:
    """One door: the running node's reply, or (no node runs) the data folder's lock, held.

    A folder held by another process that does not answer (a node starting, another command)
    is waited for up to ``BUSY_WAIT_S``, then refused with one line naming the holder.
    """
    deadline = time.monotonic() + BUSY_WAIT_S
    while True:
        reply = _ask(data, request, doing, timeout=timeout, **kw)
        if reply is not None:
            return reply
        lock = LibraryLock(data)
        try:
            return lock.acquire()
        except LibraryBusy:
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.1)


def _through_door(
    data: Path, request: dict[str, Any], doing: str, offline: Callable[[Replica], _T], **kw: Any
) -> dict[str, Any] | _T:
    """The running node's reply to ``request``, or (no node runs) ``offline(replica)`` on the
    library opened here under the data folder's lock."""
    got = _door(data, request, doing, **kw)
    if isinstance(got, dict):
        return got
    with got:
        replica = _open_existing(data)
        try:
            return offline(replica)
        finally:
            replica.close()


def _open_existing(data: Path) -> Replica:
    """The library in ``data`` (the caller holds the lock); never creates one."""
    from sync.node import library_path, load_identity, open_or_create

    if not library_path(data).exists():
        raise _no_library(data)
    return open_or_create(data, load_identity(data))


def _serve(data: Path, args: argparse.Namespace) -> int:
    from sync.node import Node

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    options: dict[str, Any] = {}
    if args.mirror is not None:
        options["mirror"] = args.mirror.absolute()  # the node keeps the folder in step (headless)

    network = _network(args)

    async def run() -> None:
        node = Node(data, name=args.name, port=args.port, peers=args.peer, **network, **options)
        try:
            await node.start()  # LibraryBusy: refused before anything was opened
        except OSError as exc:
            await node.stop()
            host, port = network["host"], args.port or "any port"
            where = f"port {port} of every address" if host in ("::", "0.0.0.0") else f"{host}:{port}"
            raise CliExit(f"cannot start the node on {where}: {exc.strerror or exc}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(
            json.dumps({"port": node.port, "device": node.device, "addresses": node.addresses}),
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await node.stop()

    asyncio.run(run())
    return 0


def _invite(data: Path, args: argparse.Namespace) -> int:
    shown: list[str] = []

    def show(note: dict[str, Any]) -> None:
        print(json.dumps(note), flush=True)
        if "code" in note and not shown:
            shown.append(note["code"])
            _tell_invitation(note)

    request = {"cmd": "invite", "wait": args.wait, "port": args.port}
    reply = _ask(data, request, "inviting", timeout=None if args.wait else 10.0, on_note=show)
    if reply is not None:
        show(reply)
        return 0
    from sync.const import PAIRING_CODE_LIFETIME_S
    from sync.control import invitation_note
    from sync.node import Node
    from sync.pairing import PairingError

    async def run() -> int:
        node = Node(data, control=False, **_network(args))
        await node.start()  # takes the folder's lock (LibraryBusy if another process holds it)
        try:
            try:
                inv = await node.invite(port=args.port)
            except OSError as exc:
                raise CliExit(f"cannot open the pairing port {args.port}: {exc.strerror or exc}") from None
            expires = time.time() + PAIRING_CODE_LIFETIME_S
            show(invitation_note(inv.code, inv.port, node.addresses, expires))
            try:
                peer = await inv.wait()
            except PairingError as exc:
                raise CliExit(str(exc)) from None
            show({"paired": peer.device_id, "name": peer.name})
            return 0
        finally:
            await node.stop()

    return asyncio.run(run())


def _tell_invitation(note: dict[str, Any]) -> None:
    """The invitation for a person, on stderr: the code, its expiry, what to run where."""
    addresses = note.get("addresses") or []
    where = " or ".join(f"{a}:{note['port']}" if ":" not in a else f"[{a}]:{note['port']}" for a in addresses)
    print(
        f"localfirst: code {note['code']}, valid until {note.get('expires', '?')} (one try). "
        f"On the other device run: localfirst join {note['code']}"
        + (
            f"  (without multicast add --peer {where.split(' or ')[0]}; listening on {where})"
            if where
            else ""
        ),
        file=sys.stderr,
        flush=True,
    )


def _confirm_replace(args: argparse.Namespace) -> None:
    """Go ahead only if the user agrees to replace this device's own library (or said --replace)."""
    from sync.library import REPLACE_REFUSED

    if args.replace:
        return
    if not sys.stdin.isatty():
        raise CliExit(REPLACE_REFUSED)
    answer = input(
        "This device holds its own library (notes, events or calendars). Joining replaces it; "
        "the old file is kept aside as library.sqlite.replaced-<time>. Replace it? [y/N] "
    )
    if answer.strip().lower() not in ("y", "yes"):
        raise CliExit("not joined: this device's library was left as it was")
    args.replace = True


def _join(data: Path, args: argparse.Namespace) -> int:
    if args.peer is None and args.no_discovery:
        raise CliExit("no address given and discovery is off: use --peer HOST:PORT")
    got = _door(data, {"cmd": "join", "check": True}, "checking its library")
    if isinstance(got, dict):  # a node runs here: it joins (it keeps its lone library aside)
        if got["members"] > 1:
            raise CliExit("this device already shares a library with other devices")
        if got["holds_data"]:
            _confirm_replace(args)
        host, port = args.peer if args.peer is not None else (None, None)
        request = {"cmd": "join", "code": args.code, "host": host, "port": port, "replace": True}
        reply = _ask(data, request, "joining", timeout=None)
        if reply is None:
            raise CliExit(f"the node in {data} stopped before joining; run the command again")
        print(json.dumps(reply))
        return 0
    with got:
        return _join_offline(data, args)


def _join_offline(data: Path, args: argparse.Namespace) -> int:
    from sync.node import NodeError, library_path, load_identity, open_lone

    identity = load_identity(data, args.name)
    old: Replica | None = None
    if library_path(data).exists():
        try:
            old, holds_data = open_lone(data)
        except NodeError as exc:
            raise CliExit(str(exc)) from None
    try:
        if old is not None and holds_data:
            _confirm_replace(args)  # before pairing: a refusal must not use up the code
        peer, welcome = _pair_offline(args, identity)
    except BaseException:
        if old is not None:
            old.close()
        raise
    return _adopt(data, identity, old, welcome, peer.device_id)


def _pair_offline(args: argparse.Namespace, identity: Identity) -> tuple[PairedPeer, bytes]:
    from sync.const import PAIRING_SEARCH_S
    from sync.discovery import NO_MULTICAST, search_pairing
    from sync.netif import lan_interfaces
    from sync.pairing import PairingError, join, join_found, normalize_code

    async def search() -> tuple[PairedPeer, bytes]:
        normalize_code(args.code)  # a typo fails before searching
        print(
            f"localfirst: searching the network for the inviting device (up to {PAIRING_SEARCH_S:.0f} s)…",
            file=sys.stderr,
            flush=True,
        )
        found = search_pairing(interfaces, PAIRING_SEARCH_S)
        async with contextlib.aclosing(found):
            peer, welcome, _host = await join_found(args.code, found, identity)
        return peer, welcome

    interfaces = _network(args)["interfaces"]
    if args.peer is None and interfaces is None and not lan_interfaces():
        raise CliExit(NO_MULTICAST)
    try:
        if args.peer is not None:
            host, port = args.peer
            return asyncio.run(join(args.code, host, port, identity))
        return asyncio.run(search())
    except PairingError as exc:
        raise CliExit(f"pairing failed: {exc}") from None
    except OSError as exc:  # zeroconf could not bind to the interfaces
        raise CliExit(f"cannot search the network ({exc}); use --peer HOST:PORT") from None


def _adopt(data: Path, identity: Identity, old: Replica | None, welcome: bytes, inviter: str) -> int:
    """Create the joined library from the welcome (keeping a lone old one aside) and say so."""
    from sync.node import join_from_welcome, replace_with_welcome

    if old is None:
        replica = join_from_welcome(data, identity, welcome)
    else:
        replica, kept = replace_with_welcome(data, identity, old, welcome)
        print(f"localfirst: this device's previous library is kept as {kept}", file=sys.stderr)
    try:
        print(json.dumps({"joined": replica.library, "inviter": inviter, "device": identity.device_id}))
    finally:
        replica.close()
    return 0


def _status(data: Path, args: argparse.Namespace) -> int:
    status = _through_door(data, {"cmd": "status"}, "reading its status", _offline_status)
    status.setdefault("relays", cli_relay.configured(data))  # no node: what would run
    if args.json:
        print(json.dumps(status))
        return 0
    print(f"device   {status['device']}")
    print(f"library  {status['library']}  primary {status['primary'][:12]}")
    print(f"commits  #{status['csn']}  tentative writes pending: {status['tentative']}")
    if status.get("damaged"):
        print(f"DAMAGED  {status['damaged']}; nothing is claimed or served (see `localfirst verify`)")
    if status.get("repaired"):
        print(f"REPAIRED from a member (it was {status['repaired']['found']})")
    if status.get("removed"):
        print(f"REMOVED  {status['removed']}")
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
            where += _in_flight(peer)
        print(f"  {device[:12]}  {name or '-':20}  {where}")
    if status.get("relays"):
        print("relays\n" + "\n".join(cli_relay.status_lines(status["relays"])))
    return 0


def _offline_status(replica: Replica) -> dict[str, Any]:
    """What ``status`` says of a library no node is running (verified: a damaged one says so)."""
    found = replica.verify()  # the first check in a process recomputes all of it
    return {
        "device": replica.device,
        "library": replica.library,
        "primary": replica.primary,
        "csn": replica.csn,
        "chain": replica.chain.hex(),
        "vector": replica.vector.as_dict(),
        "tentative": len(replica.tentative()),
        "members": replica.members(),
        "peers": {},
        "damaged": None if found.ok else found.describe(),
        "running": False,
        "revoked": replica.revoked,
        "removed": _removal(replica.revoked),
    }


def _removal(revoked: bool) -> str | None:
    from sync.trust import removal_notice

    return removal_notice(revoked, False)


def _in_flight(peer: dict[str, Any]) -> str:
    """``, sending N writes, receiving M writes`` while data is in flight to or from a peer."""
    parts = [
        f"{verb} {count} write{'s' if count != 1 else ''}"
        for verb, count in (("sending", peer.get("sending", 0)), ("receiving", peer.get("receiving", 0)))
        if count
    ]
    return "".join(f", {part}" for part in parts)


def _import(data: Path, args: argparse.Namespace) -> int:
    from sync.control import import_summary, local_apply, run_import

    files: list[Path] = [p.absolute() for p in args.files]
    progress = _Progress("imported")
    request = {"cmd": "import", "files": [str(p) for p in files]}
    result = _through_door(
        data,
        request,
        "importing",
        lambda r: import_summary(asyncio.run(run_import(local_apply(r), files, progress.step))),
        timeout=None,
        progress=progress,
    )
    for line in result.pop("messages"):
        print(f"localfirst: {line}", file=sys.stderr)
    ok = result.pop("ok")
    print(json.dumps(result))
    return 0 if ok else 1


def _export(data: Path, args: argparse.Namespace) -> int:
    from sync.control import export_summary, local_apply

    directory: Path = args.directory.absolute()
    result = _through_door(
        data,
        {"cmd": "export", "directory": str(directory)},
        "exporting",
        lambda r: export_summary(local_apply(r), directory),
        timeout=None,
    )
    for path in result["written"]:
        print(path)
    for line in result.get("unreadable", []):
        print(f"localfirst: damaged record: {line}", file=sys.stderr)
    return 1 if result.get("unreadable") else 0


def _init(data: Path) -> int:
    got = _door(data, {"cmd": "status"}, "reading its status")
    if isinstance(got, dict):  # a node runs here: its library exists
        print(json.dumps({"device": got["device"], "library": got["library"]}))
        return 0
    from sync.node import load_identity, open_or_create

    with got:
        identity = load_identity(data)
        replica = open_or_create(data, identity)
        try:
            print(json.dumps({"device": identity.device_id, "library": replica.library}))
        finally:
            replica.close()
    return 0


COMMANDS: dict[str, Callable[[Path, argparse.Namespace], int]] = {
    "init": lambda data, _args: _init(data),
    "serve": _serve,
    "invite": _invite,
    "join": _join,
    "status": _status,
    "import": _import,
    "export": _export,
    **{name: functools.partial(cli_library.run, name) for name in cli_library.NAMES},
    "verify": cli_verify.run,
    "salvage": cli_salvage.run,
    "relay": functools.partial(cli_relay.run, "relay"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    add_verbose(parser)
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
    command = COMMANDS.get(args.command)
    if command is None:
        parser.error(f"unknown command {args.command}")  # exits
    return run_command(command, data, args)  # any failure: one line (ui.cli_errors)


if __name__ == "__main__":
    sys.exit(main())
