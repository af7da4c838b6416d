"""AdminService: stats, bans, forced room deletion and notices, for stored admins only
(DOMAIN.md §3, §14; our additions documented in docs/architecture.md)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_id
from lairchat.domain.types import Target
from lairchat.testing import result
from tests.unit.test_live_state_races import hold

T0 = 1_700_000_000
PASSWORD = "password1"


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def s(w):
    """root (stored admin), mod (stored moderator), alice and bob (users); alice owns
    "general" with bob in it. alice has two connections on two sessions."""
    users = {
        "root": w.user("root", role="admin"),
        "mod": w.user("mod", role="moderator"),
        "alice": w.user("alice"),
        "bob": w.user("bob"),
    }
    room = w.ok(w.core.rooms.create(users["alice"], "general", None, None))
    w.ok(w.core.rooms.join(users["bob"], room.id))
    second = w.ok(w.core.auth.login("alice", PASSWORD))
    subs = {
        "alice": w.connect(users["alice"]),
        "alice2": w.connect(users["alice"], second.session.id),
        "bob": w.connect(users["bob"]),
        "root": w.connect(users["root"]),
    }
    w.clear()
    return SimpleNamespace(room=room, subs=subs, alice_second=second, **users)


# -- who is an admin ------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["mod", "alice"])
def test_non_admins_are_refused_everything(w, s, actor):
    user = getattr(s, actor)
    for d in (
        w.core.admin.stats(user),
        w.core.admin.ban(user, s.bob.id, None, None),
        w.core.admin.unban(user, s.bob.id),
        w.core.admin.delete_room(user, s.room.id),
    ):
        error = w.fails(d, "permission_denied")
        assert error.status == 403
    w.ok(w.core.auth.login("bob", PASSWORD))  # nothing happened
    assert w.ok(w.core.rooms.get(s.bob, s.room.id)).member_count == 2


def test_the_stored_role_decides_not_the_callers_record(w, s):
    forged = dataclasses.replace(s.alice, role="admin")  # e.g. a stale token claim
    w.fails(w.core.admin.stats(forged), "permission_denied")
    demoted = s.root
    result(w.core.store.set_role(s.root.id, "user"))
    w.fails(w.core.admin.stats(demoted), "permission_denied")


def test_admins_get_no_room_overrides(w, s):
    w.fails(w.core.rooms.delete(s.root, s.room.id), "permission_denied")
    message = w.ok(w.core.messages.send(s.bob, Target("room", s.room.id), "x"))
    w.fails(w.core.messages.delete(s.root, message.id), "permission_denied")


# -- stats ----------------------------------------------------------------------------


def test_stats(w, s):
    w.ok(w.core.messages.send(s.bob, Target("room", s.room.id), "x"))
    w.ok(w.core.messages.send(s.bob, Target("dm", s.alice.id), "y"))
    stats = w.ok(w.core.admin.stats(s.root))
    assert stats == {
        "total_users": 4,
        "total_rooms": 1,
        "online_users": 3,  # distinct users, not connections
        "total_messages": 2,
        "connections": 4,
    }
    assert list(stats)[:3] == ["total_users", "total_rooms", "online_users"]


# -- bans -----------------------------------------------------------------------------


def test_ban_revokes_sessions_closes_connections_and_blocks_login(w, s):
    out = w.ok(w.core.admin.ban(s.root, s.alice.id, "spam", None))
    assert out == {"success": True, "expires_at": None}
    assert s.subs["alice"].closed == s.subs["alice2"].closed == ["banned"]
    assert s.subs["bob"].closed == s.subs["root"].closed == []
    for token in (w.auth[s.alice.id].token, s.alice_second.token):
        w.fails(w.core.auth.authenticate(token), "account_banned")  # told why
    w.fails(w.core.auth.login("alice", PASSWORD), "account_banned")
    w.ok(w.core.auth.authenticate(w.auth[s.bob.id].token))  # others untouched
    ban = result(w.core.store.get_ban(s.alice.id))
    assert (ban.reason, ban.banned_by, ban.expires_at) == ("spam", s.root.id, None)


def test_temporary_ban(w, s):
    out = w.ok(w.core.admin.ban(s.root, s.alice.id, None, 1.5))
    assert out["expires_at"] == "2023-11-14T23:43:20Z"
    w.clock.advance(1.5 * 3600 - 1)
    w.fails(w.core.auth.login("alice", PASSWORD), "account_banned")
    w.clock.advance(1)
    w.ok(w.core.auth.login("alice", PASSWORD))


@pytest.mark.parametrize(
    ("target", "hours", "code"),
    [
        ("unknown", None, "user_not_found"),
        (None, None, "user_not_found"),
        ("root", None, "permission_denied"),  # not yourself
        ("alice", 0, "validation_failed"),
        ("alice", -1, "validation_failed"),
    ],
)
def test_ban_refused(w, s, target, hours, code):
    user_id = {"unknown": new_id(), None: None, "root": s.root.id, "alice": s.alice.id}[target]
    w.fails(w.core.admin.ban(s.root, user_id, None, hours), code)
    assert s.subs["alice"].closed == []
    w.ok(w.core.auth.login("alice", PASSWORD))


def test_unban(w, s):
    w.ok(w.core.admin.ban(s.root, s.alice.id, None, None))
    w.ok(w.core.admin.unban(s.root, s.alice.id))
    w.ok(w.core.auth.login("alice", PASSWORD))
    assert result(w.core.store.get_ban(s.alice.id)) is None
    w.ok(w.core.admin.unban(s.root, s.alice.id))  # not banned: nothing to do
    w.fails(w.core.admin.unban(s.root, new_id()), "user_not_found")
    w.fails(w.core.admin.unban(s.root, None), "user_not_found")


# -- rooms ----------------------------------------------------------------------------


def test_force_delete_room(w, s):
    w.ok(w.core.admin.delete_room(s.root, s.room.id))  # root is not even a member
    w.fails(w.core.rooms.get(s.alice, s.room.id), "room_not_found")
    got = w.received("room_deleted")
    assert set(got) == {s.alice.id, s.bob.id}
    assert got[s.bob.id][0] == {
        "type": "room_deleted",
        "room_id": s.room.id,
        "room_name": "general",
        "deleted_by": s.root.id,
    }


def test_force_delete_unknown_room(w, s):
    w.fails(w.core.admin.delete_room(s.root, new_id()), "room_not_found")


# -- notices --------------------------------------------------------------------------


@pytest.mark.parametrize("severity", ["info", "warning", "critical"])
def test_notice_reaches_every_connection(w, s, severity):
    assert w.core.admin.notice("restarting soon", severity) == 4
    for sub in s.subs.values():
        assert [e.payload for e in sub.events] == [
            {"type": "server_notice", "message": "restarting soon", "severity": severity}
        ]
        assert list(sub.events[0].payload) == ["type", "message", "severity"]


def test_notice_default_severity_and_bad_severity(w, s):
    w.core.admin.notice("hello")
    assert s.subs["bob"].payloads("server_notice")[0]["severity"] == "info"
    with pytest.raises(LairError) as info:
        w.core.admin.notice("x", "fatal")
    assert info.value.code == "validation_failed"
    assert len(s.subs["bob"].events) == 1


# -- admins banning admins --------------------------------------------------------------


def test_an_admin_may_ban_another_admin(w, s):
    """A compromised admin account must be stoppable without the operator's shell."""
    other = w.user("root2", role="admin")
    w.ok(w.core.admin.ban(s.root, other.id, "compromised", None))
    w.fails(w.core.auth.login("root2", PASSWORD), "account_banned")


def test_two_admins_banning_each_other_at_once_leave_one(w, s, monkeypatch):
    """Both requests passed the admin check before either ban was written: both bans
    were stored, and no admin could log in any more (only the operator's ``lairchat
    admin unban`` helped). The ban is written only while its author is not banned."""
    other = w.user("root2", role="admin")
    releases = hold(monkeypatch, w.core.store, "put_ban")
    first = w.core.admin.ban(s.root, other.id, None, None)
    second = w.core.admin.ban(other, s.root.id, None, None)
    for release in releases:
        release()
    assert w.ok(first)["success"] is True
    w.fails(second, "account_banned")
    assert result(w.core.store.get_ban(s.root.id)) is None
    w.ok(w.core.auth.login("root", PASSWORD))
    w.fails(w.core.auth.login("root2", PASSWORD), "account_banned")


def test_an_unban_by_an_admin_banned_meanwhile_is_refused(w, s, monkeypatch):
    """An admin's own unban, checked before another admin banned them, lifted that
    ban once written."""
    other = w.user("root2", role="admin")
    releases = hold(monkeypatch, w.core.store, "delete_ban")
    unban = w.core.admin.unban(other, other.id)
    monkeypatch.undo()
    w.ok(w.core.admin.ban(s.root, other.id, None, None))
    releases[0]()
    w.fails(unban, "account_banned")
    w.fails(w.core.auth.login("root2", PASSWORD), "account_banned")


def audited(w) -> list[str]:
    """The audit log's actions, newest first."""
    return [entry.action for entry in result(w.core.store.audit_entries(10))]


def test_a_ban_by_an_admin_deleted_meanwhile_is_refused(w, s, monkeypatch):
    """A stolen admin account being deleted by another admin banned that admin with a
    request checked before the deletion: both locked out (of two admins, none left),
    and the log naming the deleted account as the one who banned. As a banned admin's
    ban, it is refused in the write (5ebc06d's crossing case; the ban was stored)."""
    other = w.user("root2", role="admin")
    releases = hold(monkeypatch, w.core.store, "put_ban")
    ban = w.core.admin.ban(other, s.root.id, None, None)
    monkeypatch.undo()
    w.ok(w.core.admin.delete_user(s.root, other.id, PASSWORD))
    releases[0]()
    w.fails(ban, "session_not_found")
    assert result(w.core.store.get_ban(s.root.id)) is None
    assert audited(w) == ["user.delete"]


@pytest.mark.parametrize("stopped", ["banned", "deleted"])
def test_a_room_deletion_by_an_admin_stopped_meanwhile_is_refused(w, s, monkeypatch, stopped):
    """A room's deletion (or an account's, below) by an admin banned or deleted after
    their request was checked was done and recorded as theirs."""
    other = w.user("root2", role="admin")
    releases = hold(monkeypatch, w.core.store, "delete_room")
    deleting = w.core.admin.delete_room(other, s.room.id)
    monkeypatch.undo()
    if stopped == "banned":
        w.ok(w.core.admin.ban(s.root, other.id, None, None))
    else:
        w.ok(w.core.admin.delete_user(s.root, other.id, PASSWORD))
    releases[0]()
    w.fails(deleting, "account_banned" if stopped == "banned" else "session_not_found")
    assert result(w.core.store.get_room(s.room.id)) is not None
    assert audited(w) == ["user.ban" if stopped == "banned" else "user.delete"]


def test_an_account_deletion_by_an_admin_banned_meanwhile_is_refused(w, s, monkeypatch):
    other = w.user("root2", role="admin")
    releases = hold(monkeypatch, w.core.store, "begin_deletion")
    deleting = w.core.admin.delete_user(other, s.bob.id, PASSWORD)
    monkeypatch.undo()
    w.ok(w.core.admin.ban(s.root, other.id, None, None))
    releases[0]()
    w.fails(deleting, "account_banned")
    w.ok(w.core.auth.login("bob", PASSWORD))
    assert audited(w) == ["user.ban"]


# -- an admin demoted while the request ran ----------------------------------------------


def _admin_action(w, s, actor, action):
    """The admin action ``action`` by ``actor``, and the store call that writes it."""
    if action == "ban":
        return "put_ban", lambda: w.core.admin.ban(actor, s.alice.id, None, None)
    if action == "unban":
        return "delete_ban", lambda: w.core.admin.unban(actor, s.alice.id)
    if action == "delete_room":
        return "delete_room", lambda: w.core.admin.delete_room(actor, s.room.id)
    return "begin_deletion", lambda: w.core.admin.delete_user(actor, s.bob.id, PASSWORD)


@pytest.mark.parametrize("action", ["ban", "unban", "delete_room", "delete_user"])
def test_an_action_by_an_admin_demoted_meanwhile_is_refused(w, s, monkeypatch, action):
    """The operator's ``lairchat admin set-role NAME user`` while an admin's request
    was past its admin check: the ban, unban or deletion was done all the same, and
    recorded as the demoted admin's. The write refuses it as the request would have
    (403 ``permission_denied``), as it refuses a banned or deleted admin's (03aefef)."""
    other = w.user("root2", role="admin")
    w.ok(w.core.admin.ban(s.root, s.alice.id, "was", None))
    name, act = _admin_action(w, s, other, action)
    releases = hold(monkeypatch, w.core.store, name)
    acting = act()
    monkeypatch.undo()
    w.ok(w.core.users.set_role(other.id, "user"))  # as lairchat admin set-role
    releases[0]()
    error = w.fails(acting, "permission_denied")
    assert error.status == 403
    assert result(w.core.store.get_ban(s.alice.id)).reason == "was"  # ban and unban: none
    assert result(w.core.store.get_room(s.room.id)) is not None
    w.ok(w.core.auth.login("bob", PASSWORD))
    assert audited(w) == ["user.ban"]  # root's, before


def test_an_admin_promoted_meanwhile_acts(w, s, monkeypatch):
    """The other way round, nothing changes: a request refused at its check stays
    refused, whatever the role when it would have been written."""
    w.fails(w.core.admin.ban(s.bob, s.alice.id, None, None), "permission_denied")
    w.ok(w.core.users.set_role(s.bob.id, "admin"))
    w.ok(w.core.admin.ban(s.bob, s.alice.id, None, None))
    assert audited(w) == ["user.ban"]


# -- an account whose deletion is under way ----------------------------------------------


@pytest.mark.parametrize("action", ["ban", "unban"])
def test_an_account_being_deleted_is_not_found_for_a_ban(w, s, action):
    """Its deletion begun (here, as ``lairchat admin delete-user`` beside the server
    leaves it), an account was banned, and the ban was in the audit log, of an account
    that could not sign in and was about to go: 404 ``user_not_found``, as every
    other route answers for it, nothing recorded."""
    w.ok(w.core.admin.ban(s.root, s.alice.id, None, None))
    result(w.core.store.begin_deletion(s.alice.id, w.clock.seconds()))
    if action == "ban":
        error = w.fails(w.core.admin.ban(s.root, s.alice.id, "late", None), "user_not_found")
    else:
        error = w.fails(w.core.admin.unban(s.root, s.alice.id), "user_not_found")
    assert error.status == 404
    assert result(w.core.store.get_ban(s.alice.id)).reason is None  # root's first ban
    assert audited(w) == ["user.ban"]


def test_a_ban_of_an_account_whose_deletion_began_meanwhile_is_not_found(w, s, monkeypatch):
    """The deletion began after the ban's request read the account: refused in the
    ban's write."""
    other = w.user("root2", role="admin")
    releases = hold(monkeypatch, w.core.store, "put_ban")
    ban = w.core.admin.ban(other, s.bob.id, "late", None)
    monkeypatch.undo()
    w.ok(w.core.admin.delete_user(s.root, s.bob.id, PASSWORD))
    releases[0]()
    w.fails(ban, "user_not_found")
    assert result(w.core.store.get_ban(s.bob.id)) is None
    assert audited(w) == ["user.delete"]
