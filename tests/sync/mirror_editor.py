"""Another program editing a mirror file, for the concurrency tests: run as its own process.

    python mirror_editor.py FILE COUNT PREFIX

Saves FILE COUNT times the way editors do (read it, append a line ``PREFIX i`` to a note, or an
event with UID ``PREFIX-i`` to an ``.ics`` calendar, write a temporary file, rename it over the
original), pausing a few milliseconds between saves, so its saves land while the app and a peer
edit the same file.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path


def _event(uid: str) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        "DTSTART;VALUE=DATE:20260105",
        "DTEND;VALUE=DATE:20260106",
        f"SUMMARY:{uid}",
        "END:VEVENT",
        "",
    ]
    return "\r\n".join(lines)


def main() -> None:
    path, count, prefix = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(prefix)
    for i in range(count):
        with path.open(encoding="utf-8", newline="") as f:
            text = f.read()
        if path.suffix == ".ics":
            text = text.replace("END:VCALENDAR", _event(f"{prefix}-{i}") + "END:VCALENDAR")
        else:
            text = text + ("" if text.endswith("\n") else "\n") + f"{prefix} {i}\n"
        temp = path.with_name(f".{path.name}.{i}.tmp")
        with temp.open("w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(temp, path)
        time.sleep(rng.uniform(0.005, 0.06))
    print("done", flush=True)


if __name__ == "__main__":
    main()
