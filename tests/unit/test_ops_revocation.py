"""Live connections whose session was deleted by another process get closed."""

from __future__ import annotations

import random
from pathlib import Path

from twisted.internet import defer, task
from twisted.logger import capturedLogs

from lairchat.core.hub import Hub
from lairchat.domain.types import Ban
from lairchat.revocation import ENDED, ROLE_CHUNK, SESSION_CHUNK, SessionWatcher
from lairchat.storage.sqlite.faults import StorageFault
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import SESSION_BATCH, SQLiteStore
from lairchat.testing import make_core, result
from lairchat.transports.http.testing import FakeConnection
from tools import watcher_ticks


def world(tmp_path: Path):
    clock = task.Clock()
    core = make_core(str(tmp_path / "chat.db"), clock)
    # A second connection to the same file: "another process" (lairchat admin ban).
    other = ImmediatePool(str(tmp_path / "chat.db"))
    return core, clock, other


def online(core, name: str) -> FakeConnection:
    registered = result(core.auth.register(name, f"{name}@example.com", "password1"))
    connection = FakeConnection(registered.user.id, registered.session.id)
    core.hub.attach(connection)
    return connection


def test_sessions_deleted_elsewhere_are_closed_within_one_interval(tmp_path: Path) -> None:
    core, clock, other = world(tmp_path)
    alice, bob = online(core, "alice"), online(core, "bob")
    reader = ImmediatePool(str(tmp_path / "chat.db"))
    store = SQLiteStore(reader, reader)
    watcher = SessionWatcher(core.hub, store.existing_sessions, clock, 5.0)
    watcher.startService()
    clock.advance(5)
    assert alice.closed == bob.closed == []

    other.connection.execute("DELETE FROM sessions WHERE user_id = ?", (bob.user_id,))
    other.connection.commit()
    clock.advance(4.9)
    assert bob.closed == []
    clock.advance(0.1)
    assert (alice.closed, bob.closed) == ([], ["session revoked"])
    watcher.stopService()
    assert not clock.getDelayedCalls()


def test_the_session_index_follows_connections_coming_and_going() -> None:
    """The watcher reads the hub's session index, not every connection: after any
    run of attaches and detaches (connections sharing a session, a detach twice, a
    detach of one never attached) it names exactly the sessions connected, once."""
    hub = Hub()
    rng = random.Random(105)
    attached: list[FakeConnection] = []
    for _ in range(600):
        if attached and rng.random() < 0.45:
            conn = attached.pop(rng.randrange(len(attached)))
            hub.detach(conn)
            hub.detach(conn)
        else:
            session = rng.randrange(12)
            conn = FakeConnection(f"user{session % 4}", f"session{session}")
            if rng.random() < 0.1:
                hub.detach(conn)  # never attached: the others of its session stay
            else:
                hub.attach(conn)
                attached.append(conn)
        ids = hub.session_ids()
        assert len(ids) == len(set(ids))
        assert set(ids) == {c.session_id for c in attached}
        for user_id in hub.online_user_ids():
            assert set(hub.connections_held(user_id)) == set(hub.connections_of(user_id))
            assert set(hub.connections_held(user_id)) == {
                c for c in attached if c.user_id == user_id
            }
    assert hub.connections_held("nobody") == ()


def test_a_chunked_pass_closes_each_session_gone_once() -> None:
    """Past the database's answer, ``chunk`` ids a reactor turn: every session gone
    is still closed, once, with what came and went meanwhile taken as it is."""
    core = make_core()
    conns = [online(core, f"user{i}") for i in range(5)]
    gone = {conns[0].session_id, conns[3].session_id, conns[4].session_id}
    asked: list = []
    answer: defer.Deferred = defer.Deferred()
    clock = task.Clock()
    watcher = SessionWatcher(core.hub, lambda ids: asked.append(ids) or answer, clock, chunk=2)
    done = watcher.check()
    (ids,) = asked
    assert sorted(ids) == sorted(c.session_id for c in conns)
    answer.callback({c.session_id for c in conns} - gone)
    assert not done.called  # the first chunk only; the rest on the next turns

    # Meanwhile: one of the sessions gone is reconnected to (its token checked
    # before it went), a connection of another one hangs up, a new one signs in.
    late = FakeConnection(conns[0].user_id, conns[0].session_id)
    core.hub.attach(late)
    core.hub.detach(conns[4])
    newcomer = online(core, "newcomer")
    clock.advance(0)
    assert sorted(result(done)) == sorted(gone)
    for conn in (conns[0], late, conns[3]):
        assert (conn.closed, conn.notices) == (["session revoked"], [ENDED])
    for conn in (conns[1], conns[2], conns[4], newcomer):
        assert conn.closed == []
    # Gone while it was looked up: no connection left to close, and no connection
    # still authenticating with it may attach.
    assert core.hub.ended(conns[4].session_id) is ENDED
    assert core.hub.ended(newcomer.session_id) is None


def test_a_chunked_pass_ends_within_the_same_interval(tmp_path: Path) -> None:
    core, clock, other = world(tmp_path)
    conns = [online(core, f"user{i}") for i in range(5)]
    reader = ImmediatePool(str(tmp_path / "chat.db"))
    store = SQLiteStore(reader, reader)
    watcher = SessionWatcher(core.hub, store.existing_sessions, clock, 5.0, chunk=1)
    watcher.startService()
    clock.advance(5)
    for gone in (conns[1], conns[4]):
        other.connection.execute("DELETE FROM sessions WHERE id = ?", (gone.session_id,))
    other.connection.commit()
    clock.advance(4.9)
    assert [c.closed for c in conns] == [[]] * 5
    clock.advance(0.1)
    assert [c.closed for c in conns] == [[], ["session revoked"], [], [], ["session revoked"]]
    watcher.stopService()
    assert not clock.getDelayedCalls()


def test_existing_sessions_in_batches(tmp_path: Path) -> None:
    core, _, _ = world(tmp_path)
    real = online(core, "alice").session_id
    ids = [f"missing-{i}" for i in range(SESSION_BATCH * 2 + 3)] + [real]
    reader = ImmediatePool(str(tmp_path / "chat.db"))
    assert result(SQLiteStore(reader, reader).existing_sessions(ids)) == {real}


def test_a_failed_check_is_logged_and_the_next_one_runs() -> None:
    core = make_core()
    alice = online(core, "alice")
    answers = [defer.fail(OSError("locked")), defer.succeed(set())]
    clock = task.Clock()
    watcher = SessionWatcher(core.hub, lambda ids: answers.pop(0), clock, 1.0)
    watcher.startService()
    clock.advance(1)
    assert alice.closed == []
    clock.advance(1)
    assert alice.closed == ["session revoked"]
    watcher.stopService()


def test_nothing_to_check_without_connections() -> None:
    core = make_core()
    calls: list = []
    watcher = SessionWatcher(core.hub, calls.append, task.Clock())
    assert result(watcher.check()) == []
    assert calls == []


def test_a_user_banned_elsewhere_is_told_why(tmp_path: Path) -> None:
    """`lairchat admin ban` writes the ban and deletes the sessions; the watcher's
    close then carries the same account_banned notice as a ban through the API."""
    core, clock, other = world(tmp_path)
    alice, bob = online(core, "alice"), online(core, "bob")
    elsewhere = SQLiteStore(other, other)
    # The operator's ban: no author (one by a plain account, alice, is refused).
    result(elsewhere.put_ban(Ban(bob.user_id, "spam", None, clock.seconds(), None)))
    for user in (alice, bob):
        result(elsewhere.delete_user_sessions(user.user_id))
    watcher = SessionWatcher(
        core.hub, elsewhere.existing_sessions, clock, 5.0, banned=core.auth.is_banned
    )
    assert sorted(result(watcher.check())) == sorted([alice.session_id, bob.session_id])
    assert (alice.closed, alice.notices) == (["session revoked"], [ENDED])
    assert bob.closed == ["banned"]
    assert [n.code for n in bob.notices] == ["account_banned"]


def test_an_expired_ban_is_no_reason(tmp_path: Path) -> None:
    core, clock, other = world(tmp_path)
    bob = online(core, "bob")
    elsewhere = SQLiteStore(other, other)
    clock.advance(7200)
    result(elsewhere.put_ban(Ban(bob.user_id, None, None, 0, clock.seconds() - 1)))
    result(elsewhere.delete_user_sessions(bob.user_id))
    watcher = SessionWatcher(
        core.hub, elsewhere.existing_sessions, clock, 5.0, banned=core.auth.is_banned
    )
    result(watcher.check())
    assert (bob.closed, bob.notices) == (["session revoked"], [ENDED])


def test_a_failed_ban_lookup_still_closes() -> None:
    core = make_core()
    alice = online(core, "alice")
    watcher = SessionWatcher(
        core.hub,
        lambda ids: defer.succeed(set()),
        task.Clock(),
        banned=lambda user_id: defer.fail(OSError("locked")),
    )
    assert result(watcher.check()) == [alice.session_id]
    assert (alice.closed, alice.notices) == (["session revoked"], [ENDED])


def test_a_storage_fault_is_not_logged_again() -> None:
    """The store logs a storage fault once; the watcher, meeting it every 5 s, adds
    no traceback of its own (another failure still gets one)."""
    core = make_core()
    alice = online(core, "alice")
    answers = [defer.fail(StorageFault("disk I/O error")), defer.fail(OSError("bug"))]
    watcher = SessionWatcher(core.hub, lambda ids: answers.pop(0), task.Clock())
    with capturedLogs() as events:
        assert result(watcher.check()) == []
        assert [e for e in events if e.get("log_failure")] == []
        assert result(watcher.check()) == []
        assert [e["log_format"] for e in events if e.get("log_failure")] == [
            "checking the connected sessions failed"
        ]
    assert alice.closed == []


def test_the_timing_script_times_each_reactor_turn_of_a_pass() -> None:
    """tools/watcher_ticks.py (docs/architecture.md's figures) runs, and sees the
    role comparison cut into chunks: 2,500 connections are the call, the answer's
    turn with the first 1,000, and two more turns."""
    assert (ROLE_CHUNK, SESSION_CHUNK) == (1000, 5000)
    figures = watcher_ticks.measure(2500, 1, 1)
    assert {name: f[3] for name, f in figures.items()} == {"SessionWatcher": 2, "RoleWatcher": 4}
    for longest, best, total, _ in figures.values():
        assert 0 < best <= longest <= total
