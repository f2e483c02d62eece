"""Benchmark of ``verify``: the full check of a library's committed log; one JSON line.

    python tests/perf/verify.py [--writes 100000] [--small] [--rounds 3]

``verify_s`` is the full check (``Replica.verify(full=True)``): the hash chain recomputed over
every committed row, the state digest folded again from every document and note body, and
each note body's CRDT checked against its stored text. Its parts: ``chain_s`` (the chain
alone, from no verified mark), ``state_s`` (the digest) and ``texts_s`` (the CRDTs).
``read_log_s`` only reads the committed rows from SQLite (the floor any full check pays).
``in_sync_bytes`` are the bytes each way of the in-sync check (one HELLO each way) between two
identical copies of the library. Each time is the best of ``--rounds`` (a shared machine's
slow spells hit single runs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from localfirst import Batch, CommitEntry, Replica
from storage import SqlStore, create_library, join_library, open_replica
from storage.store import _db
from storage.verify_reader import texts_consistent
from sync.session import Session
from tests.perf.replica import received_writes

PRIMARY, MEMBER, PEER = "a" * 64, "b" * 64, "c" * 64


def _timed(fn: object) -> float:
    assert callable(fn)
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _library(work: Path, count: int) -> Path:
    """A member's library holding ``count`` committed writes of a peer (notes, events, typing)."""
    stream = received_writes(count, PEER)
    genesis = create_library(work / "primary.db", PRIMARY, members={PEER: "Peer", MEMBER: "Member"})
    member = join_library(work / "member.db", MEMBER, genesis.genesis())
    genesis.close()
    member.receive(Batch(committed=[CommitEntry(i, w, d) for i, (w, d) in enumerate(stream, 1)]))
    member.close()
    return work / "member.db"


def _in_sync_bytes(one: Replica, two: Replica) -> tuple[int, int]:
    """Bytes each way of the in-sync check between two identical replicas."""
    x, y = Session(one, two.device), Session(two, one.device)
    queue = [(y, d) for d in x.start()] + [(x, d) for d in y.start()]
    while queue:
        dst, data = queue.pop(0)
        queue += [(x if dst is y else y, out) for out in dst.feed(data).out]
    assert x.in_sync
    assert y.in_sync
    return x.bytes_sent, y.bytes_sent


def check_file_texts(store: SqlStore) -> bool:
    """The full check's test of the text CRDTs against their texts, on the store's connection."""
    with store._read() as conn:
        return texts_consistent(_db(conn))


def _round(path: Path, count: int) -> tuple[float, float, float, float, float]:
    """One round of timings, each warm: full verify, its chain, its state digest, its check of
    the text CRDTs against their texts, and reading the log."""
    replica = open_replica(path)
    store = replica._store
    assert isinstance(store, SqlStore)
    report = replica.verify(full=True)  # once to warm SQLite's cache: each part is timed warm
    assert report.ok, report.describe()
    assert report.checked == count, report.checked
    verify_s = _timed(lambda: replica.verify(full=True))
    state_s = _timed(store._recompute_states)
    texts_s = _timed(lambda: check_file_texts(store))
    with store.atomic() as conn:  # forget the verified mark: the chain is checked from the start
        conn.exec_driver_sql("DELETE FROM meta WHERE key = 'verified_csn'")
    chain_s = _timed(store.verify)
    replica.close()
    db = sqlite3.connect(path)
    started = time.perf_counter()
    rows = db.execute("SELECT csn, data, chain FROM log WHERE csn IS NOT NULL ORDER BY csn").fetchall()
    read_log_s = time.perf_counter() - started
    db.close()
    assert len(rows) == count
    return verify_s, chain_s, state_s, texts_s, read_log_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=100_000)
    parser.add_argument("--small", action="store_true", help="2,000 writes (a smoke run)")
    parser.add_argument("--rounds", type=int, default=3, help="timings are the best of these")
    args = parser.parse_args()
    count = 2_000 if args.small else args.writes
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = _library(work, count)
        times = [_round(path, count) for _ in range(args.rounds)]
        verify_s, chain_s, state_s, texts_s, read_log_s = (min(t[i] for t in times) for i in range(5))
        replica = open_replica(path)
        store = replica._store
        assert isinstance(store, SqlStore)
        store._recompute_states()
        docs, texts = len(store._states or {}), len(store._text_states)
        replica.close()
        shutil.copy(path, work / "copy.db")
        one, two = open_replica(path), open_replica(work / "copy.db")
        two.device = PRIMARY  # the same library and log under another name, for the sessions
        sent = _in_sync_bytes(one, two)
        one.close()
        two.close()
    print(
        json.dumps(
            {
                "writes": count,
                "documents": docs,
                "texts": texts,
                "verify_s": round(verify_s, 4),
                "chain_s": round(chain_s, 4),
                "state_s": round(state_s, 4),
                "texts_s": round(texts_s, 4),
                "read_log_s": round(read_log_s, 4),
                "in_sync_bytes": list(sent),
            }
        )
    )


if __name__ == "__main__":
    main()
