"""Benchmark: switching calendar views and opening the event editor, over 10,000 events.

    python tests/perf/ui_views.py [--small]

Prints one JSON line: the median and worst milliseconds from a click on Month/Week/Day (or on
next month) to the view's next frame painted with the queried events, from a double-click
on an event to its editor shown, and from a search asked to its results shown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.perf.ui_startup import build  # noqa: E402
from ui.qt import QApplication  # noqa: E402


def timed(app: QApplication, pane: object, action: Callable[[], None]) -> float:
    """Milliseconds from ``action`` to the refreshed view painted (synchronously, offscreen)."""
    done: list[bool] = []
    pane.view_did_refresh.connect(lambda: done.append(True))  # type: ignore[attr-defined]
    start = time.perf_counter()
    action()
    while not done:
        app.processEvents()
    pane.view.repaint()  # type: ignore[attr-defined]
    elapsed = (time.perf_counter() - start) * 1000
    pane.view_did_refresh.disconnect()  # type: ignore[attr-defined]
    return elapsed


def measure(data_dir: Path, rounds: int) -> dict[str, float]:
    from datetime import date

    from sync.const import LIBRARY_FILE
    from sync.plainfiles import open_replica
    from ui.backend import Backend, LocalService
    from ui.calendar import CalendarPane, EventDialog

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    path = data_dir / LIBRARY_FILE
    backend = Backend(LocalService(lambda: open_replica(path)), path)
    pane = CalendarPane(backend)
    pane.resize(1400, 860)
    pane.show()
    switches: list[float] = []
    months: list[float] = []
    editors: list[float] = []
    searches: list[float] = []
    try:
        timed(app, pane, lambda: pane.go_to(date(2026, 1, 14)))
        for _ in range(rounds):
            for name in ("month", "week", "day"):
                switches.append(timed(app, pane, lambda n=name: pane.set_view(n)))  # type: ignore[misc]
        pane.set_view("month")
        for _ in range(rounds):
            months.append(timed(app, pane, lambda: pane.step(1)))
        timed(app, pane, lambda: pane.go_to(date(2026, 1, 14)))
        occ = pane.occurrences[0]
        for _ in range(rounds):
            start = time.perf_counter()
            pane.edit_occurrence(occ)
            dialog = pane.active_dialog
            assert isinstance(dialog, EventDialog)
            app.processEvents()
            editors.append((time.perf_counter() - start) * 1000)
            dialog.reject()
            app.processEvents()
        finished: list[int] = []
        pane.search_did_finish.connect(lambda: finished.append(1))
        for n in range(rounds):
            start = time.perf_counter()
            pane.search(f"meeting {n}7")
            while len(finished) <= n:
                app.processEvents()
            searches.append((time.perf_counter() - start) * 1000)
            assert pane.search_results.count() > 0
    finally:
        pane.close()
        backend.close()
    return {
        "search_median_ms": round(statistics.median(searches), 1),
        "search_max_ms": round(max(searches), 1),
        "switch_median_ms": round(statistics.median(switches), 1),
        "switch_max_ms": round(max(switches), 1),
        "next_month_median_ms": round(statistics.median(months), 1),
        "next_month_max_ms": round(max(months), 1),
        "editor_open_median_ms": round(statistics.median(editors), 1),
        "editor_open_max_ms": round(max(editors), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="a small library (smoke test)")
    args = parser.parse_args()
    events, rounds = (300, 2) if args.small else (10_000, 8)
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp), events, 10)
        result = measure(Path(tmp), rounds)
    print(json.dumps({**result, "events": events}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
