"""The PyInstaller bundle: build it from scratch with ``packaging/build.sh``, then run it.

Checks the bundle's ``--version``, a headless node (``serve`` on 127.0.0.1), the desktop app
opening offscreen (and under Xvfb, if installed, that its main window maps), and that no
test, dev or benchmark code and no unused Qt module ships in it. Only 127.0.0.1 is used: the
app runs in a network namespace of its own, as its node would otherwise use the LAN.
"""

from __future__ import annotations

import configparser
import importlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localfirst import __version__
from tests.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600  # the budget for a build in CI (2 cores)
SIZE_BUDGET = 160 * 2**20  # the trimmed bundle is about 136 MiB; untrimmed it was 205 MiB

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(BUILD_TIMEOUT + 180),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds and runs the Linux bundle"),
]

# Top-level modules and folders that must not ship: tests, dev tools, benchmarks' libraries.
FORBIDDEN_MODULES = {
    "pytest",
    "_pytest",
    "pytestqt",
    "pytest_timeout",
    "hypothesis",
    "mypy",
    "ruff",
    "psutil",
    "pycrdt",
    "loro",
    "tests",
    "IPython",
    "tkinter",
    "_tkinter",
    "unittest",
    "setuptools",
    "pip",
    "PyInstaller",
}
FORBIDDEN_SUBMODULES = {"ui.render", "icalendar.tests", "sqlalchemy.testing"}
# Qt the app does not use (it uses QtCore, QtGui, QtWidgets and QtPrintSupport: ui/qt.py).
FORBIDDEN_QT = re.compile(
    r"Qt6?(Network|Qml|Quick|WebEngine|WebChannel|3D|Multimedia|Pdf|Sql|Test|Designer|UiTools|Charts)"
    r"|/translations/|\.qm$"
)
PYSIDE_MODULES = {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtPrintSupport"}
# What the app needs at run time, as modules in the bundle's archive...
REQUIRED_MODULES = {
    "ui.cli",
    "ui.app",
    "ui.calendar",
    "localfirst.ics",
    "sync.mirror",
    "spake2",
    "icalendar",
    "dateutil.rrule",
    "zeroconf",
    "watchdog.observers.inotify",
    "sqlalchemy.dialects.sqlite",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "tzdata",
}
# ...and as files.
REQUIRED_FILES = {
    "localfirst",
    "localfirst.desktop",
    "localfirst.png",
    "_internal/tzdata/zoneinfo/Europe/Berlin",
    "_internal/tzdata/zoneinfo/America/New_York",
    "_internal/PySide6/Qt/plugins/platforms/libqxcb.so",
    "_internal/PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "_internal/PySide6/Qt/plugins/platforms/libqwayland.so",
    "_internal/PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
}


@dataclass(frozen=True)
class Bundle:
    folder: Path
    work: Path
    seconds: float

    @property
    def exe(self) -> Path:
        return self.folder / "localfirst"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A fresh build (``--clean``, new dist and work folders): nothing cached can hide a failure."""
    out = tmp_path_factory.mktemp("bundle")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "DISTPATH": str(out / "dist"),
        "WORKPATH": str(out / "work"),
    }
    start = time.monotonic()
    build = subprocess.run(
        ["bash", str(ROOT / "packaging" / "build.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    seconds = time.monotonic() - start
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    print(f"\nbuild: {seconds:.0f} s, {_size(out / 'dist' / 'localfirst') / 2**20:.0f} MiB")
    return Bundle(out / "dist" / "localfirst", out / "work", seconds)


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    """A bare environment: nothing from the test's virtualenv, Qt settings or home leaks in."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_RUNTIME_DIR": str(runtime),
        "LANG": "C.UTF-8",
    }


def _offline_prefix() -> list[str] | None:
    """A command prefix running a program in a new network namespace: loopback only.

    The app's node listens on every interface and announces itself by zeroconf on the LAN
    one; inside the namespace there is no LAN, so nothing leaves the machine. None if this
    machine cannot make one (no privileges for namespaces).
    """
    if shutil.which("unshare") is None:
        return None
    script = 'ip link set lo up 2>/dev/null; exec "$0" "$@"'
    for flags in (["-n"], ["-r", "-n"]):  # as root, else in a user namespace
        prefix = ["unshare", *flags, "sh", "-c", script]
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return prefix
    return None


@pytest.fixture(scope="module")
def offline() -> list[str]:
    prefix = _offline_prefix()
    if prefix is None:
        pytest.skip("cannot make a network namespace (unshare -n): the app would use the LAN")
    return prefix


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _archived_modules(exe: Path) -> set[str]:
    """The module names in the executable's PYZ archive (the bundle's Python code)."""
    readers = importlib.import_module("PyInstaller.archive.readers")
    pkg = readers.CArchiveReader(str(exe))
    names: set[str] = set(pkg.open_embedded_archive("PYZ.pyz").toc)
    return names


def _maps(pid: int) -> set[str]:
    """The files a process has mapped: the shared libraries and plugins it loaded."""
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        return {line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6}


def _stop(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _assert_clean(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "Warning:" not in stderr, stderr
    assert "Could not load the Qt platform plugin" not in stderr, stderr
    assert "Cannot load library" not in stderr, stderr


def test_build_time(bundle: Bundle) -> None:
    assert bundle.seconds < BUILD_TIMEOUT
    assert bundle.exe.is_file()
    assert os.access(bundle.exe, os.X_OK)


def test_version(bundle: Bundle, run_env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(bundle.exe), "--version"], env=run_env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"localfirst {__version__}"
    _assert_clean(result.stderr)


def test_serve_headless(bundle: Bundle, run_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "node"
    proc = subprocess.Popen(
        [str(bundle.exe), "--data", str(data), "serve", "--loopback", "--port", "0"],
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "serve printed nothing in 60 s"
        line = proc.stdout.readline()
        assert line, f"serve exited: {proc.wait(10)} {proc.stderr.read() if proc.stderr else ''}"
        hello = json.loads(line)
        port = hello["port"]
        assert isinstance(port, int)
        assert 0 < port < 65536
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass
        # The bundle's own client finds the running node through its data folder.
        status = subprocess.run(
            [str(bundle.exe), "--data", str(data), "status", "--json"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["device"] == hello["device"]
        assert proc.poll() is None
        # A headless node loads no GUI (DESIGN.md). (PyInstaller's PySide6 run-time hook does
        # import QtCore at start-up, to relocate Qt; QtGui, QtWidgets and the plugins stay out.)
        gui = re.compile(r"libQt6(Gui|Widgets|XcbQpa|WaylandClient)\.|/plugins/|PySide6/Qt(Gui|Widgets)\.")
        assert not [path for path in _maps(proc.pid) if gui.search(path)]
    finally:
        code, _out, err = _stop(proc)
    assert code == 0, err
    _assert_clean(err)
    assert (data / "library.sqlite").is_file()


def test_gui_offscreen(bundle: Bundle, run_env: dict[str, str], tmp_path: Path, offline: list[str]) -> None:
    data = tmp_path / "app"
    proc = subprocess.Popen(
        [*offline, str(bundle.exe), "--data", str(data), "gui"],
        env={**run_env, "QT_QPA_PLATFORM": "offscreen"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the app exited with {proc.returncode}: {proc.communicate()}"
            time.sleep(0.2)
        # Let the library open in the background (a loaded machine may need a moment).
        wait_for((data / "library.sqlite").exists, 30, "the library file")
        assert proc.poll() is None
        mapped = _maps(proc.pid)
    finally:
        code, _out, err = _stop(proc)
    assert code in (0, -signal.SIGTERM), err
    _assert_clean(err)
    assert (data / "library.sqlite").is_file()
    bundled = str(bundle.folder.resolve())
    assert any(path.endswith("/platforms/libqoffscreen.so") for path in mapped), sorted(mapped)
    assert any(path.endswith("/libQt6Widgets.so.6") for path in mapped), sorted(mapped)
    strays = [p for p in mapped if ("Qt6" in p or "PySide6" in p or "python3" in p) and bundled not in p]
    assert not strays, "the bundle loaded Qt or Python from outside itself"


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A private X server on a display it picks itself; its DISPLAY value."""
    if not (shutil.which("Xvfb") and shutil.which("xwininfo")):
        pytest.skip("needs Xvfb and xwininfo (Debian: xvfb, x11-utils)")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        assert ready, "Xvfb did not start"
        number = os.read(read, 64).decode().strip()
        assert number.isdigit(), number
        yield f":{number}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(10)


def test_gui_xcb_window_maps(
    bundle: Bundle, run_env: dict[str, str], tmp_path: Path, offline: list[str], xvfb: str
) -> None:
    """On an X server the xcb plugin loads and the main window appears, with the class the
    .desktop file names (StartupWMClass), so desktops match the window to the entry's icon."""
    env = {**run_env, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen(
        [*offline, str(bundle.exe), "--data", str(tmp_path / "app"), "gui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    window = None
    try:
        deadline = time.monotonic() + 30
        while window is None and time.monotonic() < deadline:
            assert proc.poll() is None, f"the app exited with {proc.returncode}: {proc.communicate()}"
            tree = subprocess.run(
                ["xwininfo", "-root", "-tree"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
            window = re.search(r'\("([^"]*)" "([^"]*)"\)\s+(\d+)x(\d+)', tree)
            time.sleep(0.3)
        assert window is not None, "no application window mapped in 30 s"
        assert proc.poll() is None
        mapped = _maps(proc.pid)
    finally:
        code, _out, err = _stop(proc)
    assert code in (0, -signal.SIGTERM), err
    _assert_clean(err)
    assert any(path.endswith("/platforms/libqxcb.so") for path in mapped)
    _instance, wm_class, width, height = window.groups()
    assert int(width) >= 300
    assert int(height) >= 200
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.read(bundle.folder / "localfirst.desktop", encoding="utf-8")
    assert desktop["Desktop Entry"]["StartupWMClass"] == wm_class


def test_contents(bundle: Bundle) -> None:
    files = {str(p.relative_to(bundle.folder)) for p in bundle.folder.rglob("*")}
    assert files >= REQUIRED_FILES, sorted(REQUIRED_FILES - files)
    assert list(bundle.folder.glob("_internal/cryptography/hazmat/bindings/_rust*"))
    parts = {part.split(".")[0] for path in files for part in Path(path).parts}
    assert not parts & FORBIDDEN_MODULES, sorted(parts & FORBIDDEN_MODULES)
    qt_strays = sorted(path for path in files if FORBIDDEN_QT.search(path))
    assert not qt_strays
    dangling = sorted(str(p) for p in bundle.folder.rglob("*") if p.is_symlink() and not p.exists())
    assert not dangling

    modules = _archived_modules(bundle.exe)
    assert modules >= REQUIRED_MODULES, sorted(REQUIRED_MODULES - modules)
    tops = {name.split(".")[0] for name in modules}
    assert not tops & FORBIDDEN_MODULES, sorted(tops & FORBIDDEN_MODULES)
    subs = {
        name for name in modules if any(name == s or name.startswith(s + ".") for s in FORBIDDEN_SUBMODULES)
    }
    assert not subs, sorted(subs)
    bindings = {f"PySide6.{p.name.split('.')[0]}" for p in bundle.folder.glob("_internal/PySide6/Qt*.so")}
    assert bindings == PYSIDE_MODULES


def test_size_and_desktop_entry(bundle: Bundle) -> None:
    size = _size(bundle.folder)
    assert size < SIZE_BUDGET, f"{size / 2**20:.0f} MiB: did a trim stop working? (packaging/README.md)"
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.read(bundle.folder / "localfirst.desktop", encoding="utf-8")
    entry = desktop["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "localfirst"
    assert entry["Icon"] == "localfirst"
    assert (bundle.folder / "localfirst.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    validate = shutil.which("desktop-file-validate")
    if validate:
        check = subprocess.run(
            [validate, str(bundle.folder / "localfirst.desktop")], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr
