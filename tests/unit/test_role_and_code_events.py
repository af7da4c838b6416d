"""lairchat's own events for a system role changed and for room invite codes, in
memory over StringTransport (docs/protocols/TCP.md, "lairchat's own events"): who
receives ``system_role_changed`` (the user's own connections that asked and hold
another role, whoever changed it, here or in another process) and the
``invite_code_*`` events (the room's owners and moderators that asked, never a plain
member, never the code)."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer

from lairchat.core.hub import Hub
from lairchat.revocation import ROLE_CHUNK, RoleWatcher
from lairchat.testing import MemoryTCPServer, result

CODE_EVENTS = ("invite_code_created", "invite_code_used", "invite_code_revoked")


def code_events(client) -> list[dict[str, Any]]:
    return [f for f in client.frames() if f["type"] in CODE_EVENTS]


# -- system roles ------------------------------------------------------------------------


def test_a_role_set_here_is_told_to_the_users_own_connections_that_asked(
    core_tcp_world: MemoryTCPServer,
) -> None:
    w = core_tcp_world
    mine, other = w.login("alice", extended=True), w.login("alice", extended=True)
    plain = w.login("alice")  # Lair Chat's client: asks for nothing of ours
    bob = w.login("bob", extended=True)
    uid = w.uid("alice")

    result(w.core.users.set_role(uid, "admin"))
    for client in (mine, other):
        (event,) = client.of_type("system_role_changed")
        assert list(event) == ["type", "user"]
        assert event["user"]["role"] == "admin"
        assert event["user"] == client.ok("get_current_user")["user"]  # its own email
    assert "system_role_changed" not in plain.types() + bob.types()
    assert not plain.closed

    result(w.core.users.set_role(uid, "admin"))  # the role it has: nothing
    assert mine.of_type("system_role_changed") == []
    result(w.core.users.set_role(uid, "user"))
    assert [e["user"]["role"] for e in other.of_type("system_role_changed")] == ["user"]


def test_a_role_set_by_another_process_is_found_and_told_once(
    core_tcp_world: MemoryTCPServer,
) -> None:
    """``lairchat admin set-role`` writes the database only: RoleWatcher's pass finds
    the stored role differing from the one the connections signed in with."""
    w = core_tcp_world
    alice, bob = w.login("alice", extended=True), w.login("bob", extended=True)
    watcher = RoleWatcher(w.core.users, w.clock)
    assert result(watcher.check()) == []

    result(w.core.store.set_role(w.uid("alice"), "admin"))  # as the other process does
    assert alice.of_type("system_role_changed") == []
    assert result(watcher.check()) == [w.uid("alice")]
    (event,) = alice.of_type("system_role_changed")
    assert event["user"]["role"] == "admin"
    assert bob.of_type("system_role_changed") == []
    # Told once: the connections hold the new role now.
    assert result(watcher.check()) == []
    assert alice.of_type("system_role_changed") == []
    # A connection that signed in after the change already has it: nothing to tell.
    later = w.login("alice", extended=True)
    assert result(watcher.check()) == []
    assert later.of_type("system_role_changed") == []
    # And the other way, every connection of the user told.
    result(w.core.store.set_role(w.uid("alice"), "user"))
    assert result(watcher.check()) == [w.uid("alice")]
    for client in (alice, later):
        assert [e["user"]["role"] for e in client.of_type("system_role_changed")] == ["user"]


def test_a_device_that_signed_in_after_the_change_is_not_told_it(
    core_tcp_world: MemoryTCPServer,
) -> None:
    """One of the user's devices still holds the old role, another signed in after
    the operator's change and holds the new one: only the stale one is told (its
    client would otherwise say "You are now an admin" again), and once only."""
    w = core_tcp_world
    stale = w.login("alice", extended=True)
    watcher = RoleWatcher(w.core.users, w.clock)
    result(w.core.store.set_role(w.uid("alice"), "admin"))  # as the other process does
    fresh = w.login("alice", extended=True)
    assert fresh.ok("get_current_user")["user"]["role"] == "admin"

    assert result(watcher.check()) == [w.uid("alice")]
    assert [e["user"]["role"] for e in stale.of_type("system_role_changed")] == ["admin"]
    assert fresh.of_type("system_role_changed") == []
    assert result(watcher.check()) == []  # the next pass: nothing, to either
    assert stale.of_type("system_role_changed") == fresh.of_type("system_role_changed") == []

    # A change made here tells only the connections holding another role too.
    result(w.core.store.set_role(w.uid("alice"), "moderator"))
    newest = w.login("alice", extended=True)
    result(w.core.users.set_role(w.uid("alice"), "moderator"))
    for client in (stale, fresh):
        assert [e["user"]["role"] for e in client.of_type("system_role_changed")] == ["moderator"]
    assert newest.of_type("system_role_changed") == []


@pytest.mark.parametrize("chunk", [ROLE_CHUNK, 1])
def test_the_watcher_runs_every_five_seconds_and_survives_a_failed_read(
    core_tcp_world: MemoryTCPServer, chunk: int
) -> None:
    """In chunks of one connection a reactor turn too: within the same 5 s."""
    w = core_tcp_world
    others = [w.login(name, extended=True) for name in ("bob", "carol")]
    alice = w.login("alice", extended=True)
    watcher = RoleWatcher(w.core.users, w.clock, chunk=chunk)
    watcher.startService()
    try:
        store = w.core.store
        real = store.system_roles
        store.system_roles = lambda ids: defer.fail(OSError("disk"))
        result(store.set_role(w.uid("alice"), "moderator"))
        w.clock.advance(5)
        assert alice.of_type("system_role_changed") == []
        store.system_roles = real
        w.clock.advance(4.9)
        assert alice.of_type("system_role_changed") == []
        w.clock.advance(0.1)
        assert [e["user"]["role"] for e in alice.of_type("system_role_changed")] == ["moderator"]
        assert [c.of_type("system_role_changed") for c in others] == [[], []]
    finally:
        watcher.stopService()


def test_a_chunked_pass_tells_each_change_once_whatever_happens_meanwhile(
    core_tcp_world: MemoryTCPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connection a reactor turn: each compared as it is when its turn comes."""
    w = core_tcp_world
    names = ("alice", "bob", "carol", "dave", "erin")
    clients = {name: w.login(name, extended=True) for name in names}
    store = w.core.store
    read = store.system_roles

    def in_order(ids):  # the database's answer, in the order of ``names``
        order = [w.uid(n) for n in names]
        return read(ids).addCallback(lambda roles: {u: roles[u] for u in order if u in roles})

    monkeypatch.setattr(store, "system_roles", in_order)
    for name in ("alice", "bob", "dave", "erin"):
        result(store.set_role(w.uid(name), "moderator"))  # as the other process does

    def told(name: str) -> list[str]:
        return [e["user"]["role"] for e in clients[name].of_type("system_role_changed")]

    watcher = RoleWatcher(w.core.users, w.clock, chunk=1)
    done = watcher.check()
    assert not done.called  # alice's turn only; the rest on the next turns
    assert told("alice") == ["moderator"]
    assert told("bob") == []

    # Meanwhile: bob's role is set here too (and told by that), dave hangs up, and
    # carol's is set elsewhere after the read (this pass read her old role).
    result(w.core.users.set_role(w.uid("bob"), "moderator"))
    assert told("bob") == ["moderator"]
    clients["dave"].drop()
    result(store.set_role(w.uid("carol"), "admin"))
    w.clock.advance(0)
    assert result(done) == [w.uid("alice"), w.uid("erin")]
    assert (told("alice"), told("bob"), told("carol"), told("erin")) == ([], [], [], ["moderator"])

    # The next pass (within 5 s) finds carol's; nothing is told twice.
    for changed in ([w.uid("carol")], []):
        done = watcher.check()
        w.clock.advance(0)
        assert result(done) == changed
    assert told("carol") == ["admin"]
    assert [told(name) for name in ("alice", "bob", "carol", "erin")] == [[], [], [], []]


def test_no_connection_no_read() -> None:
    class Users:
        hub = Hub()
        store = None  # read, it would fail

    assert result(RoleWatcher(Users(), None).check()) == []


# -- invite codes ------------------------------------------------------------------------


def den(w: MemoryTCPServer) -> tuple[str, dict[str, Any]]:
    """alice owns the private room "den", moe moderates it, bob is a plain member, all
    three asking for lairchat's events; carol (asking too) is in no room; alice also
    has a connection that does not ask. Returns the room id and the connections."""
    alice = w.login("alice", extended=True)
    c = {"alice": alice, "moe": w.login("moe", extended=True), "bob": w.login("bob", extended=True)}
    c["carol"] = w.login("carol", extended=True)
    c["plain"] = w.login("alice")
    room = alice.ok("create_room", name="den", settings={"public": False})["room"]["id"]
    for name in ("moe", "bob"):
        alice.ok("invite_to_room", room_id=room, user_id=w.uid(name))
        c[name].ok("join_room", room_id=room)
    result(w.core.rooms.change_role(w.accounts["alice"].user, room, w.uid("moe"), "moderator"))
    for client in c.values():
        client.frames()
    return room, c


def test_a_code_made_used_and_revoked_is_told_to_the_rooms_owners_and_moderators(
    core_tcp_world: MemoryTCPServer,
) -> None:
    w = core_tcp_world
    room, c = den(w)
    made = c["moe"].ok("create_invite_code", room_id=room, max_uses=2)["invite_code"]
    assert "code" in made
    listed = made.copy()
    del listed["code"]
    for name in ("alice", "moe"):
        (event,) = code_events(c[name])
        assert event == {"type": "invite_code_created", "room_id": room, "invite_code": listed}
    for name in ("bob", "carol", "plain"):
        assert code_events(c[name]) == []

    c["carol"].ok("join_by_invite_code", code=made["code"])
    (used,) = code_events(c["alice"])
    assert code_events(c["moe"]) == [used]
    assert used == {
        "type": "invite_code_used",
        "room_id": room,
        "invite_code": {**listed, "uses": 1},
    }
    # What the listing shows, in its order: never the code.
    (now,) = c["alice"].ok("list_invite_codes", room_id=room)["invite_codes"]
    assert list(used["invite_code"].items()) == list(now.items())
    for name in ("bob", "carol", "plain"):
        assert code_events(c[name]) == []  # carol is a plain member now

    c["alice"].ok("revoke_invite_code", room_id=room, code_id=made["id"])
    for name in ("alice", "moe"):
        assert code_events(c[name]) == [
            {
                "type": "invite_code_revoked",
                "room_id": room,
                "code_id": made["id"],
                "revoked_by": w.uid("alice"),
                "reason": "revoked",
            }
        ]
    for name in ("bob", "carol", "plain"):
        assert code_events(c[name]) == []
        assert not c[name].closed


def test_a_code_used_up_is_told_with_its_uses_at_max_uses(core_tcp_world) -> None:
    w = core_tcp_world
    room, c = den(w)
    made = c["alice"].ok("create_invite_code", room_id=room, max_uses=1)["invite_code"]
    c["alice"].frames(), c["moe"].frames()
    c["carol"].ok("join_by_invite_code", code=made["code"])
    (used,) = code_events(c["moe"])
    assert (used["type"], used["invite_code"]["uses"], used["invite_code"]["max_uses"]) == (
        "invite_code_used",
        1,
        1,
    )
    assert c["moe"].ok("list_invite_codes", room_id=room)["invite_codes"] == []


def test_a_kicked_or_demoted_moderators_codes_are_told_revoked(core_tcp_world) -> None:
    w = core_tcp_world
    room, c = den(w)
    alice = w.accounts["alice"].user
    w.login("eddy", extended=True)
    ed = w.accounts["eddy"].user
    eds = w.login("eddy", extended=True)
    c["alice"].ok("invite_to_room", room_id=room, user_id=ed.id)
    eds.ok("join_room", room_id=room)
    result(w.core.rooms.change_role(alice, room, ed.id, "moderator"))
    first = c["moe"].ok("create_invite_code", room_id=room)["invite_code"]["id"]
    second = eds.ok("create_invite_code", room_id=room)["invite_code"]["id"]
    for client in (*c.values(), eds):
        client.frames()

    result(w.core.rooms.change_role(alice, room, w.uid("moe"), "member"))
    told = {
        "type": "invite_code_revoked",
        "room_id": room,
        "code_id": first,
        "revoked_by": alice.id,
        "reason": "demoted",
    }
    assert code_events(c["alice"]) == [told] and code_events(eds) == [told]
    assert code_events(c["moe"]) == []  # a member now: not told

    result(w.core.rooms.kick(alice, room, ed.id))
    assert code_events(c["alice"]) == [{**told, "code_id": second, "reason": "kicked"}]
    assert code_events(eds) == []  # no longer in the room
    for name in ("bob", "carol", "plain", "moe"):
        assert code_events(c[name]) == []


def test_nobody_asking_reads_no_roles(core_tcp_world, monkeypatch) -> None:
    """A room none of whose members' connections asked is told nothing, and its
    members are not read for it."""
    w = core_tcp_world
    alice = w.login("alice")
    room = alice.ok("create_room", name="den")["room"]["id"]
    monkeypatch.setattr(w.core.store, "list_members", None)  # read, it would fail
    alice.ok("create_invite_code", room_id=room)
    assert code_events(alice) == []


def test_a_code_revoked_or_expired_while_its_use_is_told_is_not_told_used_up(
    core_tcp_world, monkeypatch
) -> None:
    """The use's event reads the code after the join: one revoked in between (which
    said so) or expired in between is not told "used up", with a count it never
    reached."""
    w = core_tcp_world
    room, c = den(w)
    alice = w.accounts["alice"].user
    codes = w.core.invite_codes
    store = w.core.store
    read = store.invite_code

    made = c["alice"].ok("create_invite_code", room_id=room, max_uses=5)["invite_code"]
    then = {"do": lambda: result(codes.revoke(alice, room, made["id"]))}

    def meanwhile(*args):
        then.pop("do", lambda: None)()
        return read(*args)

    monkeypatch.setattr(store, "invite_code", meanwhile)
    for client in c.values():
        client.frames()
    c["carol"].ok("join_by_invite_code", code=made["code"])
    assert [e["type"] for e in code_events(c["moe"])] == ["invite_code_revoked"]

    other = c["alice"].ok("create_invite_code", room_id=room, max_uses=5, expires_in_hours=1)
    other = other["invite_code"]
    # Ended meanwhile, as an hour's end would end it.
    ended = "UPDATE room_invite_codes SET expires_at = ? WHERE id = ?"
    at = (int(w.clock.seconds()), other["id"])
    then["do"] = lambda: result(store._write(lambda cur: cur.execute(ended, at)))
    for client in c.values():
        client.frames()
    w.login("dora", extended=True).ok("join_by_invite_code", code=other["code"])
    assert code_events(c["moe"]) == []
