"""Which relays this device uses, and what it remembers of each (its own folder, never synced).

``relays.json`` in the data folder lists them (address, endpoint, path of a credentials file);
it holds no secret itself, but it is owner-only all the same. The per-relay state -- the next
segment number, what the relay is known to hold, how far each stream was read -- lives in
``relays/<id>.json`` and is written atomically after every step, so a crash repeats a step at
worst (a segment uploaded twice is applied once).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sync.relay.store import BadRelayAddress, RelayStore, open_store

CONFIG_FILE = "relays.json"
STATE_DIR = "relays"


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """One relay as the user added it."""

    address: str
    endpoint: str | None = None
    credentials: str | None = None  # path of an owner-only KEY=VALUE file
    silent_days: int = 90  # a member silent this long is named in status (it holds compaction)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.address.encode()).hexdigest()[:12]

    def open(self) -> RelayStore:
        creds = Path(self.credentials) if self.credentials else None
        return open_store(self.address, endpoint=self.endpoint, credentials=creds)


def normalize(address: str) -> str:
    """``folder:PATH`` with an absolute path; S3 addresses as given (no trailing slash)."""
    if address.startswith("folder:"):
        path = address[len("folder:") :]
        if not path.strip():
            raise BadRelayAddress("a folder relay needs a path: folder:PATH")
        return "folder:" + str(Path(path).expanduser().resolve())
    if address.startswith("s3://"):
        return address.rstrip("/")
    raise BadRelayAddress(f"not a relay address: {address!r} (use s3://BUCKET/PREFIX or folder:PATH)")


def load(data_dir: Path) -> list[RelayConfig]:
    """The configured relays (none if the file is missing or unreadable)."""
    try:
        raw = json.loads((data_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        return [
            RelayConfig(r["address"], r.get("endpoint"), r.get("credentials"), int(r.get("silent_days", 90)))
            for r in raw["relays"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def save(data_dir: Path, relays: list[RelayConfig]) -> None:
    _write_json(data_dir / CONFIG_FILE, {"relays": [asdict(r) for r in relays]})


def add(
    data_dir: Path, address: str, endpoint: str | None, credentials: Path | None, silent_days: int = 90
) -> RelayConfig:
    """Add a relay (checked by opening it: the address parses and credentials are usable).

    Raises:
        BadRelayAddress: the address or the credentials cannot be used, or it is there already.
    """
    if silent_days < 1:
        raise BadRelayAddress("--silent-days must be at least 1")
    creds = str(credentials.expanduser().resolve()) if credentials else None
    cfg = RelayConfig(normalize(address), endpoint, creds, silent_days)
    cfg.open()
    relays = load(data_dir)
    if any(r.address == cfg.address for r in relays):
        raise BadRelayAddress(f"relay {cfg.address} is configured already")
    save(data_dir, [*relays, cfg])
    return cfg


def remove(data_dir: Path, address: str) -> RelayConfig:
    """Remove a relay by address (or id) and forget its state.

    Raises:
        BadRelayAddress: no such relay.
    """
    relays = load(data_dir)
    try:
        wanted = normalize(address)
    except BadRelayAddress:
        wanted = address
    for r in relays:
        if wanted in (r.address, r.id) or address == r.id:
            save(data_dir, [x for x in relays if x is not r])
            (data_dir / STATE_DIR / f"{r.id}.json").unlink(missing_ok=True)
            return r
    raise BadRelayAddress(f"no relay {address} (see: localfirst relay list)")


@dataclass(slots=True)
class RelayState:
    """What this device remembers of one relay, for one library."""

    library: str = ""
    next_seq: int = 1
    known_vector: dict[str, int] = field(default_factory=dict)
    known_csn: int = 0
    cursors: dict[str, int] = field(default_factory=dict)  # device hash -> last segment applied
    recipients: list[str] = field(default_factory=list)  # sealed to, last upload
    snapshot_seq: int = 0  # this device's newest snapshot (a full segment made for compaction)
    snapshot_read: dict[str, int] = field(default_factory=dict)  # what it had read of each stream
    last_compaction: float = 0.0
    last_upload: float | None = None
    last_download: float | None = None


def load_state(data_dir: Path, relay: RelayConfig, library: str) -> RelayState:
    try:
        raw: dict[str, Any] = json.loads((data_dir / STATE_DIR / f"{relay.id}.json").read_text("utf-8"))
        state = RelayState(**raw)
    except (OSError, ValueError, TypeError):
        return RelayState(library=library)
    return state if state.library == library else RelayState(library=library)


def save_state(data_dir: Path, relay: RelayConfig, state: RelayState) -> None:
    _write_json(data_dir / STATE_DIR / f"{relay.id}.json", asdict(state))


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
