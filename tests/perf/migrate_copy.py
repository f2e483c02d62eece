"""Benchmark: open a copy of a library file with today's code (its schema migrations, then the
one-time VACUUM to incremental auto-vacuum) and print one JSON line of what it cost and what the
file became, table by table.

    python tests/perf/migrate_copy.py LIBRARY.sqlite [--work /tmp/migrate-copy]

The file named is never written: it is copied into the work folder first. Keys: ``before`` and
``after`` (``file_bytes``, ``free_bytes``, ``schema_version``, and ``pages``: each table and
index's bytes of pages, payload and unused space, from dbstat), ``migrate_s`` / ``migrate_cpu_s``
(opening the store: the migrations, in one transaction), ``vacuum_s`` / ``vacuum_cpu_s`` (the
switch to auto-vacuum), and ``digest_kept`` (the state digest folded from the rows before and
after is the same).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from localfirst.crdtmap import decode_doc
from localfirst.integrity import doc_state_hash, state_digest_of, text_state_hash
from storage import SqlStore

#: Tables and indexes smaller than this are left out of ``pages``.
SMALL = 100_000


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def figures(path: Path) -> dict[str, Any]:
    """The file's size, free space, schema version and pages per table (read-only)."""
    size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0] * page
        version = int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        rows = db.execute(
            "SELECT name, sum(pgsize), sum(payload), sum(unused) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    finally:
        db.close()
    pages = {name: {"bytes": b, "payload": p, "unused": u} for name, b, p, u in rows if b >= SMALL}
    return {"file_bytes": size, "free_bytes": free, "schema_version": version, "pages": pages}


def digest(path: Path) -> str:
    """The state digest folded from the document and text rows (any schema version)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    folded = 0
    try:
        for key, data in db.execute("SELECT id, doc FROM docs"):
            folded ^= doc_state_hash(key, decode_doc(data))
        for entity, field, body in db.execute("SELECT id, field, text FROM texts"):
            folded ^= text_state_hash(entity, field, str(body))
    finally:
        db.close()
    return state_digest_of(folded).hex()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/migrate-copy"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.work / "library.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(args.library, path)
    out: dict[str, Any] = {"before": figures(path)}
    before = digest(path)
    started, used = time.perf_counter(), cpu()
    store = SqlStore(path)
    out["migrate_s"], out["migrate_cpu_s"] = round(time.perf_counter() - started, 2), round(cpu() - used, 2)
    started, used = time.perf_counter(), cpu()
    store.reclaim_free_pages()
    out["vacuum_s"], out["vacuum_cpu_s"] = round(time.perf_counter() - started, 2), round(cpu() - used, 2)
    store.close()
    out["after"] = figures(path)
    out["digest_kept"] = digest(path) == before
    print(json.dumps(out))


if __name__ == "__main__":
    main()
