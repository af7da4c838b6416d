"""Write services as ``async def`` and hand Deferreds to Twisted callers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet import defer


def deferred(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., defer.Deferred]:
    """Make an ``async def`` method return a Deferred (callers stay Twisted-native)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> defer.Deferred:
        return defer.Deferred.fromCoroutine(fn(*args, **kwargs))

    return wrapper
