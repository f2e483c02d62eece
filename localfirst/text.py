"""Text CRDT for note bodies: a run-length encoded YATA/Fugue sequence.

Every character has a globally unique id ``(agent, seq)``; an agent's
``seq`` counts its operations (one per inserted and per deleted character),
so a version is just "how many ops of each agent I have" and always
describes a per-agent prefix. Inserted characters remember the neighbours
their author saw (origin left / origin right); concurrent inserts at one
place are ordered with Gentle's "YjsMod" rule, which is FugueMax: runs typed
concurrently at the same spot never interleave.

Layout, chosen for an editor's hot path in pure Python:

* Items are runs of consecutive ids typed left to right by one agent, kept as
  small lists (fields below) so that loading a snapshot builds them with
  ``zip``/``map`` in C rather than a Python loop.
* Items live in blocks of at most ``_MAX_BLOCK`` items; each block knows its
  visible length, so position -> item is a walk over block lengths from a
  cached cursor, then over one block's items.
* Typing right after the previous local insert just extends that run: no
  lookup at all.
* The id -> item index (per agent, sorted starts + bisect) is built only when
  a remote operation first needs it; purely local editing never pays for it.

Deleted characters keep their id and position (tombstones) but not their
content. Deletes are logged as runs (a backspace burst is one run) because
peers that lack them must still be told; ``encode_state`` stores the items,
the live text and that log, deflated, so loading is a bulk decode, not a
replay. Received ops whose predecessors are missing wait in memory only:
``encode_state`` does not save them.
"""

from __future__ import annotations

import gc
import heapq
from bisect import bisect_right
from itertools import accumulate, chain, groupby, repeat
from operator import itemgetter
from typing import Any

from localfirst._textcodec import (
    Delete,
    Id,
    Insert,
    LoadedState,
    Op,
    StateColumns,
    TextFormatError,
    TextOps,
    decode_ops,
    encode_ops,
    pack_state,
    unpack_state,
)

__all__ = [
    "Delete",
    "Id",
    "Insert",
    "Op",
    "TextDoc",
    "TextFormatError",
    "TextOps",
    "decode_ops",
    "encode_ops",
]

# Item fields. SEQ comes first so list equality (used by list.index) fails on
# the first field for distinct items.
SEQ, VIS, LEN, AGENT, CONTENT, LA, LS, RA, RS, BLOCK = range(10)
Item = list[Any]

_MAX_BLOCK = 64
_LOAD_BLOCK = 32
# Deleted content is not kept; resending a deleted run needs some characters.
_PLACEHOLDER = "\ufffd"
_get_vis = itemgetter(VIS)
_get_content = itemgetter(CONTENT)
_get_first = itemgetter(0)
_get_second = itemgetter(1)


class _Block:
    """A slice of the item list with its visible length and cached text."""

    __slots__ = ("items", "text", "vis")

    def __init__(self, items: list[Item], vis: int) -> None:
        self.items = items
        self.vis = vis
        self.text: str | None = None


class TextDoc:
    """One replica of a note body. ``agent`` is this device's id string."""

    def __init__(self, agent: str) -> None:
        if not isinstance(agent, str) or not agent:
            raise ValueError("agent must be a non-empty string")
        self.agent = agent
        self._blocks: list[_Block] = [_Block([], 0)]
        self._len = 0
        self._seq = 0
        self._vv: dict[str, int] = {}
        # Per agent: delete runs [seq, target_agent, target_seq, n, step], op
        # seq+i deleted (target_agent, target_seq + step*i).
        self._dels: dict[str, list[list[Any]]] = {}
        # A loaded snapshot's delete log, expanded into _dels on first use.
        self._dels_raw: LoadedState | None = None
        self._index: dict[str, tuple[list[int], list[Item]]] | None = None
        # Ops waiting for a dependency, per awaited agent: (awaited seq, n, op).
        self._parked: dict[str, list[tuple[int, int, Op]]] = {}
        self._n_parked = 0
        self._park_tick = 0
        self._text: str | None = ""
        # Cursor cache: block index and the visible position where it starts.
        self._bi = 0
        self._bstart = 0
        # Typing continues at _fast_pos by extending _fast_item (-1: no).
        self._fast_pos = -1
        self._fast_item: Item = []
        self._fast_right: Id | None = None

    # ------------------------------------------------------------- reading

    @property
    def text(self) -> str:
        """The current text (cached; rebuilt from per-block caches after edits)."""
        t = self._text
        if t is None:
            parts = []
            for b in self._blocks:
                bt = b.text
                if bt is None:
                    bt = b.text = "".join(map(_get_content, b.items))
                parts.append(bt)
            t = self._text = "".join(parts)
        return t

    def __len__(self) -> int:
        return self._len

    def version(self) -> dict[str, int]:
        """Per agent, how many of its operations (chars inserted + deleted) we have."""
        return dict(self._vv)

    def pending(self) -> int:
        """Number of received operations still waiting for a causal predecessor."""
        return self._n_parked

    def items(self) -> int:
        """Item (run) count after run-length merging, as stored by :meth:`encode_state`."""
        return len(self._runs())

    # --------------------------------------------------------- local edits

    def local_edit(self, pos: int, delete: int, insert: str) -> TextOps:
        """Delete ``delete`` chars at ``pos``, then insert ``insert`` there.

        Positions count Unicode code points of :attr:`text`. Returns the ops to
        send to peers.
        """
        n = len(insert)
        if pos == self._fast_pos and not delete and n:
            # Hot path: keep typing at the end of our own newest run.
            it = self._fast_item
            seq = self._seq
            it[LEN] += n
            it[VIS] += n
            it[CONTENT] += insert
            blk = it[BLOCK]
            blk.vis += n
            blk.text = None
            self._text = None
            self._len += n
            self._fast_pos = pos + n
            agent = self.agent
            self._seq = self._vv[agent] = seq + n
            return TextOps((Insert(agent, seq, (agent, seq - 1), self._fast_right, insert),))
        if pos < 0 or delete < 0 or pos + delete > self._len:
            raise IndexError(f"edit ({pos}, {delete}) outside text of length {self._len}")
        ops = TextOps()
        self._fast_pos = -1
        if delete:
            self._local_delete(pos, delete, ops)
        if n:
            self._local_insert(pos, insert, ops)
        return ops

    def _locate(self, c: int) -> tuple[int, int, int]:
        """(block index, item index, offset) of visible char ``c``."""
        blocks = self._blocks
        bi = self._bi
        bs = self._bstart
        if c < bs:
            while c < bs:
                bi -= 1
                bs -= blocks[bi].vis
        else:
            v = blocks[bi].vis
            while c >= bs + v:
                bs += v
                bi += 1
                v = blocks[bi].vis
        self._bi = bi
        self._bstart = bs
        c -= bs
        for ii, it in enumerate(blocks[bi].items):
            v = it[VIS]
            if c < v:
                return bi, ii, c
            c -= v
        raise AssertionError("block visible length out of sync")

    def _local_insert(self, pos: int, s: str, ops: TextOps) -> None:  # noqa: PLR0915 -- the text CRDT hot path: one call per keystroke or op, kept inline on purpose
        agent = self.agent
        seq = self._seq
        n = len(s)
        blocks = self._blocks
        left: Id | None
        if pos == 0:
            bi = 0
            ii = 0
            blk = blocks[0]
            items = blk.items
            la: str | None = None
            ls = 0
            left = None
            r: Item | None = items[0] if items else None
            self._bi = 0
            self._bstart = 0
        else:
            bi, ii, off = self._locate(pos - 1)
            blk = blocks[bi]
            items = blk.items
            it = items[ii]
            la = it[AGENT]
            ls = it[SEQ] + off
            left = (la, ls)
            if off < it[LEN] - 1:
                r = self._split(it, items, ii, off + 1)
            elif ii + 1 < len(items):
                r = items[ii + 1]
            else:
                r = blocks[bi + 1].items[0] if bi + 1 < len(blocks) else None
            ii += 1
        if r is None:
            ra: str | None = None
            rs = 0
            right: Id | None = None
        else:
            ra = r[AGENT]
            rs = r[SEQ]
            right = (ra, rs)
        if (
            la == agent
            and ls == seq - 1
            and pos
            and items[ii - 1][RA] == ra
            and items[ii - 1][RS] == rs
            and items[ii - 1][SEQ] + items[ii - 1][LEN] == seq
        ):
            # Continuing our own run (after a cursor move away and back).
            new = items[ii - 1]
            new[LEN] += n
            new[VIS] += n
            new[CONTENT] += s
        else:
            new = [seq, n, n, agent, s, la, ls, ra, rs, blk]
            items.insert(ii, new)
            idx = self._index
            if idx is not None:
                self._index_add(idx, new)
        blk.vis += n
        blk.text = None
        self._text = None
        self._len += n
        self._seq = self._vv[agent] = seq + n
        ops.append(Insert(agent, seq, left, right, s))
        if len(items) > _MAX_BLOCK:
            self._split_block(blk)
        self._fast_item = new
        self._fast_pos = pos + n
        self._fast_right = right

    def _local_delete(self, pos: int, count: int, ops: TextOps) -> None:
        agent = self.agent
        blocks = self._blocks
        bi, ii, off = self._locate(pos)
        blk = blocks[bi]
        items = blk.items
        remaining = count
        while remaining:
            if ii == len(items):
                if len(items) > _MAX_BLOCK:
                    self._split_block(blk)
                    bi += 1
                    # The split moved the second half (all already processed) on.
                bi += 1
                blk = blocks[bi]
                items = blk.items
                ii = 0
                continue
            it = items[ii]
            v = it[VIS]
            if not v:
                ii += 1
                continue
            if off:
                it = self._split(it, items, ii, off)
                ii += 1
                off = 0
                v = it[VIS]
            if remaining < v:
                self._split(it, items, ii, remaining)
                v = remaining
            it[VIS] = 0
            it[CONTENT] = ""
            blk.vis -= v
            blk.text = None
            remaining -= v
            tagent = it[AGENT]
            tseq = it[SEQ]
            seq = self._seq
            prev = ops[-1] if ops else None
            if type(prev) is Delete and prev.target_agent == tagent and prev.target_seq + prev.length == tseq:
                ops[-1] = prev._replace(length=prev.length + v)
            else:
                ops.append(Delete(agent, seq, tagent, tseq, v))
            self._log_delete(agent, seq, tagent, tseq, v)
            self._seq = seq + v
            ii = self._merge_around(items, ii)
        self._vv[agent] = self._seq
        self._len -= count
        self._text = None
        if len(items) > _MAX_BLOCK:
            self._split_block(blk)

    # ------------------------------------------------------ item plumbing

    def _split(self, it: Item, items: list[Item], ii: int, k: int) -> Item:
        """Split ``it`` (at ``items[ii]``) after ``k`` chars; return the right part."""
        seq = it[SEQ]
        ln = it[LEN]
        ag = it[AGENT]
        if it[VIS]:
            c = it[CONTENT]
            r = [seq + k, ln - k, ln - k, ag, c[k:], ag, seq + k - 1, it[RA], it[RS], it[BLOCK]]
            it[VIS] = k
            it[CONTENT] = c[:k]
        else:
            r = [seq + k, 0, ln - k, ag, "", ag, seq + k - 1, it[RA], it[RS], it[BLOCK]]
        it[LEN] = k
        items.insert(ii + 1, r)
        idx = self._index
        if idx is not None:
            starts, lst = idx[ag]
            j = bisect_right(starts, seq)
            starts.insert(j, seq + k)
            lst.insert(j, r)
        return r

    def _merge_around(self, items: list[Item], ii: int) -> int:
        """Merge the tombstone at ``items[ii]`` with tombstone neighbours.

        Returns the index of the first item after the (merged) tombstone.
        """
        if ii + 1 < len(items):
            self._merge_pair(items, ii)
        if ii and self._merge_pair(items, ii - 1):
            return ii
        return ii + 1

    def _merge_pair(self, items: list[Item], j: int) -> bool:
        a = items[j]
        b = items[j + 1]
        if (
            a[VIS]
            or b[VIS]
            or a[AGENT] != b[AGENT]
            or a[SEQ] + a[LEN] != b[SEQ]
            or b[LA] != a[AGENT]
            or b[LS] != b[SEQ] - 1
            or b[RA] != a[RA]
            or b[RS] != a[RS]
        ):
            return False
        a[LEN] += b[LEN]
        del items[j + 1]
        idx = self._index
        if idx is not None:
            starts, lst = idx[b[AGENT]]
            k = bisect_right(starts, b[SEQ]) - 1
            del starts[k]
            del lst[k]
        return True

    def _split_block(self, blk: _Block) -> None:
        blocks = self._blocks
        bi = blocks.index(blk)
        items = blk.items
        h = len(items) // 2
        moved = items[h:]
        del items[h:]
        vis = sum(map(_get_vis, moved))
        nb = _Block(moved, vis)
        for it in moved:
            it[BLOCK] = nb
        blk.vis -= vis
        blk.text = None
        blocks.insert(bi + 1, nb)
        if self._bi > bi:
            self._bi += 1

    def _log_delete(self, agent: str, seq: int, tagent: str, tseq: int, n: int) -> None:
        if self._dels_raw is not None:
            self._expand_dels()
        log = self._dels.get(agent)
        if log is None:
            self._dels[agent] = [[seq, tagent, tseq, n, 1]]
            return
        last = log[-1]
        if last[0] + last[3] == seq and last[1] == tagent:
            if last[4] == 1 and last[2] + last[3] == tseq:
                last[3] += n
                return
            # Backspacing: each op deletes the char before the previous one.
            if n == 1 and (last[4] == -1 or last[3] == 1) and last[2] - last[3] == tseq:
                last[4] = -1
                last[3] += 1
                return
        log.append([seq, tagent, tseq, n, 1])

    def _get_dels(self) -> dict[str, list[list[Any]]]:
        if self._dels_raw is not None:
            self._expand_dels()
        return self._dels

    def _expand_dels(self) -> None:
        c = self._dels_raw
        assert c is not None
        self._dels_raw = None
        entries = map(list, zip(c.d_seq, c.d_tagent, c.d_tseq, c.d_len, c.d_step, strict=True))
        dels: dict[str, list[list[Any]]] = {}
        # The encoder writes each agent's log contiguously.
        for a, group in groupby(zip(c.d_agent, entries, strict=True), key=_get_first):
            dels.setdefault(a, []).extend(map(_get_second, group))
        self._dels = dels

    def _index_add(self, idx: dict[str, tuple[list[int], list[Item]]], it: Item) -> None:
        entry = idx.get(it[AGENT])
        if entry is None:
            idx[it[AGENT]] = ([it[SEQ]], [it])
            return
        starts, lst = entry
        s = it[SEQ]
        if not starts or s > starts[-1]:
            starts.append(s)
            lst.append(it)
        else:
            j = bisect_right(starts, s)
            starts.insert(j, s)
            lst.insert(j, it)

    def _get_index(self) -> dict[str, tuple[list[int], list[Item]]]:
        idx = self._index
        if idx is None:
            by_agent: dict[str, list[Item]] = {}
            for b in self._blocks:
                for it in b.items:
                    lst = by_agent.get(it[AGENT])
                    if lst is None:
                        by_agent[it[AGENT]] = [it]
                    else:
                        lst.append(it)
            idx = {}
            get_seq = itemgetter(SEQ)
            for agent, lst in by_agent.items():
                lst.sort(key=get_seq)
                idx[agent] = (list(map(get_seq, lst)), lst)
            self._index = idx
        return idx

    def _lookup(self, agent: str, seq: int) -> tuple[Item, int]:
        idx = self._index
        if idx is None:
            idx = self._get_index()
        entry = idx.get(agent)
        if entry is not None:
            starts, lst = entry
            j = bisect_right(starts, seq) - 1
            if j >= 0:
                it = lst[j]
                off = seq - it[SEQ]
                if off < it[LEN]:
                    return it, off
        raise ValueError(f"no character with id ({agent!r}, {seq})")

    # ---------------------------------------------------------- remote ops

    def apply(self, ops: TextOps | list[Op]) -> None:  # noqa: PLR0912, PLR0915 -- the text CRDT hot path: one call per keystroke or op, kept inline on purpose
        """Integrate remote ops, in any order; ops missing a predecessor wait.

        Already integrated ops (or parts of ops) are ignored.
        """
        queue: list[Op] = list(ops)
        for op in queue:
            if type(op) is not Insert and type(op) is not Delete:
                raise TypeError(f"not a text operation: {op!r}")
        self._fast_pos = -1
        vv = self._vv
        parked = self._parked
        changed = False
        # Ops released from parking are appended to queue while we iterate it.
        for op in queue:
            # Every queued op passed the type check above (parked ones when
            # first applied), so unpack the tuple instead of reading fields.
            if isinstance(op, Insert):
                agent, seq, left, right, text = op
                have = vv.get(agent, 0)
                n = len(text)
                if seq + n <= have or not n:
                    continue
                if seq > have:
                    self._park(agent, seq - 1, op)
                    continue
                if left is not None and left[1] >= vv.get(left[0], 0):
                    self._park(left[0], left[1], op)
                    continue
                if right is not None and right[1] >= vv.get(right[0], 0):
                    self._park(right[0], right[1], op)
                    continue
                if seq < have:
                    k = have - seq
                    left = (agent, have - 1)
                    text = text[k:]
                    seq = have
                    n -= k
                self._integrate_insert(agent, seq, left, right, text)
            else:
                agent, seq, ta, ts, n = op
                have = vv.get(agent, 0)
                if seq + n <= have or n <= 0:
                    continue
                if seq > have:
                    self._park(agent, seq - 1, op)
                    continue
                if ts + n - 1 >= vv.get(ta, 0):
                    self._park(ta, ts + n - 1, op)
                    continue
                if seq < have:
                    k = have - seq
                    ts += k
                    n -= k
                    seq = have
                self._integrate_delete(ta, ts, n)
                self._log_delete(agent, seq, ta, ts, n)
            changed = True
            vv[agent] = seq + n
            # Usually nothing is parked at all: skip the per-agent lookup.
            if parked:
                waiting = parked.get(agent)
                if waiting:
                    top = seq + n
                    while waiting and waiting[0][0] < top:
                        queue.append(heapq.heappop(waiting)[2])
                        self._n_parked -= 1
        if changed:
            self._seq = vv.get(self.agent, 0)
            self._text = None
            # Block starts before the cursor may have moved; re-walk next time.
            self._bi = 0
            self._bstart = 0

    def _park(self, agent: str, seq: int, op: Op) -> None:
        heap = self._parked.setdefault(agent, [])
        self._park_tick += 1
        heapq.heappush(heap, (seq, self._park_tick, op))
        self._n_parked += 1

    def _next_of(self, blk: _Block) -> Item | None:
        blocks = self._blocks
        bi = blocks.index(blk) + 1
        return blocks[bi].items[0] if bi < len(blocks) else None

    def _integrate_insert(self, agent: str, seq: int, left: Id | None, right: Id | None, text: str) -> None:  # noqa: PLR0912, PLR0915 -- the text CRDT hot path: one call per keystroke or op, kept inline on purpose
        n = len(text)
        idx = self._index
        if idx is None:
            idx = self._get_index()
        litem: Item | None = None
        la: str | None
        if left is None:
            la = None
            ls = 0
            blk = self._blocks[0]
            items = blk.items
            ii = 0
        else:
            la, ls = left
            litem, off = self._lookup(la, ls)
            blk = litem[BLOCK]
            items = blk.items
            ii = items.index(litem) + 1
            if off < litem[LEN] - 1:
                self._split(litem, items, ii - 1, off + 1)
        ritem: Item | None = None
        ra: str | None
        if right is None:
            ra = None
            rs = 0
            nxt = items[ii] if ii < len(items) else self._next_of(blk)
        else:
            ra, rs = right
            nxt = items[ii] if ii < len(items) else None
            if nxt is not None and nxt[SEQ] == rs and nxt[AGENT] == ra:
                # Usual case: the right origin starts the very next item (ids
                # are unique, so it is what a lookup would find, at offset 0).
                ritem = nxt
            else:
                ritem, roff = self._lookup(ra, rs)
                if roff:
                    ritems = ritem[BLOCK].items
                    ritem = self._split(ritem, ritems, ritems.index(ritem), roff)
                    # That split may have shifted the left item.
                    if litem is not None:
                        ii = items.index(litem) + 1
                nxt = items[ii] if ii < len(items) else self._next_of(blk)
        if nxt is ritem:
            # The run goes straight between its origins (no concurrent
            # siblings): extend the left run if it continues it, else insert.
            if (
                litem is not None
                and litem[VIS]
                and litem[AGENT] == agent
                and litem[SEQ] + litem[LEN] == seq
                and litem[RA] == ra
                and litem[RS] == rs
            ):
                litem[LEN] += n
                litem[VIS] += n
                litem[CONTENT] += text
                blk.vis += n
                blk.text = None
                self._len += n
                return
        else:
            blk, ii = self._scan(agent, left, ritem, blk, ii)
            items = blk.items
        new = [seq, n, n, agent, text, la, ls, ra, rs, blk]
        items.insert(ii, new)
        entry = idx.get(agent)
        if entry is not None and entry[0] and seq > entry[0][-1]:
            # An agent's new run usually has its highest seq yet: append.
            entry[0].append(seq)
            entry[1].append(new)
        else:
            self._index_add(idx, new)
        blk.vis += n
        blk.text = None
        self._len += n
        if len(items) > _MAX_BLOCK:
            self._split_block(blk)
        # The origins' blocks may differ from blk (and grew if split above).
        if litem is not None and litem[BLOCK] is not blk and len(litem[BLOCK].items) > _MAX_BLOCK:
            self._split_block(litem[BLOCK])
        if ritem is not None and ritem[BLOCK] is not blk and len(ritem[BLOCK].items) > _MAX_BLOCK:
            self._split_block(ritem[BLOCK])

    def _scan(
        self, agent: str, left: Id | None, ritem: Item | None, blk: _Block, ii: int
    ) -> tuple[_Block, int]:
        """Find where a concurrent insert goes among items between its origins.

        This is the YjsMod/FugueMax rule applied per run: only a run's first
        character can stop the scan, the rest have their predecessor as origin.
        """
        blocks = self._blocks
        border = {id(b): i for i, b in enumerate(blocks)}
        end = (len(blocks), 0, 0)

        def key(a: str, s: int) -> tuple[int, int, int]:
            it, off = self._lookup(a, s)
            b = it[BLOCK]
            return (border[id(b)], b.items.index(it), off)

        lkey = (-1, 0, 0) if left is None else key(left[0], left[1])
        rkey = end if ritem is None else key(ritem[AGENT], ritem[SEQ])
        bi = border[id(blk)]
        items = blk.items
        dbi, dii = bi, ii
        scanning = False
        while True:
            if ii >= len(items) and bi + 1 < len(blocks):
                bi += 1
                items = blocks[bi].items
                ii = 0
            if not scanning:
                dbi, dii = bi, ii
            if ii >= len(items):
                break
            o = items[ii]
            if o is ritem:
                break
            okl = (-1, 0, 0) if o[LA] is None else key(o[LA], o[LS])
            if okl < lkey:
                break
            if okl == lkey:
                okr = end if o[RA] is None else key(o[RA], o[RS])
                if okr < rkey:
                    scanning = True
                elif okr == rkey:
                    if agent < o[AGENT]:
                        break
                    scanning = False
                else:
                    scanning = False
            ii += 1
        return blocks[dbi], dii

    def _integrate_delete(self, ta: str, ts: int, n: int) -> None:
        end = ts + n
        # Check every target exists first, so a bogus op changes nothing.
        t = ts
        while t < end:
            it, off = self._lookup(ta, t)
            t += it[LEN] - off
        while ts < end:
            it, off = self._lookup(ta, ts)
            blk = it[BLOCK]
            items = blk.items
            ii = items.index(it)
            if off:
                it = self._split(it, items, ii, off)
                ii += 1
            ln = it[LEN]
            if end - ts < ln:
                self._split(it, items, ii, end - ts)
                ln = end - ts
            if it[VIS]:
                it[VIS] = 0
                it[CONTENT] = ""
                blk.vis -= ln
                blk.text = None
                self._len -= ln
                self._merge_around(items, ii)
            ts += ln
            if len(items) > _MAX_BLOCK:
                self._split_block(blk)

    # --------------------------------------------------------------- sync

    def ops_since(self, version: dict[str, int]) -> TextOps:
        """The ops a peer at ``version`` lacks, to be applied as one batch.

        Deleted characters are resent with placeholder content (it is not
        kept); their deletes are in the same batch, so it never shows.
        """
        out = TextOps()
        for agent, top in self._vv.items():
            base = version.get(agent, 0)
            if base >= top:
                continue
            mine = self._inserts_since(agent, base, top)
            mine.extend(self._deletes_since(agent, base, top))
            mine.sort(key=itemgetter(1))
            out.extend(mine)
        return out

    def _inserts_since(self, agent: str, base: int, top: int) -> list[Op]:
        """``agent``'s inserts with ids in [base, top), adjacent runs merged."""
        mine: list[Op] = []
        entry = self._get_index().get(agent)
        if entry is None:
            return mine
        starts, lst = entry
        j = max(bisect_right(starts, base) - 1, 0)
        for it in lst[j:]:
            s = it[SEQ]
            if s >= top:
                break
            e = min(s + it[LEN], top)
            if e <= base:
                continue
            body = it[CONTENT] if it[VIS] else _PLACEHOLDER * it[LEN]
            left: Id | None = None if it[LA] is None else (it[LA], it[LS])
            if s < base:
                body = body[base - s :]
                left = (agent, base - 1)
                s = base
            body = body[: e - s]
            right = None if it[RA] is None else (it[RA], it[RS])
            prev = mine[-1] if mine else None
            if (
                type(prev) is Insert
                and prev.seq + len(prev.text) == s
                and left == (agent, s - 1)
                and prev.right == right
            ):
                mine[-1] = prev._replace(text=prev.text + body)
            else:
                mine.append(Insert(agent, s, left, right, body))
        return mine

    def _deletes_since(self, agent: str, base: int, top: int) -> list[Op]:
        """``agent``'s deletes with ids in [base, top)."""
        mine: list[Op] = []
        for seq, ta, ts, n, step in self._get_dels().get(agent, ()):
            if seq + n <= base or seq >= top:
                continue
            lo = max(seq, base)
            hi = min(seq + n, top)
            if step == 1:
                mine.append(Delete(agent, lo, ta, ts + lo - seq, hi - lo))
            else:
                mine.extend(Delete(agent, s, ta, ts - (s - seq), 1) for s in range(lo, hi))
        return mine

    # ------------------------------------------------------------ storage

    def _runs(self) -> list[Item]:
        """Items in document order with adjacent compatible runs merged (copies)."""
        runs: list[Item] = []
        prev: Item | None = None
        for it in chain.from_iterable(b.items for b in self._blocks):
            if (
                prev is not None
                and prev[AGENT] == it[AGENT]
                and prev[SEQ] + prev[LEN] == it[SEQ]
                and bool(prev[VIS]) == bool(it[VIS])
                and it[LA] == it[AGENT]
                and it[LS] == it[SEQ] - 1
                and it[RA] == prev[RA]
                and it[RS] == prev[RS]
            ):
                prev[LEN] += it[LEN]
                prev[VIS] += it[VIS]
                continue
            prev = it[:9]
            runs.append(prev)
        return runs

    def close(self) -> None:
        """Free the document now; it must not be used after. Items point back at their block,
        so an unclosed document waits for the cyclic garbage collector, which costs a
        catch-up that opened thousands of notes a full collection."""
        for blk in self._blocks:
            blk.items = []
        self._blocks = []
        self._index = None

    def encode_state(self) -> bytes:
        """Compact snapshot of the whole document (deleted runs keep no content)."""
        agents: list[str] = []
        table: dict[str, int] = {}

        def intern(a: str | None) -> int:
            if a is None:
                return -1
            i = table.get(a)
            if i is None:
                i = table[a] = len(agents)
                agents.append(a)
            return i

        runs = self._runs()
        version: list[int] = []
        for a, c in self._vv.items():
            version += (intern(a), c)
        d_cols: list[list[int]] = [[], [], [], [], [], []]
        for a, log in self._get_dels().items():
            ai = intern(a)
            for seq, ta, ts, n, step in log:
                for col, v in zip(d_cols, (ai, seq, intern(ta), ts, n, step), strict=True):
                    col.append(v)
        cols = StateColumns(
            agents,
            version,
            [intern(r[AGENT]) for r in runs],
            [r[SEQ] for r in runs],
            [r[LEN] for r in runs],
            [1 if r[VIS] else 0 for r in runs],
            [intern(r[LA]) for r in runs],
            [r[LS] for r in runs],
            [intern(r[RA]) for r in runs],
            [r[RS] for r in runs],
            self.text,
            *d_cols,
        )
        return pack_state(cols)

    @classmethod
    def decode_state(cls, data: bytes, agent: str) -> TextDoc:
        """Load a snapshot from :meth:`encode_state` as replica ``agent``, without replay."""
        gc_was_enabled = gc.isenabled()
        # Tens of thousands of fresh lists would trigger useless GC passes.
        gc.disable()
        try:
            return cls._decode_state(data, agent)
        finally:
            if gc_was_enabled:
                gc.enable()

    @classmethod
    def _decode_state(cls, data: bytes, agent: str) -> TextDoc:
        c = unpack_state(data)
        doc = cls(agent)
        n_items = len(c.i_seq)
        ends = list(accumulate(c.i_vis))
        starts = [0, *ends[:-1]] if n_items else []
        content = c.content
        texts = list(map(content.__getitem__, map(slice, starts, ends)))
        n_blocks = -(-n_items // _LOAD_BLOCK)
        blocks = [_Block([], 0) for _ in range(n_blocks)]
        block_col = chain.from_iterable(map(repeat, blocks, repeat(_LOAD_BLOCK)))
        items: list[Item] = list(
            map(
                list,
                zip(
                    c.i_seq,
                    c.i_vis,
                    c.i_len,
                    c.i_agent,
                    texts,
                    c.i_la,
                    c.i_ls,
                    c.i_ra,
                    c.i_rs,
                    block_col,
                    strict=False,
                ),
            )
        )
        for bi, b in enumerate(blocks):
            lo = bi * _LOAD_BLOCK
            hi = min(lo + _LOAD_BLOCK, n_items)
            b.items = items[lo:hi]
            b.vis = ends[hi - 1] - starts[lo]
            b.text = content[starts[lo] : ends[hi - 1]]
        if blocks:
            doc._blocks = blocks
        doc._len = len(content)
        doc._text = content
        doc._vv = c.version
        doc._seq = c.version.get(agent, 0)
        doc._dels_raw = c
        return doc
