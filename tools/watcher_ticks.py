"""How long one tick of the revocation watchers holds the reactor thread.

In process and synthetic: N connections (``--per-user`` of them per user, each with
a session of its own) attached to a real :class:`lairchat.core.hub.Hub`, and a store
whose answers are built beforehand, as the reader thread builds them, and arrive on
a later reactor turn, as a thread pool's answer does. Each watcher's ``check`` runs
on :class:`Turns`, which runs what is called later turn by turn as a reactor does;
every turn a pass takes (the call itself, the database's answer, any chunk after
it) is timed apart. Printed per N, in milliseconds over ``--runs`` passes: the
longest turn of a pass (the median pass's, and the best pass's: on a busy machine
the best is the steadier figure), and all turns of a pass together (median).

    PYTHONPATH=. /work/venv/bin/python tools/watcher_ticks.py 1000 10000 20000

Nothing is revoked or changed in these passes: the cost measured is the steady one,
paid every 5 s whatever happens.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

from twisted.internet import defer, task

from lairchat.core.hub import Hub
from lairchat.core.users import UserService
from lairchat.domain.types import User
from lairchat.revocation import RoleWatcher, SessionWatcher


class Connection:
    """What the hub and the watchers read of a real-time connection, ``user_id``
    and ``session_id`` being properties as on :class:`lairchat.realtime.session.Session`
    (no fast path: the hub's ``user_online`` goes to :meth:`send_event`)."""

    def __init__(self, user: User, session_id: str):
        self.user = user
        self._session_id = session_id
        self.fast = None

    @property
    def user_id(self) -> str:
        return self.user.id

    @property
    def session_id(self) -> str:
        return self._session_id

    def send_event(self, event: Any) -> None:
        pass


class Turns:
    """A reactor's ``callLater(0, ...)`` without the reactor: what is called later
    runs on the next turn (:meth:`turn`), and what that calls later, on the one
    after (``task.Clock.advance(0)`` would run it all in one)."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def seconds(self) -> float:
        return 0.0

    def callLater(self, delay: float, f: Any, *args: Any, **kw: Any) -> Any:  # noqa: N802
        call = task.DelayedCall(0.0, f, args, kw, self.calls.remove, lambda call: None)
        self.calls.append(call)
        return call

    def turn(self) -> None:
        calls, self.calls = self.calls, []
        for call in calls:
            call.called = 1
            call.func(*call.args, **call.kw)


class Store:
    """Answers ready-made, each on the reactor turn after the question."""

    def __init__(self, clock: Turns, sessions: set[str], roles: dict[str, str]):
        self.clock = clock
        self.sessions = sessions
        self.roles = roles

    def _later(self, answer: Any) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        self.clock.callLater(0, d.callback, answer)
        return d

    def existing_sessions(self, session_ids: list[str]) -> defer.Deferred:
        return self._later(self.sessions)

    def system_roles(self, user_ids: list[str]) -> defer.Deferred:
        return self._later(self.roles)


def world(n: int, per_user: int) -> tuple[Hub, Turns, Store]:
    hub, clock = Hub(), Turns()
    sessions, roles = set(), {}
    for i in range(n):
        user_id = f"user-{i // per_user:08d}-0000-0000-0000-000000000000"
        user = User(user_id, f"u{i // per_user}", f"u{i}@example.com", "user", 0.0, 0.0)
        session_id = f"sess-{i:08d}-0000-0000-0000-000000000000"
        hub.attach(Connection(user, session_id))
        sessions.add(session_id)
        roles[user_id] = "user"
    return hub, clock, Store(clock, sessions, roles)


def turns(clock: Turns, check: Any) -> list[float]:
    """Seconds of each reactor turn one pass takes."""
    spent = []
    start = time.perf_counter()
    done = check()
    spent.append(time.perf_counter() - start)
    while clock.calls:
        start = time.perf_counter()
        clock.turn()
        spent.append(time.perf_counter() - start)
    assert done.called, "the pass did not finish"
    return spent


def measure(n: int, per_user: int, runs: int) -> dict[str, tuple[float, float, float, int]]:
    hub, clock, store = world(n, per_user)
    users = UserService(store, hub, clock)
    watchers = {
        "SessionWatcher": SessionWatcher(hub, store.existing_sessions, clock),
        "RoleWatcher": RoleWatcher(users, clock),
    }
    figures = {}
    for name, watcher in watchers.items():
        longest, total, count = [], [], 0
        for _ in range(runs):
            gc.collect()
            spent = turns(clock, watcher.check)
            longest.append(max(spent))
            total.append(sum(spent))
            count = len(spent)
        figures[name] = (
            statistics.median(longest),
            min(longest),
            statistics.median(total),
            count,
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000, 20000])
    parser.add_argument("--per-user", type=int, default=1, help="connections per user")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print("connections  watcher         longest turn (best)  all turns  turns")
    for n in args.sizes:
        for name, figures in measure(n, args.per_user, args.runs).items():
            longest, best, total, count = figures
            print(
                f"{n:>11}  {name:<14}  {longest * 1e3:>6.2f} ({best * 1e3:>5.2f}) ms"
                f"  {total * 1e3:>6.2f} ms  {count:>5}"
            )


if __name__ == "__main__":
    main()
