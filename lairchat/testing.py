"""Helpers for tests and benchmarks: a whole core on a synchronous store and a fake clock.

Like ``twisted.internet.testing``, this ships with the package so that our tests,
benchmarks and third-party client authors can drive a real core deterministically.
"""

from __future__ import annotations

from twisted.internet import task

from lairchat.core.deferreds import result, run_now
from lairchat.core.services import Core
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import SQLiteStore

TEST_SECRET = "lairchat-test-secret-0123456789abcdef"


def make_core(path: str = ":memory:", clock: task.Clock | None = None) -> Core:
    """A migrated store on ``path`` with every service, driven by ``clock``."""
    clock = clock or task.Clock()
    if clock.seconds() == 0:
        clock.advance(1_700_000_000)
    pool = ImmediatePool(path)
    migrate(pool.connection)
    store = SQLiteStore(pool, pool, path)
    core = Core.build(store, clock, TEST_SECRET, run_now)
    core.load()
    return core


__all__ = ["TEST_SECRET", "make_core", "result", "run_now"]
