"""Suite-wide settings: Hypothesis runs the same examples on every run (a red CI is one a person
can reproduce), unless LOCALFIRST_EXPLORE=1 asks it to search new ones, as a developer does
before landing a change to the merge rules."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("LOCALFIRST_EXPLORE") == "1" else "repeatable")
