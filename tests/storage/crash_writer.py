"""Child process of test_crash.py (not a test module): writes notes until it is killed.

Usage: ``python crash_writer.py FILE``. Creates the library in FILE (device ``D``) if the file
does not exist, else opens it, prints ``ready``, then writes notes ``n<i>`` (``i`` continuing
after the notes already in the file) through the public API. After each call returns -- the
write is durable then -- it prints the note's id and flushes, so the parent knows exactly which
writes the "UI" showed as saved. Every tenth note it also commits, so kills land in commits too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import storage

DEVICE = "D"


def main(path: Path) -> None:
    if path.exists():
        replica = storage.open_replica(path)
    else:
        replica = storage.create_library(path, DEVICE, device_name="crash test")
    i = len(replica.entities("note"))
    print("ready", flush=True)
    while True:
        entity = replica.create("note", {"title": f"n{i}", "body": "x" * (i % 7) * 100}, entity=f"n{i}")
        print(entity, flush=True)
        if i % 10 == 9:
            replica.commit()
            print(f"commit {replica.csn}", flush=True)
        i += 1


if __name__ == "__main__":
    main(Path(sys.argv[1]))
