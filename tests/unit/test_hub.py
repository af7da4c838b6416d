"""The hub: recipients per audience, presence, revocation and fault isolation
(PROTOCOL.md §9, DOMAIN.md §13)."""

from __future__ import annotations

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from lairchat.core.events import (
    ConnectionsAudience,
    Event,
    EveryoneAudience,
    OptedInAudience,
    RoomAudience,
    UserAudience,
    target_audience,
)
from lairchat.core.hub import Hub, ISubscriber
from lairchat.domain.types import Target
from lairchat.realtime.codec import encode

ALICE, BOB, CAROL, DAVE = "u-alice", "u-bob", "u-carol", "u-dave"
ROOM, OTHER = "r-room", "r-other"


@implementer(ISubscriber)
class Conn:
    """A fake subscriber recording what it is sent."""

    #: No fast path: the hub always calls send_event.
    fast = None
    backlogged = False
    #: Asked for lairchat's own events (ISubscriber.extended).
    extended = False

    def __init__(self, user_id: str, session_id: str = "s"):
        self.user_id = user_id
        self.session_id = session_id
        self.events: list[Event] = []
        self.closed: list[str] = []
        self.reading = True

    def send_event(self, event: Event) -> None:
        self.events.append(event)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self, reason: str, notice: object = None) -> None:
        self.closed.append(reason)

    def types(self) -> list[str]:
        return [e.type for e in self.events]


class Broken(Conn):
    def send_event(self, event: Event) -> None:
        raise RuntimeError("socket gone")


@pytest.fixture
def hub() -> Hub:
    hub = Hub()
    hub.load(
        [(ROOM, ALICE), (ROOM, BOB), (OTHER, CAROL)],
        {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave"},
    )
    return hub


def connect(hub: Hub, *conns: Conn) -> None:
    for conn in conns:
        hub.attach(conn)
    for conn in conns:
        conn.events.clear()


def ping(audience) -> Event:
    return Event({"type": "ping_test"}, audience)


def test_fake_subscriber_provides_the_interface():
    assert verifyObject(ISubscriber, Conn(ALICE))


# -- directory and membership index ---------------------------------------------------


def test_directory_and_membership_index(hub):
    assert hub.username(ALICE) == "alice" and hub.username("nobody") is None
    assert hub.user_exists(DAVE) and not hub.user_exists("nobody")
    hub.set_name("u-eve", "eve")
    assert hub.user_exists("u-eve")
    assert hub.members(ROOM) == {ALICE, BOB}
    assert hub.is_member(ROOM, ALICE) and not hub.is_member(ROOM, CAROL)
    assert not hub.is_member("nowhere", ALICE)
    hub.add_member(OTHER, ALICE)
    assert sorted(hub.rooms_of(ALICE)) == sorted([ROOM, OTHER])
    hub.remove_member(ROOM, ALICE)
    hub.remove_member("nowhere", ALICE)  # harmless
    assert hub.members(ROOM) == {BOB}
    hub.drop_room(ROOM)
    assert hub.members(ROOM) == frozenset() and hub.rooms_of(BOB) == []


# -- recipients -----------------------------------------------------------------------


def test_room_audience_reaches_every_connection_of_members_only(hub):
    a1, a2, b, c = Conn(ALICE, "s1"), Conn(ALICE, "s2"), Conn(BOB), Conn(CAROL)
    connect(hub, a1, a2, b, c)
    assert hub.publish(ping(RoomAudience(ROOM))) == 3
    assert [len(x.events) for x in (a1, a2, b, c)] == [1, 1, 1, 0]


def test_room_audience_also_and_exclude_user(hub):
    a, b, c, d = Conn(ALICE), Conn(BOB), Conn(CAROL), Conn(DAVE)
    connect(hub, a, b, c, d)
    hub.publish(ping(RoomAudience(ROOM, also=(DAVE, ALICE))))
    assert [len(x.events) for x in (a, b, c, d)] == [1, 1, 0, 1]  # no duplicate for ALICE
    hub.publish(ping(RoomAudience(ROOM, exclude_user=ALICE)))
    assert [len(x.events) for x in (a, b, c, d)] == [1, 2, 0, 1]


def test_unknown_room_has_no_recipients(hub):
    connect(hub, Conn(ALICE))
    assert hub.publish(ping(RoomAudience("nowhere"))) == 0


def test_a_deleted_room_leaves_nothing_behind_when_addressed(hub):
    """An event for a room deleted meanwhile (an edit of one of its messages, say)
    cached an empty connection list for it, and kept it for the server's life."""
    connect(hub, Conn(ALICE), Conn(BOB))
    hub.publish(ping(RoomAudience(ROOM)))
    hub.drop_room(ROOM)
    for room_id in (ROOM, "nowhere"):
        assert hub.publish(ping(RoomAudience(room_id))) == 0
        assert hub.room_connections(room_id) == []
    assert (hub._room_subs.keys() | hub._room_backlog.keys()) & {ROOM, "nowhere"} == set()


def test_user_audience(hub):
    a1, a2, b, c = Conn(ALICE, "s1"), Conn(ALICE, "s2"), Conn(BOB), Conn(CAROL)
    connect(hub, a1, a2, b, c)
    assert hub.publish(ping(UserAudience((ALICE, BOB)))) == 3
    assert [len(x.events) for x in (a1, a2, b, c)] == [1, 1, 1, 0]
    hub.publish(ping(UserAudience((ALICE, BOB), exclude_user=ALICE)))
    assert [len(x.events) for x in (a1, a2, b, c)] == [1, 1, 2, 0]


def test_dm_to_self_is_one_copy_per_connection(hub):
    a1, a2 = Conn(ALICE, "s1"), Conn(ALICE, "s2")
    connect(hub, a1, a2)
    event = ping(target_audience(Target("dm", ALICE), ALICE))
    assert hub.publish(event) == 2
    assert a1.events == [event] and a2.events == [event]


def test_target_audience():
    assert target_audience(Target("room", ROOM), ALICE) == RoomAudience(ROOM)
    assert target_audience(Target("dm", BOB), ALICE, exclude_user=ALICE) == UserAudience(
        (ALICE, BOB), exclude_user=ALICE
    )


def test_lairchat_events_reach_only_connections_that_asked_for_them(hub):
    """Event types Lair Chat's client does not know would end its TCP connection:
    only clients that asked (client_hello's lairchat-events) get them."""
    a1, a2, b1, c1 = Conn(ALICE), Conn(ALICE), Conn(BOB), Conn(CAROL)
    a2.extended = c1.extended = True
    connect(hub, a1, a2, b1, c1)
    assert hub.publish(ping(OptedInAudience((ALICE, BOB)))) == 1
    assert (a1.events, len(a2.events), b1.events, c1.events) == ([], 1, [], [])
    assert hub.publish(ping(OptedInAudience(None))) == 2  # everyone's that asked
    assert (a1.events, len(a2.events), b1.events, len(c1.events)) == ([], 2, [], 1)
    assert hub.publish(ping(OptedInAudience((CAROL, CAROL)))) == 1  # one copy each


def test_a_connections_audience_reaches_those_connections_only(hub):
    """Not the user's other connections (system_role_changed: only the stale ones),
    not one that did not ask, not one detached while the event was held in a batch."""
    a1, a2, a3, b1 = Conn(ALICE), Conn(ALICE), Conn(ALICE), Conn(BOB)
    a1.extended = a2.extended = b1.extended = True
    connect(hub, a1, a2, a3, b1)
    assert hub.publish(ping(ConnectionsAudience((a1, a3)))) == 1
    assert (len(a1.events), a2.events, a3.events, b1.events) == (1, [], [], [])
    with hub.batch():
        hub.publish(ping(ConnectionsAudience((a1, b1))))
        hub.detach(b1)
    assert a1.types() == ["ping_test", "ping_test", "user_offline"]
    assert b1.events == []


def test_everyone_audience_with_exclusion(hub):
    a, b1, b2 = Conn(ALICE), Conn(BOB, "s1"), Conn(BOB, "s2")
    connect(hub, a, b1, b2)
    assert hub.publish(ping(EveryoneAudience())) == 3
    assert hub.publish(ping(EveryoneAudience(exclude=b1))) == 2
    assert [len(x.events) for x in (a, b1, b2)] == [2, 1, 2]


def test_offline_users_get_nothing_and_deliveries_are_counted(hub):
    assert hub.publish(ping(RoomAudience(ROOM))) == 0
    connect(hub, Conn(ALICE))
    hub.publish(ping(RoomAudience(ROOM)))
    hub.publish(ping(EveryoneAudience()))
    assert hub.deliveries == 2


def test_one_failing_subscriber_does_not_stop_the_others(hub):
    a, broken, b = Conn(ALICE, "s1"), Broken(ALICE, "s2"), Conn(BOB)
    connect(hub, a, broken, b)
    assert hub.publish(ping(RoomAudience(ROOM))) == 3
    assert len(a.events) == 1 and len(b.events) == 1


def test_event_is_encoded_once():
    event = ping(EveryoneAudience())
    assert event.type == "ping_test"
    data = event.json()
    assert data == encode({"type": "ping_test"})
    assert event.json() is data


# -- presence -------------------------------------------------------------------------


def test_first_connection_announces_online_to_others_only(hub):
    b, c = Conn(BOB), Conn(CAROL)
    connect(hub, b, c)
    a1 = Conn(ALICE, "s1")
    hub.attach(a1)
    assert a1.events == []
    for other in (b, c):
        assert [e.payload for e in other.events] == [
            {"type": "user_online", "user_id": ALICE, "username": "alice"}
        ]
        assert list(other.events[0].payload) == ["type", "user_id", "username"]
    a2 = Conn(ALICE, "s2")
    hub.attach(a2)  # second connection: nothing announced
    assert (b.types(), a1.types(), a2.types()) == (["user_online"], [], [])
    assert hub.is_online(ALICE) and hub.connection_count() == 4
    assert hub.connections_of(ALICE) == {a1, a2}


def test_last_connection_announces_offline(hub):
    a1, a2, b = Conn(ALICE, "s1"), Conn(ALICE, "s2"), Conn(BOB)
    connect(hub, a1, a2, b)
    hub.detach(a1)
    assert b.events == [] and hub.is_online(ALICE)
    hub.detach(a2)
    assert [e.payload for e in b.events] == [
        {"type": "user_offline", "user_id": ALICE, "username": "alice"}
    ]
    assert a1.events == a2.events == []
    assert not hub.is_online(ALICE)
    assert hub.online_user_ids() == [BOB]
    assert hub.connections_of(ALICE) == frozenset()


def test_detach_twice_or_unknown_is_harmless(hub):
    a, b = Conn(ALICE), Conn(BOB)
    connect(hub, a, b)
    hub.detach(a)
    hub.detach(a)
    hub.detach(Conn(CAROL))
    assert b.types() == ["user_offline"]


def test_unknown_username_falls_back_to_the_id():
    hub = Hub()
    watcher = Conn(BOB)
    hub.attach(watcher)
    hub.attach(Conn("u-ghost"))
    assert watcher.events[0].payload["username"] == "u-ghost"


# -- revocation -----------------------------------------------------------------------


def test_close_session_closes_only_that_sessions_connections(hub):
    a1, a2, a3, b = Conn(ALICE, "s1"), Conn(ALICE, "s1"), Conn(ALICE, "s2"), Conn(BOB, "s9")
    connect(hub, a1, a2, a3, b)
    hub.close_session("s1", "logged out")
    assert (a1.closed, a2.closed, a3.closed, b.closed) == (["logged out"], ["logged out"], [], [])
    hub.close_session("unknown", "x")


def test_close_user_closes_every_connection_of_the_user(hub):
    a1, a2, b = Conn(ALICE, "s1"), Conn(ALICE, "s2"), Conn(BOB)
    connect(hub, a1, a2, b)
    hub.close_user(ALICE, "banned")
    assert (a1.closed, a2.closed, b.closed) == (["banned"], ["banned"], [])


def test_close_tolerates_detach_during_close(hub):
    """A transport detaches from inside ``close``; the loop must not trip over it."""

    class Detaching(Conn):
        def close(self, reason: str, notice: object = None) -> None:
            super().close(reason)
            hub.detach(self)

    a1, a2 = Detaching(ALICE, "s1"), Detaching(ALICE, "s1")
    connect(hub, a1, a2)
    hub.close_session("s1", "bye")
    assert a1.closed == a2.closed == ["bye"]
    assert not hub.is_online(ALICE)


def test_detached_connection_leaves_its_session_index(hub):
    a1 = Conn(ALICE, "s1")
    connect(hub, a1)
    hub.detach(a1)
    hub.close_session("s1", "late")
    assert a1.closed == []


# -- back-pressure: a congested room pauses its senders -----------------------------------


def crowd(hub: Hub, room: str, n: int) -> list[Conn]:
    """``n`` members of ``room``, one connection each, attached."""
    conns = []
    for i in range(n):
        user = f"u-{room}-{i}"
        hub.set_name(user, user)
        hub.add_member(room, user)
        conn = Conn(user, f"s-{user}")
        conn.backlogged = False
        hub.attach(conn)
        conns.append(conn)
    return conns


def fall_behind(hub: Hub, conn: Conn, behind: bool = True) -> None:
    conn.backlogged = behind
    hub.set_backlogged(conn)


def stalled(hub: Hub, n: int) -> tuple[Conn, list[Conn]]:
    """A room of ``n`` whose readers are all behind, and its sender, paused."""
    sender, *readers = crowd(hub, "r", n)
    for conn in readers:
        fall_behind(hub, conn)
    assert hub.throttle("r", sender) is True
    return sender, readers


def test_a_majority_of_backlogged_readers_pauses_the_sender():
    hub = Hub()
    sender, *readers = crowd(hub, "r", 5)
    for conn in readers[:2]:
        fall_behind(hub, conn)
    assert not hub.congested("r")  # 2 of 5: not a majority
    assert hub.throttle("r", sender) is False and sender.reading
    fall_behind(hub, readers[2])
    assert hub.congested("r")
    assert hub.throttle("r", sender) is True and not sender.reading
    assert hub.throttle("r", sender) is False  # paused once
    assert hub.senders_paused == 1


def test_one_stalled_reader_slows_no_one():
    hub = Hub()
    sender, *readers = crowd(hub, "r", 3)
    fall_behind(hub, readers[0])
    assert hub.throttle("r", sender) is False and sender.reading


def test_the_sender_reads_again_once_most_readers_caught_up():
    hub = Hub()
    sender, *readers = crowd(hub, "r", 5)
    for conn in readers[:3]:
        fall_behind(hub, conn)
    hub.throttle("r", sender)
    fall_behind(hub, readers[0], behind=False)
    assert sender.reading and not hub.congested("r")


def test_congestion_is_per_room():
    hub = Hub()
    crowd_a = crowd(hub, "a", 3)
    crowd_b = crowd(hub, "b", 3)
    for conn in crowd_a[1:]:
        fall_behind(hub, conn)
    assert hub.congested("a") and not hub.congested("b")
    assert hub.throttle("b", crowd_b[0]) is False and crowd_b[0].reading


def test_a_backlogged_reader_leaving_releases_the_sender():
    hub = Hub()
    sender, readers = stalled(hub, 4)
    hub.detach(readers[0])  # 2 of 3 still behind: still congested
    assert not sender.reading
    hub.remove_member("r", readers[1].user_id)  # 1 of 2: released
    assert sender.reading


def test_a_dropped_room_releases_its_senders():
    hub = Hub()
    sender, _ = stalled(hub, 3)
    hub.drop_room("r")
    assert sender.reading


def test_a_paused_sender_that_leaves_is_forgotten():
    hub = Hub()
    sender, readers = stalled(hub, 3)
    hub.detach(sender)
    for conn in readers:
        fall_behind(hub, conn, behind=False)
    assert not sender.reading  # never resumed: it is gone
    assert hub._paused == {} and hub._paused_in == {}  # nothing kept for it


def test_a_reader_backlogged_before_it_attached_is_counted():
    hub = Hub()
    sender, reader = crowd(hub, "r", 2)
    late = Conn("u-late", "s-late")
    late.backlogged = True
    hub.set_backlogged(late)  # not attached yet: ignored, and no error
    hub.set_name("u-late", "late")
    hub.add_member("r", "u-late")
    fall_behind(hub, reader)
    hub.attach(late)
    assert hub.congested("r")  # reader and late: 2 of 3
