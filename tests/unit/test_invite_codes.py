"""Room invite codes (lairchat.core.invitecodes, lairchat.domain.invitecodes,
migration 015) on a whole core and a task.Clock: who may make, list and revoke them;
joining with one, private and full rooms, limits of uses and time, revocation, the
one answer for every bad code and its rate limit; the events; what the database
keeps; rooms, accounts, retention and the export taking them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from twisted.internet import defer

from lairchat.core import retention
from lairchat.core.ratelimit import RateLimiter
from lairchat.domain import invitecodes
from lairchat.domain.errors import LairError
from lairchat.domain.invitecodes import code_hash
from lairchat.transports.http.routing import logged_path
from lairchat.transports.http.testing import PASSWORD
from tests.unit.conftest import CoreWorld
from tests.unit.test_reactions import run_out

HOUR = 3600
DAY = 24 * HOUR


@pytest.fixture
def w(core_world: CoreWorld) -> CoreWorld:
    return core_world


@pytest.fixture
def s(w: CoreWorld) -> SimpleNamespace:
    """alice owns the private room "den", mo moderates it, bob is a plain member;
    carol and dave are in no room."""
    alice, mo, bob, carol, dave = (w.user(n) for n in ("alice", "moe", "bob", "carol", "dave"))
    den = w.ok(w.core.rooms.create(alice, "den", None, {"public": False}))
    for member in (mo, bob):
        w.ok(w.core.invitations.create(alice, den.id, member.id, moderators_only=True))
        w.ok(w.core.rooms.join(member, den.id))
    w.ok(w.core.rooms.change_role(alice, den.id, mo.id, "moderator"))
    subs = SimpleNamespace(alice=w.connect(alice), bob=w.connect(bob), carol=w.connect(carol))
    w.clear()
    return SimpleNamespace(alice=alice, mo=mo, bob=bob, carol=carol, dave=dave, den=den, subs=subs)


def make(w: CoreWorld, who, room_id: str, max_uses: int | None = None, hours: int | None = None):
    return w.ok(w.core.invite_codes.create(who, room_id, max_uses, hours))


def rows(w: CoreWorld) -> list[tuple]:
    return w.core.store._writer.connection.execute(
        "SELECT id, code_hash, prefix, uses FROM room_invite_codes"
    ).fetchall()


# -- who may ---------------------------------------------------------------------------


def test_owners_and_moderators_make_list_and_revoke_others_may_not(w, s) -> None:
    mine = make(w, s.alice, s.den.id)
    theirs = make(w, s.mo, s.den.id, max_uses=3, hours=2)
    w.clock.advance(1)
    newest = make(w, s.alice, s.den.id)
    listed = w.ok(w.core.invite_codes.of_room(s.alice, s.den.id))
    assert [c.id for c in listed][0] == newest.id
    assert {c.id for c in listed} == {newest.id, theirs.id, mine.id}
    w.ok(w.core.invite_codes.revoke(s.alice, s.den.id, newest.id))
    for who in (s.bob,):
        w.fails(w.core.invite_codes.create(who, s.den.id, None, None), "permission_denied")
        w.fails(w.core.invite_codes.of_room(who, s.den.id), "permission_denied")
        w.fails(w.core.invite_codes.revoke(who, s.den.id, mine.id), "permission_denied")
    w.fails(w.core.invite_codes.create(s.carol, s.den.id, None, None), "not_room_member")
    w.fails(w.core.invite_codes.of_room(s.carol, s.den.id), "not_room_member")
    w.fails(w.core.invite_codes.create(s.alice, None, None, None), "room_not_found")
    # A moderator revokes the owner's code: the room's, whoever made it.
    w.ok(w.core.invite_codes.revoke(s.mo, s.den.id, mine.id))
    assert [c.id for c in w.ok(w.core.invite_codes.of_room(s.mo, s.den.id))] == [theirs.id]


def test_a_demoted_moderator_may_no_longer_make_one(w, s) -> None:
    w.ok(w.core.rooms.change_role(s.alice, s.den.id, s.mo.id, "member"))
    w.fails(w.core.invite_codes.create(s.mo, s.den.id, None, None), "permission_denied")


def test_a_kicked_moderators_codes_go_with_them(w, s) -> None:
    """Kicked from a private room, a moderator could walk back in with a code they
    made (and anyone they gave one to): their codes are revoked with the kick; the
    room's other codes stay."""
    theirs = make(w, s.mo, s.den.id)
    others = make(w, s.alice, s.den.id)
    w.ok(w.core.rooms.kick(s.alice, s.den.id, s.mo.id))
    w.fails(w.core.invite_codes.join(s.mo, theirs.code), "invite_code_not_found")
    w.fails(w.core.invite_codes.join(s.carol, theirs.code), "invite_code_not_found")
    assert [c.id for c in w.ok(w.core.invite_codes.of_room(s.alice, s.den.id))] == [others.id]
    w.ok(w.core.invite_codes.join(s.carol, others.code))


def test_a_demoted_moderators_codes_go_with_the_role(w, s) -> None:
    theirs = make(w, s.mo, s.den.id)
    others = make(w, s.alice, s.den.id)
    w.ok(w.core.rooms.change_role(s.alice, s.den.id, s.mo.id, "owner"))
    w.ok(w.core.rooms.change_role(s.alice, s.den.id, s.mo.id, "moderator"))
    assert len(w.ok(w.core.invite_codes.of_room(s.alice, s.den.id))) == 2  # still one
    w.ok(w.core.rooms.change_role(s.alice, s.den.id, s.mo.id, "member"))
    w.fails(w.core.invite_codes.join(s.carol, theirs.code), "invite_code_not_found")
    w.ok(w.core.invite_codes.join(s.carol, others.code))


def test_the_limits_are_checked(w, s) -> None:
    for uses, hours, field in (
        (0, None, "max_uses"),
        (1001, None, "max_uses"),
        (None, 0, "expires_in_hours"),
        (None, 721, "expires_in_hours"),
    ):
        error = w.fails(
            w.core.invite_codes.create(s.alice, s.den.id, uses, hours), "validation_failed"
        )
        assert field in error.message
    edge = make(w, s.alice, s.den.id, max_uses=1000, hours=720)
    assert edge.expires_at - edge.created_at == 720 * HOUR


def test_the_answer_has_the_code_once_and_the_database_only_its_hash(w, s) -> None:
    w.clock.advance(0.5)
    start = int(w.clock.seconds())
    code = make(w, s.alice, s.den.id)
    wire = code.to_wire()
    assert len(code.code) == 22 and set(code.code) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert wire["code"] == code.code and wire["prefix"] == code.code[:4]
    assert wire["max_uses"] is None and wire["uses"] == 0
    assert wire["created_by"] == s.alice.id and wire["created_by_name"] == "alice"
    # The default: 7 days; whole seconds, as the listing reads them back.
    assert code.created_at == start and code.expires_at == start + 7 * DAY
    [listed] = w.ok(w.core.invite_codes.of_room(s.alice, s.den.id))
    assert "code" not in listed.to_wire()
    assert {k: v for k, v in wire.items() if k != "code"} == listed.to_wire()
    [(_, stored_hash, prefix, _)] = rows(w)
    assert stored_hash == code_hash(code.code) != code.code and prefix == code.code[:4]
    dumped = "\n".join(w.core.store._writer.connection.iterdump())
    assert code.code not in dumped
    assert make(w, s.alice, s.den.id).code != code.code


def test_a_room_keeps_a_hundred_live_codes(w, s) -> None:
    for _ in range(invitecodes.LIVE_PER_ROOM):
        make(w, s.alice, s.den.id, hours=1)
    w.fails(w.core.invite_codes.create(s.alice, s.den.id, None, None), "validation_failed")
    w.clock.advance(HOUR)  # all expired: no longer live
    make(w, s.alice, s.den.id)


# -- joining ---------------------------------------------------------------------------


def test_anyone_joins_a_private_room_with_a_code_and_the_room_is_told(w, s) -> None:
    code = make(w, s.alice, s.den.id)
    w.fails(w.core.rooms.join(s.carol, s.den.id), "room_private")
    room, membership = w.ok(w.core.invite_codes.join(s.carol, code.code))
    assert room.id == s.den.id and membership.role == "member"
    assert w.hub.is_member(s.den.id, s.carol.id)
    joined = w.received("user_joined_room")
    assert set(joined) == {s.alice.id, s.bob.id, s.carol.id}
    assert joined[s.alice.id][0]["user"]["id"] == s.carol.id
    [listed] = w.ok(w.core.invite_codes.of_room(s.alice, s.den.id))
    assert listed.uses == 1


def test_a_pending_invitation_is_accepted_by_the_join(w, s) -> None:
    invitation = w.ok(w.core.invitations.create(s.alice, s.den.id, s.carol.id, True))
    code = make(w, s.alice, s.den.id)
    w.ok(w.core.invite_codes.join(s.carol, code.code))
    assert w.ok(w.core.store.get_invitation(invitation.id)).status == "accepted"
    assert w.ok(w.core.invitations.pending(s.carol)) == ([], False)


def test_a_member_is_told_already_member_and_the_code_is_not_used(w, s) -> None:
    code = make(w, s.alice, s.den.id, max_uses=1)
    w.fails(w.core.invite_codes.join(s.bob, code.code), "already_member")
    w.ok(w.core.invite_codes.join(s.carol, code.code))


def test_a_full_room_is_full(w, s) -> None:
    w.ok(
        w.core.rooms.update(
            s.alice, s.den.id, settings={"public": False, "max_members": 3}, settings_given=True
        )
    )
    code = make(w, s.alice, s.den.id)
    w.fails(w.core.invite_codes.join(s.carol, code.code), "room_full")
    [listed] = w.ok(w.core.invite_codes.of_room(s.alice, s.den.id))
    assert listed.uses == 0


def test_a_code_is_used_up_after_max_uses(w, s) -> None:
    code = make(w, s.alice, s.den.id, max_uses=1)
    w.ok(w.core.invite_codes.join(s.carol, code.code))
    w.fails(w.core.invite_codes.join(s.dave, code.code), "invite_code_not_found")
    assert w.ok(w.core.invite_codes.of_room(s.alice, s.den.id)) == []


def test_a_code_expires(w, s) -> None:
    code = make(w, s.alice, s.den.id, hours=1)
    w.clock.advance(HOUR - 1)
    w.ok(w.core.invite_codes.join(s.carol, code.code))
    w.clock.advance(1)
    w.fails(w.core.invite_codes.join(s.dave, code.code), "invite_code_not_found")
    assert w.ok(w.core.invite_codes.of_room(s.alice, s.den.id)) == []


def test_a_revoked_code_lets_no_one_in(w, s) -> None:
    code = make(w, s.alice, s.den.id)
    w.ok(w.core.invite_codes.revoke(s.alice, s.den.id, code.id))
    w.fails(w.core.invite_codes.join(s.carol, code.code), "invite_code_not_found")
    w.fails(w.core.invite_codes.revoke(s.alice, s.den.id, code.id), "invite_code_not_found")


def test_a_code_of_another_room_is_not_revoked_here(w, s) -> None:
    other = w.ok(w.core.rooms.create(s.alice, "other", None, None))
    code = make(w, s.alice, other.id)
    w.fails(w.core.invite_codes.revoke(s.alice, s.den.id, code.id), "invite_code_not_found")
    w.ok(w.core.invite_codes.join(s.carol, code.code))


def test_a_code_used_up_or_revoked_after_it_was_read_admits_no_one(w, s) -> None:
    """The write decides (IStore.add_membership): a code read as live but spent since."""
    code = make(w, s.alice, s.den.id, max_uses=1)
    found = w.ok(w.core.store.find_invite_code(code_hash(code.code), w.clock.seconds()))
    w.ok(w.core.invite_codes.join(s.carol, code.code))
    adding = defer.ensureDeferred(w.core.rooms.add_member(s.dave, s.den, False, code=found.id))
    w.fails(adding, "invite_code_not_found")
    assert not w.hub.is_member(s.den.id, s.dave.id)


def test_every_bad_code_gets_the_same_answer(w, s) -> None:
    expired = make(w, s.alice, s.den.id, hours=1)
    w.clock.advance(HOUR)
    for bad in (expired.code, "nope", "x" * 65, "a/b", "", "ü" * 22, expired.code[:-1] + "A"):
        error = w.fails(w.core.invite_codes.join(s.carol, bad), "invite_code_not_found")
        assert error.status == 404 and error.message == "Invite code not found"


def test_wrong_codes_are_rate_limited_and_good_ones_are_not_counted(w, s) -> None:
    w.core.limiter = RateLimiter(w.clock, enabled=True)
    code = make(w, s.alice, s.den.id)
    w.ok(w.core.invite_codes.join(s.carol, code.code))
    limit = w.core.limiter.tiers["auth"][0]
    for _ in range(limit):
        w.fails(w.core.invite_codes.join(s.dave, "guess"), "invite_code_not_found")
    error = w.fails(w.core.invite_codes.join(s.dave, code.code), "rate_limited")
    assert error.details == {"retry_after": 60, "limit": limit}
    assert not w.hub.is_member(s.den.id, s.dave.id)
    w.clock.advance(60)
    w.ok(w.core.invite_codes.join(s.dave, code.code))


def test_wrong_codes_tried_at_once_cannot_pass_the_limit(w, s) -> None:
    """Tries sent at once, their lookups answered only after all are sent: the limit
    holds (it was checked before any was counted: 60 of them all got a 404 on a real
    server, where 10 a minute are allowed). A right code tried meanwhile is given
    back: it does not count."""
    w.core.limiter = RateLimiter(w.clock, enabled=True)
    code = make(w, s.alice, s.den.id)
    limit = w.core.limiter.tiers["auth"][0]
    looked_up: list[tuple[defer.Deferred, defer.Deferred]] = []
    find = w.core.store.find_invite_code

    def held(code_hash: str, now: float) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        looked_up.append((d, find(code_hash, now)))
        return d

    w.core.store.find_invite_code = held
    right = w.core.invite_codes.join(s.dave, code.code)
    tries = [w.core.invite_codes.join(s.dave, f"guess{i}") for i in range(3 * limit)]
    for d, answer in looked_up:
        answer.chainDeferred(d)
    w.core.store.find_invite_code = find
    w.ok(right)
    outcomes = []
    for d in tries:
        with pytest.raises(LairError) as info:
            w.ok(d)
        outcomes.append(info.value.code)
    assert outcomes.count("invite_code_not_found") == limit - 1
    assert outcomes.count("rate_limited") == 2 * limit + 1
    w.clock.advance(60)
    w.fails(w.core.invite_codes.join(s.dave, "guess"), "invite_code_not_found")


# -- what takes them -------------------------------------------------------------------


def test_a_deleted_room_takes_its_codes(w, s) -> None:
    code = make(w, s.alice, s.den.id)
    w.ok(w.core.rooms.delete(s.alice, s.den.id))
    assert rows(w) == []
    w.fails(w.core.invite_codes.join(s.carol, code.code), "invite_code_not_found")


def test_a_deleted_account_takes_the_codes_it_made(w, s) -> None:
    mine = make(w, s.alice, s.den.id)
    make(w, s.mo, s.den.id)
    w.ok(w.core.deletion.delete(s.mo.id))
    run_out(w)
    assert [r[0] for r in rows(w)] == [mine.id]


def test_retention_deletes_codes_expired_long_ago(w, s) -> None:
    old = make(w, s.alice, s.den.id, hours=1)
    w.clock.advance(invitecodes.KEPT_DAYS * DAY)
    new = make(w, s.alice, s.den.id, hours=1)
    sweep = retention.ExpiredSessionsService(w.core.store, w.clock)
    w.ok(sweep.sweep(lambda: w.core.store.ping(), lambda: False))  # the sessions go
    assert len(rows(w)) == 2  # expired 30 days less an hour ago: kept
    w.clock.advance(HOUR + 1)
    w.ok(sweep.sweep(lambda: w.core.store.ping(), lambda: False))
    assert [r[0] for r in rows(w)] == [new.id] != [old.id]


# -- never logged ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        b"/api/v1/invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g/join",
        b"/api/v1/%69nvite-codes/Qx3vN0p8l1Zs7d-YwV2a_g/join",
        b"/api/v1/invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g",
    ],
)
def test_a_path_with_a_code_is_logged_cut(path: bytes) -> None:
    assert logged_path(SimpleNamespace(path=path)) == "/api/v1/invite-codes/…"


ROOM = "/api/v1/rooms/0b8e1f2a-6c1d-4e7f-9a3b-2c4d5e6f7a8b"


@pytest.mark.parametrize(
    "path",
    [
        # No route serves these (404), and the code in them is as good as ever: a
        # base URL with a trailing slash, a dot segment, another case, a code pasted
        # where a code's id goes, a code with a slash after it.
        b"//api/v1/invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g/join",
        b"/api/v1//invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g/join",
        b"/api//v1/invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g/join",
        b"/api/v1/./invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g/join",
        b"/API/V1/INVITE-CODES/Qx3vN0p8l1Zs7d-YwV2a_g/join",
        f"{ROOM}/invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g".encode(),
        b"/api/v1/invite-codes%2FQx3vN0p8l1Zs7d-YwV2a_g",
        b"/api/v1/invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g/join/",
    ],
)
def test_a_code_in_a_path_no_route_serves_is_not_logged(path: bytes) -> None:
    logged = logged_path(SimpleNamespace(path=path))
    assert "Qx3v" not in logged
    assert logged.lower().endswith("invite-codes/…")


def test_other_paths_are_logged_whole_up_to_the_limit() -> None:
    for path in (
        f"{ROOM}/invite-codes",
        f"{ROOM}/invite-codes/",
        f"{ROOM}/invite-codes/5f0c2a9e-3b7d-4c1e-8a6f-9d2b4e7c1a3f",
    ):
        assert logged_path(SimpleNamespace(path=path.encode())) == path
    assert logged_path(SimpleNamespace(path=b"/x" * 200), 10) == "/x/x/x/x/x"


# -- the data export ---------------------------------------------------------------------


def test_the_export_lists_the_codes_one_made_never_the_code(client) -> None:
    alice, bob = client.register("alice"), client.register("bob")
    general = client.create_room(alice, "General")
    bobs = client.create_room(bob, "Bob's")
    path = f"/api/v1/rooms/{general['id']}/invite-codes"
    made = client.post(path, {"max_uses": 3}, token=alice.token)
    assert made.status == 201, made
    assert (
        client.post(f"/api/v1/rooms/{bobs['id']}/invite-codes", {}, token=bob.token).status == 201
    )
    reply = client.post("/api/v1/users/me/export", {"password": PASSWORD}, token=alice.token)
    assert reply.status == 200, reply
    code = made.json["invite_code"]
    assert reply.json["invite_codes"] == [{k: v for k, v in code.items() if k != "code"}]
    assert code["code"] not in reply.body.decode()
