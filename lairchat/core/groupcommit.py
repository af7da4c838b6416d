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
from twisted.logger import Logger
from twisted.python.failure import Failure

T = TypeVar("T")
_log = Logger()


class GroupCommit(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], defer.Deferred],
        around: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ):
        """``write(items)`` stores a batch in one transaction and fires with one result
        per item, in order (a Failure for an item it left out), or fails, and then
        none of them is stored."""
        self._write = write
        self._around = around
        #: Items for the next transaction, and who waits for them: ``(count, done,
        #: args)``, count None for one item (``done`` gets its result), else the
        #: number of items of a run (``done`` gets their results as a list).
        self._items: list[T] = []
        self._waiting: list[tuple[int | None, Callable[..., Any], tuple]] = []
        self._writing = False

    def add(self, item: T) -> defer.Deferred:
        """Queue ``item``; the Deferred fires with its result once it is committed."""
        d: defer.Deferred = defer.Deferred()
        self.submit(item, settle, d)
        return d

    def submit(self, item: T, done: Callable[..., Any], *args: Any) -> None:
        """Queue ``item``; once it is committed, ``done(result, *args)`` is called (or
        ``done(failure, *args)``). The hot path's form of :meth:`add`: no Deferred."""
        self._items.append(item)
        self._waiting.append((None, done, args))
        if not self._writing:
            self._flush()

    def submit_run(self, items: list[T], done: Callable[..., Any], *args: Any) -> None:
        """Queue ``items`` for one transaction together; once it is committed,
        ``done(results, *args)`` is called with their results (or Failures) in order:
        one callback for the run rather than one per item."""
        self._items += items
        self._waiting.append((len(items), done, args))
        if not self._writing:
            self._flush()

    @property
    def queued(self) -> int:
        """Items waiting for the next transaction (not those being written)."""
        return len(self._items)

    def _flush(self) -> None:
        items, waiting = self._items, self._waiting
        self._items, self._waiting = [], []
        self._writing = True
        # maybeDeferred: a write that raises at once fails its batch like one that
        # fails later, rather than leaving every later item queued for good.
        defer.maybeDeferred(self._write, items).addBoth(self._written, len(items), waiting)

    def _written(
        self, outcome: Any, size: int, waiting: list[tuple[int | None, Callable[..., Any], tuple]]
    ) -> None:
        # Still "writing" while callers are acknowledged: what they add from their
        # callbacks queues up for the one next batch, not for concurrent ones.
        results = [outcome] * size if isinstance(outcome, Failure) else outcome
        if len(results) != size:
            raise ValueError(f"{len(results)} results for {size} items")
        at = 0
        with self._around():
            for count, done, args in waiting:
                if count is None:
                    result = results[at]
                    at += 1
                else:
                    result = results[at : at + count]
                    at += count
                try:
                    done(result, *args)
                except Exception:
                    _log.failure("acknowledging a committed item failed")
        self._writing = False
        if self._items:
            self._flush()


def settle(outcome: Any, d: defer.Deferred) -> None:
    """A ``done`` for :meth:`GroupCommit.submit` that fires ``d`` with the outcome."""
    if isinstance(outcome, Failure):
        d.errback(outcome)
    else:
        d.callback(outcome)
