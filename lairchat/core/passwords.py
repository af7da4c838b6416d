"""Argon2id hashing with the original's parameters, off the reactor thread.

Hashes are interchangeable with the original's database (PHC strings, m=19456, t=2, p=1).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from lairchat.domain.errors import LairError

HASHER = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)

#: Workers that hash passwords (the server's processes or threads for it).
HASH_WORKERS = 2
#: Seconds a password check may expect to wait for a hashing worker: past that, new
#: ones are refused (``rate_limited``) instead of queued. On a server whose core is
#: busy with chat traffic, hashing gets only the CPU left over (lairchat.hashers):
#: in the benchmark's login storm, 4.5 logins a second were hashed beside 1,000
#: messages a second on one core. Logins arriving faster than that queued without
#: bound, each waiting longer than the one before, long after its client gave up.
MAX_WAIT = 5.0
#: A hash's time before any was timed (argon2id with HASHER's cost, one free core).
FIRST_GUESS = 0.05
#: Weight of the newest hash time in the running estimate.
SMOOTHING = 0.2

log = Logger()


def _hash(password: str) -> str:
    return HASHER.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_dummy: list[str] = []


def _verify_unknown(password: str) -> bool:
    """A verification against a hash of our own, always False. That hash is made in
    the hashing worker too, the first time: made on the reactor's thread, it stopped
    everything else for as long as a login takes. (Two threads may both make it at
    first; either one serves.)"""
    if not _dummy:
        _dummy.append(HASHER.hash("lairchat-timing-equaliser"))
    _verify(_dummy[0], password)
    return False


#: What a hashing worker is asked to do, by name (a process is sent the name).
OPERATIONS: dict[str, Callable[..., Any]] = {
    "hash": _hash,
    "verify": _verify,
    "verify_unknown": _verify_unknown,
}

#: ``hashing(operation, *args) -> Deferred`` firing with ``perform``'s answer.
Hashing = Callable[..., defer.Deferred]


def perform(operation: str, *args: Any) -> tuple[Any, float]:
    """In the hashing worker: ``OPERATIONS[operation](*args)`` and the seconds it
    took (wall time: under load a hash takes as long as the CPU it is given)."""
    started = time.monotonic()
    value = OPERATIONS[operation](*args)
    return value, time.monotonic() - started


def on_threads(run_blocking: Callable[..., defer.Deferred]) -> Hashing:
    """Hashing through ``run_blocking(fn, *args) -> Deferred`` (a thread pool; tests
    and the operator command run it at once)."""
    return functools.partial(run_blocking, perform)


class Passwords:
    """Hash and verify through ``hashing`` (:data:`Hashing`: the server's hashing
    processes, :mod:`lairchat.hashers`, or :func:`on_threads`), refusing new work while
    what is queued would keep it waiting more than ``max_wait`` seconds for one of
    the ``workers``.

    The wait is estimated from the running mean of the hashes' times, as the workers
    measure them. ``now`` dates the refusals' log lines.
    """

    def __init__(
        self,
        hashing: Hashing,
        workers: int = HASH_WORKERS,
        max_wait: float = MAX_WAIT,
        now: Callable[[], float] = time.monotonic,
    ):
        self._run = hashing
        self._workers = workers
        self._max_wait = max_wait
        self._now = now
        #: Hashes handed to the workers and not yet done (running or queued).
        self.pending = 0
        #: Running mean of a hash's time, seconds.
        self.seconds = FIRST_GUESS
        #: Checks refused since start (lair_chat_password_checks_refused_total).
        self.refused = 0
        self._logged_at = -math.inf

    def hash(self, password: str) -> defer.Deferred:
        return self._submit("hash", password)

    def verify(self, stored: str | None, password: str) -> defer.Deferred:
        """Verify; with ``stored=None`` hash anyway, so an unknown user costs the same time,
        and so does a stored value that is no PHC hash (an account being deleted has
        one no password matches): argon2 refuses it at once, which would tell."""
        if stored is None or not stored.startswith("$"):
            return self._submit("verify_unknown", password)
        return self._submit("verify", stored, password)

    def expected_wait(self) -> float:
        """Seconds a check submitted now would wait before a worker takes it: the
        hashes ahead of it in the queue, shared by the workers."""
        queued = self.pending - self._workers + 1
        return max(0, math.ceil(queued / self._workers)) * self.seconds

    def _submit(self, operation: str, *args: Any) -> defer.Deferred:
        wait = self.expected_wait()
        if wait > self._max_wait:
            return defer.fail(self._refusal(wait))
        self.pending += 1
        work = self._run(operation, *args).addBoth(self._done)
        # The caller gets a Deferred of its own: one it cancels (Klein cancels a
        # request's when its client goes away) stops its waiting, not the count. A
        # hash being computed counts until it is done: else clients that sent a login
        # and hung up filled the queue past the bound. One still queued is taken back
        # where the hashing can (lairchat.hashers.Hashers.withdraw), and never hashed.
        withdraw = getattr(self._run, "withdraw", None)
        answer = defer.Deferred(None if withdraw is None else lambda _: withdraw(work))

        def relay(outcome: Any) -> None:
            if not answer.called:  # else cancelled: the outcome is no one's
                (answer.errback if isinstance(outcome, Failure) else answer.callback)(outcome)

        work.addBoth(relay)
        return answer

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
                "password checks refused: {pending} waiting for {workers} hashing "
                "worker(s), about {wait:.1f} s; {refused} refused since start",
                pending=self.pending,
                workers=self._workers,
                wait=wait,
                refused=self.refused,
            )
        return LairError(
            "rate_limited",
            "The server is checking as many passwords as it can: try again shortly",
            details={
                "retry_after": max(1, math.ceil(wait - self._max_wait)),
                "limit": self._workers,
            },
        )
