"""The data folder's files: this device's identity, the library file and the peer-versions file.

Everything here is plain file work, no network: opening or creating the library, creating it
from a pairing's welcome, swapping a lone library for another one when the device joins, and
remembering the newest protocol version each peer spoke (the downgrade guard).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from localfirst import Replica
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


def replace_with_welcome(
    data_dir: Path, identity: Identity, old: Replica, welcome: bytes
) -> tuple[Replica, Path]:
    """Close ``old``, keep its file beside the new library, and create the new one from ``welcome``.

    Returns the new replica and where the old library was kept
    (``library-<id>.replaced.sqlite``). If the new library cannot be created, the old file is
    put back (the caller reopens it) and the error propagates.
    """
    path = library_path(data_dir)
    kept = path.with_name(f"{path.stem}-{old.library[:12]}.replaced{path.suffix}")
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
