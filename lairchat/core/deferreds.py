"""Write services as ``async def`` and hand Deferreds to Twisted callers."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from contextlib import asynccontextmanager
from typing import Any

from twisted.internet import defer
from twisted.python.failure import Failure


def deferred(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., defer.Deferred]:
    """Make an ``async def`` method return a Deferred (callers stay Twisted-native)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> defer.Deferred:
        return defer.Deferred.fromCoroutine(fn(*args, **kwargs))

    return wrapper


class KeyedLocks:
    """One holder at a time per key, the others waiting in turn; a key's lock is
    dropped once nobody holds or waits for it (the keys are rooms, users: many)."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, defer.DeferredLock] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = defer.DeferredLock()
        await lock.acquire()
        try:
            yield
        finally:
            lock.release()  # to the next waiting holder, if any
            if not lock.locked and self._locks.get(key) is lock:
                del self._locks[key]


def run_now(fn: Callable[..., Any], *args: Any) -> defer.Deferred:
    """A ``run_blocking`` that runs on the calling thread: for the operator command
    (no reactor) and deterministic tests."""
    return defer.maybeDeferred(fn, *args)


def result(d: defer.Deferred) -> Any:
    """The result of an already-fired Deferred; re-raises its failure."""
    out: list = []
    d.addBoth(out.append)
    if not out:
        raise RuntimeError("Deferred has not fired")
    if isinstance(out[0], Failure):
        out[0].raiseException()
    return out[0]
