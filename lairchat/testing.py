"""Helpers for tests and benchmarks: a whole core on a synchronous store and a fake clock.

Like ``twisted.internet.testing``, this ships with the package so that our tests,
benchmarks and third-party client authors can drive a real core deterministically.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, task
from twisted.python.failure import Failure

from lairchat.core.services import Core
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import SQLiteStore

TEST_SECRET = "lairchat-test-secret-0123456789abcdef"


def run_now(fn: Any, *args: Any) -> defer.Deferred:
    """A ``run_blocking`` that runs on the calling thread (deterministic tests)."""
    return defer.maybeDeferred(fn, *args)


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


def result(d: defer.Deferred) -> Any:
    """The result of an already-fired Deferred; re-raises its failure."""
    out: list = []
    d.addBoth(out.append)
    assert out, "Deferred has not fired"
    if isinstance(out[0], Failure):
        out[0].raiseException()
    return out[0]
