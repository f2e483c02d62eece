"""The control channel: how the command line talks to the node running in a data folder.

The node listens on an owner-only unix socket (``DATA/control.sock``). A conversation is one
request and its reply, each a sequence of frames: a 4-byte big-endian length, then a UTF-8 JSON
object of at most ``CONTROL_MAX_FRAME`` bytes. No message has a size limit a library hits,
because a list longer than ``CONTROL_CHUNK`` items travels ahead of its message in pieces:

    client -> node   {"t": "part", "key": "files", "values": [...]}   (any number)
                     {"t": "request", "body": {"cmd": "import", ...}}
    node -> client   {"t": "progress", "done": 1200, "total": 5000, "what": "files"}
                     {"t": "note", "body": {...}}                       (invite: the code, early)
                     {"t": "part", "key": "imported", "values": [...]}
                     {"t": "reply", "body": {...}}  or  {"t": "error", "message": "..."}

Long work runs in slices on the node's loop, so the node answers other requests (``status``)
between them. A malformed or unknown request gets an error frame; it never stops the node.
The same import code runs with no node (:func:`run_import` over :func:`local_apply`), under the
data folder's lock, so both doors write the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from localfirst import Replica
from sync.const import (
    CONTROL_CHUNK,
    CONTROL_MAX_FRAME,
    CONTROL_SLICE_S,
    CONTROL_SOCKET,
    PAIRING_CODE_LIFETIME_S,
)
from sync.library import holds_own_data
from sync.library_commands import COMMANDS, on_node

if TYPE_CHECKING:
    from storage.files import ImportReport
    from sync.node import Node

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_LENGTH = struct.Struct(">I")
#: Applies a function to the replica and makes what it wrote count (commit, push, notify).
Apply = Callable[[Callable[[Replica], _T]], _T]
Progress = Callable[[int, int], Awaitable[None]]


class ControlError(Exception):
    """The node refused or failed a request; the message is for the user."""


class NodeNotRunning(ControlError):
    """No node answers on the data folder's control socket."""


class NodeStopped(ControlError):
    """The node's connection ended before its reply: it stopped (or was killed) mid-request."""


class MalformedFrame(ControlError):
    """A frame was not a JSON object of an allowed size."""


# -- frames ------------------------------------------------------------------------------------


def encode(frame: dict[str, Any]) -> bytes:
    data = json.dumps(frame, separators=(",", ":")).encode()
    if len(data) > CONTROL_MAX_FRAME:
        raise MalformedFrame(f"a frame of {len(data)} bytes exceeds the {CONTROL_MAX_FRAME}-byte cap")
    return _LENGTH.pack(len(data)) + data


async def read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame, or None if the stream ended cleanly between frames.

    Raises:
        MalformedFrame: too long, not JSON, not an object, or cut off.
    """
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise MalformedFrame("the stream ended inside a frame header") from None
    (size,) = _LENGTH.unpack(header)
    if size > CONTROL_MAX_FRAME:
        raise MalformedFrame(f"a frame of {size} bytes exceeds the {CONTROL_MAX_FRAME}-byte cap")
    try:
        frame = json.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        raise MalformedFrame("the stream ended inside a frame") from None
    except ValueError as exc:
        raise MalformedFrame(f"a frame is not JSON ({exc})") from None
    if not isinstance(frame, dict):
        raise MalformedFrame("a frame is not a JSON object")
    return frame


def message(kind: str, body: dict[str, Any]) -> bytes:
    """The frames of one message: every long list goes ahead of it in parts."""
    out = bytearray()
    short: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, list) and len(value) > CONTROL_CHUNK:
            for at in range(0, len(value), CONTROL_CHUNK):
                out += encode({"t": "part", "key": key, "values": value[at : at + CONTROL_CHUNK]})
        else:
            short[key] = value
    return bytes(out + encode({"t": kind, "body": short}))


class _Parts:
    """Lists arriving in parts ahead of the message they belong to."""

    def __init__(self) -> None:
        self.lists: dict[str, list[Any]] = {}

    def add(self, frame: dict[str, Any]) -> None:
        key, values = frame.get("key"), frame.get("values")
        if not isinstance(key, str) or not isinstance(values, list):
            raise MalformedFrame("a part needs a key and a list of values")
        self.lists.setdefault(key, []).extend(values)

    def body(self, frame: dict[str, Any]) -> dict[str, Any]:
        body = frame.get("body")
        if not isinstance(body, dict):
            raise MalformedFrame("a message needs a body object")
        whole = {**body, **self.lists}
        self.lists = {}
        return whole


# -- the client --------------------------------------------------------------------------------


async def control_request(
    data_dir: Path,
    request: dict[str, Any],
    *,
    timeout: float | None = 10.0,
    on_progress: Callable[[int, int, str], None] | None = None,
    on_note: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Send one request to the node running in ``data_dir`` and return its reply.

    ``timeout`` bounds the wait for each frame (None: as long as the node lives); progress and
    early notes arrive through the callbacks.

    Raises:
        NodeNotRunning: no node answers there (no socket, or one left by a dead node).
        NodeStopped: the node went away before replying.
        ControlError: the node answered with an error.
        TimeoutError: the node sent nothing for ``timeout`` seconds.
    """
    path = Path(data_dir) / CONTROL_SOCKET
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=2**16)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise NodeNotRunning(f"no node runs in {data_dir}") from exc
    try:
        writer.write(message("request", request))
        await writer.drain()
        return await _reply(reader, timeout, on_progress, on_note)
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise NodeStopped("the node's connection broke before it replied") from exc
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _reply(
    reader: asyncio.StreamReader,
    timeout: float | None,
    on_progress: Callable[[int, int, str], None] | None,
    on_note: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """Read the node's frames up to its reply (see :func:`control_request`)."""
    parts = _Parts()
    while True:
        async with asyncio.timeout(timeout):
            frame = await read(reader)
        if frame is None:
            raise NodeStopped("the node closed the connection before replying")
        kind = frame.get("t")
        if kind == "reply":
            return parts.body(frame)
        if kind == "error":
            raise ControlError(str(frame.get("message", "the node failed the request")))
        if kind == "part":
            parts.add(frame)
        elif kind == "progress":
            if on_progress is not None:
                on_progress(int(frame["done"]), int(frame["total"]), str(frame.get("what", "")))
        elif kind == "note":
            if on_note is not None:
                on_note(parts.body(frame))
        else:
            raise MalformedFrame(f"unknown frame type {kind!r}")


# -- the work, shared by both doors --------------------------------------------------------------


def local_apply(replica: Replica) -> Apply[Any]:
    """:data:`Apply` with no node: run on the replica, and commit as the node would (primary)."""

    def apply(fn: Callable[[Replica], _T]) -> _T:
        try:
            return fn(replica)
        finally:
            if replica.primary == replica.device and replica.tentative():
                replica.commit()

    return apply


def _merge(into: ImportReport, part: ImportReport) -> None:
    for f in dataclasses.fields(into):
        mine = getattr(into, f.name)
        if isinstance(mine, list):
            mine.extend(getattr(part, f.name))


async def run_import(apply: Apply[Any], paths: Sequence[Path], progress: Progress) -> ImportReport:
    """Import ``paths`` a slice at a time (each file all or nothing), reporting progress after each.

    A slice takes about ``CONTROL_SLICE_S``: the slice size adapts to how fast files go, so a
    node stays responsive between slices and a commit covers many small files.
    """
    from storage.files import ImportReport, import_files

    report = ImportReport()
    done, size = 0, 8
    while done < len(paths):
        chunk = list(paths[done : done + size])
        started = time.monotonic()
        _merge(report, apply(functools.partial(import_files, paths=chunk)))
        done += len(chunk)
        elapsed = time.monotonic() - started
        if elapsed < CONTROL_SLICE_S / 2:
            size = min(size * 2, CONTROL_CHUNK)
        elif elapsed > CONTROL_SLICE_S * 2:
            size = max(1, size // 2)
        await progress(done, len(paths))
    return report


def import_summary(report: ImportReport) -> dict[str, Any]:
    """An import's outcome as JSON: what was imported, counts, and the messages for the user."""
    return {
        "imported": [str(p) for p in report.imported],
        "notes": len(report.notes),
        "calendars": len(report.calendars),
        "events": len(report.events),
        "messages": report.messages(),
        "ok": report.ok,
    }


def export_summary(apply: Apply[Any], directory: Path) -> dict[str, Any]:
    from storage.files import export_library

    unreadable: list[str] = []
    written: list[Path] = apply(lambda r: export_library(r, directory, problems=unreadable))
    return {"written": [str(p) for p in written], "unreadable": unreadable}


# -- the server --------------------------------------------------------------------------------


class _Conversation:
    """One client connection on the node's side: its frames out, and whether it still listens."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.gone = False

    async def send(self, data: bytes) -> None:
        if self.gone:
            return  # the client left; the work goes on and its outcome is in the library
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.gone = True

    async def progress(self, done: int, total: int, what: str = "files") -> None:
        await self.send(encode({"t": "progress", "done": done, "total": total, "what": what}))


class ControlServer:
    """The node's control socket: one task per connection, so a long import never blocks status."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.path = node.data_dir / CONTROL_SOCKET
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Listen (replacing a socket file a dead node left: the caller holds the folder's lock)."""
        self.path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._on_connection, str(self.path), limit=2**16)
        self.path.chmod(0o600)

    async def stop(self) -> None:
        """Stop listening, end the conversations in progress, remove the socket file."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        self.path.unlink(missing_ok=True)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        talk = _Conversation(writer)
        try:
            try:
                request = await self._read_request(reader)
                reply = await self._command(request, talk)
                await talk.send(message("reply", reply))
            except MalformedFrame as exc:
                await talk.send(encode({"t": "error", "message": f"malformed request: {exc}"}))
            except KeyError as exc:
                await talk.send(encode({"t": "error", "message": f"the request lacks the field {exc}"}))
            except Exception as exc:
                if not _user_error(exc):
                    log.warning("control request failed", exc_info=exc)
                await talk.send(encode({"t": "error", "message": str(exc) or type(exc).__name__}))
        except asyncio.CancelledError:
            writer.transport.abort()  # the node stops: the client sees the connection end early
        finally:
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        parts = _Parts()
        while True:
            frame = await read(reader)
            if frame is None:
                raise MalformedFrame("the connection ended before the request")
            kind = frame.get("t")
            if kind == "part":
                parts.add(frame)
            elif kind == "request":
                return parts.body(frame)
            else:
                raise MalformedFrame(f"unexpected frame type {kind!r}")

    async def _command(self, req: dict[str, Any], talk: _Conversation) -> dict[str, Any]:
        node = self.node
        cmd = req.get("cmd")
        if cmd == "status":
            return node.status()
        if cmd == "invite":
            return await self._invite(req, talk)
        if cmd == "join":
            return await self._join(req)
        if cmd == "put":
            kind, entity, fields = str(req["kind"]), str(req["id"]), dict(req["fields"])
            await node.write(lambda r: _put(r, kind, entity, fields))
            return {"ok": True}
        if cmd == "get":
            doc = node.replica.get(str(req["id"]))
            return {"values": doc.values() if doc is not None and doc.exists else None}
        if cmd == "verify":
            found = await node.verifier.check_full() or node.replica.verify(full=True)
            return found.to_json() | {"summary": found.describe()}
        if cmd == "log":
            return {"log": node.replica.log_labels()}
        if cmd == "import":
            files = req.get("files")
            if not isinstance(files, list):
                raise ControlError("import needs a list of files")
            report = await run_import(node.apply, [Path(str(p)) for p in files], _yielding(talk))
            return import_summary(report)
        if cmd == "export":
            return export_summary(node.apply, Path(str(req["directory"])))
        if cmd in COMMANDS:  # devices (revoke too), conflicts, notes, events: sync.library_commands
            return await on_node(node, req)
        raise ControlError(f"unknown command {cmd!r}")

    async def _invite(self, req: dict[str, Any], talk: _Conversation) -> dict[str, Any]:
        from sync.pairing import PairingError

        node = self.node
        lifetime = float(req.get("lifetime", PAIRING_CODE_LIFETIME_S))
        inv = await node.invite(lifetime, int(req.get("port") or 0))
        first = invitation_note(inv.code, inv.port, node.addresses, time.time() + lifetime)
        if not req.get("wait"):
            return first
        await talk.send(message("note", first))
        try:
            peer = await inv.wait()
        except PairingError as exc:
            raise ControlError(str(exc)) from None
        return {"paired": peer.device_id, "name": peer.name}

    async def _join(self, req: dict[str, Any]) -> dict[str, Any]:
        """Join another library through the running node; with ``check``, only say whether
        this device holds its own data (so the CLI asks before a code is used)."""
        node = self.node
        if req.get("check"):
            return {"holds_data": holds_own_data(node.replica), "members": len(node.replica.members())}
        host, port = req.get("host"), req.get("port")
        peer = await node.join(
            str(req["code"]),
            str(host) if host else None,
            int(port) if port else None,
            replace=bool(req.get("replace", False)),
        )
        return {"joined": node.replica.library, "inviter": peer.device_id, "device": node.device}


def invitation_note(code: str, port: int, addresses: list[str], expires: float) -> dict[str, Any]:
    """What ``invite`` shows: the code, where a joiner can reach the pairing listener (never a
    wildcard address) and when the code expires (UTC, ISO 8601)."""
    return {
        "code": code,
        "port": port,
        "host": addresses[0] if addresses else "127.0.0.1",
        "addresses": addresses,
        "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
    }


def _put(r: Replica, kind: str, entity: str, fields: dict[str, Any]) -> None:
    """Set fields of an entity through the core's services, so an event in a bookable calendar
    is booked as the window would book it."""
    from localfirst import edits

    edits.change(r, f"Edit {kind}", [(entity, {**(edits.current(r, entity) or {}), **fields})], kind=kind)


def _yielding(talk: _Conversation) -> Progress:
    async def progress(done: int, total: int) -> None:
        await talk.progress(done, total)
        await asyncio.sleep(0)  # let other conversations (status) and peers in between slices

    return progress


def _user_error(exc: Exception) -> bool:
    """Whether an exception is a refusal meant for the user rather than a fault to log."""
    from sync.node import NodeError
    from sync.pairing import PairingError

    return isinstance(exc, ControlError | NodeError | PairingError | ValueError | TypeError)
