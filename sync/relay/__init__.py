"""Sync beyond one network: an object store or a synced folder as an untrusted mailbox.

Modules: :mod:`.store` (S3 and folders through obstore), :mod:`.seal` (age encryption and
device signatures), :mod:`.segments` (names and what a segment means), :mod:`.exchange` (one
round with one relay, applying through the replica's checks), :mod:`.compaction` (snapshots and
garbage collection by read markers), :mod:`.runner` (the poll loop in a node) and
:mod:`.config` (which relays, and what this device remembers of each).
"""
