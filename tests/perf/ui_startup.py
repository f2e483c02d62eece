"""Benchmark: seconds from process start to the first painted main window, over a library of
10,000 events and 1,000 notes. Prints one JSON line with ``startup_s``.

    python tests/perf/ui_startup.py [--small]

The library is built once in a temporary folder; then a fresh Python process opens the app on
it; the time runs from just before the parent launches it to the main window's first paint.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def build(data_dir: Path, events: int, notes: int) -> None:
    sys.path.insert(0, str(REPO))
    from sync.node import load_identity, open_or_create

    identity = load_identity(data_dir, "bench")
    replica = open_or_create(data_dir, identity)
    try:
        with replica.transaction():
            cal = replica.create("calendar", {"name": "Work", "colour": "#3366cc", "bookable": False})
            for i in range(events):
                day, hour = divmod(i, 8)
                start = f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T{9 + hour:02d}:00:00"
                end = f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T{9 + hour:02d}:45:00"
                replica.create(
                    "event",
                    {"calendar": cal, "title": f"Meeting {i}", "start": start, "end": end, "tz": "UTC"},
                )
            for i in range(notes):
                replica.create(
                    "note",
                    {
                        "title": f"Note {i}",
                        "tags": [f"t{i % 7}"],
                        "created": i,
                        "modified": i,
                        "body": f"# Note {i}\n" + "Some words about things. " * 40,
                    },
                )
    finally:
        replica.close()


def child(data_dir: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    from ui.app import make_window
    from ui.qt import QApplication, qconnect

    app = QApplication(sys.argv[:1])
    backend, window = make_window(data_dir)
    result: dict[str, float] = {}

    def painted() -> None:
        result["painted_at"] = time.time()
        result["since_interpreter_s"] = time.perf_counter() - _T0
        app.quit()

    qconnect(window.window_did_paint, painted)
    window.show()
    app.exec()
    window.close()
    backend.close()
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="a small library (smoke test)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    events, notes = (200, 20) if args.small else (10_000, 1_000)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        build(data, events, notes)
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
        launched = time.time()  # the child's clock is the same wall clock
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(data)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    line = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        json.dumps(
            {
                "startup_s": round(line["painted_at"] - launched, 3),
                "events": events,
                "notes": notes,
                "since_interpreter_s": round(line["since_interpreter_s"], 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
