"""Benchmark of ``verify``: the full check of a library's committed log; one JSON line.

    python tests/perf/verify.py [--writes 100000] [--small]

``verify_s`` recomputes the hash chain over every committed row (and decodes each write);
``read_log_s`` only reads the same rows from SQLite, the floor any full check pays.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from localfirst import Batch, CommitEntry
from storage import create_library, join_library, open_replica
from tests.perf.replica import received_writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=100_000)
    parser.add_argument("--small", action="store_true", help="2,000 writes (a smoke run)")
    args = parser.parse_args()
    count = 2_000 if args.small else args.writes
    stream = received_writes(count, "peer")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        genesis = create_library(work / "primary.db", "me", members={"peer": "Peer"})
        member = join_library(work / "member.db", "member", genesis.genesis())
        genesis.close()
        member.receive(Batch(committed=[CommitEntry(i, w, d) for i, (w, d) in enumerate(stream, 1)]))
        member.close()
        replica = open_replica(work / "member.db")
        started = time.perf_counter()
        report = replica.verify(full=True)
        verify_s = time.perf_counter() - started
        replica.close()
        assert report.ok, report.describe()
        assert report.checked == count, report.checked
        db = sqlite3.connect(work / "member.db")
        started = time.perf_counter()
        rows = db.execute("SELECT csn, data, chain FROM log WHERE csn IS NOT NULL ORDER BY csn").fetchall()
        read_log_s = time.perf_counter() - started
        db.close()
        assert len(rows) == count
    print(json.dumps({"writes": count, "verify_s": round(verify_s, 4), "read_log_s": round(read_log_s, 4)}))


if __name__ == "__main__":
    main()
