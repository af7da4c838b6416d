"""Password hashing in processes of their own, at the lowest CPU priority.

Argon2id takes about 30 ms of CPU and 19 MiB of memory per check. The server runs
its checks in two child processes (:data:`~lairchat.core.passwords.HASH_WORKERS`) rather than
in threads of its own:

- A hashing *thread* shares the reactor's interpreter: it needs the GIL back after
  every hash, and on a busy core waits for the reactor's to get it (or takes it
  from the reactor when the switch interval is up), and it shares the reactor's
  address space, whose lock every map and unmap of argon2's memory takes.
- A process lowers its own priority once, for everything it runs: ``SCHED_IDLE``
  (it gets only CPU no other task wants, and any task that wakes takes the CPU
  from it at once), else nice 19. In the server's own session, that puts hashing
  below the reactor and the message writer, not beside them.

Measured with the benchmark's login storm (20 logins a second offered beside 1,000
messages a second into a 100-member room, the server on one core; one server per
run), storm p99 of message latency:

- a prototype (processes of ``concurrent.futures``), three rounds: hashing threads
  at nice 19 10.8 / 12.4 / 12.7 ms, threads at ``SCHED_IDLE`` 10.1 / 9.3 / 11.5 ms,
  processes at ``SCHED_IDLE`` 9.3 / 8.6 / 9.4 ms (lowest in each round; the VM in
  a slow state, 3.8-8.0 ms without a storm);
- the build with it (`edce60c`, also with the writer's lock waits and a login's three
  round trips) against the session's start (threads at nice 19), four alternating
  pairs on a quieter VM: 4.4 / 6.8 / 7.5 / 7.6 ms against 6.0 / 6.9 / 7.2 / 8.5 ms
  (medians 7.1 and 7.0; 3.4-5.9 and 3.2-4.6 ms without a storm): no difference
  beyond the spread. The full runs after it met the storm's target (1.15x, 1.84x
  the p99 without it; docs/performance.md).

What it surely gives: no hashing thread contends for the GIL or the address space,
a check given up while queued is never hashed (:meth:`Hashers.withdraw`), a new
check during the server's stop fails at once, and under a system call filter that
kills (not the shipped unit's), a denied priority call kills a hasher, not the
server.

The wire is :mod:`lairchat.children`'s framing: the server sends ``[operation,
args]`` (:data:`lairchat.core.passwords.OPERATIONS`), one at a time to each process,
and the process answers ``[value, seconds]``, or ``{"error": text}`` if the
operation raised. Processes start on the first check (a server nobody logs in to
starts none) and again after one exits; a check whose process died is sent to
another once, then fails. A check whose caller gave up (a client that hung up) is
taken back if no process has it yet (:meth:`Hashers.withdraw`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections import deque
from typing import Any

import orjson
from twisted.internet import defer, protocol
from twisted.logger import Logger

from lairchat.children import child_environment, frame, read_frame, split_frames, write_frame
from lairchat.core.passwords import HASH_WORKERS, perform

log = Logger()

#: Times a check is sent to a process before its failure is the caller's.
TRIES = 2


class HashingFailed(Exception):
    """A check that no hashing process could answer."""


def lower_priority() -> str:
    """Lower this process's CPU priority as far as it goes; say how far."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "idle"
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)
        return "nice 19"
    return "unchanged"


def serve(requests: Any, replies: Any) -> None:
    """Answer checks until ``requests`` ends (the server closed it, or died)."""
    while (body := read_frame(requests)) is not None:
        try:
            operation, args = orjson.loads(body)
            reply: Any = list(perform(operation, *args))
        except Exception as e:  # noqa: BLE001 - the server's to report
            reply = {"error": f"{type(e).__name__}: {e}"}
        write_frame(replies, orjson.dumps(reply))


def main() -> None:
    # The server stops its hashers by closing their input; a stop signal sent to
    # the whole group (systemd, Ctrl-C) is its to act on.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    lower_priority()
    serve(sys.stdin.buffer, sys.stdout.buffer)


class _Check:
    __slots__ = ("request", "answer", "tries")

    def __init__(self, request: bytes, answer: defer.Deferred):
        self.request, self.answer, self.tries = request, answer, 0


class Hashers:
    """The server's side: checks queued for the first free process. A
    :data:`lairchat.core.passwords.Hashing`."""

    def __init__(self, reactor: Any, count: int = HASH_WORKERS, executable: str = sys.executable):
        self.reactor = reactor
        self.count = count
        self.executable = executable
        self._queue: deque[_Check] = deque()
        self._idle: list[_Hasher] = []
        self._running: set[_Hasher] = set()
        self._stopping = False

    def __call__(self, operation: str, *args: Any) -> defer.Deferred:
        if self._stopping:
            return defer.fail(HashingFailed("the server is stopping"))
        check = _Check(frame(orjson.dumps([operation, args])), defer.Deferred())
        self._queue.append(check)
        self._dispatch()
        return check.answer

    def withdraw(self, answer: defer.Deferred) -> None:
        """Take back the check ``answer`` is for if no process has it yet: it fails
        (``CancelledError``) and is never hashed. One being hashed is left to finish:
        its process is busy with it either way."""
        for check in self._queue:
            if check.answer is answer:
                self._queue.remove(check)
                answer.cancel()
                return

    def _dispatch(self) -> None:
        while self._queue and (self._idle or len(self._running) < self.count):
            hasher = self._idle.pop() if self._idle else self._spawn()
            hasher.take(self._queue.popleft())

    def _spawn(self) -> _Hasher:
        hasher = _Hasher(self)
        argv = [self.executable, "-m", "lairchat.hashers"]
        self.reactor.spawnProcess(
            hasher, argv[0], argv, env=child_environment(), childFDs={0: "w", 1: "r", 2: "r"}
        )
        self._running.add(hasher)
        return hasher

    def _answered(self, hasher: _Hasher, check: _Check, reply: Any) -> None:
        self._idle.append(hasher)
        if isinstance(reply, list):
            check.answer.callback(tuple(reply))
        else:
            check.answer.errback(HashingFailed(reply.get("error", "no answer")))
        self._dispatch()

    def _exited(self, hasher: _Hasher, check: _Check | None, reason: str) -> None:
        self._running.discard(hasher)
        if hasher in self._idle:
            self._idle.remove(hasher)
        if not self._stopping:
            log.warn("password hasher exited: {reason}", reason=reason)
        if check is not None:
            if check.tries < TRIES and not self._stopping:
                self._queue.appendleft(check)
            else:
                check.answer.errback(HashingFailed(f"hashing process exited: {reason}"))
        self._dispatch()

    def stop(self) -> None:
        """Close every process's input: each exits once its check is answered (not
        waited for: at the lowest priority on a busy core, that can take seconds).
        Checks still queued fail, and new ones."""
        self._stopping = True
        queued, self._queue = self._queue, deque()
        for check in queued:
            check.answer.errback(HashingFailed("the server is stopping"))
        for hasher in list(self._running):
            hasher.transport.closeStdin()


class _Hasher(protocol.ProcessProtocol):
    def __init__(self, owner: Hashers):
        self.owner = owner
        self.check: _Check | None = None
        self._buffer = b""

    def take(self, check: _Check) -> None:
        self.check = check
        check.tries += 1
        self.transport.write(check.request)

    def outReceived(self, data: bytes) -> None:  # noqa: N802
        replies, self._buffer = split_frames(self._buffer + data)
        for reply in replies:
            check, self.check = self.check, None
            if check is not None:
                self.owner._answered(self, check, orjson.loads(reply))

    def errReceived(self, data: bytes) -> None:  # noqa: N802
        for line in data.decode("utf-8", "replace").splitlines():
            log.error("password hasher: {line}", line=line)

    def processEnded(self, reason: Any) -> None:  # noqa: N802
        check, self.check = self.check, None
        self.owner._exited(self, check, reason.getErrorMessage())


if __name__ == "__main__":
    main()
