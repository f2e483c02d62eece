"""The sync layer: a running device's discovery, pairing, TLS channel and sessions.

This package never imports PySide6 or ``ui``; everything here runs headless.
The building blocks are:

- :mod:`sync.const` -- protocol constants with units and sources;
- :mod:`sync.errors` -- the sync errors under one root, split by whose fault they are;
- :mod:`sync.identity` -- the device key pair, certificate and device id;
- :mod:`sync.tls` -- TLS 1.3 contexts for the member channel and pairing;
- :mod:`sync.frames` -- length-prefixed binary frames with a size cap;
- :mod:`sync.messages` -- every message as a typed msgspec record, and its (de)serialiser;
- :mod:`sync.pairing` -- pairing two devices by a one-time short code;
- :mod:`sync.discovery` -- zeroconf announcement and browsing on the LAN;
- :mod:`sync.session` -- the anti-entropy session, a socket-free state machine;
- :mod:`sync.pump` -- a session driven over a channel (the TLS stream, or in memory);
- :mod:`sync.library` -- the data folder's files (identity, library, peer versions);
- :mod:`sync.trust` -- the members' certificates and the TLS contexts built from them;
- :mod:`sync.links` -- the member listener, discovery, dialing and reconnecting;
- :mod:`sync.peers` -- one session per peer and what is known of each peer;
- :mod:`sync.invites` -- pairing on a running node (invitations, joining by code);
- :mod:`sync.mirroring` -- the mirror folder a node runs;
- :mod:`sync.node` -- a running device: the facade over the modules above;
- :mod:`sync.lock` -- one owner per data folder (an OS lock held while the library is open);
- :mod:`sync.control` -- the node's control socket for the command line (framed, streamed);
- :mod:`sync.plainfiles`, :mod:`sync.service` -- what the UI uses.
"""
