"""Protocol messages as typed records: round trips, the wire shape, and every refusal with its reason."""

from __future__ import annotations

import msgspec
import pytest

from localfirst import ManualClock, MemoryStore, Replica, Summary, VersionVector
from sync.const import MAX_CERT_SIZE, MAX_DEVICE_NAME_CHARS, MAX_REASON_CHARS, PROTOCOL_VERSION
from sync.frames import Frame
from sync.messages import (
    Ack,
    BatchMessage,
    Digest,
    Goodbye,
    Hello,
    MessageError,
    MessageType,
    PairAbort,
    PairConfirm,
    PairDone,
    PairHello,
    PairPake,
    PairWelcome,
    SummaryMessage,
    check_version,
    printable,
)

DEVICE, LIBRARY = "ab" * 32, "cd" * 16
DIGEST = Digest(7, b"\1" * 16, b"\2" * 32)

PLAIN = [
    PairHello(b"cert", b"pake"),
    PairPake(b"pake", b"\3" * 32),
    PairConfirm(b"\3" * 32, b"sig", "Bob's laptop"),
    PairWelcome("Alice", 1234, 4001),
    PairDone(),
    PairAbort("the code expired"),
    Ack(DIGEST),
    Hello(PROTOCOL_VERSION, DEVICE, LIBRARY, DIGEST),
    Hello(PROTOCOL_VERSION, DEVICE, "my library", DIGEST),
    SummaryMessage(Summary(VersionVector({DEVICE: 3, "ef" * 32: 9}), 4)),
    Goodbye("shutting down"),
    Goodbye("protocol error: x", error=True),
]


def frame(kind: int, body: object) -> Frame:
    return Frame(kind, msgspec.msgpack.encode(body))


@pytest.mark.parametrize("message", PLAIN, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(message: object) -> None:
    kind, payload = message.encode()  # type: ignore[attr-defined]
    assert type(message).decode(Frame(kind, payload)) == message  # type: ignore[attr-defined]


def test_batch_and_push_round_trip_with_the_batch() -> None:
    r = Replica.new_library(MemoryStore(), DEVICE, clock=ManualClock(5))
    r.put("note", "n", {"title": "x"})
    batch = r.batch_for(Summary(VersionVector(), 0))
    for live in (False, True):
        kind, payload = BatchMessage(batch, True, DIGEST, live).encode()
        assert kind is (MessageType.PUSH if live else MessageType.BATCH)
        back = BatchMessage.decode(Frame(kind, payload))
        assert (back.last, back.sender, back.live) == (True, DIGEST, live)
        assert back.batch.tentative == batch.tentative


def test_records_travel_as_arrays_without_keys() -> None:
    kind, payload = Hello(PROTOCOL_VERSION, DEVICE, LIBRARY, DIGEST).encode()
    assert kind is MessageType.HELLO
    assert msgspec.msgpack.decode(payload) == [
        PROTOCOL_VERSION,
        bytes.fromhex(DEVICE),
        bytes.fromhex(LIBRARY),
        [7, b"\1" * 16, b"\2" * 32],
    ]
    assert len(payload) <= 128 - 6 - 8  # room for a CSN up to 2**63 in the in-sync check
    assert msgspec.msgpack.decode(PairWelcome("A", 5, 6).encode()[1]) == ["A", 5, 6]


@pytest.mark.parametrize(
    ("kind", "body", "reason"),
    [
        (MessageType.HELLO, [2, b"\0" * 31, b"", [0, b"\0" * 16, b"\0" * 32]], "HELLO: device: "),
        (MessageType.HELLO, [2, b"\0" * 32, b"\0" * 65, [0, b"\0" * 16, b"\0" * 32]], "HELLO: library: "),
        (MessageType.HELLO, [256, b"\0" * 32, b"", [0, b"\0" * 16, b"\0" * 32]], "HELLO: version: "),
        (MessageType.HELLO, [2, b"\0" * 32, b"\xff\xfe", [0, b"\0" * 16, b"\0" * 32]], "HELLO: library: not"),
        (MessageType.HELLO, [2, b"\0" * 32, b""], "HELLO: Expected `array` of at least length 4"),
        (MessageType.ACK, [[-1, b"\0" * 16, b"\0" * 32]], r"ACK: digest\[0\]: Expected `int` >= 0"),
        (MessageType.ACK, [[0, b"\0" * 15, b"\0" * 32]], r"ACK: digest\[1\]: "),
        (MessageType.ACK, [[True, b"\0" * 16, b"\0" * 32]], r"ACK: digest\[0\]: Expected `int`, got `bool`"),
        (MessageType.ACK, {"digest": [0, b"\0" * 16, b"\0" * 32]}, "ACK: Expected `array`, got `object`"),
        (MessageType.SUMMARY, [{"a": -1}, 0], r"SUMMARY: vector\[...\]: Expected `int` >= 0"),
        (MessageType.SUMMARY, [{"a" * 65: 1}, 0], "SUMMARY: vector key: Expected `str` of length <= 64"),
        (MessageType.SUMMARY, [{}, 0, 0], "SUMMARY: Expected `array` of at most length 2"),
        (MessageType.BATCH, [1, [0, b"\0" * 16, b"\0" * 32], b""], "BATCH: last: Expected `bool`"),
        (MessageType.PUSH, [True, [0, b"\0" * 16, b"\0" * 32], b"\xc1"], "PUSH: batch: malformed batch"),
        (MessageType.BYE, ["a\nb"], "BYE: reason has control characters"),
        (MessageType.ERROR, ["x" * (MAX_REASON_CHARS + 1)], "ERROR: reason: "),
        (MessageType.PAIR_HELLO, [b"\0" * (MAX_CERT_SIZE + 1), b""], "PAIR_HELLO: cert_der: "),
        (MessageType.PAIR_PAKE, [b"", b"\0" * 31], "PAIR_PAKE: confirm: "),
        (MessageType.PAIR_CONFIRM, [b"\0" * 32, b"", "\x1b[2J"], "PAIR_CONFIRM: name has control"),
        (MessageType.PAIR_WELCOME, ["A", 1, 65536], "PAIR_WELCOME: port: "),
        (MessageType.PAIR_WELCOME, ["A", -1, 0], "PAIR_WELCOME: size: "),
        (MessageType.PAIR_WELCOME, ["x" * (MAX_DEVICE_NAME_CHARS + 1), 1, 0], "PAIR_WELCOME: name: "),
        (MessageType.PAIR_DONE, [0], "PAIR_DONE: Expected `array` of at most length 0"),
        (MessageType.PAIR_ABORT, [b"bytes"], "PAIR_ABORT: reason: Expected `str`, got `bytes`"),
    ],
)
def test_malformed_payloads_are_refused_with_the_field_named(
    kind: MessageType, body: object, reason: str
) -> None:
    decode = {
        MessageType.HELLO: Hello.decode,
        MessageType.ACK: Ack.decode,
        MessageType.SUMMARY: SummaryMessage.decode,
        MessageType.BATCH: BatchMessage.decode,
        MessageType.PUSH: BatchMessage.decode,
        MessageType.BYE: Goodbye.decode,
        MessageType.ERROR: Goodbye.decode,
        MessageType.PAIR_HELLO: PairHello.decode,
        MessageType.PAIR_PAKE: PairPake.decode,
        MessageType.PAIR_CONFIRM: PairConfirm.decode,
        MessageType.PAIR_WELCOME: PairWelcome.decode,
        MessageType.PAIR_DONE: PairDone.decode,
        MessageType.PAIR_ABORT: PairAbort.decode,
    }[kind]
    with pytest.raises(MessageError, match=f"^{reason}"):
        decode(frame(kind, body))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "HELLO: undecodable payload (Input data was truncated)"),
        (b"\xc1", "HELLO: undecodable payload (MessagePack data is malformed: invalid opcode"),
        (Hello(PROTOCOL_VERSION, DEVICE, LIBRARY, DIGEST).encode()[1] + b"\0", "HELLO: undecodable payload"),
    ],
)
def test_undecodable_bytes_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError) as info:
        Hello.decode(Frame(MessageType.HELLO, payload))
    assert str(info.value).startswith(reason)


def test_a_message_of_another_type_is_refused() -> None:
    kind, payload = Ack(DIGEST).encode()
    with pytest.raises(MessageError, match=r"^expected HELLO, got ACK$"):
        Hello.decode(Frame(kind, payload))
    with pytest.raises(MessageError, match=r"^expected BYE or ERROR, got unknown message type 0x7e$"):
        Goodbye.decode(Frame(0x7E, payload))


def test_goodbye_and_abort_reasons_are_made_acceptable_before_sending() -> None:
    kind, payload = Goodbye("line one\nline two\x1b" + "x" * 500, error=True).encode()
    back = Goodbye.decode(Frame(kind, payload))
    assert back.error
    assert back.reason == ("line one line two " + "x" * 500)[:MAX_REASON_CHARS]
    assert printable("tab\there", 5) == "tab h"
    assert PairAbort.decode(Frame(*PairAbort(printable("a\nb")).encode())).reason == "a b"


def test_version_checks_name_both_versions() -> None:
    check_version(PROTOCOL_VERSION)
    with pytest.raises(
        MessageError, match=f"^peer speaks protocol version {PROTOCOL_VERSION + 1}, newer than"
    ):
        check_version(PROTOCOL_VERSION + 1)
    with pytest.raises(MessageError, match=r"older than 3 \(downgrade refused\)$"):
        check_version(2, at_least=3)
