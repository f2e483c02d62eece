"""Benchmark: ten years of a busy person's calendar and notes; prints one JSON line of figures.

    python tests/perf/decade.py [--years 10] [--cache /tmp/decade-cache]

The library (``_decade_library``: per ten years 100,000 events of which 2,000 recurring series
with exceptions, 20 calendars, 10,000 notes of about 2,000 characters typed in bursts, 1,000,000
writes through the log, 3 member devices; N years hold N/10 of that) is generated once into the
cache folder and reused; a cached library an older release wrote is migrated once, on a copy
(``migrate_s``: the primary's migration on open). Every measurement runs on a copy, each beside
its anchor in the same run:

- ``file_bytes`` (the library file, WAL included) against ``export_bytes`` (the same library
  exported as ``.ics`` + ``.md`` through the export path); ``pages`` says where the file goes;
- ``startup_s``: process start to the first painted main window (offscreen Qt, fresh process),
  then in that process ``view_switch_ms`` (month/week to a painted frame, median) and
  ``open_largest_note_ms``, and its ``app_peak_rss_mb``; the anchor is an empty window's process;
- ``event_search_ms``: the app's event search as a user runs it (the calendar's search box, its
  typing pause over, to the results painted; measured in the app's process, see below), beside
  ``event_search_sql_ms`` (the anchor: a title ``LIKE`` over the events table);
  ``note_search_ms``: ``storage.search.NoteSearch``;
- ``node_peak_rss_mb``: a ``localfirst serve`` process from start through serving the new
  device's catch-up; ``catchup_s``: a new device paired with it (the welcome: snapshot plus the
  recent writes) until in sync, over loopback TLS;
- ``verify_s`` (``replica.verify(full=True)``) beside ``read_log_s`` (reading the same rows);
- ``mirror_start_s``: starting the mirror folder with nothing changed, beside
  ``mirror_first_start_s`` (the first start, writing every file);
- ``fold_1k_s``: truncating the oldest 1,000 commits of the log with the real fold.

``--only node`` runs only the node and catch-up stage (a quick before/after of the welcome).
``--profile DIR`` runs the in-process stages under cProfile (a .prof each, top lines on stderr);
``DECADE_PROFILE=DIR`` profiles the app's view switches on its GUI and replica threads.

Beside each wall-clock figure the CPU seconds it took are reported (``*_cpu_*``, ``stage_cpu_s``),
since on a shared machine the wall clock mostly measures the neighbours. Generating the library
is the slow part (once per cache): about 1.5 min per year of data on a quiet 2-core machine,
4-6 min per year when it is busy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from storage import SCHEMA_VERSION, open_replica  # noqa: E402
from storage.files import export_library  # noqa: E402
from storage.search import NoteSearch  # noqa: E402
from sync.const import LIBRARY_FILE  # noqa: E402
from tests.perf._decade_library import END, cached  # noqa: E402

LOOPBACK = "127.0.0.1"
SEARCHES = ("garden", "budget review", "concert", "dentist", "flight", "zzzz-nothing")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def files_bytes(folder: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file())


# -- the file ------------------------------------------------------------------------------------


def file_figures(data: Path) -> dict[str, Any]:
    """The library file's size and where its pages go (table and index, from dbstat)."""
    path = data / LIBRARY_FILE
    size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0] * page
        rows = db.execute(
            "SELECT name, sum(pgsize), sum(payload), sum(pgsize - unused - payload) "
            "FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    finally:
        db.close()
    pages = {name: {"bytes": b, "payload": p} for name, b, p, _ in rows[:8]}
    return {"file_bytes": size, "page_size": page, "free_bytes": free, "pages": pages}


def export_figures(data: Path, out: Path) -> dict[str, Any]:
    """The same library as plain files, through the export path, and how long that takes."""
    replica = open_replica(data / LIBRARY_FILE)
    try:
        started = time.perf_counter()
        written = export_library(replica, out)
        export_s = time.perf_counter() - started
    finally:
        replica.close()
    return {
        "export_bytes": files_bytes(out),
        "export_ics_bytes": files_bytes(out, "*.ics"),
        "export_md_bytes": files_bytes(out, "*.md"),
        "export_files": len(written),
        "export_s": round(export_s, 2),
    }


# -- searches ------------------------------------------------------------------------------------


def search_figures(data: Path) -> dict[str, Any]:
    """Median milliseconds of an event search and a note search, over a few queries each."""
    path = data / LIBRARY_FILE
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    event_times, note_times, raw_times, hits = [], [], [], 0
    try:
        with NoteSearch(path) as notes:
            for _ in range(3):
                for words in SEARCHES:
                    started = time.perf_counter()
                    found = db.execute(
                        "SELECT id, title, start FROM events WHERE title LIKE ? ORDER BY start LIMIT 1000",
                        (f"%{words}%",),
                    ).fetchall()
                    event_times.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    hits += len(notes.search(words))
                    note_times.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    db.execute(
                        "SELECT rowid FROM note_search WHERE note_search MATCH ? LIMIT 1000",
                        (" ".join(f'"{w}"' for w in words.split()),),
                    ).fetchall()
                    raw_times.append(time.perf_counter() - started)
                    hits += len(found)
    finally:
        db.close()
    assert hits > 0, "no search found anything"
    return {
        "event_search_sql_ms": ms(statistics.median(event_times)),
        "event_search_sql_max_ms": ms(max(event_times)),
        "note_search_ms": ms(statistics.median(note_times)),
        "note_search_max_ms": ms(max(note_times)),
        "note_search_raw_fts_ms": ms(statistics.median(raw_times)),
    }


# -- the app -------------------------------------------------------------------------------------


def app_figures(data: Path, note: str) -> dict[str, Any]:
    """Start the app in a fresh process; its figures, and an empty window's as the anchor."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    script = str(Path(__file__).with_name("_decade_app.py"))
    busy_day = (END - timedelta(days=45)).date().isoformat()
    launched = time.time()
    out = subprocess.run(
        [sys.executable, script, str(data), note, busy_day],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    bare = subprocess.run(
        [sys.executable, script, "--bare"], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    anchor = json.loads(bare.stdout.strip().splitlines()[-1])
    return {
        "startup_s": round(got.pop("painted_at") - launched, 3),
        **got,
        "bare_window_peak_rss_mb": anchor["bare_peak_rss_mb"],
        "bare_window_since_interpreter_s": anchor["bare_start_s"],
    }


# -- verify --------------------------------------------------------------------------------------


def verify_figures(data: Path) -> dict[str, Any]:
    path = data / LIBRARY_FILE
    started = time.perf_counter()
    replica = open_replica(path)
    open_s = time.perf_counter() - started
    try:
        started = time.perf_counter()
        report = replica.verify(full=True)
        verify_s = time.perf_counter() - started
    finally:
        replica.close()
    assert report.ok, report.describe()
    db = sqlite3.connect(path)
    started = time.perf_counter()
    rows = db.execute("SELECT csn, data, chain FROM log WHERE csn IS NOT NULL ORDER BY csn").fetchall()
    read_log_s = time.perf_counter() - started
    db.close()
    return {
        "open_replica_s": round(open_s, 3),
        "verify_s": round(verify_s, 3),
        "verify_checked": report.checked,
        "read_log_s": round(read_log_s, 3),
        "log_rows": len(rows),
    }


# -- the mirror ----------------------------------------------------------------------------------


def mirror_figures(data: Path, folder: Path, profiler: Any = None) -> dict[str, Any]:
    """Start the mirror twice: the first writes every file; the second finds nothing changed.

    The replica's owner is one thread (as in the app); ``profiler`` (a cProfile.Profile) runs
    there, where the mirror's work is done.
    """
    from sync.mirror import Mirror

    pool = ThreadPoolExecutor(1, thread_name_prefix="owner")
    replica = pool.submit(open_replica, data / LIBRARY_FILE).result()
    if profiler is not None:
        pool.submit(profiler.enable).result()
    try:
        times = []
        for _ in range(2):
            mirror = Mirror(lambda fn: pool.submit(fn, replica), folder)
            started = time.perf_counter()
            mirror.start()
            times.append(time.perf_counter() - started)
            mirror.stop()
            assert not mirror.errors, mirror.errors
    finally:
        if profiler is not None:
            pool.submit(profiler.disable).result()
        pool.submit(replica.close).result()
        pool.shutdown()
    return {"mirror_first_start_s": round(times[0], 3), "mirror_start_s": round(times[1], 3)}


# -- the node and a new device -------------------------------------------------------------------


class Serve:
    """A ``localfirst serve`` process on the library (loopback only)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.cli = [sys.executable, "-c", "import sys; from ui.cli import main; sys.exit(main())"]
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*self.cli, "--data", str(data), "serve", "--loopback"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(
                f"localfirst serve did not start: {self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        self.start_s = time.perf_counter() - started
        self.port = int(json.loads(line)["port"])
        self.env = env

    def invite(self) -> tuple[str, int]:
        out = subprocess.run(
            [*self.cli, "--data", str(self.data), "invite"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        note = next(json.loads(x) for x in out.stdout.splitlines() if '"code"' in x)
        return str(note["code"]), int(note["port"])

    def cpu_s(self) -> float:
        """CPU seconds the serve process used so far (utime + stime)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return round(int(hwm.split()[1]) / 1024, 1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def catch_up(serve: Serve, new: Path, commits: int) -> dict[str, Any]:
    """Pair a new device with the serving node and run it until it holds the whole library."""
    from sync.node import Node, join_from_welcome, load_identity
    from sync.pairing import join

    started = time.perf_counter()
    code, port = serve.invite()  # a `localfirst invite` process asks the node for a code
    invite_s = time.perf_counter() - started
    ident = load_identity(new, "new")
    started = time.perf_counter()  # the new device, from its first packet
    _, welcome = await join(code, LOOPBACK, port, ident)
    paired_s = time.perf_counter() - started
    join_from_welcome(new, ident, welcome).close()
    joined_s = time.perf_counter() - started
    fresh = Node(new, name="new", discovery=False, control=False, peers=[(LOOPBACK, serve.port)])
    await fresh.start()
    try:
        deadline = time.monotonic() + 900
        while not any(c.session.in_sync for c in fresh._conns.values()):
            if time.monotonic() > deadline:
                raise TimeoutError("the new device did not catch up")
            await asyncio.sleep(0.005)
        catchup_s = time.perf_counter() - started
        held = fresh.replica.csn
    finally:
        await fresh.stop()
    assert held >= commits, (held, commits)
    return {
        "catchup_s": round(catchup_s, 3),
        "invite_s": round(invite_s, 3),
        "catchup_welcome_s": round(paired_s, 3),
        "catchup_join_s": round(joined_s - paired_s, 3),
        "welcome_bytes": len(welcome),
        "new_device_file_bytes": files_bytes(new, "library.sqlite"),
        "new_device_wal_bytes": files_bytes(new, "library.sqlite-wal"),
    }


def node_figures(data: Path, new: Path, commits: int) -> dict[str, Any]:
    serve = Serve(data)
    try:
        idle_rss, cpu = serve.peak_rss_mb(), serve.cpu_s()
        started = time.process_time()
        figures = asyncio.run(catch_up(serve, new, commits))
        figures["catchup_new_device_cpu_s"] = round(time.process_time() - started, 2)
        figures["catchup_node_cpu_s"] = round(serve.cpu_s() - cpu, 2)
        peak = serve.peak_rss_mb()
    finally:
        serve.stop()
    return {
        "node_start_s": round(serve.start_s, 3),
        "node_idle_rss_mb": idle_rss,
        "node_peak_rss_mb": peak,
        **figures,
    }


# -- the run -------------------------------------------------------------------------------------


def fold_figures(data: Path) -> dict[str, Any]:
    """The real fold of the oldest 1,000 commits the log keeps (what a node's truncation pays)."""
    replica = open_replica(data / LIBRARY_FILE)
    try:
        upto = min(replica.csn, replica.truncated_csn + 1_000)
        started = time.perf_counter()
        replica.truncate(upto)
        return {"fold_1k_s": round(time.perf_counter() - started, 3)}
    finally:
        replica.close()


class Stages:
    """Runs each measurement, under cProfile when asked (one .prof per stage, top lines to stderr)."""

    def __init__(self, profile: Path | None) -> None:
        self.profile = profile
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def run(self, name: str, fn: Any, *args: Any) -> dict[str, Any]:
        started, cpu = time.perf_counter(), time.process_time()
        if self.profile is None:
            got: dict[str, Any] = fn(*args)
        else:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            # The mirror's work runs on the replica's owner thread: it profiles there.
            if fn is mirror_figures:
                got = mirror_figures(*args[:2], profiler=prof)
            else:
                got = prof.runcall(fn, *args)
            self.profile.mkdir(parents=True, exist_ok=True)
            prof.dump_stats(self.profile / f"{name}.prof")
            print(f"== {name}", file=sys.stderr)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(12)
        self.seconds[name] = round(time.perf_counter() - started, 1)
        self.cpu[name] = round(time.process_time() - cpu, 1)
        return got


def migrated(source: Path) -> tuple[Path, float]:
    """The cached library as this build stores it, with the primary's migration time.

    A library generated by an older release (its schema version below this build's) is copied
    beside it once and every replica in the copy opened, so it is migrated forward as a user's
    library is on upgrade; the figures are then measured on that copy."""
    with sqlite3.connect(f"file:{source / 'primary' / LIBRARY_FILE}?mode=ro", uri=True) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if int(row[0]) >= SCHEMA_VERSION:
        return source, 0.0
    folder = source.parent / f"{source.name}-s{SCHEMA_VERSION}"
    timing = folder / "migrate_s"
    if not timing.exists():
        work = source.parent / f"{folder.name}.part"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(source, work)
        seconds = {}
        for device in ("primary", "phone", "laptop"):
            started = time.perf_counter()
            open_replica(work / device / LIBRARY_FILE).close()
            seconds[device] = time.perf_counter() - started
        (work / "migrate_s").write_text(f"{seconds['primary']:.2f}")
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    return folder, float(timing.read_text())


def node_only(years: float, cache: Path, profile: Path | None = None) -> dict[str, Any]:
    """Only the node and catch-up stage (``--only node``): a quick before/after of the welcome."""
    generated, info = cached(cache, years, progress=False)
    source, _ = migrated(generated)
    result: dict[str, Any] = {"years": years, "load_avg_start": round(os.getloadavg()[0], 1)}
    stages = Stages(profile)
    with tempfile.TemporaryDirectory(prefix="decade-") as tmp:
        work = Path(tmp)
        shutil.copytree(source / "primary", work / "primary")
        result.update(stages.run("node", node_figures, work / "primary", work / "new", info["writes"]))
    result["stage_s"] = stages.seconds
    result["stage_cpu_s"] = stages.cpu
    result["load_avg_end"] = round(os.getloadavg()[0], 1)
    return result


def measure(years: float, cache: Path, profile: Path | None = None) -> dict[str, Any]:
    generated, info = cached(cache, years, progress=False)
    source, migrate_s = migrated(generated)
    result: dict[str, Any] = {"years": years, **{k: v for k, v in info.items() if k != "years"}}
    result["migrate_s"] = round(migrate_s, 2)  # 0 when generated by this schema
    stages = Stages(profile)
    result["load_avg_start"] = round(os.getloadavg()[0], 1)  # the machine is shared: say how busy
    with tempfile.TemporaryDirectory(prefix="decade-") as tmp:
        work = Path(tmp)
        data = work / "primary"
        shutil.copytree(source / "primary", data)
        result.update(file_figures(data))
        result.update(stages.run("export", export_figures, data, work / "export"))
        result["file_vs_export"] = round(result["file_bytes"] / result["export_bytes"], 2)
        result.update(stages.run("search", search_figures, data))
        result.update(app_figures(data, info["largest_note"]))
        result.update(stages.run("verify", verify_figures, data))
        result.update(stages.run("mirror", mirror_figures, data, work / "mirror"))
        result.update(stages.run("node", node_figures, data, work / "new", info["writes"]))
        result.update(stages.run("fold", fold_figures, data))
    result["stage_s"] = stages.seconds
    result["stage_cpu_s"] = stages.cpu  # this process only (the app and the node run apart)
    result["load_avg_end"] = round(os.getloadavg()[0], 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=10.0, help="years of data (fractions allowed)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "decade-cache")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile each stage into this folder")
    parser.add_argument("--only", choices=["node"], default=None, help="run only this stage")
    args = parser.parse_args()
    if args.years <= 0:
        parser.error("--years must be more than 0")
    args.cache.mkdir(parents=True, exist_ok=True)
    run = node_only if args.only == "node" else measure
    print(json.dumps(run(args.years, args.cache, args.profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
