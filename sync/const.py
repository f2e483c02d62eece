"""Constants of the sync layer, with units and sources; tests patch them to run fast."""

from typing import Final

#: Wire protocol version carried in every frame header and in the zeroconf TXT ``v``.
#: 2: every message payload is a typed msgspec record (a msgpack array); 1 used maps and
#: hand-packed headers. A frame of another version is refused with the version it carries.
PROTOCOL_VERSION: Final = 2

#: Oldest protocol version this build still speaks (a peer that spoke a newer one is held to it).
MIN_PROTOCOL_VERSION: Final = 2

#: Longest library id accepted in a HELLO, in bytes (a random id is 16 raw bytes).
MAX_LIBRARY_ID_BYTES: Final = 64

#: Target size of one BATCH/PUSH slice, in bytes (1 MiB): well under MAX_FRAME_SIZE, so a
#: slow link still sees progress and a receiver holds at most one slice in memory.
BATCH_SLICE_SIZE: Final = 1024 * 1024

#: Longest a TLS handshake on the member channel may take, in seconds.
HANDSHAKE_TIMEOUT_S: Final = 5.0

#: Most unauthenticated handshakes a node runs at once; more connections wait (bounded).
MAX_PENDING_HANDSHAKES: Final = 32

#: Most connections waiting for a handshake slot; beyond this new ones are closed at once.
MAX_WAITING_HANDSHAKES: Final = 256

#: Longest wait for a frame while a session is still syncing (not yet live), in seconds.
SESSION_STEP_TIMEOUT_S: Final = 30.0

#: Application heartbeat on member sessions: after this long without a frame from the peer a
#: PING goes out (seconds); a peer silent for ``HEARTBEAT_TIMEOUT_S`` (frozen, partitioned, its
#: machine gone) is declared offline and its connection closed, well within 10 s. TCP keepalive
#: alone would take IDLE + INTERVAL * COUNT = 30 s, and not at all while data waits to be sent.
HEARTBEAT_INTERVAL_S: Final = 2.0
HEARTBEAT_TIMEOUT_S: Final = 7.0

#: TCP keepalive on member sessions: idle time before probing, probe interval (seconds), and
#: unanswered probes before the connection is dropped (so a vanished peer shows offline).
TCP_KEEPALIVE_IDLE_S: Final = 15
TCP_KEEPALIVE_INTERVAL_S: Final = 5
TCP_KEEPALIVE_COUNT: Final = 3
#: Longest sent data may stay unacknowledged before TCP drops the connection (seconds): keepalive
#: does not probe while data waits to be sent, so a peer gone mid-transfer needs this too.
TCP_USER_TIMEOUT_S: Final = 20

#: Reconnect backoff: first delay, cap (seconds) and factor (exponential, with jitter).
BACKOFF_MIN_S: Final = 0.2
BACKOFF_MAX_S: Final = 5.0
BACKOFF_FACTOR: Final = 2.0

#: File names inside a node's data directory.
LIBRARY_FILE: Final = "library.sqlite"
#: Truncation folds at most this many commits into the snapshot per step (about 0.1 s), handing
#: the event loop back between steps, so a node folding a long log keeps answering (commits).
TRUNCATE_STEP: Final = 200
#: Fold committed writes into the snapshot once every member is proven to hold this many more
#: than the last truncation (writes): often enough to bound the log, rarely enough to be cheap.
TRUNCATE_AFTER: Final = 10_000
#: The node re-verifies what is new in its committed log this often (seconds), and all of it
#: (chain, state digest, note bodies) every ``VERIFY_FULL_EVERY``-th time: a full check of 100,000
#: commits costs about a second (tests/perf/verify.py), so once a day.
VERIFY_INTERVAL_S: Final = 3600.0
VERIFY_FULL_EVERY: Final = 24
CONTROL_SOCKET: Final = "control.sock"
PEER_VERSIONS_FILE: Final = "peer-versions.json"
#: Held (flock) by the one process that has the library open; records its pid and command.
LOCK_FILE: Final = "lock"

#: The control socket: largest frame either side accepts (bytes; a list longer than
#: ``CONTROL_CHUNK`` items travels in several frames, so no request or reply comes near it),
#: and the longest an import or export works between two progress reports (seconds).
CONTROL_MAX_FRAME: Final = 16 * 1024 * 1024
CONTROL_CHUNK: Final = 1000
CONTROL_SLICE_S: Final = 0.2

#: DNS-SD service type we announce and browse (RFC 6763 section 7: ``_service._proto``).
SERVICE_TYPE: Final = "_localfirst._tcp.local."

#: DNS-SD service type of an open pairing listener, announced only while an invitation is
#: open (TXT ``v`` only), so a joiner on a network with multicast finds the inviter itself.
PAIRING_SERVICE_TYPE: Final = "_localfirst-pair._tcp.local."

#: Longest a join without an address searches the network for pairing listeners, in seconds.
PAIRING_SEARCH_S: Final = 10.0

#: How often a node following the LAN checks which interfaces are up (Wi-Fi reconnecting, a
#: cable plugged in) and rebinds zeroconf to them, in seconds.
INTERFACE_CHECK_S: Final = 3.0

#: Frame header: 4-byte big-endian payload length, 1-byte version, 1-byte message type.
FRAME_HEADER_SIZE: Final = 6

#: Largest frame payload a member session accepts, in bytes (16 MiB).
#: Bigger data (snapshots) is split into chunks well below this.
MAX_FRAME_SIZE: Final = 16 * 1024 * 1024

#: Largest frame payload accepted during pairing before both sides are authenticated,
#: in bytes (16 KiB): a certificate, a SPAKE2 message and an HMAC fit easily, and an
#: unauthenticated stranger cannot make us allocate more.
MAX_PAIRING_FRAME_SIZE: Final = 16 * 1024

#: Largest certificate (DER) accepted from a peer, in bytes.
MAX_CERT_SIZE: Final = 8 * 1024

#: How long a pairing code stays valid, in seconds (DESIGN.md: "expires in 2 minutes").
PAIRING_CODE_LIFETIME_S: Final = 120.0

#: Number of decimal digits in a pairing code's secret, after its 2-digit public nameplate
#: (10**8 secrets; one guess per code).
PAIRING_CODE_DIGITS: Final = 8

#: Longest time one pairing step (a read or a TLS handshake) may take, in seconds.
PAIRING_STEP_TIMEOUT_S: Final = 10.0

#: Size of one welcome chunk sent after pairing, in bytes (1 MiB).
WELCOME_CHUNK_SIZE: Final = 1024 * 1024

#: Largest welcome payload (library snapshot) a joiner accepts, in bytes (1 GiB).
MAX_WELCOME_SIZE: Final = 1024 * 1024 * 1024

#: Longest device display name exchanged in pairing, in characters.
MAX_DEVICE_NAME_CHARS: Final = 64

#: Longest human-readable abort reason exchanged in pairing, in characters.
MAX_REASON_CHARS: Final = 200

#: Length of a device id: SHA-256 hex digest of the certificate DER, in characters.
DEVICE_ID_CHARS: Final = 64

#: DNS labels are at most 63 octets (RFC 1035 section 2.3.4), so the service instance
#: name carries a prefix of the device id; the full id travels in the TXT record.
INSTANCE_ID_CHARS: Final = 32

#: How long to wait for a service's SRV/TXT/A records when browsing, in milliseconds.
DISCOVERY_RESOLVE_TIMEOUT_MS: Final = 3000

#: Certificate file names inside the identity directory.
CERT_FILE: Final = "device-cert.pem"
KEY_FILE: Final = "device-key.pem"
