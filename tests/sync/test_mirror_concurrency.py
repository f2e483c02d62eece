"""No edit is lost when another process saves a mirror file while the app and a peer edit it.

A real child process saves the note's file the way editors do (read, append a line, write a
temporary file, rename it over), a thread types into the note in the app, and another device
types into it and syncs, all at the same time. Afterwards every line each of them added is in
the library on both devices and in the file.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.polling import wait_for
from tests.sync.test_mirror import Env, env, read

__all__ = ["env"]  # the fixture, shared with test_mirror

EDITOR = Path(__file__).with_name("mirror_editor.py")
COUNT = 25


def _type_lines(env: Env, replica_name: str, note: str, prefix: str, sync: bool) -> None:
    replica = env.a if replica_name == "a" else env.b
    for i in range(COUNT):
        env.run(replica.edit_text, note, [(0, 0, f"{prefix} {i}\n")])
        if replica_name == "a":
            env.write_all()
        if sync:
            env.sync()
        time.sleep(0.02)


def test_another_process_the_app_and_a_peer_editing_one_note_at_once_lose_nothing(env: Env) -> None:
    note = env.run(lambda: env.a.create("note", {"title": "Busy", "body": "start\n"}))
    env.sync()
    mirror = env.mirror()
    path = env.folder / "Busy.md"
    child = subprocess.Popen(
        [sys.executable, str(EDITOR), str(path), str(COUNT), "editor"], stdout=subprocess.PIPE, text=True
    )
    app = threading.Thread(target=_type_lines, args=(env, "a", note, "app", False))
    peer = threading.Thread(target=_type_lines, args=(env, "b", note, "peer", True))
    app.start()
    peer.start()
    try:
        out, _ = child.communicate(timeout=120)
    finally:
        app.join(120)
        peer.join(120)
    assert out.strip() == "done"
    wanted = [f"{who} {i}" for who in ("editor", "app", "peer") for i in range(COUNT)]

    def settled() -> bool:
        env.sync()
        env.write_all()
        body = env.body(env.a, note)
        return mirror.idle() and all(line in body.splitlines() for line in wanted)

    wait_for(settled, timeout=60, what="every line in the library")
    env.sync()
    for replica in (env.a, env.b):
        lines = env.body(replica, note).splitlines()
        assert [w for w in wanted if w not in lines] == []
    wait_for(lambda: all(w in read(path).splitlines() for w in wanted), what="every line in the file")
    assert mirror.errors == []


def _add_events(env: Env, replica_name: str, calendar: str, prefix: str) -> None:
    replica = env.a if replica_name == "a" else env.b
    for i in range(COUNT):
        fields = {"calendar": calendar, "title": f"{prefix}-{i}", "start": "2026-01-05", "end": "2026-01-06"}
        env.run(replica.put, "event", f"{prefix}-{i}", {**fields, "all_day": True})
        if replica_name == "a":
            env.write_all()
        else:
            env.sync()
        time.sleep(0.02)


def test_events_added_to_one_calendar_by_another_process_the_app_and_a_peer_are_all_kept(env: Env) -> None:
    cal = env.run(lambda: env.a.create("calendar", {"name": "Shared"}))
    env.sync()
    mirror = env.mirror()
    path = env.folder / "Shared.ics"
    child = subprocess.Popen(
        [sys.executable, str(EDITOR), str(path), str(COUNT), "editor"], stdout=subprocess.PIPE, text=True
    )
    app = threading.Thread(target=_add_events, args=(env, "a", cal, "app"))
    peer = threading.Thread(target=_add_events, args=(env, "b", cal, "peer"))
    app.start()
    peer.start()
    try:
        out, _ = child.communicate(timeout=120)
    finally:
        app.join(120)
        peer.join(120)
    assert out.strip() == "done"
    wanted = {f"{who}-{i}" for who in ("editor", "app", "peer") for i in range(COUNT)}

    def settled() -> bool:
        env.sync()
        env.write_all()
        return mirror.idle() and wanted <= set(env.run(lambda: set(env.a.entities("event"))))

    wait_for(settled, timeout=60, what="every event in the library")
    env.sync()
    for replica in (env.a, env.b):
        assert set(env.run(lambda r=replica: set(r.entities("event")))) == wanted
    wait_for(lambda: all(f"UID:{uid}" in path.read_text(encoding="utf-8") for uid in wanted), what="the file")
    assert mirror.errors == []
