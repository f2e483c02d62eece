"""Benchmark of the durable replica; prints one JSON line of figures.

    python tests/perf/replica.py [--writes 100000] [--single 3000] [--repeat 3]

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
            seen: dict[str, tuple[WriteId, ...]] = {f: (last[(key, f)],) for f in fields if (key, f) in last}
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


def raw_single(path: Path, count: int, *, log_only: bool = False) -> float:
    """Durable transactions through raw sqlite3 into our schema, one per write: the disk's own
    rate for the rows a note's creation writes (log, document, note row and its search entry),
    or for the log row alone (one page: the most any design committing each write can reach)."""
    SqlStore(path, create=True).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    for i in range(count):
        key = os.urandom(16).hex()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO log VALUES (?, 1, NULL, ?, NULL)", (i + 1, b"x" * 60))
        if not log_only:
            db.execute(
                "INSERT INTO docs (id, kind, doc, conflicted) VALUES (?, 'note', ?, 0)", (key, b"y" * 60)
            )
            db.execute("INSERT INTO notes (id, title) VALUES (?, ?)", (key, f"note {i}"))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return count / elapsed


def single_writes(work: Path, count: int) -> tuple[float, float]:
    """Durable local writes per second, one transaction per call, then batched in one."""
    local = create_library(work / "local.db", "me", members={"peer": "Peer"})
    started = time.perf_counter()
    for i in range(count):
        local.create("note", {"title": f"note {i}"})
    single = count / (time.perf_counter() - started)
    started = time.perf_counter()
    with local.transaction():
        for i in range(count * 10):
            local.create("note", {"title": f"batched {i}"})
    batched = count * 10 / (time.perf_counter() - started)
    local.close()
    return single, batched


def apply_received(work: Path, stream: list[tuple[WriteId, bytes]]) -> float:
    """Seconds a fresh member takes to apply a catch-up from the primary: the committed
    writes in CSN order, as the sync layer hands them over (already framed and decoded)."""
    genesis = create_library(work / "primary.db", "me", members={"peer": "Peer"})
    member = join_library(work / "member.db", "member", genesis.genesis())
    genesis.close()
    batch = Batch(committed=[CommitEntry(i, w, d) for i, (w, d) in enumerate(stream, 1)])
    started = time.perf_counter()
    member.receive(batch)
    elapsed = time.perf_counter() - started
    assert member.vector["peer"] == len(stream)
    labels = len(member.log_labels())
    assert labels == len(stream), labels
    member.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is kept")
    args = parser.parse_args()
    stream = received_writes(args.writes, "peer")
    best: dict[str, float] = {}

    def keep(key: str, value: float, *, low: bool = False) -> None:
        better = min if low else max
        best[key] = better(best.get(key, value), value)

    # Ours and the anchors run in turn in each round, so a slow spell of the shared disk or
    # CPU hits both sides, and the best of each is kept.
    for round_ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            single, batched = single_writes(work, args.single)
            keep("single", single)
            keep("batched", batched)
            keep("raw_single", raw_single(work / "raw_single.db", args.single))
            keep("raw_one_page", raw_single(work / "raw_one_page.db", args.single, log_only=True))
            keep("apply", apply_received(work, stream), low=True)
            keep("raw_apply", raw_anchor(work / "member.db", work / "raw.db"), low=True)
            if round_ == 0:
                started = time.perf_counter()
                reopened = open_replica(work / "member.db")
                keep("reopen", time.perf_counter() - started, low=True)
                assert reopened.vector["peer"] == args.writes
                reopened.close()
                file_bytes = sum(os.path.getsize(p) for p in work.glob("member.db*") if p.is_file())
    per_100k = 100_000 / args.writes
    print(
        json.dumps(
            {
                "writes": args.writes,
                "repeat": args.repeat,
                "writes_per_s_single": round(best["single"]),
                "raw_sqlite_single_per_s": round(best["raw_single"]),
                "raw_sqlite_one_page_per_s": round(best["raw_one_page"]),
                "writes_per_s_batched": round(best["batched"]),
                "apply_100k_s": round(best["apply"] * per_100k, 3),
                "raw_sqlite_apply_100k_s": round(best["raw_apply"] * per_100k, 3),
                "apply_vs_raw_rate": round(best["raw_apply"] / best["apply"], 2),
                "reopen_100k_s": round(best["reopen"], 3),
                "file_bytes": file_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
