"""Benchmark: replay a sequential editing trace through TextDoc, pycrdt and loro.

Usage: ``python tests/perf/text_trace.py [--trace PATH]``. Replays one
transaction per patch in one process, checks every result against the trace's
``endContent`` (exit status 1 on mismatch) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from localfirst.text import TextDoc, TextOps, decode_ops, encode_ops  # noqa: E402

DEFAULT_TRACE = REPO.parent / "shared" / "traces" / "automerge-paper.json.gz"

Patch = tuple[int, int, str]


class Mismatch(Exception):
    """A replay did not end at the trace's endContent."""


def load(path: Path) -> tuple[list[Patch], str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    patches = [(p[0], p[1], p[2]) for t in data["txns"] for p in t["patches"]]
    return patches, data["endContent"]


def check(name: str, got: str, want: str) -> None:
    if got != want:
        at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
        raise Mismatch(f"{name}: result differs from endContent (first difference at {at})")


def bench_ours(patches: list[Patch], end: str) -> dict[str, Any]:
    clock = time.perf_counter

    # Headline: an editor calling local_edit once per patch (ops sent, dropped).
    doc = TextDoc("a" * 64)
    edit = doc.local_edit
    gc.collect()
    t0 = clock()
    for pos, dl, ins in patches:
        edit(pos, dl, ins)
    ours_s = clock() - t0
    check("ours", doc.text, end)

    # Same, but every returned op batch is kept (they feed the remote replay);
    # a million live small objects make the cyclic GC work harder.
    sender = TextDoc("a" * 64)
    edit = sender.local_edit
    batches: list[TextOps] = []
    keep = batches.append
    gc.collect()
    t0 = clock()
    for pos, dl, ins in patches:
        keep(edit(pos, dl, ins))
    keep_s = clock() - t0
    check("ours (keeping ops)", sender.text, end)

    # Per-keystroke latency distribution.
    timed = TextDoc("a" * 64)
    edit = timed.local_edit
    per: list[float] = []
    lap = per.append
    gc.collect()
    for pos, dl, ins in patches:
        s = clock()
        edit(pos, dl, ins)
        lap(clock() - s)
    check("ours (timed)", timed.text, end)
    per.sort()
    p99 = per[min(len(per) - 1, int(len(per) * 0.99))] * 1e6

    # The sender encodes each keystroke's ops as its own batch; the remote
    # replica decodes and applies them one by one.
    wire = [encode_ops(b) for b in batches]
    batches.clear()  # the receiving replica would not hold the sender's objects
    del sender, timed
    remote = TextDoc("b" * 64)
    apply = remote.apply
    gc.collect()
    t0 = clock()
    for data in wire:
        apply(decode_ops(data))
    remote_s = clock() - t0
    check("ours remote replay", remote.text, end)

    # A peer catching up in one sync: the whole history as one encoded batch.
    bulk = encode_ops(doc.ops_since({}))
    fresh = TextDoc("e" * 64)
    gc.collect()
    t0 = clock()
    fresh.apply(decode_ops(bulk))
    bulk_s = clock() - t0
    check("ours bulk sync", fresh.text, end)

    state_bytes, load_ms = _bench_load(doc, end)
    return {
        "ours_s": round(ours_s, 4),
        "ours_keep_ops_s": round(keep_s, 4),
        "remote_replay_s": round(remote_s, 4),
        "remote_batches": len(wire),
        "remote_bulk_s": round(bulk_s, 4),
        "remote_bulk_bytes": len(bulk),
        "state_bytes": state_bytes,
        "load_ms": load_ms,
        "items": doc.items(),
        "keystroke_us_p99": round(p99, 2),
        "keystroke_us_max": round(per[-1] * 1e6, 1),
    }


def _bench_load(doc: TextDoc, end: str) -> tuple[int, float]:
    """The saved state's size and the median of five loads of it, in ms."""
    state = doc.encode_state()
    loads = []
    for _ in range(5):
        t0 = time.perf_counter()
        loaded = TextDoc.decode_state(state, "c" * 64)
        loads.append(time.perf_counter() - t0)
    check("ours decode_state", loaded.text, end)
    return len(state), round(sorted(loads)[len(loads) // 2] * 1000, 2)


def bench_pycrdt(patches: list[Patch], end: str) -> dict[str, Any]:
    from pycrdt import Doc, Text

    doc: Any = Doc()
    text = doc.get("t", type=Text)
    gc.collect()
    t0 = time.perf_counter()
    for pos, dl, ins in patches:
        with doc.transaction():
            if dl:
                del text[pos : pos + dl]
            if ins:
                text.insert(pos, ins)
    elapsed = time.perf_counter() - t0
    check("pycrdt", str(text), end)
    return {"pycrdt_s": round(elapsed, 4), "pycrdt_state_bytes": len(doc.get_update())}


def bench_loro(patches: list[Patch], end: str) -> dict[str, Any]:
    from loro import ExportMode, LoroDoc

    doc = LoroDoc()
    text = doc.get_text("t")
    gc.collect()
    t0 = time.perf_counter()
    for pos, dl, ins in patches:
        if dl:
            text.delete(pos, dl)
        if ins:
            text.insert(pos, ins)
        doc.commit()
    elapsed = time.perf_counter() - t0
    check("loro", text.to_string(), end)
    return {"loro_s": round(elapsed, 4), "loro_state_bytes": len(doc.export(ExportMode.Snapshot()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE)
    args = parser.parse_args(argv)
    patches, end = load(args.trace)
    result: dict[str, Any] = {"trace": args.trace.name, "patches": len(patches)}
    try:
        result |= bench_ours(patches, end)
        result |= bench_pycrdt(patches, end)
        result |= bench_loro(patches, end)
    except Mismatch as exc:
        print(f"MISMATCH: {exc}", file=sys.stderr)
        return 1
    result["ratio_vs_pycrdt"] = round(result["ours_s"] / result["pycrdt_s"], 3)
    result["ratio_vs_loro"] = round(result["ours_s"] / result["loro_s"], 3)
    result["text_chars"] = len(end)
    result["state_ratio"] = round(result["state_bytes"] / max(1, len(end)), 3)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
