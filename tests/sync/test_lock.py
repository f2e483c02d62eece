"""One owner per data folder: a second ``serve``, a Python-API opener and concurrent offline
commands are refused with one line naming the holder; a lock left by a killed node is free."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage import open_replica
from sync.lock import Holder, LibraryBusy, LibraryLock, read_holder
from sync.node import Node, library_path
from tests.sync.nodes import REPO, NodeProcess, run, run_cli, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def cli(data: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args, timeout=timeout)


def busy_line(data: Path, pid: int, command: str) -> str:
    return f"localfirst: the library in {data} is in use by pid {pid} ({command})\n"


def notes_in(data: Path) -> int:
    with LibraryLock(data):
        replica = open_replica(library_path(data))
        try:
            return sum(1 for doc in replica.entities("note").values() if doc.exists)
        finally:
            replica.close()


def integrity(data: Path) -> str:
    with sqlite3.connect(library_path(data)) as conn:
        (result,) = conn.execute("PRAGMA integrity_check").fetchone()
    return str(result)


def test_a_second_lock_names_the_holder_and_a_released_lock_is_free(tmp_path: Path) -> None:
    first = LibraryLock(tmp_path / "data", command="localfirst serve").acquire()
    with pytest.raises(LibraryBusy) as refused:
        LibraryLock(tmp_path / "data").acquire()
    assert refused.value.holder == Holder(os.getpid(), "localfirst serve")
    assert (
        str(refused.value)
        == f"the library in {tmp_path / 'data'} is in use by pid {os.getpid()} (localfirst serve)"
    )
    first.release()
    assert read_holder(tmp_path / "data") is None  # nobody is named once the lock is dropped
    with LibraryLock(tmp_path / "data", command="again") as second:
        assert second.held
        assert read_holder(tmp_path / "data") == Holder(os.getpid(), "again")


def test_two_serve_on_one_folder_the_second_exits_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = NodeProcess(data, "--no-discovery", name="desk")
    try:
        sock = data / "control.sock"
        before = sock.stat()
        second = cli(data, "serve", "--loopback", "--no-discovery", "--name", "desk", timeout=30)
        assert second.returncode == 1
        assert second.stdout == ""
        assert second.stderr == busy_line(
            data, first.proc.pid, "localfirst serve --no-discovery --name desk --loopback"
        )
        after = sock.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # untouched
        assert first.status()["device"] == first.device  # still answering through its socket
        assert first.proc.poll() is None
    finally:
        err = first.stop()
    assert "Traceback" not in err


def test_serve_and_a_python_api_opener(tmp_path: Path) -> None:
    data = tmp_path / "data"
    node = NodeProcess(data, "--no-discovery", name="desk")
    try:
        with pytest.raises(LibraryBusy, match=f"in use by pid {node.proc.pid} "):
            run(Node(data, discovery=False).start())
        from ui.backend import open_local

        with pytest.raises(LibraryBusy, match=f"in use by pid {node.proc.pid} "):
            open_local(data)
        assert node.status()["csn"] >= 1
    finally:
        node.stop()
    service, _path = open_local(data)  # free once the node stopped
    service.close()


def test_two_offline_imports_at_once_one_owner_at_a_time(tmp_path: Path) -> None:
    """The second waits up to ``BUSY_WAIT_S`` for the folder, then gives up with the busy line;
    either way the library holds exactly what the successful imports wrote."""
    data = tmp_path / "data"
    assert cli(data, "init").returncode == 0
    batches = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(400):
            (folder / f"{name}{i:04}.md").write_text(f"# {name} {i}\n\nbody\n")
        batches.append(sorted(str(p) for p in folder.iterdir()))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "--data", str(data), "import", *files],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        for files in batches
    ]
    replies = [p.communicate(timeout=120) for p in procs]  # reads both pipes: neither can block
    outcomes = [(p.returncode, out, err) for p, (out, err) in zip(procs, replies, strict=True)]
    imported = 0
    for (code, out, err), proc in zip(outcomes, procs, strict=True):
        if code == 0:
            assert json.loads(out)["notes"] == 400
            imported += 400
        else:
            other = next(p for p in procs if p is not proc)
            assert code == 1
            assert out == ""
            assert err.splitlines()[-1].startswith(
                f"localfirst: the library in {data} is in use by pid {other.pid} (localfirst import "
            )
    assert imported >= 400
    assert notes_in(data) == imported
    assert integrity(data) == "ok"


def test_a_lock_left_by_a_killed_node_is_taken_over(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = NodeProcess(data, "--no-discovery", name="desk")
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    first.stop()
    assert (data / "control.sock").exists()  # the dead node's socket and record are left behind
    assert read_holder(data) == Holder(
        first.proc.pid, "localfirst serve --no-discovery --name desk --loopback"
    )
    status = cli(data, "status", "--json")  # no node answers: the command takes the free lock
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["running"] is False
    second = NodeProcess(data, "--no-discovery", name="desk")
    try:
        assert second.device == first.device
        wait_for(lambda: second.status()["port"] == second.port, what="the new node answers")
        assert read_holder(data) == Holder(
            second.proc.pid, "localfirst serve --no-discovery --name desk --loopback"
        )
    finally:
        second.stop()
    assert read_holder(data) is None
