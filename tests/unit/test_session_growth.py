"""Sessions a long-running server no longer needs leave its database.

Every login (HTTP, legacy TCP/WebSocket ``login`` and ``register``) adds a row to
``sessions``; only a logout, a ban, a password change, or the session's own token
presented after its expiry deleted one. A client that logs in and drops its token
(a browser tab closed, a bot logging in for every run) left its row for good: a
churn of 1,800 REST logins against a real server left 1,800 rows (helper-52's
measurements), and a server run for months keeps every session ever opened. The
server now deletes expired sessions on a timer, in batches like message retention.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer, task
from twisted.internet.testing import MemoryReactorClock

from lairchat.config import load_config
from lairchat.core import passwords, retention
from lairchat.core.auth import SESSION_LIFETIME
from lairchat.core.deferreds import result
from lairchat.service import makeService
from lairchat.testing import make_core
from lairchat.transports.http.testing import CHEAP_HASHER

LOGINS = 200
#: Between two logins: the churn spans two days, so most sessions expire meanwhile.
EVERY = 900.0


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


@pytest.fixture
def core(clock: task.Clock, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    return make_core(clock=clock)


def no_pause() -> defer.Deferred:
    return defer.succeed(None)


def rows(core: Any) -> list[tuple[str, float]]:
    conn = core.store._writer.connection
    return list(conn.execute("SELECT id, expires_at FROM sessions ORDER BY expires_at"))


def test_expired_sessions_are_deleted_while_the_server_runs(core: Any, clock: task.Clock) -> None:
    result(core.auth.register("alice", "alice@example.com", "password123"))
    sweeper = retention.ExpiredSessionsService(core.store, clock, first=0, batch=7)
    sweeper.startService()
    logins = []
    for _ in range(LOGINS):
        logins.append(result(core.auth.login("alice", "password123")))
        clock.advance(EVERY)
    for _ in range(50):  # the hourly pass, batches and pauses included
        clock.advance(retention.PAUSE)
    clock.advance(retention.INTERVAL)
    for _ in range(50):
        clock.advance(retention.PAUSE)

    now = clock.seconds()
    kept = rows(core)
    assert all(expires >= now - retention.EXPIRED_GRACE for _, expires in kept)
    # Bounded by the logins of one lifetime (and the grace and one interval), not
    # by every login ever made.
    window = SESSION_LIFETIME + retention.EXPIRED_GRACE + retention.INTERVAL
    assert len(kept) <= window / EVERY + 1 < LOGINS
    # The sessions still valid are untouched: their tokens work.
    live = [a for a in logins if a.session.expires_at > now]
    assert {a.session.id for a in live} <= {session_id for session_id, _ in kept}
    assert result(core.auth.authenticate(live[-1].token))[1].id == live[-1].session.id
    sweeper.stopService()
    assert clock.getDelayedCalls() == []


def test_a_session_just_expired_is_kept_for_the_grace(core: Any, clock: task.Clock) -> None:
    """A live connection is closed at its session's expiry, by its own timer: the
    sweep must not beat it and have the session watcher close it as revoked."""
    session = result(core.auth.register("alice", "alice@example.com", "password123")).session
    clock.advance(SESSION_LIFETIME + 1)
    assert result(retention.prune_sessions(core.store, clock.seconds(), no_pause)) == 0
    assert [sid for sid, _ in rows(core)] == [session.id]
    clock.advance(retention.EXPIRED_GRACE)
    assert result(retention.prune_sessions(core.store, clock.seconds(), no_pause)) == 1
    assert rows(core) == []


def test_the_server_runs_the_sweep() -> None:
    environ = {"LAIR_DATABASE_URL": "sqlite::memory:", "LAIR_TCP_PORT": "0", "LAIR_HTTP_PORT": "0"}
    top = makeService(load_config({}, environ), MemoryReactorClock())
    (sweeper,) = [s for s in top if isinstance(s, retention.ExpiredSessionsService)]
    assert sweeper.store is top.core.store
    assert list(top).index(sweeper) < list(top).index(top.listeners[0])
