"""Benchmark of the durable replica; prints one JSON line of figures.

    python tests/perf/replica.py [--writes 100000] [--single 3000]

Measures durable local writes per second (one transaction per call, and batched), the time to
apply a received batch of N writes, the same rows bulk-inserted through raw sqlite3 with the
same pragmas (the anchor), the time to reopen the replica, and the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from localfirst import Batch, CommitEntry, Put, TextDoc, TextEdit, Write, WriteId, encode_write
from localfirst.text import encode_ops
from localfirst.write import Op
from storage import SqlStore, create_library, join_library, open_replica
from storage.schema import MATERIALIZED


def received_writes(count: int, origin: str) -> list[tuple[WriteId, bytes]]:
    """A realistic catch-up stream: creates of notes and events, then edits of their fields
    and bursts of typing in note bodies."""
    entities = max(1, count // 5)
    last: dict[tuple[str, str], WriteId] = {}
    bodies: dict[str, TextDoc] = {}
    out = []
    for i in range(count):
        wid = WriteId(i + 1, origin)
        n = i % entities
        ops: list[Op]
        if n % 2:
            kind, key = "event", f"e{n}"
            fields: dict[str, object] = (
                {"title": f"Meeting {n}", "start": "2026-11-21T10:00:00", "end": "2026-11-21T11:00:00"}
                if i < entities
                else {"title": f"Meeting {n} v{i}"}
            )
            seen = {f: (last[(key, f)],) for f in fields if (key, f) in last}
            ops = [Put(kind, key, fields, seen)]
        elif i < entities:
            kind, key = "note", f"n{n}"
            fields = {"title": f"Note {n}", "pinned": False}
            body = bodies[key] = TextDoc(origin)
            typed = body.local_edit(0, 0, "Some text of a note. " * 3)
            ops = [Put(kind, key, fields, {}), TextEdit(kind, key, "body", encode_ops(typed))]
        else:
            kind, key, fields = "note", f"n{n}", {}
            body = bodies[f"n{n}"]
            typed = body.local_edit(len(body.text) // 2, 0, f" edited {i}")
            ops = [TextEdit(kind, key, "body", encode_ops(typed))]
        for f in fields:
            last[(key, f)] = wid
        out.append((wid, encode_write(Write(wid, tuple(ops)))))
    return out


def raw_anchor(source: Path, target: Path) -> float:
    """The same rows bulk-inserted through raw sqlite3, same schema and pragmas, one transaction."""
    SqlStore(target, create=True).close()  # the same schema, made by our migrations
    src = sqlite3.connect(source)
    tables = ["log", "docs", "texts", "text_ops", *(t.name for t in MATERIALIZED.values())]
    rows = {t: src.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    src.close()
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    dst.execute("BEGIN IMMEDIATE")
    for t in tables:
        if rows[t]:
            marks = ",".join("?" * len(rows[t][0]))
            dst.executemany(f"INSERT OR REPLACE INTO {t} VALUES ({marks})", rows[t])
    dst.execute("COMMIT")
    elapsed = time.perf_counter() - started
    dst.close()
    return elapsed


def raw_single(path: Path, count: int) -> float:
    """Durable single-row transactions through raw sqlite3 into our schema: the disk's own rate."""
    SqlStore(path, create=True).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    for i in range(count):
        key = os.urandom(16).hex()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO log VALUES (?, 1, NULL, ?, NULL)", (i + 1, b"x" * 60))
        db.execute("INSERT INTO docs VALUES (?, 'note', ?, 0)", (key, b"y" * 60))
        db.execute("INSERT INTO notes (id, title) VALUES (?, ?)", (key, f"note {i}"))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=3_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Durable writes, one transaction (and one fsync) per call.
        local = create_library(work / "local.db", "me", members={"peer": "Peer"})
        started = time.perf_counter()
        for i in range(args.single):
            local.create("note", {"title": f"note {i}"})
        single = args.single / (time.perf_counter() - started)
        raw_single_rate = raw_single(work / "raw_single.db", args.single)
        started = time.perf_counter()
        batch_n = args.single * 10
        with local.transaction():
            for i in range(batch_n):
                local.create("note", {"title": f"batched {i}"})
        batched = batch_n / (time.perf_counter() - started)

        # Applying a received batch on a fresh member.
        stream = received_writes(args.writes, "peer")
        path = work / "member.db"
        member = join_library(path, "member", local.genesis())
        started = time.perf_counter()
        # As a catch-up from the primary arrives: committed writes in CSN order.
        member.receive(Batch(committed=[CommitEntry(i, w, d) for i, (w, d) in enumerate(stream, 1)]))
        apply_s = time.perf_counter() - started
        assert member.vector["peer"] == args.writes
        labels = len(member.log_labels())
        assert labels == args.writes, labels
        member.close()
        local.close()
        raw_s = raw_anchor(path, work / "raw.db")

        started = time.perf_counter()
        reopened = open_replica(path)
        reopen_s = time.perf_counter() - started
        assert reopened.vector["peer"] == args.writes
        reopened.close()
        file_bytes = sum(os.path.getsize(p) for p in work.glob("member.db*") if p.is_file())
    print(
        json.dumps(
            {
                "writes": args.writes,
                "writes_per_s_single": round(single),
                "raw_sqlite_single_per_s": round(raw_single_rate),
                "writes_per_s_batched": round(batched),
                "apply_100k_s": round(apply_s * 100_000 / args.writes, 3),
                "raw_sqlite_apply_100k_s": round(raw_s * 100_000 / args.writes, 3),
                "apply_vs_raw_rate": round(raw_s / apply_s, 2),
                "reopen_100k_s": round(reopen_s, 3),
                "file_bytes": file_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
