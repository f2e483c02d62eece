"""Relay tests: sync through a real S3-compatible store (SeaweedFS) and synced folders."""
