"""Another program editing a mirror file, for the concurrency tests: run as its own process.

    python mirror_editor.py FILE COUNT PREFIX

Saves FILE COUNT times the way editors do (read it, append a line ``PREFIX i``, write a
temporary file, rename it over the original), pausing a few milliseconds between saves, so its
saves land while the app and a peer edit the same note.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path


def main() -> None:
    path, count, prefix = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(prefix)
    for i in range(count):
        text = path.read_text(encoding="utf-8")
        if not text.endswith("\n"):
            text += "\n"
        temp = path.with_name(f".{path.name}.{i}.tmp")
        temp.write_text(f"{text}{prefix} {i}\n", encoding="utf-8")
        os.replace(temp, path)
        time.sleep(rng.uniform(0.005, 0.06))
    print("done", flush=True)


if __name__ == "__main__":
    main()
