"""Deleting an account (lairchat.core.deletion; docs/SECURITY.md, "Deleting an
account"): the user's own with their password, the operator's, what it does to rooms,
invitations and messages, and a deletion a crash interrupted."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from twisted.internet import defer

from lairchat.core import passwords
from lairchat.core.auth import LOCKOUT_THRESHOLD
from lairchat.core.deletion import DeletionWatcher
from lairchat.core.retention import PAUSE
from lairchat.domain.types import Target
from lairchat.storage.sqlite.store import DELETED_PASSWORD_HASH
from lairchat.testing import make_core, result
from lairchat.transports.http.testing import CHEAP_HASHER
from tests.unit.conftest import CoreWorld

PASSWORD = "password1"


@pytest.fixture
def w(core_world):
    return core_world


def run_out(w: CoreWorld, limit: int = 10_000) -> None:
    """Advance the clock through the erasure's pauses until every deletion is done."""
    for _ in range(limit):
        if not w.core.deletion._running:
            return
        w.clock.advance(PAUSE)
    raise AssertionError("the deletion never finished")


@pytest.fixture
def s(w):
    """alice owns "general" (bob a member, carol a moderator who joined after him) and
    "alone" (nobody else); bob owns "bobs" with alice in it. alice has two connections
    on two sessions; bob and carol are connected."""
    alice, bob, carol = w.user("alice"), w.user("bob"), w.user("carol")
    general = w.ok(w.core.rooms.create(alice, "general", None, None))
    w.ok(w.core.rooms.join(bob, general.id))
    w.ok(w.core.rooms.join(carol, general.id))
    w.ok(w.core.rooms.change_role(alice, general.id, carol.id, "moderator"))
    alone = w.ok(w.core.rooms.create(alice, "alone", None, None))
    bobs = w.ok(w.core.rooms.create(bob, "bobs", None, None))
    w.ok(w.core.rooms.join(alice, bobs.id))
    second = w.ok(w.core.auth.login("alice", PASSWORD))
    subs = SimpleNamespace(
        alice=w.connect(alice),
        alice2=w.connect(alice, second.session.id),
        bob=w.connect(bob),
        carol=w.connect(carol),
    )
    w.clear()
    return SimpleNamespace(
        alice=alice, bob=bob, carol=carol, general=general, alone=alone, bobs=bobs, subs=subs
    )


def count(w: CoreWorld, sql: str, *args: object) -> int:
    return w.core.store._writer.connection.execute(sql, args).fetchone()[0]


# -- who may delete -----------------------------------------------------------------


@pytest.mark.parametrize("password", ["wrong-password", None, ""])
def test_a_wrong_or_missing_password_is_a_failed_login(w, s, password):
    w.fails(w.core.deletion.delete_own(s.alice, password, "ip:1"), "invalid_credentials")
    assert result(w.core.store.get_user(s.alice.id)) is not None
    assert s.subs.alice.closed == []


def test_wrong_passwords_count_against_the_login_lockout(w, s):
    """A stolen token must be no faster way to guess the password than the login."""
    for _ in range(LOCKOUT_THRESHOLD):
        w.fails(w.core.deletion.delete_own(s.alice, "guess", "ip:1"), "invalid_credentials")
    w.fails(w.core.deletion.delete_own(s.alice, PASSWORD, "ip:1"), "account_locked")
    w.fails(w.core.auth.login("alice", PASSWORD, "ip:1"), "account_locked")
    w.ok(w.core.auth.login("alice", PASSWORD, "ip:2"))  # locked for that address only


def test_the_deletion_s_write_still_decides_the_last_admin(w, s):
    """The check before the password is only early: one that let the last admin
    through (another admin deleted meanwhile) meets the one in the write."""
    root = w.user("root", role="admin")
    w.core.store.is_last_admin = lambda user_id, now: defer.succeed(False)
    error = w.fails(w.core.deletion.delete_own(root, PASSWORD), "permission_denied")
    assert "last admin" in error.message
    assert result(w.core.store.get_user(root.id)) is not None


def test_the_last_admin_cannot_delete_themself(w, s):
    root = w.user("root", role="admin")
    error = w.fails(w.core.deletion.delete_own(root, PASSWORD), "permission_denied")
    assert "last admin" in error.message
    # A banned admin cannot act, so does not count as another.
    other = w.user("root2", role="admin")
    w.ok(w.core.admin.ban(root, other.id, None, None))
    w.fails(w.core.deletion.delete_own(root, PASSWORD), "permission_denied")
    w.ok(w.core.admin.unban(root, other.id))
    w.ok(w.core.deletion.delete_own(root, PASSWORD))
    run_out(w)
    assert result(w.core.store.get_user(root.id)) is None
    # ... and root2 is now the last one.
    w.fails(w.core.deletion.delete_own(other, PASSWORD), "permission_denied")


def test_the_operator_may_delete_the_last_admin(w, s):
    """``lairchat admin delete-user`` runs on the server's machine, where the operator
    can make another admin at any time (``create-user --role admin``)."""
    root = w.user("root", role="admin")
    w.ok(w.core.deletion.delete(root.id))
    run_out(w)
    assert result(w.core.store.get_user(root.id)) is None


def test_an_unknown_user_is_user_not_found(w, s):
    w.fails(w.core.deletion.delete("00000000-0000-4000-8000-000000000000"), "user_not_found")


# -- what a deletion does -----------------------------------------------------------


def test_the_account_stops_at_once(w, s):
    w.ok(w.core.deletion.delete_own(s.alice, PASSWORD, "ip:1"))
    # Both connections closed, told why, before anything else.
    assert s.subs.alice.closed == ["account deleted"]
    assert s.subs.alice2.closed == ["account deleted"]
    assert result(w.core.store.list_user_sessions(s.alice.id, 0, 10)) == []
    w.fails(w.core.auth.login("alice", PASSWORD), "invalid_credentials")
    # A connection whose token was checked before is refused its session.
    assert w.hub.ended(w.session_id(s.alice)).code == "session_not_found"


def test_no_password_reset_or_login_reopens_an_account_being_deleted(w, s):
    """The operator's ``admin reset-password`` on an account whose deletion is under
    way (a large erasure, or one a crash left marked) stored a usable hash over the
    unusable one, and a login then made a session: the account signed in again while
    its rows were being erased, and its connection outlived the user row. The reset
    is refused user_not_found, and no session is made for an account being deleted,
    whatever its stored hash (another process, an older version)."""
    w.ok(w.core.store.begin_deletion(s.alice.id, w.clock.seconds()))
    w.fails(w.core.auth.set_password(s.alice.id, "another-password1"), "user_not_found")
    w.fails(w.core.auth.login("alice", PASSWORD), "invalid_credentials")
    hashed = passwords.HASHER.hash(PASSWORD)
    w.core.store._writer.connection.execute(
        "UPDATE users SET password_hash = ? WHERE id = ?", (hashed, s.alice.id)
    )
    w.fails(w.core.auth.login("alice", PASSWORD), "invalid_credentials")
    assert count(w, "SELECT count(*) FROM sessions WHERE user_id = ?", s.alice.id) == 0


def test_a_login_to_an_account_being_deleted_costs_a_hash_as_any(monkeypatch):
    """Its stored hash is no hash ('!deleted'): argon2 refused it at once, so a
    login answered in no time told anyone who knew the name that the account was
    being deleted. It is verified against the unknown user's hash instead."""
    checked = []

    class Recording:
        def hash(self, password: str) -> str:
            return CHEAP_HASHER.hash(password)

        def verify(self, stored: str, password: str) -> bool:
            checked.append(stored)
            return CHEAP_HASHER.verify(stored, password)

    monkeypatch.setattr(passwords, "HASHER", Recording())
    checker = passwords.Passwords(passwords.on_threads(lambda fn, *args: defer.succeed(fn(*args))))
    assert result(checker.verify(DELETED_PASSWORD_HASH, PASSWORD)) is False
    assert len(checked) == 1 and checked[0].startswith("$argon2id$")


def test_rooms_pass_on_and_members_hear_it(w, s):
    """general: carol (the moderator) becomes owner, though bob joined first, then
    alice leaves; alone: deleted; bobs: alice leaves, bob stays owner."""
    w.hub.detach(s.subs.alice)
    w.hub.detach(s.subs.alice2)
    w.clear()
    w.ok(w.core.deletion.delete(s.alice.id))

    def seen(room_id):
        return [e.type for e in s.subs.bob.events if e.payload.get("room_id") == room_id]

    assert seen(s.general.id) == ["member_role_changed", "user_left_room"]
    assert seen(s.bobs.id) == ["user_left_room"]
    (changed,) = s.subs.carol.payloads("member_role_changed")
    assert changed == {
        "type": "member_role_changed",
        "room_id": s.general.id,
        "user_id": s.carol.id,
        "username": "carol",
        "old_role": "moderator",
        "new_role": "owner",
        "changed_by": s.alice.id,
    }
    left = s.subs.carol.payloads("user_left_room")
    assert left == [
        {"type": "user_left_room", "room_id": s.general.id, "user_id": s.alice.id, "reason": "left"}
    ]
    room = result(w.core.store.get_room(s.general.id))
    assert room.owner == s.carol.id  # before the user row went, or the room went with it
    assert result(w.core.store.get_room(s.alone.id)) is None
    assert result(w.core.store.get_room(s.bobs.id)).owner == s.bob.id
    assert not w.hub.is_member(s.general.id, s.alice.id)
    run_out(w)
    assert result(w.core.store.get_room(s.general.id)).owner == s.carol.id
    members = [(m.username, m.role) for m in result(w.core.store.list_members(s.general.id))]
    assert members == [("bob", "member"), ("carol", "owner")]
    assert "message_deleted" not in s.subs.bob.types()


def test_the_longest_standing_member_inherits_without_a_moderator(w, s):
    w.ok(w.core.rooms.change_role(s.alice, s.general.id, s.carol.id, "member"))
    w.ok(w.core.deletion.delete(s.alice.id))
    run_out(w)
    roles = {m.username: m.role for m in result(w.core.store.list_members(s.general.id))}
    assert roles == {"bob": "owner", "carol": "member"}


def general_roles(w, s) -> dict[str, str]:
    return {m.username: m.role for m in result(w.core.store.list_members(s.general.id))}


def test_a_banned_moderator_does_not_inherit(w, s):
    """carol, the moderator, is banned: a room passed to her would be owned by one
    who cannot sign in, so bob, who can, inherits."""
    admin = w.user("root", role="admin")
    w.ok(w.core.admin.ban(admin, s.carol.id, "spam", None))
    w.ok(w.core.deletion.delete(s.alice.id))
    run_out(w)
    assert general_roles(w, s) == {"bob": "owner", "carol": "moderator"}
    assert result(w.core.store.get_room(s.general.id)).owner == s.bob.id


def test_an_owner_who_cannot_act_does_not_keep_the_room_alone(w, s):
    """bob is another owner but banned: carol, the moderator, is made owner too, and
    rooms.owner_id names her."""
    admin = w.user("root", role="admin")
    w.ok(w.core.rooms.change_role(s.alice, s.general.id, s.bob.id, "owner"))
    w.ok(w.core.admin.ban(admin, s.bob.id, "spam", None))
    w.ok(w.core.deletion.delete(s.alice.id))
    run_out(w)
    assert general_roles(w, s) == {"bob": "owner", "carol": "owner"}
    assert result(w.core.store.get_room(s.general.id)).owner == s.carol.id


def test_a_plain_members_hand_over_ranks_nobody(w, s):
    """Leaving bobs, where alice is a member: nothing passes on, so no member's ban or
    deletion is looked up (a room of 10,000 members would cost as many lookups under
    the write lock, for each room of the user's)."""
    seen = []
    w.core.store._writer.connection.set_trace_callback(seen.append)
    try:
        handover = w.ok(w.core.store.hand_over_room(s.bobs.id, s.alice.id, w.clock.seconds()))
    finally:
        w.core.store._writer.connection.set_trace_callback(None)
    assert (handover.left, handover.heir, handover.deleted) == (True, None, False)
    assert [sql for sql in seen if "bans" in sql or "user_deletions" in sql] == []


def test_a_ban_over_is_no_bar(w, s):
    admin = w.user("root", role="admin")
    w.ok(w.core.admin.ban(admin, s.carol.id, "spam", 1))
    w.clock.advance(2 * 3600)
    w.ok(w.core.deletion.delete(s.alice.id))
    run_out(w)
    assert general_roles(w, s) == {"bob": "member", "carol": "owner"}


def test_a_member_being_deleted_does_not_inherit(w, s):
    """carol's own deletion has begun (the operator's, its hand-over not yet run):
    bob inherits, not her."""
    w.ok(w.core.store.begin_deletion(s.carol.id, w.clock.seconds()))
    w.ok(w.core.deletion.delete(s.alice.id))
    assert result(w.core.store.get_room(s.general.id)).owner == s.bob.id
    run_out(w)
    assert general_roles(w, s) == {"bob": "owner", "carol": "moderator"}
    w.ok(w.core.deletion.resume())  # the watcher's look: her own deletion goes on
    run_out(w)
    assert general_roles(w, s) == {"bob": "owner"}


def test_with_every_other_member_banned_the_moderator_still_inherits(w, s):
    """The room is not deleted while it has members: the longest-standing moderator
    gets it, banned or not (a ban may be lifted)."""
    admin = w.user("root", role="admin")
    w.ok(w.core.admin.ban(admin, s.carol.id, "spam", None))
    w.ok(w.core.admin.ban(admin, s.bob.id, "spam", None))
    w.ok(w.core.deletion.delete(s.alice.id))
    run_out(w)
    assert general_roles(w, s) == {"bob": "member", "carol": "owner"}


def test_another_owner_keeps_the_room_without_a_promotion(w, s):
    w.ok(w.core.rooms.change_role(s.alice, s.general.id, s.bob.id, "owner"))
    w.clear()
    w.ok(w.core.deletion.delete(s.alice.id))
    run_out(w)
    assert s.subs.carol.payloads("member_role_changed") == []
    assert result(w.core.store.get_room(s.general.id)).owner == s.bob.id
    roles = {m.username: m.role for m in result(w.core.store.list_members(s.general.id))}
    assert roles == {"bob": "owner", "carol": "moderator"}


def test_a_room_the_user_created_and_left_passes_on(w, s):
    """``rooms.owner_id`` names the creator even after they left: its cascade would
    have deleted the room, and everyone's membership in it, with the user row."""
    w.ok(w.core.rooms.change_role(s.alice, s.general.id, s.bob.id, "owner"))
    w.ok(w.core.rooms.leave(s.alice, s.general.id))
    w.ok(w.core.deletion.delete(s.alice.id))
    run_out(w)
    assert result(w.core.store.get_room(s.general.id)).owner == s.bob.id
    assert len(result(w.core.store.list_members(s.general.id))) == 2


def test_invitations_from_and_to_the_user_are_cancelled_then_gone(w, s):
    dave = w.user("dave")
    sent = w.ok(w.core.invitations.create(s.alice, s.general.id, dave.id, True))
    received = w.ok(w.core.invitations.create(s.bob, s.bobs.id, s.carol.id, True))
    to_alice_room = w.ok(w.core.rooms.create(dave, "daves", None, None))
    got = w.ok(w.core.invitations.create(dave, to_alice_room.id, s.alice.id, True))
    w.ok(w.core.deletion.delete(s.alice.id))
    assert result(w.core.store.get_invitation(sent.id)).status == "cancelled"
    assert result(w.core.store.get_invitation(got.id)).status == "cancelled"
    assert result(w.core.store.get_invitation(received.id)).status == "pending"
    run_out(w)
    assert result(w.core.store.get_invitation(sent.id)) is None
    assert result(w.core.store.get_invitation(got.id)) is None
    assert result(w.core.invitations.pending(dave, None, 0))[0] == []


def test_an_account_being_deleted_cannot_be_invited(w, s):
    """From the first step the account is gone from listings; an invitation to it
    made meanwhile (the operator's deletion, a long erasure) stayed pending in the
    room's invitations, naming it, until the last step."""
    dave = w.user("dave")
    w.ok(w.core.store.begin_deletion(dave.id, w.clock.seconds()))
    w.fails(w.core.invitations.create(s.alice, s.general.id, dave.id, True), "user_not_found")
    assert count(w, "SELECT count(*) FROM invitations WHERE invitee_id = ?", dave.id) == 0


def test_messages_are_erased_and_others_stay(w, s):
    for i in range(5):
        w.ok(w.core.messages.send(s.alice, Target("room", s.general.id), f"alice {i}"))
        w.ok(w.core.messages.send(s.bob, Target("room", s.general.id), f"bob {i}"))
    w.ok(w.core.messages.send(s.alice, Target("dm", s.bob.id), "secret to bob"))
    w.ok(w.core.messages.send(s.bob, Target("dm", s.alice.id), "bob to alice"))
    newest = count(w, "SELECT max(rowid) FROM messages")
    w.core.deletion.batch = 2
    w.core.deletion.scan = 3
    w.ok(w.core.deletion.delete(s.alice.id))
    run_out(w)
    assert count(w, "SELECT count(*) FROM messages WHERE author_id = ?", s.alice.id) == 0
    assert count(w, "SELECT count(*) FROM messages WHERE content LIKE 'alice%'") == 0
    page = w.ok(w.core.messages.history(s.bob, Target("room", s.general.id), 50))
    assert [m.content for m in page.messages] == [f"bob {i}" for i in reversed(range(5))]
    # Her DM conversations go both ways: nobody can read them any more.
    w.fails(w.core.messages.history(s.bob, Target("dm", s.alice.id), 50), "user_not_found")
    assert count(w, "SELECT count(*) FROM messages WHERE target_type = 'dm'") == 0
    # An erased seq is never given again (migration 006).
    assert count(w, "SELECT seq FROM message_seq_floor") >= newest - 1
    sent = w.ok(w.core.messages.send(s.bob, Target("room", s.general.id), "after"))
    assert sent.seq > newest


def test_the_erasure_goes_a_batch_at_a_time_and_messages_flow_between(w, s):
    """Each batch is one transaction, with a pause after it: the message writer commits
    in the gaps (here: bob's messages are stored and acknowledged between batches)."""
    for i in range(6):
        w.ok(w.core.messages.send(s.alice, Target("room", s.general.id), f"alice {i}"))
    w.core.deletion.batch = 2
    erased: list[int] = []
    store = w.core.store
    real = store.erase_messages

    def counting(user_id, seqs):
        erased.append(len(seqs))
        return real(user_id, seqs)

    store.erase_messages = counting
    w.ok(w.core.deletion.delete(s.alice.id))
    assert erased == [2]  # then the pause
    sent = w.core.messages.send(s.bob, Target("room", s.general.id), "in the gap")
    assert result(sent).content == "in the gap"
    w.clock.advance(PAUSE)
    assert erased == [2, 2]
    run_out(w)
    assert erased == [2, 2, 2]
    assert count(w, "SELECT count(*) FROM messages WHERE author_id = ?", s.bob.id) == 1


def test_the_last_step_needs_no_scan_of_messages_and_keeps_foreign_keys_on(w, s):
    """Deleting the user row with foreign keys on makes SQLite look for the user's
    messages through the whole table (no index on author_id), holding the write
    lock; the last step runs without them, and turns them on again."""
    w.ok(w.core.messages.send(s.bob, Target("room", s.general.id), "stays"))
    plans: list[str] = []
    conn = w.core.store._writer.connection
    conn.set_trace_callback(plans.append)
    try:
        w.ok(w.core.deletion.delete(s.alice.id))
        run_out(w)
    finally:
        conn.set_trace_callback(None)
    assert "PRAGMA foreign_keys = OFF" in plans
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_membership_made_meanwhile_is_handed_over_too(w, s):
    """A join whose request was past its token check when the account stopped."""
    w.ok(w.core.deletion.delete(s.alice.id))
    late = w.ok(w.core.rooms.create(s.bob, "late", None, None))
    w.ok(w.core.rooms.join(s.alice, late.id))
    run_out(w)
    assert result(w.core.store.get_user(s.alice.id)) is None
    assert [m.username for m in result(w.core.store.list_members(late.id))] == ["bob"]
    # No row left naming her (the last step runs without foreign keys).
    assert count(w, "SELECT count(*) FROM room_memberships WHERE user_id = ?", s.alice.id) == 0
    assert w.core.store._writer.connection.execute("PRAGMA foreign_key_check").fetchall() == []


# -- afterwards ---------------------------------------------------------------------


def test_the_name_is_free_afterwards_and_not_before(w, s):
    w.ok(w.core.deletion.delete(s.alice.id))
    w.fails(w.core.auth.register("alice", "new@example.com", PASSWORD), "username_taken")
    run_out(w)
    assert not w.hub.user_exists(s.alice.id)
    assert not w.hub.lookalikes.taken("alice")
    again = w.ok(w.core.auth.register("аlice", "new@example.com", PASSWORD))  # Cyrillic а
    assert again.user.id != s.alice.id
    w.fails(w.core.auth.register("alice", "new2@example.com", PASSWORD), "username_taken")


def test_a_user_made_elsewhere_with_a_deleted_users_rowid_is_still_seen(w, s):
    """SQLite gives the newest user's rowid, once deleted, to the next user: one made
    by another process (the operator command) then was missed by the look-alike
    check, which reads only the users after the highest rowid it has seen."""
    zed = w.user("zed")  # the newest user
    # A registration refused for its email has learned every user, zed included.
    w.fails(w.core.auth.register("fresh", "zed@example.com", PASSWORD), "email_taken")
    w.ok(w.core.deletion.delete(zed.id))
    run_out(w)
    # "Another process" writes a user straight into the table: zed's rowid again.
    conn = w.core.store._writer.connection
    conn.execute(
        "INSERT INTO users (id, username, email, password_hash, role, created_at, updated_at)"
        " VALUES ('00000000-0000-4000-8000-00000000000a', 'mallory', 'm@e.com', 'x', 'user', 0, 0)"
    )
    conn.commit()
    w.fails(w.core.auth.register("mаllory", "m2@example.com", PASSWORD), "username_taken")


def test_stats_and_listings_leave_the_user_out_from_the_start(w, s):
    root = w.user("root", role="admin")
    before = w.ok(w.core.admin.stats(root))["total_users"]
    w.ok(w.core.deletion.delete(s.alice.id))
    assert w.ok(w.core.admin.stats(root))["total_users"] == before - 1
    users, _ = w.ok(w.core.users.list(100, 0, None))
    assert "alice" not in [u.username for u in users]
    run_out(w)
    assert w.ok(w.core.admin.stats(root))["total_users"] == before - 1


# -- crash safety -------------------------------------------------------------------


@pytest.fixture
def on_file(tmp_path, monkeypatch):
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    path = str(tmp_path / "lair.db")
    return lambda: CoreWorld(make_core(path))


def test_a_deletion_cut_short_never_comes_back_and_a_restart_finishes_it(on_file):
    w = on_file()
    alice, bob = w.user("alice"), w.user("bob")
    room = w.ok(w.core.rooms.create(alice, "general", None, None))
    w.ok(w.core.rooms.join(bob, room.id))
    for i in range(3):
        w.ok(w.core.messages.send(alice, Target("room", room.id), f"alice {i}"))
    # The server dies after the first step: nothing after it ran.
    w.ok(w.core.store.begin_deletion(alice.id, w.clock.seconds()))
    w.core.store.close()

    w = on_file()  # the next start
    w.fails(w.core.auth.login("alice", PASSWORD), "invalid_credentials")
    assert "alice" not in [u.username for u in w.ok(w.core.users.list(100, 0, None))[0]]
    watcher = DeletionWatcher(w.core.deletion, w.clock)
    watcher.startService()
    try:
        run_out(w)
    finally:
        watcher.stopService()
    assert result(w.core.store.get_user(alice.id)) is None
    assert result(w.core.store.get_room(room.id)).owner == bob.id
    assert count(w, "SELECT count(*) FROM messages WHERE author_id = ?", alice.id) == 0
    w.ok(w.core.auth.register("alice", "alice2@example.com", PASSWORD))


def test_an_erasure_cut_short_carries_on_from_where_it_got(on_file):
    w = on_file()
    alice = w.user("alice")
    room = w.ok(w.core.rooms.create(alice, "general", None, None))
    w.user("bob")
    for i in range(6):
        w.ok(w.core.messages.send(alice, Target("room", room.id), f"alice {i}"))
    w.core.deletion.batch = 2
    real = w.core.store.erase_messages
    calls: list[list[int]] = []

    def dies_after_one(user_id, seqs):
        calls.append(seqs)
        if len(calls) > 1:
            return defer.fail(RuntimeError("the server died"))
        return real(user_id, seqs)

    w.core.store.erase_messages = dies_after_one
    w.ok(w.core.deletion.delete(alice.id))
    w.clock.advance(PAUSE)  # the second batch fails: the job stops, the mark stays
    assert not w.core.deletion._running
    (pending,) = w.ok(w.core.store.deletions_pending())
    assert pending == (alice.id, calls[0][-1])
    w.core.store.close()

    w = on_file()
    scanned: list[int] = []
    real_scan = w.core.store.authored_in

    def watching(user_id, after, scan):
        scanned.append(after)
        return real_scan(user_id, after, scan)

    w.core.store.authored_in = watching
    assert w.ok(w.core.deletion.resume()) == [alice.id]
    run_out(w)
    assert scanned[0] == calls[0][-1]  # not from the start
    assert result(w.core.store.get_user(alice.id)) is None
    assert count(w, "SELECT count(*) FROM messages") == 0


def test_a_second_delete_finishes_a_deletion_cut_short(on_file):
    """``lairchat admin delete-user`` again, on an account whose deletion a crash cut
    short (the account is still found by name until its row goes)."""
    w = on_file()
    alice = w.user("alice")
    w.ok(w.core.store.begin_deletion(alice.id, w.clock.seconds()))
    w.core.store.close()
    w = on_file()
    w.ok(w.core.deletion.delete(alice.id))
    run_out(w)
    assert result(w.core.store.get_user(alice.id)) is None
