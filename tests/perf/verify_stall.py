"""How long a node's loop stalls during its start-up full check, and how long an invite waits.

Starts a node on a copy of a library (``--data``: a data folder the run may write to), with a
task sleeping 10 ms in a loop and recording its lateness (the loop's worst stall), and after
``--invite-at`` seconds runs ``localfirst invite`` in another process through the node's
control socket, timing it until the pairing code is printed. Ends when the start-up check has
been recorded and the invite answered (or failed). Prints one JSON line.

    PYTHONPATH=$PWD nice -n 10 python tests/perf/verify_stall.py --data /tmp/copy/primary
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sync.node import Node

_CLI = "import sys; from ui.cli import main; sys.exit(main())"


class _Probe:
    """Sleeps ``tick`` seconds in a loop, recording how late each wake-up is."""

    def __init__(self, tick: float = 0.01) -> None:
        self.tick = tick
        self.worst = 0.0
        self.over_100ms = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.tick)
            late = loop.time() - asked - self.tick
            self.worst = max(self.worst, late)
            self.over_100ms += late > 0.1


def _invite(data: Path, after: float) -> tuple[float, str]:
    """Seconds until ``localfirst invite``, run ``after`` seconds from now, printed its code
    (or ended), and its first line."""
    time.sleep(after)
    started = time.perf_counter()
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLI, "--data", str(data), "invite"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    took = time.perf_counter() - started
    proc.terminate()
    proc.wait()
    return took, line


async def _main(data: Path, invite_at: float) -> dict[str, object]:
    node = Node(data, discovery=False)
    probe = _Probe()
    cpu, wall = time.process_time(), time.perf_counter()
    probing = asyncio.get_running_loop().create_task(probe.run())
    await node.start()
    started = time.perf_counter() - wall
    # Its own thread, which waits on its own clock: a blocked loop cannot delay the ask.
    invite = asyncio.get_running_loop().run_in_executor(None, _invite, data, invite_at)
    while node.verifier.last is None:
        await asyncio.sleep(0.05)
    checked = time.perf_counter() - wall
    invite_s, line = await invite
    probing.cancel()
    report = node.verifier.last
    await node.stop()
    return {
        "start_s": round(started, 2),
        "check_done_s": round(checked, 2),
        "check_ok": report.ok,
        "checked_rows": report.checked,
        "worst_stall_ms": round(probe.worst * 1000, 1),
        "stalls_over_100ms": probe.over_100ms,
        "invite_s": round(invite_s, 2),
        "invite_said": line[:80],
        "cpu_s": round(time.process_time() - cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--invite-at", type=float, default=1.0, help="seconds after start")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_main(args.data, args.invite_at))))


if __name__ == "__main__":
    main()
