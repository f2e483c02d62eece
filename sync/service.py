"""A node on a thread of its own, for a program that has another main loop (the desktop app).

:class:`NodeService` starts an asyncio loop on a background thread, runs a :class:`Node` there
and offers the ``ReplicaService`` interface the UI's backend expects (``submit``,
``subscribe``, ``close``) plus blocking-free sync actions returning futures. Work submitted
before the node finished starting waits for it; if the node cannot start (no such address,
port taken) it starts again offline: replica only, loopback listener, no discovery, so the app
keeps working without a network.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from localfirst import Changes, Replica
from sync.errors import PairingError
from sync.node import Node, NodeError
from sync.pairing import PairedPeer
from sync.subscribers import Subscribers, Unsubscribe

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class NodeService:
    """A :class:`Node` running on its own thread; every method may be called from any thread."""

    def __init__(self, data_dir: Path, **node_options: Any) -> None:
        """Start the thread and the node (``node_options`` go to :class:`Node`)."""
        self.data_dir = Path(data_dir)
        self._options = node_options
        self._loop = asyncio.new_event_loop()
        self._subscribers: Subscribers[Changes] = Subscribers()
        self.node: Node | None = None
        self.offline = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop.run_forever, name="sync-node", daemon=True)
        self._thread.start()
        #: Completes once the node runs (with the node), or with why it could not open the library.
        self.started: concurrent.futures.Future[Node] = asyncio.run_coroutine_threadsafe(
            self._start(), self._loop
        )

    async def _start(self) -> Node:
        node = Node(self.data_dir, **self._options)
        try:
            await node.start()  # LibraryBusy (another process holds the folder) is not retried
        except OSError as exc:
            log.warning("sync unavailable (%s); running offline", exc)
            await node.stop()
            options = {**self._options, "host": "127.0.0.1", "port": 0, "discovery": False, "peers": ()}
            node = Node(self.data_dir, **options)
            await node.start()
            self.offline = True
        node.subscribe(self._subscribers.notify)
        self.node = node
        return node

    def _run(self, coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        if self._closed:
            coro.close()
            raise NodeError("the node service is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _node(self) -> Node:
        return await asyncio.wrap_future(self.started)

    # -- ReplicaService ------------------------------------------------------------------------

    def submit(self, fn: Callable[[Replica], _T]) -> concurrent.futures.Future[_T]:
        """Run ``fn(replica)`` on the node's thread (after it started); a write syncs at once."""

        async def call() -> _T:
            return (await self._node()).apply(fn)

        return self._run(call())

    def subscribe(self, callback: Callable[[Changes], None]) -> Unsubscribe:
        """Call ``callback(changes)`` on the node's thread after every change of the replica."""
        return self._subscribers.add(callback)

    def close(self) -> None:
        """Stop the node (goodbye to peers, replica closed), then the thread."""
        if self._closed:
            return

        async def stop() -> None:
            try:
                node = await self._node()
            except Exception:
                return
            await node.stop()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    # -- sync actions (futures completed on the node's thread) ---------------------------------

    def status(self) -> concurrent.futures.Future[dict[str, Any]]:
        """The node's status (see :meth:`Node.status`)."""

        async def call() -> dict[str, Any]:
            return (await self._node()).status()

        return self._run(call())

    def invite(self) -> concurrent.futures.Future[tuple[str, str, int]]:
        """Open a pairing invitation: (code, host, port) for the joining device (the host is an
        address another device can dial, never a wildcard)."""

        async def call() -> tuple[str, str, int]:
            node = await self._node()
            inv = await node.invite()
            self._invitation = inv
            addresses = node.addresses
            return inv.code, addresses[0] if addresses else "127.0.0.1", inv.port

        return self._run(call())

    def invitation_ended(self) -> concurrent.futures.Future[str]:
        """How the last invitation ended, once it has: "" when a device paired, else why not
        (a wrong code was tried, it expired, it was closed): its code is used up either way."""

        async def call() -> str:
            inv = getattr(self, "_invitation", None)
            if inv is None:
                return "no invitation is open"
            try:
                await inv.wait()
            except PairingError as exc:
                return str(exc)
            return ""

        return self._run(call())

    def join(
        self, code: str, host: str | None = None, port: int | None = None
    ) -> concurrent.futures.Future[PairedPeer]:
        """Pair with the device inviting at ``host:port`` and adopt its library.

        Without an address the node searches the network for the inviting device (discovery
        on); with discovery off the future fails with a :class:`NodeError` saying so.
        """

        async def call() -> PairedPeer:
            return await (await self._node()).join(code, host, port)

        return self._run(call())

    def set_mirror(self, folder: Path | None) -> concurrent.futures.Future[Path | None]:
        """Keep ``folder`` in step with the library both ways (None: stop); the future holds
        the folder now mirrored, or fails with why it cannot be (the previous one is stopped).
        The node runs the mirror, as ``serve --mirror`` does on a headless machine."""

        async def call() -> Path | None:
            return await (await self._node()).set_mirror(folder)

        return self._run(call())

    def mirror_errors(self) -> list[str]:
        """Files of the mirror folder that could not be used, one line each."""
        node = self.node
        return node.mirror_errors() if node is not None else []

    def revoke(self, device: str) -> concurrent.futures.Future[None]:
        """Revoke a member (a replicated write; its sessions close)."""

        async def call() -> None:
            (await self._node()).revoke(device)

        return self._run(call())
