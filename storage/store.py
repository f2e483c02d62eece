"""``SqlStore``: the replica engine's ``Store`` port on one SQLite file.

Hot paths (append writes, apply a batch, read a range to send) go through SQLAlchemy Core with
executemany on plain tuples, not the ORM's unit of work.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgpack
from sqlalchemy import Connection, Table, text

from localfirst.booking import BookingState, Notice
from localfirst.crdtmap import Doc, decode_doc, encode_doc
from localfirst.integrity import (
    STATE_MISMATCH,
    VerifyReport,
    check_chain,
    doc_state_hash,
    snapshot_seal,
    state_digest_of,
    text_state_hash,
)
from localfirst.records import Snapshot
from localfirst.store import Header, SnapshotRows, TextKey, TextUpdate
from localfirst.vector import VersionVector
from localfirst.write import WriteId

from .database import open_engine, reclaim_free_pages, translated
from .errors import CorruptReplica, NewerSchema, NotAReplica, StorageError
from .schema import MATERIALIZED, SCHEMA_VERSION, SNAPSHOT_DOCS, SNAPSHOT_SQUASH, SNAPSHOT_TEXTS, migrate
from .verify_reader import DIGEST_KEY, FileCheck, FullCheck, fold_states, read_full_check

#: Bound parameters per IN (...) query; SQLite's default limit is 32766.
_CHUNK = 900
#: Snapshot rows read per query when a welcome is packed (a few MB of documents).
_WELCOME_ROWS = 2000
#: Materialized rows remembered to skip rewriting unchanged ones (forgotten all at once beyond).
_SHOWN_ROWS = 4096

_first = itemgetter(0)
#: Where the state digest is kept in meta ("state_digest", which left note bodies out, is no
#: longer read: a file written before is checked from its rows once, then kept here).
_DIGEST_KEY = DIGEST_KEY


def _pack(value: Any) -> bytes:
    data: bytes = msgpack.packb(value)
    return data


def _db(conn: Connection) -> sqlite3.Connection:
    """The DBAPI connection under SQLAlchemy's, in the same transaction. Hot paths use it to
    skip SQLAlchemy's per-statement execution context (~35 µs each), which dominated a small
    write; SQLAlchemy still owns the connection, its transactions and the schema."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def _many(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """executemany, which SQLite refuses for an empty list of rows."""
    if rows:
        _db(conn).executemany(sql, rows)


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def _materialized_sql(table: Table) -> str:
    cols = [c.name for c in table.columns]
    quoted = ", ".join(f'"{c}"' for c in cols)
    return f"INSERT OR REPLACE INTO {table.name} ({quoted}) VALUES ({', '.join('?' * len(cols))})"


_UPSERT = {kind: _materialized_sql(t) for kind, t in MATERIALIZED.items()}
_COLUMNS = {kind: [c.name for c in t.columns][1:] for kind, t in MATERIALIZED.items()}


#: Writing a snapshot over the live rows (its rows are in temp.snap_docs/snap_texts): a base row
#: the new snapshot does not hold as it is stops being the base; the snapshot rows no base row
#: carries are stored apart. ``SNAPSHOT_SQUASH`` then promotes the live rows that equal them.
_REBASE = (
    "UPDATE docs SET base = 0 WHERE base = 1 AND NOT EXISTS "
    "(SELECT 1 FROM temp.snap_docs s WHERE s.id = docs.id AND s.doc = docs.doc)",
    "DELETE FROM snapshot_docs",
    "INSERT INTO snapshot_docs (id, doc) SELECT s.id, s.doc FROM temp.snap_docs s "
    "WHERE NOT EXISTS (SELECT 1 FROM docs d WHERE d.id = s.id AND d.base = 1)",
    "UPDATE texts SET base = 0 WHERE base = 1 AND NOT EXISTS (SELECT 1 FROM temp.snap_texts s "
    "WHERE s.id = texts.id AND s.field = texts.field AND s.state = texts.state)",
    "DELETE FROM snapshot_texts",
    "INSERT INTO snapshot_texts (id, field, state) SELECT s.id, s.field, s.state FROM temp.snap_texts s "
    "WHERE NOT EXISTS (SELECT 1 FROM texts t WHERE t.id = s.id AND t.field = s.field AND t.base = 1)",
)


def _row(doc_id: str, kind: str, doc: Doc) -> tuple[Any, ...]:
    fields = doc.fields
    row: list[Any] = [doc_id]
    for column in _COLUMNS[kind]:
        versions = fields.get(column)
        value = versions[0][2] if versions else None
        row.append(_pack(value) if type(value) is list or type(value) is dict else value)
    return tuple(row)


class _Meta(dict[str, Any]):
    """Metadata whose missing keys mean a damaged file, not a programming error."""

    def __init__(self, path: Path, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.path = path

    def __missing__(self, key: str) -> Any:
        raise CorruptReplica(f"{self.path} is damaged: its metadata lacks {key!r}")


class SqlStore:
    """One library's replica in one SQLite file (WAL, synchronous=FULL)."""

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise NotAReplica(f"{self.path} does not exist")
        self._engine = open_engine(self.path)
        # The materialized row last written for each recently saved entity: rewriting an
        # unchanged row would re-index a note's whole body for every burst of typing.
        self._shown: dict[str, tuple[Any, ...]] = {}
        # Each entity's and text field's state hash and their XOR (see ``state_digest``); None
        # until first asked.
        self._states: dict[str, int] | None = None
        self._text_states: dict[TextKey, int] = {}
        self._state_xor = 0
        # The rows were found not to fold to their saved digest: until a repair replaces them,
        # the saved digest is left alone, so no later write makes the damage look sound.
        self._suspect = False
        # A snapshot was written in the open transaction: live rows saved after it that equal
        # their snapshot row become its base before the transaction commits (``_squash``).
        self._unsquashed = False
        # Write transactions ended (a full check read elsewhere may seed the state hashes only
        # if none ended since it began), times the log was cut or replaced (then such a check
        # is stale), and such a check waiting to be recorded by ``verify``.
        self._writes = 0
        self._rebased = 0
        self._found: FullCheck | None = None
        with translated(self.path):
            self._conn: Connection = self._engine.connect()
            try:
                version = self._schema_version()
                if version == 0 and self._has_tables():
                    raise NotAReplica(
                        f"{self.path} holds no replica: it is an SQLite file of another program"
                    )
                if version > SCHEMA_VERSION:
                    raise NewerSchema(
                        f"{self.path} has schema version {version}; this app reads up to "
                        f"{SCHEMA_VERSION}. Update the app to open it; the file was not touched."
                    )
                # Outside any transaction, on the driver connection: SQLite refuses it inside one.
                driver = self._conn.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA journal_mode=WAL")
                if version < SCHEMA_VERSION:
                    with self.atomic():
                        migrate(self._conn, version)
                self._load_origins()
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Connection]:
        conn = self._conn
        if conn.in_transaction():
            yield conn
            return
        conn.info["write"] = True
        try:
            with translated(self.path), conn.begin():
                yield conn
                if self._unsquashed:
                    self._squash(conn)
        except BaseException:
            self._unsquashed = False
            self._load_origins()  # ids handed out in the rolled-back transaction are gone
            self._shown.clear()  # rows written in it are gone too
            self._states = None  # the state digest is recomputed from the rows
            raise
        finally:
            conn.info["write"] = False
            self._writes += 1

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        conn = self._conn
        if conn.in_transaction():
            yield conn
            return
        with translated(self.path), conn.begin():
            yield conn

    def _has_tables(self) -> bool:
        with self._read() as conn:
            return conn.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1").first() is not None

    def _schema_version(self) -> int:
        with self._read() as conn:
            has_meta = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
            ).first()
            if has_meta is None:
                return 0
            row = conn.exec_driver_sql("SELECT value FROM meta WHERE key='schema_version'").first()
        if row is None:
            return 0
        try:
            return int(row[0])
        except ValueError:
            raise StorageError(f"{self.path}: unreadable schema version {row[0]!r:.20}") from None

    # -- origins and meta ----------------------------------------------------------------------

    def _load_origins(self) -> None:
        with self._read() as conn:
            rows = conn.exec_driver_sql("SELECT id, device FROM origins").all()
        self._origin_ids: dict[str, int] = {device: oid for oid, device in rows}
        self._origin_names: dict[int, str] = {oid: device for oid, device in rows}  # noqa: C416

    def _origin(self, conn: Connection, device: str) -> int:
        oid = self._origin_ids.get(device)
        if oid is None:
            oid = len(self._origin_ids) + 1
            conn.exec_driver_sql("INSERT INTO origins (id, device) VALUES (?, ?)", (oid, device))
            self._origin_ids[device] = oid
            self._origin_names[oid] = device
        return oid

    def _set_meta(self, conn: Connection, **values: Any) -> None:
        conn.exec_driver_sql(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(k, _pack(v)) for k, v in values.items()],
        )

    def _meta(self) -> dict[str, Any]:
        with self._read() as conn:
            rows = conn.exec_driver_sql("SELECT key, value FROM meta").all()
        try:
            return _Meta(self.path, {k: _unpack(v) for k, v in rows if k != "schema_version"})
        except Exception as exc:
            raise CorruptReplica(f"{self.path} is damaged: unreadable metadata ({exc!r})") from None

    # -- the Store port ------------------------------------------------------------------------

    def initialise(self, device: str, snapshot: Snapshot) -> None:
        with self.atomic() as conn:
            if "device" in self._meta():
                raise StorageError(f"{self.path} already holds a replica")
            self._set_meta(conn, device=device)
            self._write_snapshot(conn, snapshot)
            self._set_meta(conn, primary=snapshot.primary, bookings=snapshot.bookings.to_wire())
            self.save_docs(snapshot.docs.items())

    def header(self) -> Header:
        meta = self._meta()
        if "device" not in meta:
            raise NotAReplica(f"{self.path} holds no replica")
        with self._read() as conn:
            top = conn.exec_driver_sql(
                "SELECT csn, chain FROM log WHERE csn IS NOT NULL ORDER BY csn DESC LIMIT 1"
            ).first()
            maxima = conn.exec_driver_sql("SELECT origin, max(stamp) FROM log GROUP BY origin").all()
        snap_vector = VersionVector(meta["snapshot_vector"])
        vector = snap_vector.merged({self._origin_names[o]: s for o, s in maxima})
        return Header(
            meta["device"],
            meta["library"],
            meta["primary"],
            top[0] if top else meta["snapshot_csn"],
            vector,
            meta["snapshot_csn"],
            snap_vector,
            BookingState.from_wire(meta["bookings"]),
            top[1] if top else meta["snapshot_chain"],
        )

    def save_committed(self, primary: str, bookings: BookingState) -> None:
        with self.atomic() as conn:
            self._set_meta(conn, primary=primary, bookings=bookings.to_wire())

    def load_docs(self, ids: Collection[str]) -> dict[str, Doc]:
        keys = list(ids)
        out: dict[str, Doc] = {}
        with self._read() as conn:
            if len(keys) == 1:  # a local write's read: one statement SQLite keeps prepared
                row = _db(conn).execute("SELECT doc FROM docs WHERE id = ?", keys).fetchone()
                return {} if row is None else {keys[0]: decode_doc(row[0])}
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                sql = f"SELECT id, doc FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
                for key, data in _db(conn).execute(sql, chunk):
                    out[key] = decode_doc(data)
        return out

    def save_docs(self, docs: Iterable[tuple[str, Doc]]) -> None:
        rows = []
        live: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        dead: dict[str, list[tuple[str]]] = defaultdict(list)
        shown = self._shown
        states = self._states
        if states is None:
            self.state_digest()  # known before the change, so the change can be folded in
            states = self._states
        for key, doc in sorted(docs, key=_first):  # in key order, B-tree inserts append
            kind = doc.kind
            if states is not None:  # always: mypy cannot see state_digest() set it
                new = doc_state_hash(key, doc)
                self._state_xor ^= states.get(key, 0) ^ new
                states[key] = new
            rows.append((key, kind, encode_doc(doc), int(doc.conflicted)))
            if kind in MATERIALIZED:
                if doc.exists:
                    row = _row(key, kind, doc)
                    if shown.get(key) != row:  # typing changes the document, not its row
                        live[kind].append(row)
                        shown[key] = row
                else:
                    dead[kind].append((key,))
                    shown.pop(key, None)
        if len(shown) > _SHOWN_ROWS:
            shown.clear()
        with self.atomic() as conn:
            _many(conn, "INSERT OR REPLACE INTO docs (id, kind, doc, conflicted) VALUES (?, ?, ?, ?)", rows)
            self._save_digest(conn)
            for kind, kind_rows in live.items():
                _many(conn, _UPSERT[kind], kind_rows)
            for kind, keys in dead.items():
                _many(conn, f"DELETE FROM {MATERIALIZED[kind].name} WHERE id = ?", keys)

    def iter_docs(self, kind: str | None = None, *, conflicted: bool = False) -> Iterator[tuple[str, Doc]]:
        where, params = [], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if conflicted:
            where.append("conflicted = 1")
        sql = "SELECT id, doc FROM docs" + (f" WHERE {' AND '.join(where)}" if where else "")
        with self._read() as conn:
            rows = conn.exec_driver_sql(sql + " ORDER BY id", tuple(params)).all()
        for key, data in rows:
            yield key, decode_doc(data)

    def append(self, rows: Iterable[tuple[WriteId, int | None, bytes, bytes | None]]) -> None:
        with self.atomic() as conn:
            ids = self._origin_ids
            params = [
                (wid.stamp, ids.get(wid.origin) or self._origin(conn, wid.origin), csn, data, chain)
                for wid, csn, data, chain in rows
            ]
            _many(conn, "INSERT INTO log (stamp, origin, csn, data, chain) VALUES (?, ?, ?, ?, ?)", params)

    def set_csns(self, entries: Sequence[tuple[int, WriteId, bytes]]) -> None:
        with self.atomic() as conn:
            _many(
                conn,
                "UPDATE log SET csn = ?, chain = ? WHERE stamp = ? AND origin = ?",
                [(csn, chain, w.stamp, self._origin_ids[w.origin]) for csn, w, chain in entries],
            )

    def chain_at(self, csn: int) -> bytes | None:
        meta = self._meta()
        if csn == meta["snapshot_csn"]:
            chain: bytes = meta["snapshot_chain"]
            return chain
        with self._read() as conn:
            row = conn.exec_driver_sql("SELECT chain FROM log WHERE csn = ?", (csn,)).first()
        return None if row is None else bytes(row[0])

    def _save_digest(self, conn: Connection) -> None:
        if self._suspect:
            return
        # Once or twice per write: straight to the driver (SQLAlchemy's execution context
        # cost about as much as the statement itself).
        _db(conn).execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (_DIGEST_KEY, _pack(state_digest_of(self._state_xor))),
        )

    def _fold_texts(self, texts: Iterable[tuple[TextKey, str]]) -> None:
        """Fold text fields' new texts into the state digest (known before the change)."""
        if self._states is None:
            self.state_digest()
        states = self._text_states
        for key, body in texts:
            new = text_state_hash(key[0], key[1], body)
            self._state_xor ^= states.get(key, 0) ^ new
            states[key] = new

    def state_digest(self) -> bytes:
        """The digest of the materialised state (documents and note bodies), computed from the
        stored rows when first asked (and after a rollback), then kept up to date by
        ``save_docs`` and ``save_texts``."""
        if self._states is None and not self._recompute_states():
            # The rows no longer fold to the digest saved with them: changed behind our back.
            with self.atomic() as conn:
                self._set_meta(conn, verify_damaged=[self._top_csn(conn), STATE_MISMATCH])
        return state_digest_of(self._state_xor)

    def _recompute_states(self) -> bool:
        """Fold the state digest from the document rows; False if it disagrees with the one
        saved alongside them."""
        with self._read() as conn:
            states, texts, folded = fold_states(_db(conn))
        self._states, self._text_states, self._state_xor = states, texts, folded
        kept = self._meta().get(_DIGEST_KEY)
        sound = kept is None or bytes(kept) == state_digest_of(folded)
        self._suspect = self._suspect or not sound
        return sound

    def _top_csn(self, conn: Connection) -> int:
        row = conn.exec_driver_sql("SELECT max(csn) FROM log").first()
        top = row[0] if row is not None else None
        return int(top) if top is not None else int(self._meta()["snapshot_csn"])

    def mark_damaged(self, report: VerifyReport) -> None:
        """Remember damage found elsewhere (a peer's equal log with another state)."""
        with self.atomic() as conn:
            self._set_meta(conn, verify_damaged=[report.csn, report.problem])

    def verified_mark(self) -> tuple[int, bytes] | None:
        """The last CSN this replica verified sound, and the chain hash it recomputed there."""
        mark = self._meta().get("verified_csn")
        return None if mark is None else (int(mark[0]), bytes(mark[1]))

    def full_check_job(self) -> FileCheck:
        """The full check as a job for another thread: it reads this file on a connection of
        its own (``storage.verify_reader``), never this store; hand its result to
        ``take_full_check`` on this store's thread, then call ``verify(full=True)``."""
        return FileCheck(self.path, (self._writes, self._rebased))

    def take_full_check(self, found: FullCheck) -> bool:
        """Keep a full check read elsewhere for the next ``verify(full=True)`` to record; False
        (and not kept) if the log was cut or replaced since it read the file."""
        if found.token[1] != self._rebased:
            return False
        self._found = found
        return True

    def _full_check(self) -> FullCheck:
        """The full check taken, else read now on this store's connection; the state hashes
        it folded become the kept ones when the rows cannot have changed since it read them."""
        found, self._found = self._found, None
        fresh = found is None or found.token[0] == self._writes
        if found is None:
            with self._read() as conn:
                found = read_full_check(_db(conn), self.path)
        if fresh:
            self._states, self._text_states = found.states, found.text_states
            self._state_xor = found.folded
        self._suspect = self._suspect or not found.state_sound
        return found

    def verify(self, *, full: bool = False) -> VerifyReport:
        """Recompute the chain from the stored committed rows; from the verified-up-to mark
        (kept in meta) unless ``full``. Damage found is remembered in meta until a full
        verification passes again, so no later check claims the log is sound.

        A full check recomputes the state digest, the note bodies and the snapshot's seal
        too (``storage.verify_reader``), or records the one ``take_full_check`` handed over,
        then chains on over the rows committed since it read the file."""
        found = self._full_check() if full else None
        meta = self._meta()
        damaged = meta.get("verify_damaged")
        if damaged is not None and not full:
            return VerifyReport(False, int(damaged[0]), b"", str(damaged[1]))
        start, chain = meta["snapshot_csn"], meta["snapshot_chain"]
        mark = meta.get("verified_csn")
        if found is not None:
            start, chain = found.chain.csn, found.chain.chain
        elif mark is not None and mark[0] >= start:
            start, chain = int(mark[0]), bytes(mark[1])
        with self._read() as conn:
            rows = _db(conn).execute("SELECT csn, data, chain FROM log WHERE csn > ? ORDER BY csn", (start,))
            report = check_chain(start, chain, rows)
        if found is not None:
            report = found.then(report)
        if report.ok and not report.checked and damaged is None:
            return report  # nothing new: no write on the hot path of a sync
        with self.atomic() as conn:
            if report.ok:
                self._set_meta(conn, verified_csn=[report.csn, report.chain])
                if damaged is not None:
                    conn.exec_driver_sql("DELETE FROM meta WHERE key = 'verify_damaged'")
            else:
                self._set_meta(conn, verify_damaged=[report.csn, report.problem])
        return report

    def committed_after(self, csn: int) -> Iterator[tuple[int, WriteId, bytes]]:
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT csn, stamp, origin, data FROM log WHERE csn > ? ORDER BY csn", (csn,)
            ).all()
        names = self._origin_names
        for wcsn, stamp, origin, data in rows:
            yield wcsn, WriteId(stamp, names[origin]), data

    def tentative(self) -> list[bytes]:
        with self._read() as conn:
            return [r[0] for r in conn.exec_driver_sql("SELECT data FROM log WHERE csn IS NULL")]

    def reset_log(self, rows: Sequence[tuple[WriteId, bytes]]) -> None:
        """Replace every log row, committed or not, by these tentative writes (a repair)."""
        with self.atomic() as conn:
            conn.exec_driver_sql("DELETE FROM log")
            conn.exec_driver_sql("DELETE FROM meta WHERE key = 'verified_csn'")
            self._rebased += 1
        self.append((wid, None, data, None) for wid, data in rows)

    def save_outcomes(self, outcomes: Sequence[tuple[WriteId, int, bool]]) -> None:
        with self.atomic() as conn:
            _many(
                conn,
                "INSERT OR REPLACE INTO outcomes (stamp, origin, outcome, committed) VALUES (?, ?, ?, ?)",
                [(w.stamp, self._origin(conn, w.origin), o, int(c)) for w, o, c in outcomes],
            )

    def outcome(self, wid: WriteId) -> tuple[int, bool] | None:
        oid = self._origin_ids.get(wid.origin)
        with self._read() as conn:
            row = conn.exec_driver_sql(
                "SELECT outcome, committed FROM outcomes WHERE stamp = ? AND origin = ?",
                (wid.stamp, oid),
            ).first()
        return None if row is None else (row[0], bool(row[1]))

    def add_notices(self, notices: Sequence[Notice]) -> None:
        with self.atomic() as conn:
            _many(
                conn,
                "INSERT INTO notices (stamp, origin, tentative, committed, settled) VALUES (?, ?, ?, ?, ?)",
                [
                    (n.write.stamp, self._origin(conn, n.write.origin), n.before, n.after, int(n.settled))
                    for n in notices
                ],
            )

    def notices(self) -> list[Notice]:
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT stamp, origin, tentative, committed, settled FROM notices ORDER BY id"
            ).all()
        return [Notice(WriteId(s, self._origin_names[o]), b, a, bool(f)) for s, o, b, a, f in rows]

    def load_texts(self, keys: Collection[TextKey]) -> dict[TextKey, tuple[bytes | None, list[bytes]]]:
        wanted = set(keys)
        ids = sorted({entity for entity, _ in wanted})
        out: dict[TextKey, tuple[bytes | None, list[bytes]]] = {}
        with self._read() as conn:
            for i in range(0, len(ids), _CHUNK):
                chunk = tuple(ids[i : i + _CHUNK])
                marks = ",".join("?" * len(chunk))
                for entity, field, state in conn.exec_driver_sql(
                    f"SELECT id, field, state FROM texts WHERE id IN ({marks})", chunk
                ):
                    if (entity, field) in wanted:
                        out[(entity, field)] = (state, [])
                for entity, field, ops in conn.exec_driver_sql(
                    f"SELECT id, field, ops FROM text_ops WHERE id IN ({marks}) ORDER BY seq", chunk
                ):
                    if (entity, field) in out:
                        out[(entity, field)][1].append(ops)
        return out

    def save_texts(self, updates: Sequence[TextUpdate]) -> None:
        updates = sorted(updates, key=_first)  # in key order, B-tree inserts append
        fresh = [(e, f, text, state) for (e, f), text, _, state in updates if state is not None]
        appended = [(e, f, text) for (e, f), text, _, state in updates if state is None]
        self._fold_texts((key, text) for key, text, _, _ in updates)
        with self.atomic() as conn:
            self._save_digest(conn)
            _many(conn, "DELETE FROM text_ops WHERE id = ? AND field = ?", [r[:2] for r in fresh])
            _many(conn, "INSERT OR REPLACE INTO texts (id, field, text, state) VALUES (?, ?, ?, ?)", fresh)
            _many(
                conn,
                "INSERT INTO texts (id, field, text) VALUES (?, ?, ?) "
                "ON CONFLICT (id, field) DO UPDATE SET text = excluded.text",
                appended,
            )
            _many(
                conn,
                "INSERT INTO text_ops (id, field, ops) VALUES (?, ?, ?)",
                [(e, f, b) for (e, f), _, batches, state in updates if state is None for b in batches],
            )

    def text(self, key: TextKey) -> str | None:
        with self._read() as conn:
            row = conn.exec_driver_sql("SELECT text FROM texts WHERE id = ? AND field = ?", key).first()
        return None if row is None else str(row[0])

    def snapshot(self) -> Snapshot:
        with self._read() as conn:
            rows = conn.exec_driver_sql(SNAPSHOT_DOCS).all()
            text_rows = conn.exec_driver_sql(SNAPSHOT_TEXTS).all()
        snap = self._snapshot_header()
        snap.docs = {key: decode_doc(data) for key, data in rows}
        snap.texts = {(e, f): state for e, f, state in text_rows}
        return snap

    def _snapshot_header(self) -> Snapshot:
        """The stored snapshot without its documents and texts (kept in meta)."""
        meta = self._meta()
        return Snapshot(
            meta["library"],
            meta["snapshot_csn"],
            VersionVector(meta["snapshot_vector"]),
            meta["snapshot_primary"],
            {},
            BookingState.from_wire(meta["snapshot_bookings"]),
            meta["snapshot_chain"],
            {WriteId(s, o): out for s, o, out in meta["snapshot_outcomes"]},
        )

    def _write_snapshot(self, conn: Connection, snap: Snapshot) -> None:
        self._set_meta(
            conn,
            library=snap.library,
            snapshot_csn=snap.csn,
            snapshot_vector=snap.vector.as_dict(),
            snapshot_primary=snap.primary,
            snapshot_bookings=snap.bookings.to_wire(),
            snapshot_chain=snap.chain,
            snapshot_outcomes=[[w.stamp, w.origin, o] for w, o in snap.outcomes.items()],
        )
        text_rows = [(e, f, state) for (e, f), state in snap.texts.items()]
        doc_rows = [(key, encode_doc(doc)) for key, doc in snap.docs.items()]
        self._set_meta(conn, snapshot_seal=snapshot_seal(doc_rows, text_rows))
        db = _db(conn)
        # The new snapshot's rows go to a scratch table first, so only the live rows whose
        # base flag changes are written (a truncation touches few; the library stays put).
        db.execute("CREATE TEMP TABLE IF NOT EXISTS snap_docs (id TEXT PRIMARY KEY, doc BLOB) WITHOUT ROWID")
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS snap_texts "
            "(id TEXT, field TEXT, state BLOB, PRIMARY KEY (id, field)) WITHOUT ROWID"
        )
        db.execute("DELETE FROM temp.snap_docs")
        db.execute("DELETE FROM temp.snap_texts")
        _many(conn, "INSERT INTO temp.snap_docs (id, doc) VALUES (?, ?)", doc_rows)
        _many(conn, "INSERT INTO temp.snap_texts (id, field, state) VALUES (?, ?, ?)", text_rows)
        for sql in _REBASE:
            db.execute(sql)
        db.execute("DELETE FROM temp.snap_docs")
        db.execute("DELETE FROM temp.snap_texts")
        self._unsquashed = True

    def _squash(self, conn: Connection) -> None:
        """Make every live row equal to its snapshot row the snapshot's base (dropping that
        row): after a snapshot was written before the live rows it equals (a join, a repair)."""
        db = _db(conn)
        for sql in SNAPSHOT_SQUASH:
            db.execute(sql)
        self._unsquashed = False

    def replace_snapshot(
        self,
        snapshot: Snapshot,
        docs: dict[str, Doc] | None,
        texts: dict[TextKey, tuple[str, bytes]] | None = None,
        settled: Collection[TextKey] = (),
    ) -> None:
        if self._states is None and (docs is not None or texts is not None):
            self.state_digest()  # both halves known, so one can be replaced
        if docs is not None and texts is not None:
            self._suspect = False  # every row is replaced below, from a sound source
        self._rebased += 1
        with self.atomic() as conn:
            if texts is not None:
                conn.exec_driver_sql("DELETE FROM texts")
                conn.exec_driver_sql("DELETE FROM text_ops")
                _many(
                    conn,
                    "INSERT INTO texts (id, field, text, state) VALUES (?, ?, ?, ?)",
                    [(e, f, text, state) for (e, f), (text, state) in texts.items()],
                )
                for h in self._text_states.values():
                    self._state_xor ^= h  # every text is folded anew
                self._text_states = {}
                self._fold_texts((key, text) for key, (text, _) in texts.items())
                self._save_digest(conn)
            if settled:
                # Their current CRDT is the snapshot's: its state becomes their saved state
                # (then the snapshot's base) and their op batches go, a compaction for free.
                keys = [(e, f) for e, f in settled]
                _many(conn, "DELETE FROM text_ops WHERE id = ? AND field = ?", keys)
                _many(
                    conn,
                    "UPDATE texts SET state = ? WHERE id = ? AND field = ?",
                    [(snapshot.texts[(e, f)], e, f) for e, f in keys],
                )
            self._write_snapshot(conn, snapshot)
            covered = [
                (oid, snapshot.vector[device])
                for device, oid in self._origin_ids.items()
                if snapshot.vector[device]
            ]
            _many(conn, "DELETE FROM log WHERE origin = ? AND stamp <= ?", covered)
            if docs is not None:
                self._shown.clear()
                for h in (self._states or {}).values():
                    self._state_xor ^= h  # every document is saved anew below
                self._states = {}
                conn.exec_driver_sql("DELETE FROM docs")
                for table in MATERIALIZED.values():
                    conn.exec_driver_sql(f"DELETE FROM {table.name}")
                self.save_docs(docs.items())
        self.reclaim_free_pages()

    # -- checks --------------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``'s verdict: ``ok`` for a sound file."""
        with self._read() as conn:
            return str(conn.execute(text("PRAGMA integrity_check")).scalar())

    def reclaim_free_pages(self) -> None:
        """Give free pages back to the file system (``storage.database.reclaim_free_pages``):
        called after a truncation, and on open to switch a file from before schema 6."""
        with translated(self.path):
            reclaim_free_pages(_db(self._conn), self.path, in_transaction=self._conn.in_transaction())

    # -- the welcome read from stored rows ------------------------------------------------------

    def snapshot_rows(self) -> SnapshotRows:
        """The stored snapshot's header and rows as stored (see ``Store.snapshot_rows``), read
        ``_WELCOME_ROWS`` at a time, so the node never holds the snapshot's documents decoded
        (nor all its rows at once)."""
        header = self._snapshot_header()
        with self._read() as conn:
            docs = conn.exec_driver_sql(f"SELECT count(*) FROM ({SNAPSHOT_DOCS})").scalar_one()
            texts = conn.exec_driver_sql(f"SELECT count(*) FROM ({SNAPSHOT_TEXTS})").scalar_one()
        # The overlay's two halves one after the other: the base rows, then those kept apart.
        doc_rows = itertools.chain(
            self._rows_in_parts("SELECT id, doc FROM docs WHERE base = 1 AND id > ? ORDER BY id", ("",)),
            self._rows_in_parts("SELECT id, doc FROM snapshot_docs WHERE id > ? ORDER BY id", ("",)),
        )
        text_rows = itertools.chain(
            self._rows_in_parts(
                "SELECT id, field, state FROM texts WHERE base = 1 AND (id, field) > (?, ?) "
                "ORDER BY id, field",
                ("", ""),
            ),
            self._rows_in_parts(
                "SELECT id, field, state FROM snapshot_texts WHERE (id, field) > (?, ?) ORDER BY id, field",
                ("", ""),
            ),
        )
        return SnapshotRows(
            header,
            int(docs),
            ((str(k), bytes(d)) for k, d in doc_rows),
            int(texts),
            ((str(e), str(f), bytes(st)) for e, f, st in text_rows),
        )

    def _rows_in_parts(self, sql: str, start: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
        """Rows of a keyed query, ``_WELCOME_ROWS`` per read (each short: no read transaction
        stays open while the caller works, so the node's writes go on between parts)."""
        after = start
        while True:
            with self._read() as conn:
                rows = _db(conn).execute(f"{sql} LIMIT {_WELCOME_ROWS}", after).fetchall()
            yield from rows
            if len(rows) < _WELCOME_ROWS:
                return
            after = tuple(rows[-1][: len(start)])
