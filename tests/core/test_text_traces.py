"""Replays of real editing traces through the text CRDT (exact end texts)."""

from __future__ import annotations

import gzip
import json
from bisect import bisect_left
from pathlib import Path
from typing import Any

import pytest

from localfirst.text import Delete, Insert, Op, TextDoc, decode_ops, encode_ops

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "traces"


def _load(name: str) -> dict[str, Any]:
    path = TRACES / name
    if not path.exists():
        pytest.skip(f"trace {path} not available")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _replay_sequential(name: str) -> None:
    data = _load(name)
    doc = TextDoc("a" * 64)
    remote = TextDoc("b" * 64)
    for txn in data["txns"]:
        ops: list[Op] = []
        for pos, deleted, inserted in txn["patches"]:
            ops.extend(doc.local_edit(pos, deleted, inserted))
        remote.apply(decode_ops(encode_ops(ops)))
    end = data["endContent"]
    assert doc.text == end
    assert remote.text == end
    assert remote.version() == doc.version()
    loaded = TextDoc.decode_state(doc.encode_state(), "c" * 64)
    assert loaded.text == end
    assert loaded.version() == doc.version()
    # A peer that syncs from the loaded snapshot alone ends at the same text.
    fresh = TextDoc("d" * 64)
    fresh.apply(decode_ops(encode_ops(loaded.ops_since({}))))
    assert fresh.text == end
    assert fresh.pending() == 0


def test_sveltecomponent_sequential() -> None:
    _replay_sequential("sveltecomponent.json.gz")


def test_automerge_paper_sequential() -> None:
    _replay_sequential("automerge-paper.json.gz")


def _slice_ops(ops: list[Op], starts: list[int], lo: int, hi: int) -> list[Op]:
    """The ops (of one agent, seq order; ``starts`` their seqs) with seqs in [lo, hi)."""
    out = ops[bisect_left(starts, lo) : bisect_left(starts, hi)]
    # Txn boundaries are op boundaries, so no op straddles lo or hi.
    for op in out:
        n = len(op.text) if isinstance(op, Insert) else op.length
        assert lo <= op.seq
        assert op.seq + n <= hi
    return out


def test_friendsforever_concurrent() -> None:
    data = _load("friendsforever.concurrent.json.gz")
    txns = data["txns"]
    names = [f"{i:064x}" for i in range(data["numAgents"])]
    replicas = {name: TextDoc(name) for name in names}
    log: dict[str, list[Op]] = {name: [] for name in names}  # per agent, seq order
    starts: dict[str, list[int]] = {name: [] for name in names}
    after: list[dict[str, int]] = []  # version after each txn
    for txn in txns:
        agent = names[txn["agent"]]
        need: dict[str, int] = {}
        for p in txn["parents"]:
            for a, n in after[p].items():
                need[a] = max(need.get(a, 0), n)
        doc = replicas[agent]
        have = doc.version()
        # Each agent's txns form a chain, so its replica is never ahead.
        assert all(have.get(a, 0) <= need.get(a, 0) for a in have)
        missing: list[Op] = []
        for a in names:
            missing += _slice_ops(log[a], starts[a], have.get(a, 0), need.get(a, 0))
        # Deliver as an encoded batch, in reverse to exercise the pending buffer.
        doc.apply(decode_ops(encode_ops(missing[::-1])))
        assert doc.pending() == 0
        assert doc.version() == {a: n for a, n in need.items() if n}
        for pos, deleted, inserted in txn["patches"]:
            for op in doc.local_edit(pos, deleted, inserted):
                log[agent].append(op)
                starts[agent].append(op.seq)
        after.append(doc.version())
    merged = TextDoc("f" * 64)
    for a in names:
        merged.apply(log[a])
    assert merged.text == data["endContent"]
    for doc in replicas.values():
        doc.apply(merged.ops_since(doc.version()))
        assert doc.text == data["endContent"]
    assert sum(isinstance(op, Delete) for ops in log.values() for op in ops) > 0
