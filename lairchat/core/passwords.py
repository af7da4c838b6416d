"""Argon2id hashing with the original's parameters, off the reactor thread.

Hashes are interchangeable with the original's database (PHC strings, m=19456, t=2, p=1).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from twisted.internet import defer

HASHER = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_thread_state = threading.local()


def at_lowest_priority(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` on a thread whose CPU priority is the lowest (nice 19, Linux: per
    thread). Hashing is CPU-bound and can wait; chat traffic on the same core cannot.
    A login storm then takes only the CPU the reactor leaves idle."""

    @functools.wraps(fn)
    def run(*args: Any) -> Any:
        if not getattr(_thread_state, "lowered", False):
            _thread_state.lowered = True
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        return fn(*args)

    return run


class Passwords:
    """Hash and verify through ``run_blocking`` (a thread pool in production).

    ``run_blocking(fn, *args) -> Deferred``; tests pass a synchronous one.
    """

    def __init__(self, run_blocking: Callable[..., defer.Deferred]):
        self._run = run_blocking
        self._dummy: str | None = None

    def hash(self, password: str) -> defer.Deferred:
        return self._run(HASHER.hash, password)

    def verify(self, stored: str | None, password: str) -> defer.Deferred:
        """Verify; with ``stored=None`` hash anyway, so an unknown user costs the same time,
        and so does a stored value that is no PHC hash (an account being deleted has
        one no password matches): argon2 refuses it at once, which would tell."""
        if stored is None or not stored.startswith("$"):
            return self._run(self._verify_unknown, password)
        return self._run(_verify, stored, password)

    def _verify_unknown(self, password: str) -> bool:
        """In the hashing thread: a verification against a hash of our own, always
        False. That hash is made there too, the first time: made on the reactor's
        thread, it stopped everything else for as long as a login takes. (Two
        threads may both make it at first; either one serves.)"""
        if self._dummy is None:
            self._dummy = HASHER.hash("lairchat-timing-equaliser")
        _verify(self._dummy, password)
        return False
