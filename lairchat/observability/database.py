"""An adbapi pool wrapper that times every transaction and knows what is in flight.

``SQLiteStore`` only calls ``runInteraction`` and ``close`` on its pools, so wrapping
them in ``makeService`` instruments every query without touching the store. The
in-flight count is what a clean shutdown waits on: no acknowledged write is cut off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer


class ObservedPool:
    def __init__(self, pool: Any, clock: Any, observe: Callable[[float], None] | None = None):
        self.pool = pool
        self.clock = clock
        self._observe = observe
        #: Transactions called and not yet answered (their callers' callbacks included).
        self.in_flight = 0

    def runInteraction(self, fn: Callable, *args: Any, **kw: Any) -> defer.Deferred:  # noqa: N802
        self.in_flight += 1
        started = self.clock.seconds()
        answer: defer.Deferred = defer.Deferred()

        def done(result: Any) -> None:
            if self._observe is not None:
                self._observe(self.clock.seconds() - started)
            try:
                # The caller's callbacks run before the count drops: a transaction
                # they start from there (the store's next group commit) is counted
                # before this one is forgotten, so "idle" is never seen in between.
                answer.callback(result)
            finally:
                self.in_flight -= 1

        self.pool.runInteraction(fn, *args, **kw).addBoth(done)
        return answer

    @property
    def idle(self) -> bool:
        return self.in_flight == 0

    def close(self) -> None:
        self.pool.close()

    def __getattr__(self, name: str) -> Any:
        # Anything else (e.g. adbapi's ``running``) is the pool's own.
        return getattr(self.pool, name)
