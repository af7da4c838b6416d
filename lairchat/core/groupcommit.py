"""Group commit: many writers, one transaction at a time, each acknowledged after it.

While one batch is being written, newly arriving items queue up and go to disk
together in the next transaction. Each caller's Deferred fires only after the
commit that holds its item, so an acknowledgement always means "on disk", yet a
busy server commits once per batch rather than once per message (issue 8).

The callbacks of one batch run inside ``around()`` (the hub's ``batch``), so the
events they publish leave together: a run of messages to one room becomes one
write per connection rather than one per message.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Generic, TypeVar

from twisted.internet import defer
from twisted.python.failure import Failure

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], defer.Deferred],
        around: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ):
        """``write(items)`` stores a batch in one transaction and fires with one result
        per item, in order (or fails, and then none of them is stored)."""
        self._write = write
        self._around = around
        self._queue: list[tuple[T, defer.Deferred]] = []
        self._writing = False

    def add(self, item: T) -> defer.Deferred:
        """Queue ``item``; the Deferred fires with its result once it is committed."""
        d: defer.Deferred = defer.Deferred()
        self._queue.append((item, d))
        if not self._writing:
            self._flush()
        return d

    @property
    def queued(self) -> int:
        """Items waiting for the next transaction (not those being written)."""
        return len(self._queue)

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        self._writing = True
        self._write([item for item, _ in batch]).addBoth(self._written, batch)

    def _written(self, outcome: Any, batch: list[tuple[T, defer.Deferred]]) -> None:
        # Still "writing" while callers are acknowledged: what they add from their
        # callbacks queues up for the one next batch, not for concurrent ones.
        with self._around():
            if isinstance(outcome, Failure):
                for _, d in batch:
                    d.errback(outcome)
            else:
                for (_, d), value in zip(batch, outcome, strict=True):
                    d.callback(value)
        self._writing = False
        if self._queue:
            self._flush()
