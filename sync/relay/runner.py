"""The relay loop inside a node: one task per configured relay, polling politely.

After activity (something uploaded, downloaded or applied, or a local change) a relay is polled
every ``active`` seconds (1 s) for a while; once quiet, every ``idle`` seconds (30 s: two list
requests a minute). A local change wakes the loop at once. A store that fails (timeout, 5xx,
throttling, refused connection, DNS) gives exponential backoff with jitter up to five minutes;
local work never waits for it, and the next round resumes from the saved state, so nothing is
lost or applied twice. ``relays.json`` is re-read when it changes, so ``localfirst relay add``
takes effect in a running node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from localfirst import Changes
from storage.errors import StorageError
from sync.library import NodeError
from sync.relay import compaction
from sync.relay import config as relay_config
from sync.relay.config import RelayConfig
from sync.relay.exchange import Host, RelayLink
from sync.relay.seal import SealError
from sync.relay.segments import covers
from sync.relay.store import BadRelayAddress, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Polling:
    """How often to poll: ``active`` s for ``window`` s after activity, else ``idle`` s."""

    active: float = 1.0
    idle: float = 30.0
    window: float = 60.0
    backoff_cap: float = 300.0


class _Slot:
    """One relay's task, link and health."""

    def __init__(self, cfg: RelayConfig) -> None:
        self.config = cfg
        self.link: RelayLink | None = None
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()
        self.reachable: bool | None = None
        self.error: str | None = None
        self.failures = 0
        self.last_active = 0.0


class RelayRunner:
    """Every relay of a node; ``start()`` on the node's loop, ``await stop()``."""

    def __init__(self, host: Host, polling: Polling | None = None) -> None:
        self.host = host
        self.polling = polling or Polling()
        self._slots: dict[str, _Slot] = {}
        self._watch: asyncio.Task[None] | None = None
        self._config_mtime: float | None = None

    def start(self) -> None:
        self._reload()
        self._watch = asyncio.get_running_loop().create_task(self._watch_config())

    async def stop(self) -> None:
        tasks = [t for t in (self._watch, *(s.task for s in self._slots.values())) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._slots.clear()

    def changed(self, changes: Changes) -> None:
        """A local write or a received batch: wake every relay (there may be something to send)."""
        for slot in self._slots.values():
            slot.last_active = time.monotonic()
            slot.wake.set()

    def kick(self) -> None:
        """Poll every relay now (tests, ``relay sync``)."""
        for slot in self._slots.values():
            slot.wake.set()

    # -- configuration --------------------------------------------------------------------------

    async def _watch_config(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            self._reload()

    def reload(self) -> None:
        """Re-read ``relays.json`` now (the node also does every two seconds)."""
        self._reload()

    def _reload(self) -> None:
        path = self.host.data_dir / relay_config.CONFIG_FILE
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime == self._config_mtime and self._slots.keys() == {
            c.id for c in relay_config.load(self.host.data_dir)
        }:
            return
        self._config_mtime = mtime
        wanted = {c.id: c for c in relay_config.load(self.host.data_dir)}
        for rid in [r for r in self._slots if r not in wanted]:
            slot = self._slots.pop(rid)
            if slot.task is not None:
                slot.task.cancel()
        loop = asyncio.get_running_loop()
        for rid, cfg in wanted.items():
            if rid not in self._slots:
                slot = _Slot(cfg)
                self._slots[rid] = slot
                slot.task = loop.create_task(self._run(slot), name=f"relay {cfg.id}")

    # -- the loop -------------------------------------------------------------------------------

    async def _run(self, slot: _Slot) -> None:
        while True:
            delay = await self._round(slot)
            slot.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(slot.wake.wait(), timeout=delay)

    async def _round(self, slot: _Slot) -> float:
        """Run one round; return how long to wait before the next."""
        try:
            if slot.link is None:
                slot.link = RelayLink(self.host, slot.config, slot.config.open())
            result = await slot.link.round()
            await compaction.maybe_compact(slot.link)
        except (StoreUnavailable, StorageError, BadRelayAddress, SealError, NodeError) as exc:
            # The store failed, or this device did (disk, its relay key, the library being
            # replaced by a join): say so, wait, retry.
            slot.reachable = False if isinstance(exc, StoreUnavailable) else slot.reachable
            return self._failed(slot, str(exc))
        except Exception as exc:  # a bug: logged in full, and the node goes on without this round
            log.exception("relay %s: round failed", slot.config.address)
            return self._failed(slot, f"internal error: {type(exc).__name__}: {exc}")
        slot.reachable, slot.error, slot.failures = True, None, 0
        now = time.monotonic()
        if result.active:
            slot.last_active = now
        busy = now - slot.last_active < self.polling.window
        return self.polling.active if busy else self.polling.idle

    def _failed(self, slot: _Slot, error: str) -> float:
        """Record a failed round; return the backoff: exponential, capped, with jitter."""
        slot.error = error
        slot.failures += 1
        delay: float = min(self.polling.backoff_cap, self.polling.active * 2.0 ** min(slot.failures, 12))
        log.warning("relay %s: %s (next try in about %.0f s)", slot.config.address, error, delay)
        return delay * random.uniform(0.5, 1.5)

    # -- status ---------------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Each relay: reachable, last upload and download, segments pending, bytes, warnings."""
        out = []
        for slot in self._slots.values():
            link = slot.link
            entry: dict[str, Any] = {
                "address": slot.config.address,
                "id": slot.config.id,
                "reachable": slot.reachable,
                "error": slot.error,
            }
            if link is not None:
                layout = link.seen.layout
                entry.update(
                    last_upload=link.state.last_upload,
                    last_download=link.state.last_download,
                    pending=link.waiting,
                    unsent=not covers(link.known, self.host.replica.summary()),
                    unreadable=len(link.failed),
                    refused=len(link.refused),
                    segments=sum(len(s) for s in layout.segments.values()),
                    bytes=layout.bytes,
                    bytes_up=link.store.counters.bytes_up,
                    bytes_down=link.store.counters.bytes_down,
                    requests={
                        "list": link.store.counters.lists,
                        "get": link.store.counters.gets,
                        "put": link.store.counters.puts,
                        "delete": link.store.counters.deletes,
                    },
                    warnings=compaction.warnings(link),
                )
            out.append(entry)
        return out

    def links(self) -> list[RelayLink]:
        return [s.link for s in self._slots.values() if s.link is not None]
