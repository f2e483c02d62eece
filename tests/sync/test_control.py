"""The control channel with real node processes: no size limit a library hits, status answers
during a long import, a bad request never stops the node, and a node killed mid-import fails
the command instead of letting it run again behind the node's back.

Sizes come from the environment so a slow machine can shrink them; by default they are the
issue's full figures (5,000 notes and a 20,000-event calendar imported, 20,000 notes exported).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from localfirst.markdown import parse_note
from storage import open_replica
from storage.files import apply_note
from sync.control import ControlError, control_request
from sync.lock import LibraryLock
from sync.node import library_path
from tests.sync.nodes import REPO, NodeProcess, wait_for
from tests.sync.test_lock import integrity, notes_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

NOTES = int(os.environ.get("LOCALFIRST_TEST_IMPORT_NOTES", "5000"))
EVENTS = int(os.environ.get("LOCALFIRST_TEST_IMPORT_EVENTS", "20000"))
EXPORT = int(os.environ.get("LOCALFIRST_TEST_EXPORT_NOTES", "20000"))
STOPPED = "localfirst: the node stopped while importing; run the command again"
KILLS = int(os.environ.get("LOCALFIRST_TEST_KILLS", "20"))


class Cli:
    """``localfirst`` in a subprocess; its output goes to files, so a long reply never blocks it."""

    def __init__(self, tmp: Path, data: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
        self.out_path = tmp / f"out-{time.monotonic_ns()}"
        self.err_path = self.out_path.with_suffix(".err")
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ui.cli", "--data", str(data), *args],
                stdout=out,
                stderr=err,
                text=True,
                cwd=REPO,
                env=env,
            )

    def running(self) -> bool:
        return self.proc.poll() is None

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        code = self.proc.wait(timeout)
        return code, self.out_path.read_text(), self.err_path.read_text()


def make_notes(folder: Path, count: int, prefix: str = "note") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{prefix}{i:05}.md" for i in range(count)]
    for i, path in enumerate(paths):
        path.write_text(f"# {prefix} {i}\n\nbody of {prefix} {i}\n")
    return paths


def make_ics(path: Path, count: int) -> Path:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//localfirst tests//EN", "X-WR-CALNAME:Big"]
    for i in range(count):
        at = start + timedelta(minutes=30 * i)
        lines += [
            "BEGIN:VEVENT",
            f"UID:event-{i}@tests.localfirst",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{at:%Y%m%dT%H%M%SZ}",
            f"DTEND:{at + timedelta(minutes=25):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:Event {i}",
            "END:VEVENT",
        ]
    path.write_text("\r\n".join([*lines, "END:VCALENDAR", ""]))
    return path


def status_of(data: Path, timeout: float = 5.0) -> dict[str, Any]:
    return asyncio.run(control_request(data, {"cmd": "status"}, timeout=timeout))


def test_a_bad_request_gets_an_error_and_the_node_keeps_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    node = NodeProcess(data, "--no-discovery", name="desk")

    async def raw(payload: bytes) -> dict[str, object]:
        reader, writer = await asyncio.open_unix_connection(str(data / "control.sock"))
        writer.write(payload)
        await writer.drain()
        (size,) = struct.unpack(">I", await reader.readexactly(4))
        frame: dict[str, object] = json.loads(await reader.readexactly(size))
        writer.close()
        return frame

    try:
        not_json = asyncio.run(raw(struct.pack(">I", 8) + b"not json"))
        assert not_json["t"] == "error"
        assert str(not_json["message"]).startswith("malformed request: a frame is not JSON")
        too_big = asyncio.run(raw(struct.pack(">I", 2**31)))
        assert too_big == {
            "t": "error",
            "message": "malformed request: a frame of 2147483648 bytes exceeds the 16777216-byte cap",
        }
        with pytest.raises(ControlError, match=r"^unknown command 'format-disk'$"):
            asyncio.run(control_request(data, {"cmd": "format-disk"}))
        with pytest.raises(ControlError, match=r"^the request lacks the field 'id'$"):
            asyncio.run(control_request(data, {"cmd": "get"}))
        assert node.status()["device"] == node.device
    finally:
        err = node.stop()
    assert "Traceback" not in err


def test_large_import_and_export_through_a_running_node(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # The library already holds most of the notes to export: written before the node starts.
    seeded = EXPORT - NOTES
    with LibraryLock(data):
        from sync.node import load_identity, open_or_create

        replica = open_or_create(data, load_identity(data, "desk"))
        try:
            with replica.transaction():
                for i in range(seeded):
                    apply_note(replica, parse_note(f"# seeded {i}\n\nseeded body {i}\n", f"seeded {i}"))
            replica.commit()
        finally:
            replica.close()
    notes = make_notes(tmp_path / "in", NOTES)
    ics = make_ics(tmp_path / "big.ics", EVENTS)
    node = NodeProcess(data, "--no-discovery", name="desk")
    try:
        importing = Cli(tmp_path, data, "import", *map(str, notes), str(ics))
        answered = []  # status round trips while the import runs (seconds)
        while importing.running():
            asked = time.monotonic()
            status_of(data, timeout=120)  # one file is one transaction: the big calendar holds it
            if importing.running():
                answered.append(time.monotonic() - asked)
            time.sleep(0.05)
        code, out, err = importing.finish()
        assert code == 0, err
        summary = json.loads(out)
        assert summary["notes"] == NOTES
        assert summary["events"] == EVENTS
        assert len(summary["imported"]) == NOTES + 1  # a reply list far past one frame
        assert f"localfirst: imported {NOTES + 1}/{NOTES + 1} files" in err  # progress on stderr
        assert sum(1 for took in answered if took < 2.0) >= 3, f"status waited during the import: {answered}"

        exporting = Cli(tmp_path, data, "export", str(tmp_path / "out"))
        code, out, err = exporting.finish(500)
        assert code == 0, err
        written = out.splitlines()
        assert sum(1 for p in written if p.endswith(".md")) == EXPORT
        assert sum(1 for p in written if p.endswith(".ics")) == 1
        assert len(list((tmp_path / "out").iterdir())) == EXPORT + 1
    finally:
        err = node.stop()
    assert "Traceback" not in err


def test_a_node_killed_mid_import_fails_the_command_and_nothing_runs_offline(tmp_path: Path) -> None:
    data = tmp_path / "data"
    notes = make_notes(tmp_path / "in", 3000)
    node = NodeProcess(data, "--no-discovery", name="desk")
    start = node.status()["csn"]
    importing = Cli(tmp_path, data, "import", *map(str, notes))
    wait_for(lambda: status_of(data)["csn"] > start + 1, 120, "the import under way")
    node.proc.send_signal(signal.SIGKILL)
    node.stop()
    code, out, err = importing.finish(60)
    assert code == 1
    assert out == ""
    assert err.splitlines()[-1] == STOPPED
    done = notes_in(data)
    assert 0 < done < len(notes)  # the CLI did not finish the import on the file itself
    assert integrity(data) == "ok"


def test_kill_9_at_random_points_then_the_same_import_holds_each_note_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    notes = make_notes(tmp_path / "in", 1000)
    rng = random.Random(11)
    for _ in range(KILLS):
        node = NodeProcess(data, "--no-discovery", name="desk")
        importing = Cli(tmp_path, data, "import", *map(str, notes))
        time.sleep(rng.uniform(0.05, 1.5))  # a random point of the import (or after it)
        node.proc.send_signal(signal.SIGKILL)
        node.stop()
        code, _out, err = importing.finish(60)
        assert code in (0, 1), err
        if code == 1:
            assert err.splitlines()[-1] == STOPPED
    node = NodeProcess(data, "--no-discovery", name="desk")
    try:
        importing = Cli(tmp_path, data, "import", *map(str, notes))
        code, _out, err = importing.finish()
        assert code == 0, err
    finally:
        node.stop()
    assert notes_in(data) == len(notes)
    assert integrity(data) == "ok"
    with LibraryLock(data):
        replica = open_replica(library_path(data))
        try:
            titles = sorted(str(d.value("title")) for d in replica.entities("note").values() if d.exists)
        finally:
            replica.close()
    assert titles == sorted(path.stem for path in notes)  # a note without front matter is titled by its file


def test_join_while_a_node_runs_goes_through_that_node(tmp_path: Path) -> None:
    inviter = NodeProcess(tmp_path / "desk", "--no-discovery", name="desk")
    joiner = NodeProcess(tmp_path / "laptop", "--no-discovery", name="laptop")
    try:
        offer = inviter.request(cmd="invite")
        joined = Cli(
            tmp_path, tmp_path / "laptop", "join", offer["code"], "--peer", f"127.0.0.1:{offer['port']}"
        )
        code, out, err = joined.finish(60)
        assert code == 0, err
        reply = json.loads(out)
        library = inviter.status()["library"]
        assert reply == {"joined": library, "inviter": inviter.device, "device": joiner.device}
        assert joiner.status()["library"] == library  # the running node adopted it, no restart
        assert joiner.proc.poll() is None
    finally:
        joiner.stop()
        inviter.stop()
