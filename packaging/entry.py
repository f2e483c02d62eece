"""The bundle's entry script: PyInstaller freezes this into the ``localfirst`` executable.

It is the console entry point (``localfirst = "ui.cli:main"``) as a script, nothing more.
"""

from __future__ import annotations

import sys

from ui.cli import main

if __name__ == "__main__":
    sys.exit(main())
