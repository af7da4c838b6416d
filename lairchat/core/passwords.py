"""Argon2id hashing with the original's parameters, off the reactor thread.

Hashes are interchangeable with the original's database (PHC strings, m=19456, t=2, p=1).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from twisted.internet import defer
from twisted.logger import Logger

from lairchat.domain.errors import LairError

HASHER = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)

#: Threads that hash passwords (the server's pool of them).
HASH_THREADS = 2
#: Seconds a password check may expect to wait for a hashing thread: past that, new
#: ones are refused (``rate_limited``) instead of queued. On a server whose core is
#: busy with chat traffic, hashing gets only the CPU left over (at_lowest_priority):
#: in the benchmark's login storm, 4.5 logins a second were hashed beside 1,000
#: messages a second on one core. Logins arriving faster than that queued without
#: bound, each waiting longer than the one before, long after its client gave up.
MAX_WAIT = 5.0
#: A hash's time before any was timed (argon2id with HASHER's cost, one free core).
FIRST_GUESS = 0.05
#: Weight of the newest hash time in the running estimate.
SMOOTHING = 0.2

log = Logger()


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
    """Hash and verify through ``run_blocking`` (a thread pool of ``threads`` in
    production), refusing new work while what is queued would keep it waiting more
    than ``max_wait`` seconds.

    ``run_blocking(fn, *args) -> Deferred``; tests pass a synchronous one. ``now``
    times each hash in its thread (wall time: under load a hash takes as long as the
    CPU it is given), and the wait is estimated from the running mean of those times.
    """

    def __init__(
        self,
        run_blocking: Callable[..., defer.Deferred],
        threads: int = HASH_THREADS,
        max_wait: float = MAX_WAIT,
        now: Callable[[], float] = time.monotonic,
    ):
        self._run = run_blocking
        self._dummy: str | None = None
        self._threads = threads
        self._max_wait = max_wait
        self._now = now
        #: Hashes handed to the threads and not yet done (running or queued).
        self.pending = 0
        #: Running mean of a hash's time, seconds.
        self.seconds = FIRST_GUESS
        #: Checks refused since start (lair_chat_password_checks_refused_total).
        self.refused = 0
        self._logged_at = -math.inf

    def hash(self, password: str) -> defer.Deferred:
        return self._submit(HASHER.hash, password)

    def verify(self, stored: str | None, password: str) -> defer.Deferred:
        """Verify; with ``stored=None`` hash anyway, so an unknown user costs the same time,
        and so does a stored value that is no PHC hash (an account being deleted has
        one no password matches): argon2 refuses it at once, which would tell."""
        if stored is None or not stored.startswith("$"):
            return self._submit(self._verify_unknown, password)
        return self._submit(_verify, stored, password)

    def expected_wait(self) -> float:
        """Seconds a check submitted now would wait before a thread takes it: the
        hashes ahead of it in the queue, shared by the threads."""
        queued = self.pending - self._threads + 1
        return max(0, math.ceil(queued / self._threads)) * self.seconds

    def _submit(self, fn: Callable[..., Any], *args: Any) -> defer.Deferred:
        wait = self.expected_wait()
        if wait > self._max_wait:
            return defer.fail(self._refusal(wait))
        self.pending += 1
        work = self._run(self._timed, fn, *args).addBoth(self._done)
        # The caller gets a Deferred of its own: one it cancels (Klein cancels a
        # request's when its client goes away) stops its waiting, not the count. The
        # hash is still queued or running in the pool, and counts until it is done:
        # else clients that sent a login and hung up filled the queue past the bound.
        answer = defer.Deferred()
        work.chainDeferred(answer)
        return answer

    def _timed(self, fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
        """In the hashing thread: ``fn(*args)`` and how long it took."""
        started = self._now()
        value = fn(*args)
        return value, self._now() - started

    def _done(self, outcome: Any) -> Any:
        self.pending -= 1
        if isinstance(outcome, tuple):
            value, took = outcome
            self.seconds += SMOOTHING * (took - self.seconds)
            return value
        return outcome  # a Failure: the hash raised

    def _refusal(self, wait: float) -> LairError:
        self.refused += 1
        now = self._now()
        if now - self._logged_at >= 60:
            self._logged_at = now
            log.warn(
                "password checks refused: {pending} waiting for {threads} hashing "
                "thread(s), about {wait:.1f} s; {refused} refused since start",
                pending=self.pending,
                threads=self._threads,
                wait=wait,
                refused=self.refused,
            )
        return LairError(
            "rate_limited",
            "The server is checking as many passwords as it can: try again shortly",
            details={
                "retry_after": max(1, math.ceil(wait - self._max_wait)),
                "limit": self._threads,
            },
        )

    def _verify_unknown(self, password: str) -> bool:
        """In the hashing thread: a verification against a hash of our own, always
        False. That hash is made there too, the first time: made on the reactor's
        thread, it stopped everything else for as long as a login takes. (Two
        threads may both make it at first; either one serves.)"""
        if self._dummy is None:
            self._dummy = HASHER.hash("lairchat-timing-equaliser")
        _verify(self._dummy, password)
        return False
