"""Child process of test_import_crash.py (not a test module): imports a folder until done or killed.

Usage: ``python crash_importer.py FILE FOLDER``. Creates the library in FILE (device ``D``) if
the file does not exist, else opens it, prints ``ready``, then imports the folder's files one at
a time through ``storage.files.import_files``, printing ``done <name>`` once each import has
returned (the file's transaction is durable then) and ``finished`` at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

import storage
from storage.files import import_files


def main(path: Path, folder: Path) -> None:
    if path.exists():
        replica = storage.open_replica(path)
    else:
        replica = storage.create_library(path, "D", device_name="import crash test")
    print("ready", flush=True)
    for item in sorted(folder.iterdir()):
        report = import_files(replica, [item])
        if not report.ok:
            print("error " + "; ".join(report.messages()), flush=True)
            sys.exit(1)
        print(f"done {item.name}", flush=True)
    replica.close()
    print("finished", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
