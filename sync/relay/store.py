"""Object stores a relay speaks to: S3-compatible buckets and plain (synced) folders, through
``obstore``'s one interface.

A segment is only ever created (``put`` in *create* mode: its name is never overwritten); a device
rewrites only its own key entry and read marker. The relay reads whole objects, lists a prefix
and deletes what compaction allows. Every
store failure -- refused connection, timeout, 5xx, throttling, a vanished file -- becomes
:class:`StoreUnavailable` (try again later) and a name taken already :class:`ObjectExists`;
neither ever carries credentials. A folder relay writes through ``obstore``'s local store, which
writes a temporary file and renames it into place, so a reader never sees our own half-written
segment; what another program (a sync client) may show half-written is caught by the seal.
"""

from __future__ import annotations

import datetime
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError, NotFoundError
from obstore.store import LocalStore, S3Store

#: How long one request may take before it counts as a failure (the runner backs off then).
REQUEST_TIMEOUT = datetime.timedelta(seconds=20)
#: obstore's own retries stay short: the runner's backoff is what waits out a long outage.
_RETRY: Any = {
    "max_retries": 2,
    "retry_timeout": datetime.timedelta(seconds=10),
    "backoff": {"init_backoff": datetime.timedelta(milliseconds=100), "base": 2},
}
_ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION")


class StoreError(Exception):
    """Base of what a store reports; messages never carry credentials."""


class StoreUnavailable(StoreError):
    """The store could not be reached or failed the request: try again later."""


class ObjectExists(StoreError):
    """An object of that name exists already (names are never overwritten)."""


class BadRelayAddress(ValueError):
    """A relay address or its credentials cannot be used (one line for the user)."""


@dataclass(frozen=True, slots=True)
class Listed:
    """One object found by a listing: its name (relative to the relay's root) and size."""

    path: str
    size: int


@dataclass(slots=True)
class Counters:
    """Requests made and bytes moved, for status and the figures."""

    lists: int = 0
    gets: int = 0
    puts: int = 0
    deletes: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    #: per kind of request, for tests that count what an idle device costs
    by_kind: dict[str, int] = field(default_factory=dict)


class RelayStore:
    """A relay's storage: create-only puts, whole gets, listings and deletes, all async."""

    def __init__(self, store: Any, describe: str) -> None:
        self._store = store
        self.describe = describe  # the address, for messages (never credentials)
        self.counters = Counters()

    async def put_new(self, path: str, data: bytes) -> None:
        """Create ``path`` holding ``data``; raise :class:`ObjectExists` if the name is taken."""
        self.counters.puts += 1
        try:
            await obstore.put_async(self._store, path, data, mode="create")
        except AlreadyExistsError:
            raise ObjectExists(path) from None
        except (BaseError, OSError) as exc:
            raise StoreUnavailable(_reason(exc)) from None
        self.counters.bytes_up += len(data)

    async def replace(self, path: str, data: bytes) -> None:
        """Write ``path`` whether or not it exists (only for this device's own read marker)."""
        self.counters.puts += 1
        try:
            await obstore.put_async(self._store, path, data)
        except (BaseError, OSError) as exc:
            raise StoreUnavailable(_reason(exc)) from None
        self.counters.bytes_up += len(data)

    async def get(self, path: str) -> bytes | None:
        """The object's bytes, or None if it does not exist (any more)."""
        self.counters.gets += 1
        try:
            result = await obstore.get_async(self._store, path)
            data = bytes(await result.bytes_async())
        except (NotFoundError, FileNotFoundError):
            return None
        except (BaseError, OSError) as exc:
            raise StoreUnavailable(_reason(exc)) from None
        self.counters.bytes_down += len(data)
        return data

    async def list(self, prefix: str) -> list[Listed]:
        """Every object under ``prefix`` (one list request for a relay's usual size)."""
        self.counters.lists += 1
        out: list[Listed] = []
        try:
            stream = obstore.list(self._store, prefix)
            async for chunk in stream:
                out.extend(Listed(str(meta["path"]), int(meta["size"])) for meta in chunk)
        except (NotFoundError, FileNotFoundError):
            return []
        except (BaseError, OSError) as exc:
            raise StoreUnavailable(_reason(exc)) from None
        return out

    async def delete(self, path: str) -> None:
        """Delete ``path`` (gone already is fine)."""
        self.counters.deletes += 1
        try:
            await obstore.delete_async(self._store, path)
        except (NotFoundError, FileNotFoundError):
            return
        except (BaseError, OSError) as exc:
            raise StoreUnavailable(_reason(exc)) from None


_STATUS = re.compile(r"status code: (\d{3})[^:]*(?::\s*(?:<\?xml[^>]*>\s*)?)?(?:<Error><Code>(\w+))?")


def _reason(exc: BaseException) -> str:
    """One line a person can read for a store failure (the client's own text names its internals
    and a debug dump; it never carries a secret, but it is long)."""
    text = str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, BaseError):
        return f"the relay folder failed: {exc.strerror or exc}"
    found = _STATUS.search(text)
    if found:
        code = f" ({found[2]})" if found[2] else ""
        return f"the store answered HTTP {found[1]}{code}"
    kinds = {
        "kind: Connect": "cannot connect to the store",
        "timed out": "the store did not answer in time",
        "kind: Timeout": "the store did not answer in time",
        "dns error": "cannot find the store's host (DNS)",
    }
    for needle, line in kinds.items():
        if needle in text:
            return line
    first = text.strip().splitlines()[0] if text.strip() else "unknown failure"
    return "the store failed: " + first.split(" - ")[-1][:200]


def open_store(address: str, *, endpoint: str | None = None, credentials: Path | None = None) -> RelayStore:
    """Open ``s3://BUCKET/PREFIX`` (credentials from ``AWS_*`` variables or an owner-only file)
    or ``folder:PATH``.

    Raises:
        BadRelayAddress: the address is neither, or the credentials cannot be used.
    """
    if address.startswith("folder:"):
        folder = Path(address[len("folder:") :]).expanduser()
        if not str(folder).strip():
            raise BadRelayAddress("a folder relay needs a path: folder:PATH")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadRelayAddress(f"cannot use folder {folder}: {exc.strerror}") from None
        return RelayStore(LocalStore(folder.resolve(), mkdir=True), f"folder:{folder}")
    if address.startswith("s3://"):
        bucket, _, prefix = address[len("s3://") :].partition("/")
        if len(bucket) < 3:
            raise BadRelayAddress("an S3 relay needs a bucket name: s3://BUCKET/PREFIX")
        keys = s3_credentials(credentials)
        config: dict[str, Any] = {
            "access_key_id": keys.get("AWS_ACCESS_KEY_ID"),
            "secret_access_key": keys.get("AWS_SECRET_ACCESS_KEY"),
            "region": keys.get("AWS_REGION") or keys.get("AWS_DEFAULT_REGION") or "us-east-1",
        }
        if keys.get("AWS_SESSION_TOKEN"):
            config["session_token"] = keys["AWS_SESSION_TOKEN"]
        if not config["access_key_id"] or not config["secret_access_key"]:
            raise BadRelayAddress(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or give --credentials FILE (readable by you only)"
            )
        if endpoint:
            config["endpoint"] = endpoint
        client: Any = {"timeout": REQUEST_TIMEOUT, "connect_timeout": datetime.timedelta(seconds=5)}
        if endpoint and endpoint.startswith("http://"):
            client["allow_http"] = True
        store = S3Store(
            bucket,
            prefix=prefix.strip("/") or None,
            config=config,  # type: ignore[arg-type]
            client_options=client,
            retry_config=_RETRY,
        )
        return RelayStore(store, address)
    raise BadRelayAddress(f"not a relay address: {address!r} (use s3://BUCKET/PREFIX or folder:PATH)")


def s3_credentials(path: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``AWS_*`` keys from ``path`` (``KEY=VALUE`` lines; owner-only) or the environment.

    Raises:
        BadRelayAddress: the file is readable by others, or unreadable.
    """
    env = os.environ if environ is None else environ
    if path is None:
        return {k: env[k] for k in (*_ENV_KEYS, "AWS_DEFAULT_REGION") if env.get(k)}
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise BadRelayAddress(f"{path} is readable by others: chmod 600 it first")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadRelayAddress(f"cannot read credentials file {path}: {exc.strerror}") from None
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip().startswith("AWS_"):
            out[key.strip()] = value.strip().strip("'\"")
    return out
