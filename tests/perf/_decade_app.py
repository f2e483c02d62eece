"""The desktop app's side of the ten-year benchmark, run in a fresh process on a library.

    python tests/perf/_decade_app.py DATA_DIR NOTE_ID YYYY-MM-DD

Prints one JSON line: when the main window first painted (wall clock, so the parent can time
from before it launched this process), month/week switches to a painted frame, event searches
through the calendar's search box to their painted results, opening a note in the editor to a
painted frame, and this process's peak RSS. With ``--bare`` it only shows an
empty window of the same size (the anchor: what Qt and Python alone take).
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from ui.qt import QApplication, QEventLoop, QMainWindow, qconnect  # noqa: E402

SWITCHES = 8


def wait_until(app: QApplication, predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.0005)


def cpu_s() -> float:
    """CPU seconds this process has used, every thread (less swayed by a busy machine than
    the wall clock)."""
    return time.process_time()


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: ru_maxrss would count the parent's, kept
    across fork and exec)."""
    status = Path("/proc/self/status").read_text()
    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(int(hwm.split()[1]) / 1024, 1)


def view_switches(app: QApplication, window: Any, day: date) -> list[float]:
    """Milliseconds from asking for the month (or week) view to its painted frame."""
    pane = window.calendar
    refreshed = [0]
    qconnect(pane.view_did_refresh, lambda: refreshed.__setitem__(0, refreshed[0] + 1))

    def since(seen: int) -> Callable[[], bool]:
        return lambda: refreshed[0] > seen

    wait_until(app, lambda: refreshed[0] > 0, 120, "the first calendar view")
    seen = refreshed[0]
    pane.go_to(day)
    wait_until(app, lambda: refreshed[0] > seen, 120, "the busy month")
    times = []
    cpu = cpu_s()
    for k in range(SWITCHES):
        seen = refreshed[0]
        started = time.perf_counter()
        pane.set_view("week" if k % 2 == 0 else "month")
        wait_until(app, since(seen), 60, "a view switch")
        window.repaint()
        times.append((time.perf_counter() - started) * 1000)
    times.append((cpu_s() - cpu) * 1000 / SWITCHES)  # the last: CPU per switch
    return times


#: What the benchmark types into the calendar's search box (as ``decade.py``'s note searches).
EVENT_SEARCHES = ("garden", "budget review", "concert", "dentist", "flight", "zzzz-nothing")


def since(counter: list[int], seen: int) -> Callable[[], bool]:
    return lambda: counter[0] > seen


def event_searches(app: QApplication, window: Any) -> tuple[list[float], float, int]:
    """Milliseconds from the search box asking (its typing pause over) to the results painted,
    three rounds over the queries; CPU ms per search; how many results were listed in all."""
    pane = window.calendar
    box = pane.search_box
    finished = [0]
    qconnect(pane.search_did_finish, lambda: finished.__setitem__(0, finished[0] + 1))
    times, listed = [], 0
    cpu = cpu_s()
    for _ in range(3):
        for words in EVENT_SEARCHES:
            box.setText(words)
            box._timer.stop()  # the pause in typing is the box's own delay, not the search's
            seen = finished[0]
            started = time.perf_counter()
            box.query_changed.emit(box.text().strip())
            wait_until(app, since(finished, seen), 60, "an event search")
            window.repaint()
            times.append((time.perf_counter() - started) * 1000)
            listed += len(pane.search_results.texts())
    box.setText("")
    return times, (cpu_s() - cpu) * 1000 / len(times), listed


def open_note(app: QApplication, window: Any, note: str) -> tuple[float, float]:
    """Milliseconds from asking for the note to its text painted in the editor (wall, CPU)."""
    window.tabs.setCurrentIndex(1)
    wait_until(app, lambda: window.notes.loaded, 120, "the notes list")
    editor = window.notes.editor
    started, cpu = time.perf_counter(), cpu_s()
    editor.open_note(note)
    wait_until(app, editor.body.isEnabled, 120, "the note to open")
    window.repaint()
    elapsed = (time.perf_counter() - started) * 1000
    assert len(editor.text) > 0
    return elapsed, (cpu_s() - cpu) * 1000


def run(data: Path, note: str, day: date) -> dict[str, Any]:
    from ui.app import make_window

    app = QApplication(sys.argv[:1])
    backend, window = make_window(data)
    result: dict[str, Any] = {}
    # A local loop, not app.quit(): Qt 6 closes the windows on quit, and this one goes on.
    loop = QEventLoop()

    def painted() -> None:
        result["painted_at"] = time.time()
        result["since_interpreter_s"] = round(time.perf_counter() - _T0, 3)
        result["startup_cpu_s"] = round(cpu_s(), 3)
        loop.quit()

    qconnect(window.window_did_paint, painted)
    window.show()
    loop.exec()
    wait_until(app, lambda: window.loaded, 120, "the views")
    # After the first paint the views load (the event index reads every event): how long after.
    result["views_loaded_after_paint_s"] = round(time.time() - result["painted_at"], 3)
    result["views_loaded_rss_mb"] = peak_rss_mb()
    profile = os.environ.get("DECADE_PROFILE")  # a folder: profile the switches, both threads
    if profile:
        import cProfile

        gui, owner = cProfile.Profile(), cProfile.Profile()
        backend.call(lambda _r: owner.enable())
        gui.enable()
    *switches, switch_cpu = view_switches(app, window, day)
    if profile:
        gui.disable()
        backend.call(lambda _r: owner.disable())
        gui.dump_stats(Path(profile) / "switch-gui.prof")
        owner.dump_stats(Path(profile) / "switch-owner.prof")
    result["calendar_rss_mb"] = peak_rss_mb()  # the calendar and its event index loaded
    result["view_switch_ms"] = round(statistics.median(switches), 1)
    result["view_switch_max_ms"] = round(max(switches), 1)
    result["view_switch_cpu_ms"] = round(switch_cpu, 1)
    searched, search_cpu, listed = event_searches(app, window)
    result["searched_rss_mb"] = peak_rss_mb()
    result["event_search_listed"] = listed  # results listed over every search (0: nothing matched)
    result["event_search_ms"] = round(statistics.median(searched), 1)
    result["event_search_max_ms"] = round(max(searched), 1)
    result["event_search_cpu_ms"] = round(search_cpu, 1)
    opened, opened_cpu = open_note(app, window, note)
    result["open_largest_note_ms"] = round(opened, 1)
    result["open_largest_note_cpu_ms"] = round(opened_cpu, 1)
    result["app_peak_rss_mb"] = peak_rss_mb()
    window.close()
    backend.close()
    return result


def bare() -> dict[str, Any]:
    """An empty main window of the same size: Python and Qt alone."""
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.resize(1100, 720)
    window.show()
    wait_until(app, window.isVisible, 10, "the window")
    window.repaint()
    return {"bare_peak_rss_mb": peak_rss_mb(), "bare_start_s": round(time.perf_counter() - _T0, 3)}


def main() -> int:
    if sys.argv[1:] == ["--bare"]:
        print(json.dumps(bare()))
        return 0
    data, note, day = Path(sys.argv[1]), sys.argv[2], date.fromisoformat(sys.argv[3])
    print(json.dumps(run(data, note, day)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
