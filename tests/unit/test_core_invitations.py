"""InvitationService: create (HTTP and real-time rules), list, accept, decline, expiry
(DOMAIN.md §9, HTTP.md §5.5, PROTOCOL.md §7.2, §9)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lairchat.core.invitations import INVITATION_LIFETIME, LISTED_MAX
from lairchat.domain.ids import new_id
from lairchat.domain.types import Membership
from lairchat.testing import result

T0 = 1_700_000_000
WEEK = 7 * 24 * 3600
HTTP, TCP = True, False  # moderators_only


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def s(w):
    """alice owns "general" (public) and "secret" (private); carol moderates both;
    bob is a member of both; dave and erin belong to neither. All connected."""
    users = {name: w.user(name) for name in ("alice", "bob", "carol", "dave", "erin")}
    general = w.ok(w.core.rooms.create(users["alice"], "general", None, None))
    secret = w.ok(w.core.rooms.create(users["alice"], "secret", None, {"public": False}))
    for room in (general, secret):
        for name, role in (("bob", "member"), ("carol", "moderator")):
            result(
                w.core.store.add_membership(
                    Membership(room.id, users[name].id, role, T0), None, None
                )
            )
            w.hub.add_member(room.id, users[name].id)
    subs = {name: w.connect(user) for name, user in users.items()}
    w.clear()
    return SimpleNamespace(general=general, secret=secret, subs=subs, **users)


def invite(w, s, actor="alice", invitee="dave", room="secret", mode=HTTP):
    return w.core.invitations.create(
        getattr(s, actor), getattr(s, room).id, getattr(s, invitee).id, mode
    )


# -- create ---------------------------------------------------------------------------


def test_create_stores_a_seven_day_invitation_and_tells_the_invitee(w, s):
    w.clock.advance(0.5)
    invitation = w.ok(invite(w, s))
    assert (invitation.status, invitation.responded_at) == ("pending", None)
    assert invitation.expires_at == invitation.created_at + INVITATION_LIFETIME == T0 + 0.5 + WEEK
    wire = invitation.to_wire()
    assert (wire["room_name"], wire["inviter_name"], wire["invitee_name"]) == (
        "secret",
        "alice",
        "dave",
    )
    assert wire["message"] is None
    stored = result(w.core.store.get_invitation(invitation.id))
    assert (stored.status, stored.created_at, stored.expires_at) == ("pending", T0, T0 + WEEK)

    assert w.received("invitation_received") == {
        s.dave.id: [{"type": "invitation_received", "invitation": wire}]
    }
    assert list(s.subs["dave"].events[0].payload) == ["type", "invitation"]


def test_invitation_event_reaches_every_connection_of_the_invitee(w, s):
    second = w.connect(s.dave)
    w.ok(invite(w, s))
    assert s.subs["dave"].types() == second.types() == ["invitation_received"]


@pytest.mark.parametrize(
    ("actor", "mode", "code"),
    [
        ("alice", HTTP, None),
        ("carol", HTTP, None),
        ("bob", HTTP, "permission_denied"),  # HTTP: owners and moderators only
        ("erin", HTTP, "not_room_member"),
        ("alice", TCP, None),
        ("carol", TCP, None),
        ("bob", TCP, None),  # real-time: any member, as the original
        ("erin", TCP, "not_room_member"),
    ],
)
def test_who_may_invite(w, s, actor, mode, code):
    d = invite(w, s, actor=actor, mode=mode)
    if code is None:
        assert w.ok(d).inviter_id == getattr(s, actor).id
    else:
        w.fails(d, code)
        assert w.received("invitation_received") == {}


@pytest.mark.parametrize(("mode", "code"), [(HTTP, "not_room_member"), (TCP, "room_not_found")])
@pytest.mark.parametrize("room_id", [None, new_id()])
def test_unknown_room(w, s, mode, code, room_id):
    w.fails(w.core.invitations.create(s.alice, room_id, s.dave.id, mode), code)


@pytest.mark.parametrize(
    ("actor", "invitee_id", "mode", "code"),
    [
        ("alice", None, HTTP, "user_not_found"),
        ("alice", "unknown", HTTP, "user_not_found"),
        ("bob", "unknown", HTTP, "permission_denied"),  # role before invitee
        ("erin", "unknown", TCP, "not_room_member"),  # membership before invitee
        ("bob", "unknown", TCP, "user_not_found"),
    ],
)
def test_unknown_invitee(w, s, actor, invitee_id, mode, code):
    invitee = new_id() if invitee_id == "unknown" else invitee_id
    w.fails(w.core.invitations.create(getattr(s, actor), s.secret.id, invitee, mode), code)


@pytest.mark.parametrize("mode", [HTTP, TCP])
@pytest.mark.parametrize(
    ("actor", "invitee"), [("alice", "bob"), ("alice", "alice"), ("carol", "carol")]
)
def test_members_and_self_are_already_members(w, s, mode, actor, invitee):
    w.fails(invite(w, s, actor=actor, invitee=invitee, mode=mode), "already_member")


def test_already_invited_while_pending(w, s):
    w.ok(invite(w, s))
    w.fails(invite(w, s, actor="carol"), "already_invited")  # whoever invites
    w.ok(invite(w, s, room="general"))  # another room is another invitation
    w.clock.advance(WEEK - 1)
    w.fails(invite(w, s), "already_invited")
    w.clock.advance(1)  # expired: a new one may be sent
    w.ok(invite(w, s))


def test_public_rooms_accept_invitations_too(w, s):
    assert w.ok(invite(w, s, room="general")).room_id == s.general.id


# -- list -----------------------------------------------------------------------------


def test_pending_lists_the_newest_hundred_and_says_there_are_more(w, s):
    """Listed whole, some 2,000 invitations made an answer larger than a frame may be:
    internal_error over TCP and WebSocket, and no invitation shown."""
    rooms = [w.ok(w.core.rooms.create(s.alice, f"room{i}", None, None)) for i in range(101)]
    for room in rooms:
        w.clock.advance(1)
        w.ok(w.core.invitations.create(s.alice, room.id, s.dave.id, HTTP))
    listed, more = w.ok(w.core.invitations.pending(s.dave))
    assert len(listed) == LISTED_MAX == 100 and more
    assert [i.room_id for i in listed] == [room.id for room in reversed(rooms[1:])]
    w.ok(w.core.invitations.decline(s.dave, listed[-1].id))
    listed, more = w.ok(w.core.invitations.pending(s.dave))
    assert len(listed) == 100 and not more


def test_pending_lists_unexpired_pending_invitations_newest_first(w, s):
    first = w.ok(invite(w, s, room="general"))
    w.clock.advance(10)
    second = w.ok(invite(w, s, room="secret"))
    w.ok(invite(w, s, invitee="erin"))
    listed, more = w.ok(w.core.invitations.pending(s.dave))
    assert [i.id for i in listed] == [second.id, first.id] and not more
    listed = listed[0]
    assert (listed.room_name, listed.inviter_name, listed.invitee_name) == (
        "secret",
        "alice",
        "dave",
    )
    w.ok(w.core.invitations.decline(s.dave, second.id))
    assert [i.id for i in w.ok(w.core.invitations.pending(s.dave))[0]] == [first.id]
    w.clock.advance(WEEK - 10)  # first expires exactly now
    assert w.ok(w.core.invitations.pending(s.dave)) == ([], False)
    assert w.ok(w.core.invitations.pending(s.alice)) == ([], False)


# -- accept ---------------------------------------------------------------------------


def test_accept_joins_the_private_room(w, s):
    invitation = w.ok(invite(w, s))
    w.clock.advance(30)
    membership, room = w.ok(w.core.invitations.accept(s.dave, invitation.id))
    assert (membership.room_id, membership.user_id, membership.role) == (
        s.secret.id,
        s.dave.id,
        "member",
    )
    assert room.id == s.secret.id
    assert w.hub.is_member(s.secret.id, s.dave.id)
    stored = result(w.core.store.get_invitation(invitation.id))
    assert (stored.status, stored.responded_at) == ("accepted", T0 + 30)
    joined = w.received("user_joined_room")
    assert set(joined) == {s.alice.id, s.bob.id, s.carol.id, s.dave.id}
    payload = joined[s.alice.id][0]
    assert payload["room_id"] == s.secret.id
    assert payload["membership"] == membership.to_wire()
    assert payload["user"]["id"] == s.dave.id


@pytest.mark.parametrize("invitation_id", [None, "", new_id()])
def test_accept_or_decline_unknown(w, s, invitation_id):
    w.fails(w.core.invitations.accept(s.dave, invitation_id), "invitation_not_found")
    w.fails(w.core.invitations.decline(s.dave, invitation_id), "invitation_not_found")


@pytest.mark.parametrize("respond", ["accept", "decline"])
@pytest.mark.parametrize("other", ["alice", "erin", "bob"])
def test_only_the_invitee_may_respond(w, s, respond, other):
    invitation = w.ok(invite(w, s))
    error = w.fails(
        getattr(w.core.invitations, respond)(getattr(s, other), invitation.id), "not_invitee"
    )
    assert error.status == 409
    assert result(w.core.store.get_invitation(invitation.id)).status == "pending"


@pytest.mark.parametrize("respond", ["accept", "decline"])
def test_invitee_is_checked_before_expiry(w, s, respond):
    invitation = w.ok(invite(w, s))
    w.clock.advance(WEEK)
    w.fails(getattr(w.core.invitations, respond)(s.erin, invitation.id), "not_invitee")


@pytest.mark.parametrize("respond", ["accept", "decline"])
@pytest.mark.parametrize("first", ["accept", "decline", "expire"])
def test_no_longer_pending_is_invitation_expired(w, s, respond, first):
    invitation = w.ok(invite(w, s, room="general"))
    if first == "expire":
        w.clock.advance(WEEK)
    else:
        w.ok(getattr(w.core.invitations, first)(s.dave, invitation.id))
    w.clear()
    error = w.fails(
        getattr(w.core.invitations, respond)(s.dave, invitation.id), "invitation_expired"
    )
    assert error.status == 409
    assert w.received("user_joined_room") == {}


def test_accept_just_before_expiry(w, s):
    invitation = w.ok(invite(w, s))
    w.clock.advance(WEEK - 1)
    w.ok(w.core.invitations.accept(s.dave, invitation.id))


def test_accept_into_a_full_room_keeps_the_invitation_pending(w, s):
    settings = {"public": False, "max_members": 3}
    w.ok(w.core.rooms.update(s.alice, s.secret.id, settings=settings, settings_given=True))
    invitation = w.ok(invite(w, s))
    w.fails(w.core.invitations.accept(s.dave, invitation.id), "room_full")
    assert result(w.core.store.get_invitation(invitation.id)).status == "pending"
    w.ok(w.core.rooms.kick(s.alice, s.secret.id, s.bob.id))  # room for one more
    w.ok(w.core.invitations.accept(s.dave, invitation.id))


def test_accept_when_already_a_member_keeps_the_invitation_pending(w, s):
    invitation = w.ok(invite(w, s, room="general"))
    # Became a member without going through join (e.g. another server process).
    result(
        w.core.store.add_membership(Membership(s.general.id, s.dave.id, "member", T0), None, None)
    )
    w.fails(w.core.invitations.accept(s.dave, invitation.id), "already_member")
    assert result(w.core.store.get_invitation(invitation.id)).status == "pending"


def test_room_deletion_deletes_its_invitations(w, s):
    invitation = w.ok(invite(w, s))
    w.ok(w.core.rooms.delete(s.alice, s.secret.id))
    w.fails(w.core.invitations.accept(s.dave, invitation.id), "invitation_not_found")
    assert w.ok(w.core.invitations.pending(s.dave)) == ([], False)


# -- decline --------------------------------------------------------------------------


def test_decline_records_the_answer_and_tells_nobody(w, s):
    invitation = w.ok(invite(w, s))
    w.clear()
    w.clock.advance(5)
    w.ok(w.core.invitations.decline(s.dave, invitation.id))
    stored = result(w.core.store.get_invitation(invitation.id))
    assert (stored.status, stored.responded_at) == ("declined", T0 + 5)
    assert all(sub.events == [] for sub in s.subs.values())
    assert not w.hub.is_member(s.secret.id, s.dave.id)
    w.ok(invite(w, s))  # a declined invitation does not block a new one


# -- revoke (our addition) ---------------------------------------------------------------


def test_revoke_withdraws_the_invitation_and_tells_nobody(w, s):
    # Lair Chat had no way to withdraw one: an invitation sent by mistake to a private
    # room let its invitee in for 7 days.
    invitation = w.ok(invite(w, s))
    w.clear()
    w.clock.advance(5)
    w.ok(w.core.invitations.revoke(s.carol, invitation.id))
    stored = result(w.core.store.get_invitation(invitation.id))
    assert (stored.status, stored.responded_at) == ("cancelled", T0 + 5)
    assert all(sub.events == [] for sub in s.subs.values())
    assert w.ok(w.core.invitations.pending(s.dave)) == ([], False)
    w.fails(w.core.invitations.accept(s.dave, invitation.id), "invitation_expired")
    w.fails(w.core.invitations.decline(s.dave, invitation.id), "invitation_expired")
    w.fails(w.core.rooms.join(s.dave, s.secret.id), "room_private")
    assert not w.hub.is_member(s.secret.id, s.dave.id)
    w.ok(invite(w, s))  # a revoked invitation does not block a new one


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        ("alice", None),  # the inviter (and an owner)
        ("carol", None),  # a moderator of the room
        ("bob", "permission_denied"),  # a plain member who did not invite
        ("dave", "permission_denied"),  # the invitee declines instead
        ("erin", "invitation_not_found"),  # none of these: not told it exists
    ],
)
def test_who_may_revoke(w, s, actor, code):
    invitation = w.ok(invite(w, s))
    d = w.core.invitations.revoke(getattr(s, actor), invitation.id)
    if code is None:
        w.ok(d)
        assert result(w.core.store.get_invitation(invitation.id)).status == "cancelled"
    else:
        w.fails(d, code)
        assert result(w.core.store.get_invitation(invitation.id)).status == "pending"


def test_an_inviter_revokes_while_a_member_whatever_the_role(w, s):
    # Over TCP any member invites: they may withdraw what they sent, demoted or not.
    by_bob = w.ok(invite(w, s, actor="bob", mode=TCP))
    w.ok(w.core.invitations.revoke(s.bob, by_bob.id))
    by_carol = w.ok(invite(w, s, actor="carol"))
    w.ok(w.core.rooms.change_role(s.alice, s.secret.id, s.carol.id, "member"))
    w.ok(w.core.invitations.revoke(s.carol, by_carol.id))


@pytest.mark.parametrize("how", ["kick", "leave"])
def test_an_inviter_gone_from_the_room_may_not_revoke_but_its_owner_may(w, s, how):
    # The review's case: the moderator who invited was kicked; the room's owner
    # withdraws what they sent.
    invitation = w.ok(invite(w, s, actor="carol"))
    if how == "kick":
        w.ok(w.core.rooms.kick(s.alice, s.secret.id, s.carol.id))
    else:
        w.ok(w.core.rooms.leave(s.carol, s.secret.id))
    w.fails(w.core.invitations.revoke(s.carol, invitation.id), "permission_denied")
    w.ok(w.core.invitations.revoke(s.alice, invitation.id))
    w.fails(w.core.invitations.accept(s.dave, invitation.id), "invitation_expired")


@pytest.mark.parametrize("first", ["accept", "decline", "revoke", "expire"])
def test_only_a_pending_invitation_is_revoked(w, s, first):
    invitation = w.ok(invite(w, s, room="general"))
    if first == "expire":
        w.clock.advance(WEEK)
    elif first == "revoke":
        w.ok(w.core.invitations.revoke(s.alice, invitation.id))
    else:
        w.ok(getattr(w.core.invitations, first)(s.dave, invitation.id))
    before = result(w.core.store.get_invitation(invitation.id))
    error = w.fails(w.core.invitations.revoke(s.alice, invitation.id), "invitation_expired")
    assert error.status == 409
    after = result(w.core.store.get_invitation(invitation.id))
    assert (after.status, after.responded_at) == (before.status, before.responded_at)


@pytest.mark.parametrize("invitation_id", [None, "", new_id()])
def test_revoke_unknown(w, s, invitation_id):
    w.fails(w.core.invitations.revoke(s.alice, invitation_id), "invitation_not_found")


def test_revoke_of_a_deleted_rooms_invitation_is_not_found(w, s):
    invitation = w.ok(invite(w, s))
    w.ok(w.core.rooms.delete(s.alice, s.secret.id))
    w.fails(w.core.invitations.revoke(s.alice, invitation.id), "invitation_not_found")


def test_a_rooms_pending_invitations_are_listed_to_its_moderators(w, s):
    # Without it, an owner could not find the id of an invitation a moderator since
    # kicked had sent, the one to revoke.
    first = w.ok(invite(w, s, actor="carol"))
    w.clock.advance(1)
    second = w.ok(invite(w, s, invitee="erin"))
    w.ok(invite(w, s, room="general"))  # another room's
    w.ok(w.core.rooms.kick(s.alice, s.secret.id, s.carol.id))
    listed, more = w.ok(w.core.invitations.of_room(s.alice, s.secret.id))
    assert [i.id for i in listed] == [second.id, first.id] and not more
    assert listed[1].inviter_name == "carol"
    w.ok(w.core.invitations.revoke(s.alice, first.id))
    w.ok(w.core.invitations.decline(s.erin, second.id))
    assert w.ok(w.core.invitations.of_room(s.alice, s.secret.id)) == ([], False)
    expiring = w.ok(invite(w, s))
    assert [i.id for i in w.ok(w.core.invitations.of_room(s.alice, s.secret.id))[0]] == [
        expiring.id
    ]
    w.clock.advance(WEEK)
    assert w.ok(w.core.invitations.of_room(s.alice, s.secret.id)) == ([], False)


@pytest.mark.parametrize(
    ("actor", "room_id", "code"),
    [
        ("carol", "secret", None),
        ("bob", "secret", "permission_denied"),
        ("dave", "secret", "not_room_member"),
        ("alice", None, "room_not_found"),
        ("alice", "unknown", "room_not_found"),
    ],
)
def test_who_lists_a_rooms_invitations(w, s, actor, room_id, code):
    w.ok(invite(w, s))
    room = {"secret": s.secret.id, "unknown": new_id(), None: None}[room_id]
    d = w.core.invitations.of_room(getattr(s, actor), room)
    if code is None:
        assert [i.invitee_id for i in w.ok(d)[0]] == [s.dave.id]
    else:
        w.fails(d, code)


def test_a_rooms_listing_stops_at_a_hundred_and_says_there_are_more(w, s):
    people = [w.user(f"guest{i}") for i in range(LISTED_MAX + 1)]
    for person in people:
        w.clock.advance(1)
        w.ok(w.core.invitations.create(s.alice, s.secret.id, person.id, HTTP))
    listed, more = w.ok(w.core.invitations.of_room(s.carol, s.secret.id))
    assert more and [i.invitee_id for i in listed] == [p.id for p in reversed(people[1:])]
