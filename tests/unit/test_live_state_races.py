"""Two changes to one room's state at once: each check passes before either write, and
the answers, the events and the hub must still agree with what the database holds.

The store is in memory and answers at once, so a race is staged by holding one of
its calls (:func:`hold`) while the other change runs to the end, then letting it go.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from twisted.internet import defer

from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_id
from lairchat.domain.types import Target, User
from lairchat.testing import result


def hold(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[Callable[[], None]]:
    """Make ``owner.<name>`` (a store method, or another call returning a Deferred)
    wait: each call runs only when its release (appended to the list) is called."""
    real = getattr(owner, name)
    releases: list[Callable[[], None]] = []

    def held(*args: object) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        releases.append(lambda: real(*args).chainDeferred(d))
        return d

    monkeypatch.setattr(owner, name, held)
    return releases


def late(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[Callable[[], None]]:
    """Like :func:`hold`, but each call runs at once and only its answer waits: what
    it read is stale by the time it is used."""
    real = getattr(owner, name)
    releases: list[Callable[[], None]] = []

    def answered_late(*args: object) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        answer = real(*args)
        releases.append(lambda: answer.chainDeferred(d))
        return d

    monkeypatch.setattr(owner, name, answered_late)
    return releases


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def s(w):
    """Room "general": alice owner, bob member; carol watches it."""
    users = {name: w.user(name) for name in ("alice", "bob", "carol")}
    room = w.ok(w.core.rooms.create(users["alice"], "general", None, None))
    for name in ("bob", "carol"):
        w.ok(w.core.rooms.join(users[name], room.id))
    watcher = w.connect(users["carol"])
    w.clear()
    return SimpleNamespace(room=room, watcher=watcher, **users)


def members(w, room_id: str) -> set[str]:
    return {m.username for m in result(w.core.store.list_members(room_id))}


@pytest.mark.parametrize("first", ["leave", "kick"])
def test_leave_and_kick_at_once_announce_one_departure(w, s, monkeypatch, first):
    # Both used to pass their checks and succeed: the room heard user_left_room twice.
    releases = hold(monkeypatch, w.core.store, "remove_membership")
    if first == "leave":
        winner = w.core.rooms.leave(s.bob, s.room.id)
        loser = w.core.rooms.kick(s.alice, s.room.id, s.bob.id)
    else:
        winner = w.core.rooms.kick(s.alice, s.room.id, s.bob.id)
        loser = w.core.rooms.leave(s.bob, s.room.id)
    while releases:
        releases.pop(0)()
    w.ok(winner)
    w.fails(loser, "not_room_member")
    departures = s.watcher.payloads("user_left_room")
    assert [d["reason"] for d in departures] == ["left" if first == "leave" else "kicked"]
    assert members(w, s.room.id) == {"alice", "carol"}
    assert not w.hub.is_member(s.room.id, s.bob.id)


@pytest.mark.parametrize("change", ["leave", "kick", "role"])
def test_a_change_to_a_room_deleted_meanwhile_is_not_room_member(w, s, monkeypatch, change):
    # Each answered success, and the departure or the new role was announced, for a
    # membership the deletion had already removed.
    name = "set_member_role" if change == "role" else "remove_membership"
    releases = hold(monkeypatch, w.core.store, name)
    rooms = w.core.rooms
    if change == "leave":
        running = rooms.leave(s.bob, s.room.id)
    elif change == "kick":
        running = rooms.kick(s.alice, s.room.id, s.bob.id)
    else:
        running = rooms.change_role(s.alice, s.room.id, s.bob.id, "moderator")
    w.ok(rooms.delete(s.alice, s.room.id))
    releases[0]()
    w.fails(running, "not_room_member")
    assert s.watcher.types() == ["room_deleted"]
    assert w.hub.rooms_of(s.bob.id) == []


def test_join_of_a_room_deleted_meanwhile_is_room_not_found(w, s, monkeypatch):
    # The membership insert broke the foreign key: internal_error and a traceback.
    dave = w.user("dave")
    releases = hold(monkeypatch, w.core.store, "add_membership")
    join = w.core.rooms.join(dave, s.room.id)
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    releases[0]()
    w.fails(join, "room_not_found")
    assert not w.hub.is_member(s.room.id, dave.id)
    assert s.watcher.types() == ["room_deleted"]


def test_invitation_accepted_as_its_room_is_deleted_is_room_not_found(w, s, monkeypatch):
    dave = w.user("dave")
    invitation = w.ok(w.core.invitations.create(s.alice, s.room.id, dave.id, True))
    releases = hold(monkeypatch, w.core.store, "add_membership")
    accept = w.core.invitations.accept(dave, invitation.id)
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    releases[0]()
    w.fails(accept, "room_not_found")
    assert w.hub.rooms_of(dave.id) == []


@pytest.mark.parametrize("mode", [True, False], ids=["http", "real-time"])
def test_invitation_to_a_room_deleted_meanwhile_is_room_not_found(w, s, monkeypatch, mode):
    # The deletion is not one of the room's changes that wait for each other: the
    # invitation's insert then broke a foreign key, an internal_error (500) with a
    # traceback in the log, where a moment later the same request is room_not_found.
    dave = w.user("dave")
    daves = w.connect(dave)
    releases = hold(monkeypatch, w.core.store, "create_invitation")
    invite = w.core.invitations.create(s.alice, s.room.id, dave.id, mode)
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    releases[0]()
    w.fails(invite, "room_not_found")
    assert daves.types() == []  # no invitation_received for a room that is gone
    assert result(w.core.invitations.pending(dave)) == ([], False)


def test_an_invitation_to_someone_joining_meanwhile_is_already_member(w, s, monkeypatch):
    # The invitee was checked not a member, joined (a public room), then the
    # invitation was written: it stayed pending for a week in their list, for a
    # room they were in, announced by an invitation_received.
    dave = w.user("dave")
    daves = w.connect(dave)
    releases = hold(monkeypatch, w.core.store, "create_invitation")
    invite = w.core.invitations.create(s.alice, s.room.id, dave.id, True)
    w.ok(w.core.rooms.join(dave, s.room.id))
    releases[0]()
    w.fails(invite, "already_member")
    assert result(w.core.invitations.pending(dave)) == ([], False)
    assert "invitation_received" not in daves.types()


@pytest.fixture
def invited(w, s):
    """dave, invited to "general" made private; his connection."""
    w.ok(w.core.rooms.update(s.alice, s.room.id, settings={"public": False}, settings_given=True))
    dave = w.user("dave")
    invitation = w.ok(w.core.invitations.create(s.alice, s.room.id, dave.id, True))
    daves = w.connect(dave)
    w.clear()
    return SimpleNamespace(dave=dave, invitation=invitation, sub=daves)


def test_an_invitation_declined_as_it_is_accepted_is_answered_once(w, s, invited, monkeypatch):
    # Both passed the "still pending" check: the accept joined the private room and the
    # decline then overwrote its status, both answered success; the invitation said
    # declined of someone who had joined with it.
    releases = hold(monkeypatch, w.core.store, "set_invitation_status")
    decline = w.core.invitations.decline(invited.dave, invited.invitation.id)
    w.ok(w.core.invitations.accept(invited.dave, invited.invitation.id))
    releases[0]()
    w.fails(decline, "invitation_expired")
    assert result(w.core.store.get_invitation(invited.invitation.id)).status == "accepted"
    assert w.hub.is_member(s.room.id, invited.dave.id)


@pytest.mark.parametrize(("answer", "stored"), [("decline", "declined"), ("revoke", "cancelled")])
@pytest.mark.parametrize("how", ["accept", "join"])
def test_a_private_room_is_not_entered_with_an_invitation_answered_meanwhile(
    w, s, invited, monkeypatch, how, answer, stored
):
    # The invitation was read pending, then declined (or revoked), then the membership
    # written: the invitation answered let its invitee into the private room all the same.
    releases = hold(monkeypatch, w.core.store, "add_membership")
    if how == "accept":
        entering = w.core.invitations.accept(invited.dave, invited.invitation.id)
    else:
        entering = w.core.rooms.join(invited.dave, s.room.id)
    if answer == "decline":
        w.ok(w.core.invitations.decline(invited.dave, invited.invitation.id))
    else:
        w.ok(w.core.invitations.revoke(s.alice, invited.invitation.id))
    releases[0]()
    w.fails(entering, "invitation_expired" if how == "accept" else "room_private")
    assert result(w.core.store.get_invitation(invited.invitation.id)).status == stored
    assert not w.hub.is_member(s.room.id, invited.dave.id)
    assert members(w, s.room.id) == {"alice", "bob", "carol"}
    assert s.watcher.types() == []


def status(w, invitation) -> str:
    return result(w.core.store.get_invitation(invitation.id)).status


def test_an_invitation_revoked_as_it_is_accepted_stays_accepted(w, s, invited, monkeypatch):
    # Both find it pending; the accept's write comes first: the revocation is answered
    # invitation_expired and does not overwrite the accepted status.
    releases = hold(monkeypatch, w.core.store, "set_invitation_status")
    revoke = w.core.invitations.revoke(s.alice, invited.invitation.id)
    w.ok(w.core.invitations.accept(invited.dave, invited.invitation.id))
    releases[0]()
    w.fails(revoke, "invitation_expired")
    assert status(w, invited.invitation) == "accepted"
    assert w.hub.is_member(s.room.id, invited.dave.id)


def test_an_invitation_revoked_twice_at_once_is_revoked_once(w, s, invited, monkeypatch):
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "moderator"))
    releases = hold(monkeypatch, w.core.store, "set_invitation_status")
    first = w.core.invitations.revoke(s.alice, invited.invitation.id)
    second = w.core.invitations.revoke(s.bob, invited.invitation.id)
    while releases:
        releases.pop(0)()
    w.ok(first)
    w.fails(second, "invitation_expired")
    assert status(w, invited.invitation) == "cancelled"


@pytest.mark.parametrize("first", ["decline", "revoke"])
def test_an_invitation_revoked_as_it_is_declined_is_answered_once(
    w, s, invited, monkeypatch, first
):
    releases = hold(monkeypatch, w.core.store, "set_invitation_status")
    decline = w.core.invitations.decline(invited.dave, invited.invitation.id)
    revoke = w.core.invitations.revoke(s.alice, invited.invitation.id)
    releases.pop(0 if first == "decline" else 1)()
    releases.pop()()
    winner, loser = (decline, revoke) if first == "decline" else (revoke, decline)
    w.ok(winner)
    w.fails(loser, "invitation_expired")
    assert status(w, invited.invitation) == ("declined" if first == "decline" else "cancelled")


def test_a_revocation_as_the_room_is_deleted_is_invitation_not_found(w, s, invited, monkeypatch):
    # The invitation went with its room between the revocation's read and its write:
    # invitation_expired said it had been answered.
    releases = hold(monkeypatch, w.core.store, "set_invitation_status")
    revoke = w.core.invitations.revoke(s.alice, invited.invitation.id)
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    releases[0]()
    w.fails(revoke, "invitation_not_found")


@pytest.mark.parametrize("change", ["demote", "kick"])
def test_a_moderator_demoted_or_kicked_while_revoking_revoked_first_or_not_at_all(
    w, s, invited, monkeypatch, change
):
    # bob (not the inviter) may revoke as a moderator: his check and his write are
    # one change of the room, so the demotion (or kick) is answered after it.
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "moderator"))
    releases = hold(monkeypatch, w.core.store, "set_invitation_status")
    revoke = w.core.invitations.revoke(s.bob, invited.invitation.id)
    if change == "demote":
        done = w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "member")
    else:
        done = w.core.rooms.kick(s.alice, s.room.id, s.bob.id)
    seen_then: list[str] = []
    done.addCallback(lambda _: seen_then.append(status(w, invited.invitation)))
    releases[0]()
    w.ok(revoke)
    w.ok(done)
    assert seen_then == ["cancelled"]  # revoked before bob lost the role
    w.ok(w.core.invitations.create(s.alice, s.room.id, invited.dave.id, True))
    again = result(w.core.invitations.pending(invited.dave))[0][0]
    # No longer a moderator: denied; no longer in the room: not told it exists.
    code = "permission_denied" if change == "demote" else "invitation_not_found"
    w.fails(w.core.invitations.revoke(s.bob, again.id), code)


def test_a_message_in_flight_as_its_sender_is_kicked_is_kept(w, s, monkeypatch):
    # Documented (architecture.md, "Decisions"): the membership check is when the
    # message is sent; the delivery is to the members at its commit.
    sender = w.connect(s.bob)
    w.clear()
    releases = hold(monkeypatch, w.core.messages.commits, "_write")  # the batch insert
    sent = w.core.messages.send(s.bob, Target("room", s.room.id), "last words")
    w.ok(w.core.rooms.kick(s.alice, s.room.id, s.bob.id))
    releases[0]()
    message = w.ok(sent)
    assert s.watcher.types() == ["user_left_room", "message_received"]
    assert sender.types() == ["user_left_room"]  # no longer a member: no copy
    history = w.ok(w.core.messages.history(s.alice, Target("room", s.room.id), 10))
    assert [m.id for m in history.messages] == [message.id]


def test_a_message_in_flight_as_its_room_is_deleted_reaches_nobody(w, s, monkeypatch):
    sender = w.connect(s.bob)
    w.clear()
    releases = hold(monkeypatch, w.core.messages.commits, "_write")  # the batch insert
    sent = w.core.messages.send(s.bob, Target("room", s.room.id), "too late")
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    releases[0]()
    w.ok(sent)  # stored, as the room's older messages stay (DOMAIN.md §7.4)
    assert s.watcher.types() == sender.types() == ["room_deleted"]


@pytest.mark.parametrize("how", ["join", "create"])
def test_a_member_made_by_another_process_is_named_in_room_events(w, s, how):
    # An account the operator command wrote while the server ran joined (or made) a
    # room and had its role changed: member_role_changed named it by its id.
    fred = User(new_id(), "fred", "fred@example.com", "user", 1, 1, "x")
    result(w.core.store.create_user(fred))
    if how == "join":
        w.ok(w.core.rooms.join(fred, s.room.id))
        w.ok(w.core.rooms.change_role(s.alice, s.room.id, fred.id, "moderator"))
        changes = s.watcher.payloads("member_role_changed")
    else:
        own = w.ok(w.core.rooms.create(fred, "fred's", None, None))
        mine = w.connect(fred, session_id=new_id())
        w.ok(w.core.rooms.change_role(fred, own.id, fred.id, "owner"))
        changes = mine.payloads("member_role_changed")
    assert [change["username"] for change in changes] == ["fred"]


def owners(w, room_id: str) -> set[str]:
    return {m.username for m in result(w.core.store.list_members(room_id)) if m.role == "owner"}


@pytest.fixture
def two_owners(w, s):
    """bob made an owner of "general" beside alice."""
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "owner"))
    w.clear()
    return s


@pytest.mark.parametrize("how", ["both leave", "each demotes the other", "one leaves, one demotes"])
def test_the_last_owner_stays_when_two_owners_go_at_once(w, two_owners, monkeypatch, how):
    # Each change counted two owners before either was written: the room was left
    # with none, and nobody could manage it any more.
    s = two_owners
    releases = late(monkeypatch, w.core.store, "count_owners")
    rooms = w.core.rooms
    if how == "both leave":
        first, second = rooms.leave(s.alice, s.room.id), rooms.leave(s.bob, s.room.id)
    elif how == "each demotes the other":
        first = rooms.change_role(s.alice, s.room.id, s.bob.id, "member")
        second = rooms.change_role(s.bob, s.room.id, s.alice.id, "member")
    else:
        first = rooms.leave(s.alice, s.room.id)
        second = rooms.change_role(s.bob, s.room.id, s.alice.id, "member")
    while releases:
        releases.pop(0)()
    w.ok(first)
    with pytest.raises(LairError) as refused:
        result(second)
    assert refused.value.code in ("last_owner", "not_room_member", "permission_denied")
    assert len(owners(w, s.room.id)) == 1


def test_a_page_read_as_its_reader_is_kicked_is_not_given(w, s, monkeypatch):
    # The page was read after the kick and held what was sent after it: the kicked
    # member got a message of a room they were no longer in.
    releases = hold(monkeypatch, w.core.store, "history")  # read once released
    page = w.core.messages.history(s.bob, Target("room", s.room.id), 10)
    w.ok(w.core.rooms.kick(s.alice, s.room.id, s.bob.id))
    w.ok(w.core.messages.send(s.alice, Target("room", s.room.id), "after the kick"))
    releases[0]()
    w.fails(page, "not_room_member")


def test_a_kick_keeps_out_of_a_private_room_only(w, s):
    # Documented (architecture.md, "A kick is not a ban").
    w.ok(w.core.rooms.kick(s.alice, s.room.id, s.bob.id))
    w.ok(w.core.rooms.join(s.bob, s.room.id))  # public: back at once
    secret = w.ok(w.core.rooms.create(s.alice, "secret", None, {"public": False}))
    invitation = w.ok(w.core.invitations.create(s.alice, secret.id, s.bob.id, True))
    w.ok(w.core.invitations.accept(s.bob, invitation.id))
    w.ok(w.core.rooms.kick(s.alice, secret.id, s.bob.id))
    w.fails(w.core.rooms.join(s.bob, secret.id), "room_private")
    w.fails(w.core.invitations.accept(s.bob, invitation.id), "invitation_expired")


def test_an_invitation_outlives_its_inviters_kick(w, s):
    secret = w.ok(w.core.rooms.create(s.alice, "secret", None, {"public": False}))
    invitation = w.ok(w.core.invitations.create(s.alice, secret.id, s.bob.id, True))
    w.ok(w.core.invitations.accept(s.bob, invitation.id))
    dave = w.user("dave")
    w.ok(w.core.invitations.create(s.bob, secret.id, dave.id, False))  # any member, TCP
    w.ok(w.core.rooms.kick(s.alice, secret.id, s.bob.id))
    w.ok(w.core.rooms.join(dave, secret.id))
    assert w.hub.is_member(secret.id, dave.id)


def test_an_update_of_a_room_deleted_meanwhile_is_room_not_found(w, s, monkeypatch):
    # It answered the renamed room, and told nobody, for a room that was gone.
    releases = hold(monkeypatch, w.core.store, "update_room")
    update = w.core.rooms.update(s.alice, s.room.id, name="renamed")
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    releases[0]()
    w.fails(update, "room_not_found")
    assert s.watcher.types() == ["room_deleted"]


def test_a_moderator_demoted_while_updating_has_updated_first_or_not_at_all(w, s, monkeypatch):
    # The update checked the moderator role, the demotion was written, then the
    # rename: a member had renamed the room.
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "moderator"))
    w.clear()
    releases = hold(monkeypatch, w.core.store, "update_room")
    update = w.core.rooms.update(s.bob, s.room.id, name="renamed by bob")
    demote = w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "member")
    releases[0]()
    w.ok(update)
    w.ok(demote)
    assert s.watcher.types() == ["room_updated", "member_role_changed"]


def test_a_moderator_demoted_while_deleting_has_deleted_first_or_not_at_all(w, s, monkeypatch):
    # The delete checked the moderator role, the demotion was written, then the
    # message went: a member had deleted someone else's message.
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "moderator"))
    message = w.ok(w.core.messages.send(s.carol, Target("room", s.room.id), "mine"))
    w.clear()
    releases = hold(monkeypatch, w.core.store, "delete_message")
    delete = w.core.messages.delete(s.bob, message.id)
    demote = w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "member")
    releases[0]()
    w.ok(delete)
    w.ok(demote)
    assert s.watcher.types() == ["message_deleted", "member_role_changed"]


def test_a_room_deleted_twice_at_once_is_deleted_once(w, s, monkeypatch):
    # Both deletions found the room, and both answered success.
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "owner"))
    w.clear()
    releases = hold(monkeypatch, w.core.store, "delete_room")
    first = w.core.rooms.delete(s.alice, s.room.id)
    second = w.core.rooms.delete(s.bob, s.room.id)
    while releases:
        releases.pop(0)()
    w.ok(first)
    w.fails(second, "room_not_found")
    assert [e["deleted_by"] for e in s.watcher.payloads("room_deleted")] == [s.alice.id]


@pytest.mark.parametrize("change", ["demote", "kick"])
def test_an_owner_demoted_or_kicked_while_deleting_the_room_has_not_deleted_it(
    w, s, monkeypatch, change
):
    # The deletion checked bob's owner role, alice's demotion (or kick) of bob was
    # written and announced, then the room went: someone no longer an owner, or no
    # longer in the room, had deleted it.
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "owner"))
    w.clear()
    releases = hold(monkeypatch, w.core.store, "delete_room")
    delete = w.core.rooms.delete(s.bob, s.room.id)
    if change == "demote":
        w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "member"))
    else:
        w.ok(w.core.rooms.kick(s.alice, s.room.id, s.bob.id))
    releases[0]()
    w.fails(delete, "permission_denied")
    assert w.ok(w.core.rooms.get(s.alice, s.room.id)).room.name == "general"
    assert w.hub.is_member(s.room.id, s.alice.id)
    assert "room_deleted" not in s.watcher.types()


@pytest.mark.parametrize("change", ["demote", "kick"])
def test_an_inviter_demoted_or_kicked_meanwhile_invited_first_or_not_at_all(
    w, s, monkeypatch, change
):
    # The invitation was checked against the moderator role, the demotion (or kick)
    # was written, then the invitation: someone no longer allowed had invited.
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "moderator"))
    dave = w.user("dave")
    releases = hold(monkeypatch, w.core.store, "create_invitation")
    invite = w.core.invitations.create(s.bob, s.room.id, dave.id, True)
    if change == "demote":
        done = w.core.rooms.change_role(s.alice, s.room.id, s.bob.id, "member")
    else:
        done = w.core.rooms.kick(s.alice, s.room.id, s.bob.id)
    seen_then = []
    done.addCallback(lambda _: seen_then.append(result(w.core.invitations.pending(dave))[0]))
    releases[0]()
    w.ok(invite)
    assert [len(pending) for pending in seen_then] == [1]  # it was there before


def test_a_message_edited_as_it_is_deleted_is_not_brought_back(w, s, monkeypatch):
    # The edit read the message, the deletion removed it (and told the room), then the
    # edit's update found no row: it answered success and announced message_edited
    # after message_deleted, which a client that applies edits brings back to view.
    message = w.ok(w.core.messages.send(s.bob, Target("room", s.room.id), "draft"))
    w.clear()
    releases = hold(monkeypatch, w.core.store, "update_message_content")
    edit = w.core.messages.edit(s.bob, message.id, "final")
    w.ok(w.core.messages.delete(s.bob, message.id))
    releases[0]()
    w.fails(edit, "message_not_found")
    assert s.watcher.types() == ["message_deleted"]


def test_a_message_deleted_twice_at_once_is_deleted_once(w, s, monkeypatch):
    # Both found the message and both answered success; the room heard
    # message_deleted twice.
    message = w.ok(w.core.messages.send(s.bob, Target("room", s.room.id), "oops"))
    w.clear()
    releases = hold(monkeypatch, w.core.store, "delete_message")
    first = w.core.messages.delete(s.bob, message.id)
    second = w.core.messages.delete(s.alice, message.id)  # the owner, as moderator
    while releases:
        releases.pop(0)()
    w.ok(first)
    w.fails(second, "message_not_found")
    assert [e["deleted_by"] for e in s.watcher.payloads("message_deleted")] == [s.bob.id]
