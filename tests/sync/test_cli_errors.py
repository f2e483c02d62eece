"""CLI errors are one clear line: the real ``localfirst`` on a really damaged, newer, locked,
read-only, foreign or full library exits 1 with one line naming the cause; ``--verbose`` adds
the details."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sync.lock import LibraryLock
from sync.node import library_path
from tests.sync.nodes import REPO, run_cli

pytestmark = pytest.mark.timeout(60)

ROOT = os.geteuid() == 0


def cli(data: Path, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args, prefix=prefix)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (asserting there is exactly one)."""
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("localfirst: ")
    return lines[0]


@pytest.fixture
def library(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    done = cli(data, "init")
    assert done.returncode == 0, done.stderr
    return data


def test_a_corrupt_library_is_one_line_and_verbose_shows_the_details(library: Path) -> None:
    path = library_path(library)
    raw = bytearray(path.read_bytes())
    raw[100 : 3 * 4096] = b"\x5a" * (3 * 4096 - 100)  # past the header: pages of garbage
    path.write_bytes(bytes(raw))
    line = one_line(cli(library, "status"))
    assert line.startswith("localfirst: the library is damaged: ")
    assert str(path) in line
    verbose = cli(library, "status", "--verbose")
    assert verbose.returncode == 1
    assert verbose.stderr.splitlines()[0] == line
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "CorruptReplica" in verbose.stderr
    # Before the command, too.
    assert cli(library, "--verbose", "status").stderr == verbose.stderr


def test_a_library_from_a_newer_version_is_one_line(library: Path) -> None:
    with sqlite3.connect(library_path(library)) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    line = one_line(cli(library, "status"))
    assert line.startswith("localfirst: the library is from a newer version: ")
    assert "schema version 99" in line
    assert "Update the app" in line


def test_a_locked_database_is_one_line(library: Path) -> None:
    # Another program (not localfirst, so not the folder's lock) holds SQLite's write lock on
    # a file in rollback-journal mode: even reading waits, then gives up after the busy timeout.
    db = sqlite3.connect(library_path(library), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("BEGIN EXCLUSIVE")
        line = one_line(cli(library, "status"))
    finally:
        db.close()
    assert line.startswith("localfirst: library locked: ")
    assert "locked by another program" in line


def test_a_folder_held_by_another_process_is_one_line(library: Path) -> None:
    lock = LibraryLock(library)
    lock.acquire()
    try:
        line = one_line(cli(library, "status"))
    finally:
        lock.release()
    assert line.startswith(f"localfirst: the library in {library} is in use by pid {os.getpid()} ")


def test_a_folder_of_another_user_is_permission_denied(library: Path) -> None:
    if ROOT:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot run the CLI as another user")
        # Root ignores file modes: run the CLI as nobody on a folder only root may enter.
        library.chmod(0o700)
        prefix: tuple[str, ...] = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    else:
        library.chmod(0o000)
        prefix = ()
    try:
        line = one_line(cli(library, "status", prefix=prefix))
    finally:
        library.chmod(0o700)
    assert line.startswith("localfirst: permission denied: ")
    assert str(library) in line


def _in_mount_namespace(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (sh) in a private mount namespace: its mounts vanish with it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def mounts() -> None:
    if not ROOT or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a read-only bind or a small tmpfs privately")
    probe = _in_mount_namespace("mount -t tmpfs tmpfs /mnt")
    if probe.returncode != 0:
        pytest.skip(f"cannot mount in a private namespace here: {probe.stderr.strip()}")


def test_a_read_only_folder_is_one_line(library: Path, mounts: None) -> None:
    cmd = f"{sys.executable} -m ui.cli --data {library} status"
    done = _in_mount_namespace(f"mount --bind -o ro {library} {library} && exec {cmd}")
    line = one_line(done)
    assert line.startswith("localfirst: read-only folder: cannot write in ")
    assert str(library) in line


@pytest.mark.parametrize("command", ["init", "import"])
def test_a_full_disk_is_reported_as_disk_full(tmp_path: Path, mounts: None, command: str) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    note = tmp_path / "note.md"
    note.write_text("---\ntitle: a note\n---\nbody\n")
    data = disk / "data"
    cli_cmd = f"{sys.executable} -m ui.cli --data {data}"
    # A 2 MiB disk: for import the library exists first, then the disk is filled to the last byte.
    setup = f"mount -t tmpfs -o size=2m tmpfs {disk}"
    if command == "import":
        setup += f" && {cli_cmd} init >/dev/null"
    fill = f"(dd if=/dev/zero of={disk}/filler bs=4k 2>/dev/null; true)"
    run = f"{cli_cmd} import {note}" if command == "import" else f"{cli_cmd} init"
    done = _in_mount_namespace(f"{setup} && {fill} && exec {run}")
    line = one_line(done)
    assert line.startswith("localfirst: disk full: ")
    assert "I/O error" not in line
