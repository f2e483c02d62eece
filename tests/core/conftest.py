"""Fixtures for the core tests: replicas in memory or on real SQLite files, with manual clocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from localfirst import ManualClock, MemoryStore, Replica
from storage import SqlStore


@dataclass
class Cluster:
    """A library's replicas, their clocks and (on SQLite) their files, keyed by device name."""

    replicas: dict[str, Replica] = field(default_factory=dict)
    clocks: dict[str, ManualClock] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, device: str) -> Replica:
        return self.replicas[device]

    def at(self, device: str, clock: int) -> Replica:
        """The device's replica with its clock set to ``clock``."""
        self.clocks[device].set(clock)
        return self.replicas[device]


#: Builds a library: primary first, then the genesis members; returns the cluster.
MakeCluster = Callable[..., Cluster]


def sync(src: Replica, dst: Replica) -> None:
    """One-directional anti-entropy: dst receives what src holds and dst lacks."""
    dst.receive(src.batch_for(dst.summary()))


def sync_both(a: Replica, b: Replica) -> None:
    sync(a, b)
    sync(b, a)


def _factory(tmp_path: Path, backend: str, stores: list[SqlStore]) -> MakeCluster:
    def make(primary: str = "P", *members: str) -> Cluster:
        cluster = Cluster()

        def store_for(device: str) -> MemoryStore | SqlStore:
            if backend == "memory":
                return MemoryStore()
            path = tmp_path / f"{device}.sqlite"
            store = SqlStore(path, create=True)
            stores.append(store)
            cluster.paths[device] = path
            return store

        for device in (primary, *members):
            cluster.clocks[device] = ManualClock()
        cluster.replicas[primary] = Replica.new_library(
            store_for(primary),
            primary,
            members=dict.fromkeys(members, ""),
            clock=cluster.clocks[primary],
        )
        genesis = cluster.replicas[primary].genesis()
        for device in members:
            cluster.replicas[device] = Replica.join(
                store_for(device), device, genesis, cluster.clocks[device]
            )
        return cluster

    return make


@pytest.fixture
def sql_stores() -> Iterator[list[SqlStore]]:
    """Every SqlStore a test opens goes here and is closed at teardown."""
    stores: list[SqlStore] = []
    yield stores
    for store in stores:
        store.close()


@pytest.fixture
def mem_cluster(tmp_path: Path) -> MakeCluster:
    """A factory of in-memory libraries: ``mem_cluster("P", "A", "B")``."""
    return _factory(tmp_path, "memory", [])


@pytest.fixture
def sql_cluster(tmp_path: Path, sql_stores: list[SqlStore]) -> MakeCluster:
    """A factory of libraries whose replicas live in SQLite files under tmp_path."""
    return _factory(tmp_path, "sql", sql_stores)


@pytest.fixture(params=["memory", "sql"])
def any_cluster(request: pytest.FixtureRequest, tmp_path: Path, sql_stores: list[SqlStore]) -> MakeCluster:
    """The same factory on each backend in turn."""
    return _factory(tmp_path, request.param, sql_stores)


@pytest.fixture
def reopen(sql_stores: list[SqlStore]) -> Callable[[Path], Replica]:
    """Open a replica file again (a fresh process would see this); closed at teardown."""
    from storage import open_replica

    def open_again(path: Path) -> Replica:
        replica = open_replica(path)
        store = replica._store
        assert isinstance(store, SqlStore)
        sql_stores.append(store)
        return replica

    return open_again
