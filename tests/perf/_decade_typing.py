"""Editing bursts for the ten-year library: how people type a note, as runs of keystrokes.

A trace (../shared/traces/automerge-paper.json.gz, when it is there) is cut into runs: a run of
characters typed in a row, a run of backspaces, or a jump of the cursor. Writing a note replays
those runs, from a different place in the run list for each note, with text of its own, and cuts
them into bursts (one write each). Without the trace, the runs come from a generated keystroke
history of the same kind (``sync_catchup.generated_patches``), so the benchmark runs in a clone
with nothing beside it.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

from tests.perf.sync_catchup import generated_patches


def _find_trace(name: str = "automerge-paper.json.gz") -> Path:
    """../shared/traces beside the checkout, or beside any folder above it (a worktree's)."""
    repo = Path(__file__).resolve().parents[2]
    for folder in repo.parents:
        if (folder / "shared" / "traces" / name).exists():
            return folder / "shared" / "traces" / name
    return repo.parent / "shared" / "traces" / name


TRACE = _find_trace()

#: A run: ("ins", n) typed characters, ("del", n) backspaces, or ("jump", 0) a cursor move.
Run = tuple[str, int]
Patch = tuple[int, int, str]

WORDS = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "meeting",
    "plan",
    "notes",
    "idea",
    "budget",
    "garden",
    "travel",
    "recipe",
    "book",
    "project",
    "draft",
    "review",
    "call",
    "friday",
    "monday",
    "weekend",
    "tickets",
    "school",
    "doctor",
    "invoice",
    "ideas",
    "list",
    "later",
    "maybe",
    "remember",
    "buy",
    "milk",
    "coffee",
    "design",
    "sketch",
    "question",
    "answer",
    "reading",
    "chapter",
    "summary",
    "quarter",
    "report",
    "launch",
    "team",
    "family",
    "birthday",
    "holiday",
    "flight",
    "hotel",
    "museum",
    "concert",
    "river",
    "mountain",
]


def trace_runs(patches: list[Patch]) -> list[Run]:
    """Cut keystrokes into runs of typing, runs of backspaces and jumps of the cursor."""
    runs: list[Run] = []
    cursor = -1
    for pos, deleted, inserted in patches:
        if deleted == 0 and len(inserted) == 1 and pos == cursor:
            kind = "ins"
        elif deleted == 1 and not inserted and pos in (cursor - 1, cursor):  # backspace, delete
            kind = "del"
        else:
            runs.append(("jump", 0))
            kind = "ins" if inserted else "del"
        count = len(inserted) if kind == "ins" else deleted
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, runs[-1][1] + count)
        else:
            runs.append((kind, count))
        cursor = pos + len(inserted)
    return runs


def load_runs(use_trace: bool = True) -> tuple[list[Run], str]:
    """The run list and where it came from ("automerge-paper" or "generated")."""
    if use_trace and TRACE.exists():
        with gzip.open(TRACE, "rt", encoding="utf-8") as f:
            data: dict[str, Any] = json.load(f)
        patches = [(p[0], p[1], p[2]) for t in data["txns"] for p in t["patches"]]
        return trace_runs(patches), "automerge-paper"
    return trace_runs(generated_patches(100_000, seed=11)), "generated"


def net_per_keystroke(runs: list[Run]) -> float:
    """Characters a note grows by per keystroke, on average over the run list."""
    typed = sum(n for k, n in runs if k == "ins")
    erased = sum(n for k, n in runs if k == "del")
    return max(0.05, (typed - erased) / max(1, typed + erased))


class Typist:
    """Writes note bodies as bursts of editing replayed from a run list, with words of its own."""

    def __init__(self, runs: list[Run], seed: int) -> None:
        self.runs = runs
        self.rng = random.Random(seed)
        words = [self.rng.choice(WORDS) for _ in range(200_000)]
        self.prose = " ".join(words) + " "
        self._at = 0
        self.net = net_per_keystroke(runs)

    def _chunk(self, n: int) -> str:
        """The next ``n`` characters of prose (exactly ``n``: bursts count on it)."""
        start = self._at if self._at + n <= len(self.prose) else 0
        self._at = start + n
        return self.prose[start : start + n]

    def bursts(self, length: int, writes: int) -> list[list[Patch]]:
        """``writes`` bursts of editing that leave a body of about ``length`` characters."""
        at = self.rng.randrange(len(self.runs))
        size = cursor = 0
        out: list[list[Patch]] = []
        for left in range(writes, 0, -1):
            # Keystrokes enough to reach the length by the last burst (a burst of at least a word).
            per_burst = min(400, max(6, round((length - size) / self.net / left)))
            burst: list[Patch] = []
            keys = 0
            while keys < per_burst:
                kind, n = self.runs[at]
                at = (at + 1) % len(self.runs)
                if kind == "jump":
                    cursor = self.rng.randint(0, size)
                elif kind == "ins":
                    n = min(n, per_burst - keys + 8)
                    burst.append((cursor, 0, self._chunk(n)))
                    cursor, size, keys = cursor + n, size + n, keys + n
                else:
                    gone = min(n, cursor)
                    if gone:
                        burst.append((cursor - gone, gone, ""))
                        cursor, size = cursor - gone, size - gone
                    keys += n
            if not burst:  # only backspaces at the start: type a word instead
                burst.append((cursor, 0, self._chunk(6)))
                cursor, size = cursor + 6, size + 6
            out.append(burst)
        return out
