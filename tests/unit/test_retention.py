"""Message retention (lairchat.core.retention): the store's batches, the rules that
must hold after pruning (seqs, unread counts, history paging), and the server's
schedule on a task.Clock. The operator command: tests/unit/test_ops_cli.py; a real
server with the setting on: tests/integration/test_retention_live.py."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer, task
from twisted.logger import globalLogPublisher

from lairchat.core import passwords, retention
from lairchat.core.deferreds import result
from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_ordered_id
from lairchat.domain.types import Message, Target, User
from lairchat.storage.sqlite.faults import StorageFault
from lairchat.testing import make_core
from lairchat.transports.http.testing import CHEAP_HASHER

DAY = 86400
NOW = 1_700_000_000
OLD = NOW - 40 * DAY  # older than 30 days
NEW = NOW - 10 * DAY


@pytest.fixture
def clock() -> task.Clock:
    clock = task.Clock()
    clock.advance(NOW)
    return clock


@pytest.fixture
def core(clock: task.Clock, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    return make_core(clock=clock)


def user(core: Any, name: str) -> User:
    return result(core.auth.register(name, f"{name}@example.com", "password123")).user


def stored(core: Any, author: User, target: Target, t: float, content: str = "hi") -> Message:
    message = Message(new_ordered_id(), author.id, target, content, False, t, t)
    result(core.store.insert_messages([message]))
    return message


def contents(core: Any) -> list[str]:
    conn = core.store._writer.connection
    return [row[0] for row in conn.execute("SELECT content FROM messages ORDER BY rowid")]


def no_pause() -> defer.Deferred:
    return defer.succeed(None)


@pytest.fixture
def world(core: Any) -> tuple[User, User, Target]:
    alice, bob = user(core, "alice"), user(core, "bob")
    room = result(core.rooms.create(alice, "general", None, None))
    result(core.rooms.join(bob, room.id))
    return alice, bob, Target("room", room.id)


# -- the store's batches ------------------------------------------------------------


def test_a_batch_deletes_the_old_among_the_next_messages(core, world) -> None:
    alice, bob, room = world
    for i in range(5):
        stored(core, alice, room, OLD, f"old{i}")
    stored(core, alice, room, NEW, "new")
    store, before = core.store, retention.cutoff(NOW, 30)
    deleted, after = result(store.prune_messages(before, 0, 2))
    assert deleted == 2
    assert contents(core) == ["old2", "old3", "old4", "new"]
    deleted, after = result(store.prune_messages(before, after, 2))
    assert (deleted, contents(core)) == (2, ["old4", "new"])
    deleted, after = result(store.prune_messages(before, after, 2))
    assert (deleted, contents(core)) == (1, ["new"])
    assert result(store.prune_messages(before, after, 2)) == (0, None)  # nothing old: done
    # A batch that reaches the newest message is the last.
    stored(core, alice, room, OLD, "late")
    assert result(store.prune_messages(before, after, 2)) == (1, None)
    assert contents(core) == ["new"]


def test_pruning_stops_at_the_first_batch_with_nothing_old(core, world) -> None:
    alice, bob, room = world
    stored(core, alice, room, NEW, "new")
    stored(core, alice, room, OLD, "stored late")  # the clock stood earlier
    store, before = core.store, retention.cutoff(NOW, 30)
    assert result(store.prune_messages(before, 0, 1)) == (0, None)
    assert result(retention.prune(store, before, no_pause, batch=1)) == 0
    # With both in one batch, it goes (the order within a batch does not matter).
    assert result(retention.prune(store, before, no_pause, batch=2)) == 1
    assert contents(core) == ["new"]


def test_prune_takes_one_transaction_per_batch_and_pauses_between(core, world) -> None:
    alice, bob, room = world
    for i in range(7):
        stored(core, bob, room, OLD, f"old{i}")
    stored(core, bob, room, NEW, "new")
    calls: list[Any] = []
    real = core.store.prune_messages

    def counted(*args: Any) -> defer.Deferred:
        calls.append(args)
        return real(*args)

    core.store.prune_messages = counted
    pauses: list[int] = []

    def pause() -> defer.Deferred:
        pauses.append(len(calls))
        return defer.succeed(None)

    before = retention.cutoff(NOW, 30)
    assert result(retention.prune(core.store, before, pause, batch=3)) == 7
    assert [after for _, after, _ in calls] == [0, 3, 6]
    assert pauses == [1, 2]  # between two batches, never after the last
    assert contents(core) == ["new"]


def test_room_and_direct_messages_alike(core, world) -> None:
    alice, bob, room = world
    stored(core, alice, Target("dm", bob.id), OLD, "old dm")
    stored(core, bob, room, OLD, "old room")
    stored(core, bob, Target("dm", alice.id), NEW, "new dm")
    assert result(retention.prune(core.store, retention.cutoff(NOW, 30), no_pause)) == 2
    assert contents(core) == ["new dm"]
    counts = result(core.store.unread_counts(alice.id, [room.id], alice.username))
    assert counts == {"by_room": {}, "by_dm": {bob.id: 1}, "mentions": {"by_room": {}, "by_dm": {}}}


# -- what must hold after pruning ---------------------------------------------------


def test_the_seqs_of_pruned_messages_are_never_given_again(core, world) -> None:
    """Everything pruned, the newest message included: the next message must not get
    its seq, or bob's read marker at it would count the new message as read."""
    alice, bob, room = world
    old = [stored(core, alice, room, OLD, f"old{i}") for i in range(3)]
    result(core.store.mark_read([(bob.id, room, old[-1].seq)], NOW))
    assert result(retention.prune(core.store, retention.cutoff(NOW, 30), no_pause)) == 3
    assert contents(core) == []
    fresh = stored(core, alice, room, NOW, "fresh")
    assert fresh.seq == old[-1].seq + 1
    assert result(core.store.unread_count(bob.id, room, bob.username)) == (1, 0)


def test_unread_counts_count_what_is_left(core, world) -> None:
    alice, bob, room = world
    read = stored(core, alice, room, OLD, "read")
    result(core.store.mark_read([(bob.id, room, read.seq)], NOW))
    stored(core, alice, room, OLD, "unread, pruned")
    stored(core, alice, room, NEW, "unread, kept")
    assert result(core.messages.unread_counts(bob))["total"] == 2
    result(retention.prune(core.store, retention.cutoff(NOW, 30), no_pause))
    assert result(core.messages.unread_counts(bob)) == {
        "total": 1,
        "by_room": {room.id: 1},
        "by_dm": {},
        "mentions": {"total": 0, "by_room": {}, "by_dm": {}},
    }
    assert result(core.messages.mark_read(bob, room, None)) == {
        "unread_count": 0,
        "mention_count": 0,
    }


def test_history_pages_end_where_the_pruned_part_began(core, world) -> None:
    alice, bob, room = world
    for i in range(3):
        stored(core, alice, room, OLD, f"old{i}")
    kept = [stored(core, alice, room, NEW + i, f"new{i}") for i in range(3)]
    result(retention.prune(core.store, retention.cutoff(NOW, 30), no_pause))
    page = result(core.messages.history(bob, room, 2))
    assert ([m.content for m in page.messages], page.has_more) == (["new2", "new1"], True)
    page = result(core.messages.history(bob, room, 2, before=kept[1].id))
    assert ([m.content for m in page.messages], page.has_more) == (["new0"], False)
    page = result(core.messages.history(bob, room, 2, after="2000-01-01T00:00:00Z"))
    assert ([m.content for m in page.messages], page.has_more) == (["new1", "new0"], True)


def test_a_cursor_on_a_pruned_message_is_not_found(core, world) -> None:
    """As for a message its author deleted: the client reads from the newest again."""
    alice, bob, room = world
    gone = stored(core, alice, room, OLD, "old")
    stored(core, alice, room, NEW, "new")
    result(retention.prune(core.store, retention.cutoff(NOW, 30), no_pause))
    with pytest.raises(LairError) as info:
        result(core.messages.history(bob, room, 10, before=gone.id))
    assert info.value.code == "message_not_found"


# -- the server's schedule ----------------------------------------------------------


def test_the_service_prunes_after_start_then_hourly(core, world, clock) -> None:
    alice, bob, room = world
    for i in range(3):
        stored(core, alice, room, OLD, f"old{i}")
    service = retention.RetentionService(core.store, clock, 30)
    service.startService()
    clock.advance(retention.FIRST_RUN - 0.01)
    assert len(contents(core)) == 3
    clock.advance(0.01)
    assert contents(core) == []

    # Messages age: one created now is pruned by the pass 30 days later.
    stored(core, alice, room, clock.seconds(), "today")
    for _ in range(30 * 24 - 1):
        clock.advance(retention.INTERVAL)
    assert contents(core) == ["today"]
    clock.advance(retention.INTERVAL + 1)  # the pass after its 30 days
    clock.advance(retention.INTERVAL)
    assert contents(core) == []
    service.stopService()
    assert clock.getDelayedCalls() == []


def test_the_service_pauses_between_batches_on_its_clock(core, world, clock) -> None:
    alice, bob, room = world
    for i in range(5):
        stored(core, alice, room, OLD, f"old{i}")
    stored(core, alice, room, NEW, "new")
    service = retention.RetentionService(core.store, clock, 30, first=0, batch=2)
    service.startService()
    clock.advance(0)
    assert contents(core) == ["old2", "old3", "old4", "new"]
    clock.advance(retention.PAUSE)
    assert contents(core) == ["old4", "new"]
    clock.advance(retention.PAUSE)
    assert contents(core) == ["new"]
    clock.advance(retention.PAUSE)  # the batch that finds nothing old ends the pass
    assert [c.getTime() for c in clock.getDelayedCalls()] == [clock.seconds() + retention.INTERVAL]
    service.stopService()


def test_a_stop_ends_the_pass_after_the_batch_in_flight(core, world, clock) -> None:
    alice, bob, room = world
    for i in range(5):
        stored(core, alice, room, OLD, f"old{i}")
    stored(core, alice, room, NEW, "new")
    service = retention.RetentionService(core.store, clock, 30, first=0)
    service.startService()
    held: list[defer.Deferred] = []
    real = core.store.prune_messages

    def slow(*args: Any) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        held.append(d)
        d.addCallback(lambda _: real(*args[:2], 2))
        return d

    core.store.prune_messages = slow
    clock.advance(0)
    stopped = service.stopService()
    assert not stopped.called  # waits for the batch in flight
    held[0].callback(None)
    clock.advance(retention.PAUSE)
    assert stopped.called
    assert len(held) == 1  # no batch after it
    assert contents(core) == ["old2", "old3", "old4", "new"]
    assert clock.getDelayedCalls() == []


def test_a_failed_pass_is_logged_and_the_next_one_runs(core, world, clock) -> None:
    alice, bob, room = world
    stored(core, alice, room, OLD, "old")
    real = core.store.prune_messages
    failures: list[Any] = [StorageFault("disk full"), RuntimeError("a bug")]

    def failing(*args: Any) -> defer.Deferred:
        if failures:
            return defer.fail(failures.pop(0))
        return real(*args)

    core.store.prune_messages = failing
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        service = retention.RetentionService(core.store, clock, 30)
        service.startService()
        clock.advance(retention.FIRST_RUN)  # the storage fault: logged where it arose
        clock.advance(retention.INTERVAL)  # the bug: logged here, with its traceback
        assert contents(core) == ["old"]
        clock.advance(retention.INTERVAL)
        assert contents(core) == []
    finally:
        globalLogPublisher.removeObserver(logged.append)
    failed = [e for e in logged if "log_failure" in e]
    assert len(failed) == 1
    assert isinstance(failed[0]["log_failure"].value, RuntimeError)
    service.stopService()


def test_pruned_text_is_overwritten_in_the_file(tmp_path, clock, monkeypatch) -> None:
    """Not only unlinked: a deleted row's text stays in a freed page until SQLite
    reuses it, and whoever can read the file (a backup made later) could read it."""
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    path = tmp_path / "chat.db"
    core = make_core(str(path), clock=clock)
    alice = user(core, "alice")
    for i in range(300):
        stored(core, alice, Target("dm", alice.id), OLD, f"secret-{i:04d}-" + "x" * 200)
    stored(core, alice, Target("dm", alice.id), NEW, "kept-message")
    assert result(retention.prune(core.store, retention.cutoff(NOW, 30), no_pause)) == 300
    conn = core.store._writer.connection
    assert conn.execute("PRAGMA secure_delete").fetchone() == (2,)  # ON for the pass only
    # The pass ends by emptying the write-ahead log, whose older frames still held
    # the text (and on a quiet server would have for good).
    log = path.with_name("chat.db-wal")
    assert not log.exists() or log.stat().st_size == 0
    data = path.read_bytes()
    assert b"kept-message" in data
    assert b"secret-" not in data


def test_a_deleted_message_is_zeroed_in_the_file(tmp_path, clock, monkeypatch) -> None:
    """A message its author deletes: SQLite leaves a deleted row's bytes in its page
    until the space is reused; the connections zero them (secure_delete FAST)."""
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    path = tmp_path / "chat.db"
    core = make_core(str(path), clock=clock)
    alice = user(core, "alice")
    gone = stored(core, alice, Target("dm", alice.id), NOW, "deleted-" + "x" * 100)
    stored(core, alice, Target("dm", alice.id), NOW, "kept-message")
    result(core.store.delete_message(gone.id))
    assert result(core.store.empty_log()) is True
    data = path.read_bytes()
    assert b"kept-message" in data
    assert b"deleted-" not in data


def test_a_stop_during_the_pause_runs_no_further_batch(core, world, clock) -> None:
    alice, bob, room = world
    for i in range(5):
        stored(core, alice, room, OLD, f"old{i}")
    service = retention.RetentionService(core.store, clock, 30, first=0, batch=2)
    service.startService()
    clock.advance(0)  # the first batch, then the pause
    assert contents(core) == ["old2", "old3", "old4"]
    stopped = service.stopService()
    assert not stopped.called
    clock.advance(retention.PAUSE)
    assert stopped.called
    assert contents(core) == ["old2", "old3", "old4"]
    assert clock.getDelayedCalls() == []
