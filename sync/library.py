"""The data folder's files: this device's identity, the library file and the peer-versions file.

Everything here is plain file work, no network: opening or creating the library, creating it
from a pairing's welcome, swapping a lone library for another one when the device joins, and
remembering the newest protocol version each peer spoke (the downgrade guard).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from localfirst import Replica
from localfirst.calendar import holds_only_the_default
from storage import SqlStore, create_library, open_replica
from sync.const import LIBRARY_FILE, PEER_VERSIONS_FILE
from sync.identity import Identity

log = logging.getLogger(__name__)


class NodeError(Exception):
    """The node cannot do what was asked (no library, already joined, ...)."""


def load_identity(data_dir: Path, name: str = "") -> Identity:
    """Load (or create, on first run) this device's identity in ``data_dir``."""
    return Identity.load_or_create(data_dir, name or os.uname().nodename)


def library_path(data_dir: Path) -> Path:
    return data_dir / LIBRARY_FILE


def open_or_create(data_dir: Path, identity: Identity) -> Replica:
    """Open the library in ``data_dir``; a first run creates a new one with this device as primary."""
    path = library_path(data_dir)
    if path.exists():
        return open_replica(path)
    replica = create_library(path, identity.device_id, device_name=identity.name)
    replica.put("device", identity.device_id, {"cert": identity.cert_pem.decode("ascii")})
    replica.commit()  # this device created the library, so it is the primary
    return replica


def join_from_welcome(data_dir: Path, identity: Identity, welcome: bytes) -> Replica:
    """Create this device's replica from the welcome a pairing delivered.

    Raises:
        NodeError: this data directory already holds a library.
    """
    path = library_path(data_dir)
    if path.exists():
        raise NodeError(f"{data_dir} already holds a library")
    try:
        return Replica.from_welcome(SqlStore(path, create=True), identity.device_id, welcome)
    except BaseException:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise


REPLACE_REFUSED = (
    "this device holds its own library (notes, events or calendars); joining replaces it "
    "(the old file is kept aside): pass --replace to go ahead"
)

#: Kinds a user writes: a library holding any of them is not replaced without asking.
USER_KINDS = ("note", "event", "calendar")


def holds_own_data(replica: Replica) -> bool:
    """Whether the library holds anything a user made (a note, event or calendar)."""
    # The calendar a first run of the app made is not the user's data (until they use it).
    return any(replica.entities(kind) for kind in USER_KINDS) and not holds_only_the_default(replica)


def open_lone(data_dir: Path) -> tuple[Replica, bool]:
    """Open the library in ``data_dir`` to be replaced by a join: the replica and whether it
    holds the user's own data (:func:`holds_own_data`).

    Raises:
        NodeError: the library is shared with other devices (it is closed again).
    """
    replica = open_replica(library_path(data_dir))
    if len(replica.members()) > 1:
        replica.close()
        raise NodeError("this device already shares a library with other devices")
    return replica, holds_own_data(replica)


def kept_path(data_dir: Path, when: float | None = None) -> Path:
    """Where a replaced library is kept: ``library.sqlite.replaced-YYYYmmdd-HHMMSS`` (UTC),
    never an existing file."""
    path = library_path(data_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(when))
    kept = path.with_name(f"{path.name}.replaced-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.replaced-{stamp}-{n}")
    return kept


def replace_with_welcome(
    data_dir: Path, identity: Identity, old: Replica, welcome: bytes
) -> tuple[Replica, Path]:
    """Close ``old``, keep its file aside, and create the new library from ``welcome``.

    Returns the new replica and where the old library was kept (:func:`kept_path`; nothing is
    deleted). If the new library cannot be created, the old file is put back (the caller
    reopens it) and the error propagates.
    """
    path = library_path(data_dir)
    kept = kept_path(data_dir)
    old.close()
    path.replace(kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)  # the close checkpointed the WAL
    try:
        return join_from_welcome(data_dir, identity, welcome), kept
    except BaseException:
        kept.replace(path)
        raise


def load_versions(data_dir: Path) -> dict[str, int]:
    """The newest protocol version each peer spoke, kept across restarts (downgrade guard)."""
    try:
        raw = json.loads((data_dir / PEER_VERSIONS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if isinstance(k, str) and type(v) is int}


def save_versions(data_dir: Path, versions: dict[str, int]) -> None:
    """Record :func:`load_versions`' map atomically; a failure is logged, not raised."""
    path = data_dir / PEER_VERSIONS_FILE
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(versions))
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot record peer protocol versions in %s: %s", path, exc)
