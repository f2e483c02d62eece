"""Nodes over real sockets and real TLS on 127.0.0.1, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import ssl
import threading
from pathlib import Path

import pytest

from localfirst import Replica
from localfirst.revocation import REJECTED
from storage import open_replica
from sync import node as node_module
from sync.const import PROTOCOL_VERSION
from sync.frames import encode_frame, read_frame
from sync.identity import Identity
from sync.messages import Goodbye, Hello, MessageType
from sync.node import Node, library_path, load_identity
from sync.pairing import PairingError, join
from sync.session import digest_of
from tests.sync.nodes import LOOPBACK, pair_new, run_cli, start_node, synced, until

pytestmark = pytest.mark.timeout(60)


async def _stop(*nodes: Node) -> None:
    for n in nodes:
        await n.stop()


def test_pair_sync_live_push_and_status(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        try:
            assert set(a.replica.members()) == {a.device, b.device}
            await a.write(lambda r: r.put("note", "n1", {"title": "from a"}))
            await until(lambda: b.replica.get("n1") is not None, what="push a->b")
            await b.write(lambda r: r.put("note", "n2", {"title": "from b"}))
            await until(lambda: synced(a, b) and a.replica.get("n2") is not None, what="b->a")
            st = a.status()
            await until(lambda: a.status()["peers"][b.device]["identical_up_to"] == a.replica.csn)
            assert st["peers"][b.device]["online"]
            assert st["tentative"] == 0
            assert b.replica.values("n1") == {"title": "from a"}
        finally:
            await _stop(b, a)

    asyncio.run(main())


def test_wrong_reused_and_expired_codes_pin_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        try:
            ident = load_identity(tmp_path / "j", "j")
            inv = await a.invite()
            wrong = inv.code[:-1] + str((int(inv.code[-1]) + 1) % 10)
            with pytest.raises(PairingError):
                await join(wrong, LOOPBACK, inv.port, ident, step_timeout=3)
            with pytest.raises(PairingError):  # the one try is used up
                await join(inv.code, LOOPBACK, inv.port, ident, step_timeout=3)
            inv2 = await a.invite(lifetime=0.1)
            await asyncio.wait_for(asyncio.shield(_ended(inv2)), 5)
            with pytest.raises(PairingError):
                await join(inv2.code, LOOPBACK, inv2.port, ident, step_timeout=3)
            assert set(a.replica.members()) == {a.device}
            assert a.member_certs() == {}
            assert not library_path(tmp_path / "j").exists()
        finally:
            await a.stop()

    asyncio.run(main())


async def _ended(inv: object) -> None:
    with contextlib.suppress(PairingError):
        await inv.wait()  # type: ignore[attr-defined]


def test_never_paired_and_impostor_get_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        await a.write(lambda r: r.put("note", "secret", {"title": "s"}))
        # A stranger pins A's certificate in its own library and dials A.
        s = await start_node(tmp_path / "s", "s")
        a_pem = a.identity.cert_pem.decode() if a.identity else ""
        await s.write(lambda r: r.put("device", a.device, {"cert": a_pem}))
        await s.write(lambda r: r.put("note", "evil", {"title": "x"}))
        s_target = Node(tmp_path / "s", discovery=False, control=False)
        del s_target
        before = (a.replica.vector, a.replica.csn)
        refused = a.stats["refused"]
        s._ensure_target("a", None, [(LOOPBACK, a.port)])
        # An impostor announcing itself as B (discovery is only a hint): A dials it, TLS fails.
        imp = await start_node(tmp_path / "imp", "imp")
        a._discovered[b.device] = [(LOOPBACK, imp.port)]
        assert a._dial is not None
        ok = await a._dial(LOOPBACK, imp.port, b.device)
        assert not ok
        await until(lambda: a.stats["refused"] > refused, what="stranger refused")
        try:
            assert a.replica.get("evil") is None
            assert (a.replica.vector, a.replica.csn) == before
            assert s.replica.get("secret") is None
            assert imp.replica.get("secret") is None
            assert imp.stats["sessions"] == 0
            assert s.stats["sessions"] == 0
        finally:
            await _stop(s, imp, b, a)

    asyncio.run(main())


def test_revoked_device_gets_nothing_and_writes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        try:
            await until(lambda: synced(a, b) and b.device in a._conns, what="paired sync")
            await b.write(lambda r: r.put("note", "before", {"title": "kept"}))
            await until(lambda: a.replica.get("before") is not None, what="b's write synced")
            a.revoke(b.device)
            await until(lambda: b.device not in a._conns, what="session closed")
            await a.write(lambda r: r.put("note", "after", {"title": "a"}))
            await b.write(lambda r: r.put("note", "from-revoked", {"title": "b"}))
            # A says goodbye to a non-member (and refuses it at the handshake after): B says so
            # (certain when the goodbye arrived, "probably" when only the refusals did)...
            await until(lambda: b.status()["removed"] is not None, what="b told it is out")
            assert "removed from the library" in b.status()["removed"]
            # ...and stops dialling: at most one more try in the next seconds (it used to try
            # five times a second, a full TLS handshake each).
            dials, refused = b.stats["dials"], a.stats["refused"]
            await asyncio.sleep(3)
            assert b.stats["dials"] - dials <= 1
            assert a.stats["refused"] - refused <= 1
            assert b.replica.get("after") is None
            assert a.replica.get("from-revoked") is None
            assert b.device not in a.member_certs()
            # Its own writes stay readable (and so exportable) on the revoked device.
            assert b.replica.values("before") == {"title": "kept"}
            assert b.replica.values("from-revoked") == {"title": "b"}
        finally:
            await _stop(b, a)

    asyncio.run(main())


def test_revoked_device_refused_by_members_backs_off(tmp_path: Path) -> None:
    """A device revoked while it was away never holds its revocation: the members refuse it at
    the handshake. It says so and tries again only every few minutes."""

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        try:
            await until(lambda: synced(a, b) and b.device in a._conns, what="paired sync")
            await b.stop()
            a.revoke(b.device)
            b = await start_node(tmp_path / "b", "b", peers=[(LOOPBACK, a.port)])
            await b.write(lambda r: r.put("note", "from-revoked", {"title": "b"}))
            await until(lambda: b.status()["removed"] is not None, what="b told it is refused")
            assert "probably removed from the library" in b.status()["removed"]
            assert b.status()["revoked"] is False  # it cannot know for sure
            dials, refused = b.stats["dials"], a.stats["refused"]
            await asyncio.sleep(3)
            assert b.stats["dials"] - dials <= 1
            assert a.stats["refused"] - refused <= 1
            assert a.replica.get("from-revoked") is None
            assert b.replica.values("from-revoked") == {"title": "b"}  # its own, readable
        finally:
            await _stop(b, a)

    asyncio.run(main())


def test_revoked_device_writes_relayed_by_a_member_are_refused(tmp_path: Path) -> None:
    """C, offline while A revoked B, relays B's later write to A: A's core refuses it (commits
    it as rejected), C rolls it back, and B, told through C, knows it was removed and stops."""

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        c = await pair_new(a, tmp_path / "c", "c")
        try:
            await until(lambda: synced(a, b, c), what="all synced")
            await c.stop()
            a.revoke(b.device)
            await until(lambda: b.device not in a._conns and not a.replica.tentative(), what="revoked")
            await b.write(lambda r: r.put("note", "from-revoked", {"title": "b"}))
            await a.stop()
            # C comes back while A is away and syncs with B, which it still trusts.
            c = await start_node(tmp_path / "c", "c", peers=[(LOOPBACK, b.port)])
            await until(lambda: c.replica.get("from-revoked") is not None, what="c holds b's write")
            assert c.replica.values("from-revoked") == {"title": "b"}
            a = await start_node(tmp_path / "a", "a", peers=[(LOOPBACK, c.port)])
            await until(lambda: synced(a, c), what="a and c synced")
            for member in (a, c):
                doc = member.replica.get("from-revoked")
                assert doc is None or not doc.exists
            rejected = [e.write.id for e in a.replica.log() if e.write.id.origin == b.device]
            assert [a.replica.outcome(w) for w in rejected][-1] == (REJECTED, True)
            assert b.device not in c.member_certs()
            await until(lambda: b.status()["removed"] is not None, what="b told it is out")
            # Once its log holds the committed revocation (relayed later, say by a mirror
            # folder), the revoked device says so for certain, even with no node running.
            await b.stop()
            held = open_replica(library_path(tmp_path / "b"))
            try:
                held.receive(a.replica.batch_for(held.summary()))
                assert held.revoked
                assert held.values("from-revoked") == {"title": "b"}  # its own stay readable
            finally:
                held.close()
        finally:
            await _stop(c, b, a)

    asyncio.run(main())
    done = run_cli(tmp_path / "b", "status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["revoked"] is True
    assert status["removed"].startswith("this device was removed from the library")
    shown = run_cli(tmp_path / "b", "status").stdout
    assert "REMOVED  this device was removed from the library" in shown


def _client_ctx(identity: Identity, server_pem: bytes, *, tls12: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_cert_chain(identity.cert_path, identity.key_path)
    ctx.load_verify_locations(cadata=server_pem.decode())
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def test_tls12_only_client_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        await b.stop()
        try:
            assert a.identity is not None
            ident_b = load_identity(tmp_path / "b")
            ctx = _client_ctx(ident_b, a.identity.cert_pem, tls12=True)

            async def connect() -> None:
                _, w = await asyncio.open_connection(LOOPBACK, a.port, ssl=ctx)
                w.close()

            with pytest.raises((ssl.SSLError, ConnectionError)):
                await connect()
            # The same member over TLS 1.3 is accepted (the refusal was the version).
            _, w = await asyncio.open_connection(
                LOOPBACK, a.port, ssl=_client_ctx(ident_b, a.identity.cert_pem)
            )
            w.close()
            await w.wait_closed()
        finally:
            await a.stop()

    asyncio.run(main())


def test_downgrade_to_older_protocol_version_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend this build still speaks version 0, so "older than before" is the only reason to refuse.
    monkeypatch.setattr(node_module, "MIN_PROTOCOL_VERSION", 0)

    async def main() -> None:
        a = await start_node(tmp_path / "a", "a")
        b = await pair_new(a, tmp_path / "b", "b")
        await until(lambda: b.device in a._versions, what="a session")
        await b.stop()
        assert a.identity is not None
        ident_b = load_identity(tmp_path / "b")
        ctx = _client_ctx(ident_b, a.identity.cert_pem)

        async def hello(version: int, n: Node) -> int:
            r, w = await asyncio.open_connection(LOOPBACK, n.port, ssl=ctx)
            try:
                w.write(
                    encode_frame(
                        *Hello(version, ident_b.device_id, n.replica.library, digest_of(n.replica)).encode()
                    )
                )
                first = await read_frame(r)
                assert first.type == MessageType.HELLO
                await asyncio.sleep(0)
                reply = await asyncio.wait_for(read_frame(r), 5)
                if reply.type == MessageType.ERROR:
                    assert "older" in Goodbye.decode(reply).reason
                return reply.type
            finally:
                w.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await w.wait_closed()

        try:
            assert a._versions[ident_b.device_id] == PROTOCOL_VERSION
            assert await hello(0, a) == MessageType.ERROR
        finally:
            await a.stop()
        # The version B spoke is remembered across a restart.
        a2 = await start_node(tmp_path / "a", "a")
        try:
            assert await hello(0, a2) == MessageType.ERROR
        finally:
            await a2.stop()

    asyncio.run(main())


def test_submit_runs_on_the_node_thread(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="node")
    thread.start()
    node = Node(tmp_path / "a", name="a", discovery=False, control=False)
    try:
        asyncio.run_coroutine_threadsafe(node.start(), loop).result(10)
        seen: list[str] = []

        def edit(r: object) -> str:
            seen.append(threading.current_thread().name)
            node.replica.put("note", "n", {"title": "from another thread"})
            return "done"

        assert node.submit(edit).result(10) == "done"
        assert node.submit(lambda r: r.values("n")).result(10) == {"title": "from another thread"}
        assert seen == ["node"]
        assert node.submit(lambda r: len(r.tentative())).result(10) == 0  # the primary committed it
    finally:
        asyncio.run_coroutine_threadsafe(node.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def put_note(i: int, r: Replica) -> None:
    r.put("note", f"n{i}", {"title": f"note {i}"})


def test_the_log_is_truncated_once_every_member_holds_it_and_a_newcomer_gets_the_snapshot(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        a = await start_node(tmp_path / "a", "a", truncate_after=5)
        b = await pair_new(a, tmp_path / "b", "b", truncate_after=5)
        try:
            for i in range(8):
                await a.write(functools.partial(put_note, i))
            await until(lambda: synced(a, b), what="b holds a's writes")
            # Proven identical by chain hash up to the last commit, the primary folds the log.
            await until(lambda: a.replica.truncated_csn >= 5, what="truncation on a")
            assert a.replica.truncated_csn <= a.status()["peers"][b.device]["identical_up_to"]
            assert len(a.replica.log()) == a.replica.csn - a.replica.truncated_csn
            c = await pair_new(a, tmp_path / "c", "c", truncate_after=5)
            try:
                await until(lambda: synced(a, b, c), what="the newcomer catches up")
                assert {k: d.value("title") for k, d in c.replica.entities("note").items()} == {
                    f"n{i}": f"note {i}" for i in range(8)
                }
            finally:
                await c.stop()
        finally:
            await _stop(b, a)

    asyncio.run(main())
