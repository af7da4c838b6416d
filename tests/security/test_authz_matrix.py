"""Who may do what: every REST route and every real-time command, as every kind of actor.

One table (:data:`ROWS`) says, for each operation, what each actor gets in the public
room, the private room and the DM conversation: allowed, or the exact refusal (HTTP
status and code; the real-time response carries the same code). Each row names the
REST route and the TCP command that perform the operation, so both transports are
checked against the same expectation, on the same world (see ``conftest.py``): one
core that the REST API and in-memory TCP connections share.

Actors: ``anonymous`` (no token; over TCP a connection that never authenticated),
``outsider`` (signed in, in no room), ``member``, ``moderator`` and ``owner`` (room
roles, in both rooms), ``sysmod`` (system role moderator), ``admin`` (system role
admin) and ``banned`` (a member of both rooms, banned: their token is revoked).

Our documented choices (docs/architecture.md, "Decisions"), encoded below:

- system admins get no room overrides, only the admin endpoints (ban, unban, force
  delete, stats): :func:`by_room_role` gives ``sysmod`` and ``admin`` what an
  outsider gets unless a row says otherwise;
- ``invite_to_room`` over TCP is open to any member, HTTP invitations need an owner
  or a moderator;
- ``typing`` from a non-member is dropped silently (no response, nobody told).

Unless a row says otherwise, over HTTP ``anonymous`` gets 401 ``missing_token`` and
``banned`` 401 ``session_not_found``; over TCP both get the state machine's
``unauthorized`` error frame (after ``banned`` failed to authenticate with
``account_banned``).

The tests after the matrix check what the table cannot say: that private history
and DMs never reach an outsider by any path (answers, cursors, listings, events).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from lairchat.realtime.codec import CLIENT_TYPES
from lairchat.testing import make_core, result
from lairchat.transports.http.app import HttpApi
from lairchat.transports.http.testing import PASSWORD, Reply

ACTORS = ("anonymous", "outsider", "member", "moderator", "owner", "sysmod", "admin", "banned")


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """Allowed, or refused with ``code`` (and, over HTTP, ``status``).

    ``frame`` marks a real-time refusal by the connection's state machine (an
    ``error`` frame) rather than a command's ``*_response``."""

    ok: bool
    status: int | None = None
    code: str | None = None
    frame: bool = False

    def __str__(self) -> str:
        if self.ok:
            return "allowed"
        shown = f"{self.status} {self.code}" if self.status else str(self.code)
        return f"error frame {shown}" if self.frame else f"refused {shown}"

    def seen_over_tcp(self) -> Outcome:
        """What the real-time protocols say for the same refusal: the code alone."""
        return Outcome(self.ok, None, self.code, self.frame)


def refused(status: int, code: str) -> Outcome:
    return Outcome(False, status, code)


OK = Outcome(True)
#: ``typing`` has no response: the row checks whether the room (or the DM's other
#: side) was told.
DELIVERED = OK
DROPPED = Outcome(False, None, "dropped silently")

MISSING_TOKEN = refused(401, "missing_token")
SESSION_GONE = refused(401, "session_not_found")
UNAUTHORIZED_FRAME = Outcome(False, None, "unauthorized", frame=True)
NOT_MEMBER = refused(403, "not_room_member")
DENIED = refused(403, "permission_denied")
NOT_AUTHOR = refused(403, "not_message_author")
ALREADY_MEMBER = refused(409, "already_member")
PRIVATE = refused(409, "room_private")
LAST_OWNER = refused(409, "last_owner")
NOT_INVITEE = refused(409, "not_invitee")
UNKNOWN_INVITATION = refused(404, "invitation_not_found")
UNKNOWN_MESSAGE = refused(404, "message_not_found")
NOT_A_ROOM_MESSAGE = refused(400, "validation_failed")

# --------------------------------------------------------------------------- who gets what

Profile = dict[str, Outcome]


def public(outcome: Outcome = OK) -> Profile:
    """No authentication involved: every actor, anonymous and banned included."""
    return dict.fromkeys(ACTORS, outcome)


def signed_in(outcome: Outcome = OK, **overrides: Outcome) -> Profile:
    """Every signed-in actor gets ``outcome`` (anonymous and banned: the defaults)."""
    profile = {a: outcome for a in ACTORS if a not in ("anonymous", "banned")}
    profile.update(overrides)
    return profile


def by_room_role(owner: Outcome, moderator: Outcome, member: Outcome, outsider: Outcome) -> Profile:
    """By room role. System moderators and admins are outsiders to rooms: no overrides."""
    return signed_in(
        outsider, owner=owner, moderator=moderator, member=member, sysmod=outsider, admin=outsider
    )


EVERYONE = signed_in(OK)
MEMBERS = by_room_role(OK, OK, OK, NOT_MEMBER)
MANAGERS = by_room_role(OK, OK, DENIED, NOT_MEMBER)
OWNERS = by_room_role(OK, DENIED, DENIED, NOT_MEMBER)
ADMIN_ONLY = signed_in(DENIED, admin=OK)
#: The test invitations are addressed to ``outsider``.
INVITEE_ONLY = signed_in(NOT_INVITEE, outsider=OK)


def rooms(profile: Profile) -> dict[str, Profile]:
    return {"public": profile, "private": profile}


def dm(profile: Profile) -> dict[str, Profile]:
    return {"dm": profile}


def anywhere(profile: Profile) -> dict[str, Profile]:
    """An operation on no particular room or conversation."""
    return {"-": profile}


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    name: str
    #: ``"METHOD /path"`` as routed, or None when HTTP has no such operation.
    http: str | None
    #: The real-time command, or None when only HTTP has it.
    tcp: str | None
    expect: dict[str, Profile]
    #: Real-time commands of the authentication phase: sent before authenticating.
    preauth: bool = False


# fmt: off
ROWS: tuple[Row, ...] = (
    # -- service and authentication ---------------------------------------------------------------
    Row("health", "GET /health", None, anywhere(public())),
    Row("ready", "GET /ready", None, anywhere(public())),
    Row("openapi", "GET /openapi.json", None, anywhere(public())),
    Row("openapi-v1", "GET /api/v1/openapi.json", None, anywhere(public())),
    Row("ping", None, "ping", anywhere(public()), preauth=True),
    Row("register", "POST /api/v1/auth/register", "register", anywhere(public()), preauth=True),
    Row("login", "POST /api/v1/auth/login", "login", anywhere(
        signed_in(OK, anonymous=refused(401, "invalid_credentials"),
                  banned=refused(403, "account_banned"))), preauth=True),
    Row("authenticate", None, "authenticate", anywhere(
        signed_in(OK, anonymous=refused(401, "invalid_token"),
                  banned=refused(401, "account_banned"))), preauth=True),
    Row("logout", "POST /api/v1/auth/logout", "logout", anywhere(EVERYONE)),
    Row("refresh", "POST /api/v1/auth/refresh", None, anywhere(EVERYONE)),
    Row("change-password", "POST /api/v1/auth/change-password", None, anywhere(EVERYONE)),
    # One's own sessions only: another user's session id is as unknown as a made-up one.
    Row("list-sessions", "GET /api/v1/auth/sessions", None, anywhere(EVERYONE)),
    Row("end-own-session", "DELETE /api/v1/auth/sessions/{session_id}", None,
        anywhere(EVERYONE)),
    Row("end-bystanders-session", "DELETE /api/v1/auth/sessions/{session_id}", None,
        anywhere(signed_in(refused(404, "not_found")))),
    # -- users ------------------------------------------------------------------------------------
    Row("me", "GET /api/v1/users/me", "get_current_user", anywhere(EVERYONE)),
    Row("update-me", "PATCH /api/v1/users/me", None, anywhere(EVERYONE)),
    # One's own account alone; the world's one admin is the last (docs/SECURITY.md).
    Row("delete-me", "DELETE /api/v1/users/me", None, anywhere(signed_in(OK, admin=DENIED))),
    # One's own data alone, with one's password (docs/SECURITY.md, "Exporting your data").
    Row("export-me", "POST /api/v1/users/me/export", None, anywhere(EVERYONE)),
    # One's own second factor alone; none is set up in this world (docs/SECURITY.md).
    Row("setup-2fa", "POST /api/v1/users/me/2fa/setup", None, anywhere(EVERYONE)),
    Row("enable-2fa", "POST /api/v1/users/me/2fa/enable", None,
        anywhere(signed_in(refused(409, "totp_not_set_up")))),
    Row("disable-2fa", "POST /api/v1/users/me/2fa/disable", None,
        anywhere(signed_in(refused(409, "totp_not_enabled")))),
    Row("recovery-codes-2fa", "POST /api/v1/users/me/2fa/recovery-codes", None,
        anywhere(signed_in(refused(409, "totp_not_enabled")))),
    Row("list-users", "GET /api/v1/users", "list_users", anywhere(EVERYONE)),
    Row("get-user", "GET /api/v1/users/{user_id}", "get_user", anywhere(EVERYONE)),
    # -- rooms ------------------------------------------------------------------------------------
    Row("create-room", "POST /api/v1/rooms", "create_room", anywhere(EVERYONE)),
    Row("list-rooms", "GET /api/v1/rooms", "list_rooms", anywhere(EVERYONE)),
    # Room metadata is not secret, private rooms included (as the original; documented).
    Row("get-room", "GET /api/v1/rooms/{room_id}", "get_room", rooms(EVERYONE)),
    Row("update-room", "PATCH /api/v1/rooms/{room_id}", None, rooms(MANAGERS)),
    Row("delete-room", "DELETE /api/v1/rooms/{room_id}", None,
        rooms(by_room_role(OK, DENIED, DENIED, DENIED))),
    Row("join", "POST /api/v1/rooms/{room_id}/join", "join_room", {
        "public": by_room_role(ALREADY_MEMBER, ALREADY_MEMBER, ALREADY_MEMBER, OK),
        # Without an invitation, even for members: privacy is checked first.
        "private": by_room_role(PRIVATE, PRIVATE, PRIVATE, PRIVATE),
    }),
    Row("leave", "POST /api/v1/rooms/{room_id}/leave", "leave_room",
        rooms(by_room_role(LAST_OWNER, OK, OK, NOT_MEMBER))),
    Row("members", "GET /api/v1/rooms/{room_id}/members", None, rooms(MEMBERS)),
    Row("promote-bystander", "PUT /api/v1/rooms/{room_id}/members/{user_id}/role", None,
        rooms(OWNERS)),
    Row("kick-bystander", "DELETE /api/v1/rooms/{room_id}/members/{user_id}", None,
        rooms(MANAGERS)),
    # Nobody kicks themselves; moderators kick plain members only.
    Row("kick-moderator", "DELETE /api/v1/rooms/{room_id}/members/{user_id}", None,
        rooms(by_room_role(OK, DENIED, DENIED, NOT_MEMBER))),
    Row("kick-owner", "DELETE /api/v1/rooms/{room_id}/members/{user_id}", None,
        rooms(by_room_role(DENIED, DENIED, DENIED, NOT_MEMBER))),
    # -- messages (the DM conversation is with ``bystander``) -------------------------------------
    Row("send", "POST /api/v1/messages", "send_message", rooms(MEMBERS) | dm(EVERYONE)),
    # A DM history is always the caller's own conversation (see the tests below).
    Row("history", "GET /api/v1/messages", "get_messages", rooms(MEMBERS) | dm(EVERYONE)),
    Row("mark-read", "POST /api/v1/messages/read", "mark_read", rooms(MEMBERS) | dm(EVERYONE)),
    # Search reads what history reads; everywhere is the caller's own (see the tests below).
    Row("search", "GET /api/v1/messages/search", "search_messages",
        rooms(MEMBERS) | dm(EVERYONE)),
    Row("search-everywhere", "GET /api/v1/messages/search", "search_messages",
        anywhere(EVERYONE)),
    Row("edit-members-message", "PATCH /api/v1/messages/{message_id}", "edit_message",
        rooms(signed_in(NOT_AUTHOR, member=OK)) | dm(signed_in(NOT_AUTHOR, member=OK))),
    Row("delete-members-message", "DELETE /api/v1/messages/{message_id}", "delete_message",
        rooms(by_room_role(OK, OK, OK, DENIED)) | dm(signed_in(DENIED, member=OK))),
    # Our addition: whoever reads the conversation reacts; a DM is no one else's to
    # know of (as a message that does not exist), a room says who may (docs/HTTP.md).
    Row("react", "PUT /api/v1/messages/{message_id}/reactions/{emoji}", "add_reaction",
        rooms(MEMBERS) | dm(signed_in(UNKNOWN_MESSAGE, member=OK))),
    Row("unreact", "DELETE /api/v1/messages/{message_id}/reactions/{emoji}", "remove_reaction",
        rooms(MEMBERS) | dm(signed_in(UNKNOWN_MESSAGE, member=OK))),
    # ... the emoji in the query (``?emoji=..``): the same operations, the same rule.
    Row("react-by-query", "PUT /api/v1/messages/{message_id}/reactions", None,
        rooms(MEMBERS) | dm(signed_in(UNKNOWN_MESSAGE, member=OK))),
    Row("unreact-by-query", "DELETE /api/v1/messages/{message_id}/reactions", None,
        rooms(MEMBERS) | dm(signed_in(UNKNOWN_MESSAGE, member=OK))),
    # Our addition: a room's moderators pin, its members list; a DM has no pins (its
    # parties are told so, anyone else finds nothing: docs/HTTP.md, "Pinned messages").
    Row("pin", "PUT /api/v1/messages/{message_id}/pin", "pin_message",
        rooms(MANAGERS) | dm(signed_in(UNKNOWN_MESSAGE, member=NOT_A_ROOM_MESSAGE))),
    Row("unpin", "DELETE /api/v1/messages/{message_id}/pin", "unpin_message",
        rooms(MANAGERS) | dm(signed_in(UNKNOWN_MESSAGE, member=NOT_A_ROOM_MESSAGE))),
    Row("list-pins", "GET /api/v1/rooms/{room_id}/pins", "get_pins", rooms(MEMBERS)),
    Row("typing", None, "typing",
        rooms(by_room_role(DELIVERED, DELIVERED, DELIVERED, DROPPED)) | dm(signed_in(DELIVERED))),
    # -- invitations (the invitee is ``invitee``; invitations to accept are ``outsider``'s) -----
    Row("invite", "POST /api/v1/invitations", None, rooms(MANAGERS)),
    Row("invite", None, "invite_to_room", rooms(MEMBERS)),
    Row("list-invitations", "GET /api/v1/invitations", "list_invitations", anywhere(EVERYONE)),
    Row("accept-outsiders-invitation", "POST /api/v1/invitations/{invitation_id}/accept",
        "accept_invitation", rooms(INVITEE_ONLY)),
    Row("decline-outsiders-invitation", "POST /api/v1/invitations/{invitation_id}/decline",
        "decline_invitation", rooms(INVITEE_ONLY)),
    # Our addition: its inviter (``owner`` here) or the room's owners and moderators; the
    # invitee (``outsider``) declines instead; anyone else is not told it exists.
    Row("room-invitations", "GET /api/v1/rooms/{room_id}/invitations", None, rooms(MANAGERS)),
    Row("revoke-outsiders-invitation", "DELETE /api/v1/invitations/{invitation_id}",
        "revoke_invitation", rooms(signed_in(UNKNOWN_INVITATION, owner=OK, moderator=OK,
                                             member=DENIED, outsider=DENIED))),
    # Our addition: a room's owners and moderators make, list and revoke invite codes
    # (whoever made them); anyone signed in joins with one, private rooms too.
    Row("make-invite-code", "POST /api/v1/rooms/{room_id}/invite-codes", "create_invite_code",
        rooms(MANAGERS)),
    Row("list-invite-codes", "GET /api/v1/rooms/{room_id}/invite-codes", "list_invite_codes",
        rooms(MANAGERS)),
    Row("revoke-owners-invite-code", "DELETE /api/v1/rooms/{room_id}/invite-codes/{code_id}",
        "revoke_invite_code", rooms(MANAGERS)),
    Row("join-by-invite-code", "POST /api/v1/invite-codes/{code}/join", "join_by_invite_code",
        rooms(by_room_role(ALREADY_MEMBER, ALREADY_MEMBER, ALREADY_MEMBER, OK))),
    # -- administration ---------------------------------------------------------------------------
    Row("stats", "GET /api/v1/admin/stats", None, anywhere(ADMIN_ONLY)),
    # Our addition: the admin audit log (HTTP.md).
    Row("audit", "GET /api/v1/admin/audit", None, anywhere(ADMIN_ONLY)),
    Row("ban-bystander", "POST /api/v1/admin/users/{user_id}/ban", None, anywhere(ADMIN_ONLY)),
    Row("unban-banned", "POST /api/v1/admin/users/{user_id}/unban", None, anywhere(ADMIN_ONLY)),
    # Our addition: the admin's own password is asked too (HTTP.md).
    Row("delete-bystander", "DELETE /api/v1/admin/users/{user_id}", None, anywhere(ADMIN_ONLY)),
    Row("force-delete-room", "DELETE /api/v1/admin/rooms/{room_id}", None, rooms(ADMIN_ONLY)),
)
# fmt: on


def expected(row: Row, transport: str, where: str, actor: str) -> Outcome:
    profile = row.expect[where]
    if actor in profile:
        outcome = profile[actor]
    elif transport == "http":
        outcome = MISSING_TOKEN if actor == "anonymous" else SESSION_GONE
    else:
        outcome = UNAUTHORIZED_FRAME
    return outcome if transport == "http" else outcome.seen_over_tcp()


# --------------------------------------------------------------------------- performing it


def target(w: Any, where: str) -> dict[str, str]:
    """The message target: the room, or the DM conversation with ``bystander``."""
    if where == "dm":
        return {"type": "dm", "recipient": w.id("bystander")}
    return {"type": "room", "room_id": w.room_id(where)}


def http_outcome(reply: Reply) -> Outcome:
    assert reply.status < 500, reply
    if 200 <= reply.status < 300:
        return OK
    return refused(reply.status, reply.code)


def call(w: Any, actor: str, method: str, path: str, body: Any = None, **kw: Any) -> Reply:
    token = None if actor == "anonymous" else w.token(actor)
    if body is None:
        return w.api.request(method, path, token=token, **kw)
    return w.api.request(method, path, body, token=token, **kw)


HttpAction = Callable[[Any, str, str], Reply]


def invite_code(w: Any, where: str) -> dict[str, Any]:
    """A new invite code to the room, made by its owner (over HTTP)."""
    reply = w.api.post(f"/api/v1/rooms/{w.room_id(where)}/invite-codes", {}, token=w.token("owner"))
    assert reply.status == 201, reply
    return reply.json["invite_code"]


def session_of(w: Any, actor: str) -> str:
    """The id of the actor's session (``anonymous`` has none: the bystander's)."""
    return w.account("bystander" if actor == "anonymous" else actor).session["id"]


def _http_actions() -> dict[str, HttpAction]:
    def room(w: Any, where: str) -> str:
        return f"/api/v1/rooms/{w.room_id(where)}"

    def invitation(w: Any, where: str) -> str:
        return f"/api/v1/invitations/{w.invite('owner', where, 'outsider')}"

    def history(w: Any, a: str, where: str) -> Reply:
        t = target(w, where)
        params = {"target_type": t["type"], "target_id": t.get("room_id") or t.get("recipient")}
        return call(w, a, "GET", "/api/v1/messages", params=params)

    def search(w: Any, a: str, where: str) -> Reply:
        t = target(w, where)
        params = {"target_type": t["type"], "target_id": t.get("room_id") or t.get("recipient")}
        return call(w, a, "GET", "/api/v1/messages/search", params={"q": "hi", **params})

    def reaction(w: Any, where: str) -> str:
        return f"/api/v1/messages/{w.messages[where]}/reactions/%F0%9F%91%8D"

    def reaction_by_query(w: Any, where: str) -> str:
        return f"/api/v1/messages/{w.messages[where]}/reactions?emoji=.."

    def login(w: Any, a: str, where: str) -> Reply:
        name = "nobody" if a == "anonymous" else a
        return call(w, a, "POST", "/api/v1/auth/login", {"identifier": name, "password": PASSWORD})

    return {
        "health": lambda w, a, where: call(w, a, "GET", "/health"),
        "ready": lambda w, a, where: call(w, a, "GET", "/ready"),
        "openapi": lambda w, a, where: call(w, a, "GET", "/openapi.json"),
        "openapi-v1": lambda w, a, where: call(w, a, "GET", "/api/v1/openapi.json"),
        "register": lambda w, a, where: call(
            w,
            a,
            "POST",
            "/api/v1/auth/register",
            {"username": f"new{a}", "email": f"new{a}@example.com", "password": PASSWORD},
        ),
        "login": login,
        "logout": lambda w, a, where: call(w, a, "POST", "/api/v1/auth/logout"),
        "refresh": lambda w, a, where: call(w, a, "POST", "/api/v1/auth/refresh"),
        "change-password": lambda w, a, where: call(
            w,
            a,
            "POST",
            "/api/v1/auth/change-password",
            {"current_password": PASSWORD, "new_password": "password2"},
        ),
        "list-sessions": lambda w, a, where: call(w, a, "GET", "/api/v1/auth/sessions"),
        "end-own-session": lambda w, a, where: call(
            w, a, "DELETE", f"/api/v1/auth/sessions/{session_of(w, a)}"
        ),
        "end-bystanders-session": lambda w, a, where: call(
            w, a, "DELETE", f"/api/v1/auth/sessions/{session_of(w, 'bystander')}"
        ),
        "me": lambda w, a, where: call(w, a, "GET", "/api/v1/users/me"),
        "update-me": lambda w, a, where: call(
            w, a, "PATCH", "/api/v1/users/me", {"email": f"{a}2@example.com"}
        ),
        "delete-me": lambda w, a, where: call(
            w, a, "DELETE", "/api/v1/users/me", {"password": PASSWORD}
        ),
        "export-me": lambda w, a, where: call(
            w, a, "POST", "/api/v1/users/me/export", {"password": PASSWORD}
        ),
        "setup-2fa": lambda w, a, where: call(
            w, a, "POST", "/api/v1/users/me/2fa/setup", {"password": PASSWORD}
        ),
        "enable-2fa": lambda w, a, where: call(
            w, a, "POST", "/api/v1/users/me/2fa/enable", {"code": "123456"}
        ),
        "disable-2fa": lambda w, a, where: call(
            w, a, "POST", "/api/v1/users/me/2fa/disable", {"password": PASSWORD, "code": "1"}
        ),
        "recovery-codes-2fa": lambda w, a, where: call(
            w,
            a,
            "POST",
            "/api/v1/users/me/2fa/recovery-codes",
            {"password": PASSWORD, "code": "1"},
        ),
        "list-users": lambda w, a, where: call(w, a, "GET", "/api/v1/users"),
        "get-user": lambda w, a, where: call(w, a, "GET", f"/api/v1/users/{w.id('bystander')}"),
        "create-room": lambda w, a, where: call(w, a, "POST", "/api/v1/rooms", {"name": f"{a}'s"}),
        "list-rooms": lambda w, a, where: call(w, a, "GET", "/api/v1/rooms"),
        "get-room": lambda w, a, where: call(w, a, "GET", room(w, where)),
        "update-room": lambda w, a, where: call(
            w, a, "PATCH", room(w, where), {"description": "changed"}
        ),
        "delete-room": lambda w, a, where: call(w, a, "DELETE", room(w, where)),
        "join": lambda w, a, where: call(w, a, "POST", room(w, where) + "/join"),
        "leave": lambda w, a, where: call(w, a, "POST", room(w, where) + "/leave"),
        "members": lambda w, a, where: call(w, a, "GET", room(w, where) + "/members"),
        "promote-bystander": lambda w, a, where: call(
            w,
            a,
            "PUT",
            f"{room(w, where)}/members/{w.id('bystander')}/role",
            {"role": "moderator"},
        ),
        "kick-bystander": lambda w, a, where: call(
            w, a, "DELETE", f"{room(w, where)}/members/{w.id('bystander')}"
        ),
        "kick-moderator": lambda w, a, where: call(
            w, a, "DELETE", f"{room(w, where)}/members/{w.id('moderator')}"
        ),
        "kick-owner": lambda w, a, where: call(
            w, a, "DELETE", f"{room(w, where)}/members/{w.id('owner')}"
        ),
        "send": lambda w, a, where: call(
            w, a, "POST", "/api/v1/messages", {"target": target(w, where), "content": "hi"}
        ),
        "history": history,
        "search": search,
        "search-everywhere": lambda w, a, where: call(
            w, a, "GET", "/api/v1/messages/search", params={"q": "hi"}
        ),
        "mark-read": lambda w, a, where: call(
            w, a, "POST", "/api/v1/messages/read", {"target": target(w, where)}
        ),
        "edit-members-message": lambda w, a, where: call(
            w, a, "PATCH", f"/api/v1/messages/{w.messages[where]}", {"content": "edited"}
        ),
        "delete-members-message": lambda w, a, where: call(
            w, a, "DELETE", f"/api/v1/messages/{w.messages[where]}"
        ),
        "react": lambda w, a, where: call(w, a, "PUT", reaction(w, where)),
        "unreact": lambda w, a, where: call(w, a, "DELETE", reaction(w, where)),
        "react-by-query": lambda w, a, where: call(w, a, "PUT", reaction_by_query(w, where)),
        "unreact-by-query": lambda w, a, where: call(w, a, "DELETE", reaction_by_query(w, where)),
        "pin": lambda w, a, where: call(w, a, "PUT", f"/api/v1/messages/{w.messages[where]}/pin"),
        "unpin": lambda w, a, where: call(
            w, a, "DELETE", f"/api/v1/messages/{w.messages[where]}/pin"
        ),
        "list-pins": lambda w, a, where: call(
            w, a, "GET", f"/api/v1/rooms/{w.room_id(where)}/pins"
        ),
        "invite": lambda w, a, where: call(
            w,
            a,
            "POST",
            "/api/v1/invitations",
            {"room_id": w.room_id(where), "user_id": w.id("invitee")},
        ),
        "list-invitations": lambda w, a, where: call(w, a, "GET", "/api/v1/invitations"),
        "accept-outsiders-invitation": lambda w, a, where: call(
            w, a, "POST", invitation(w, where) + "/accept"
        ),
        "decline-outsiders-invitation": lambda w, a, where: call(
            w, a, "POST", invitation(w, where) + "/decline"
        ),
        "room-invitations": lambda w, a, where: call(w, a, "GET", room(w, where) + "/invitations"),
        "make-invite-code": lambda w, a, where: call(
            w, a, "POST", room(w, where) + "/invite-codes", {}
        ),
        "list-invite-codes": lambda w, a, where: call(
            w, a, "GET", room(w, where) + "/invite-codes"
        ),
        "revoke-owners-invite-code": lambda w, a, where: call(
            w, a, "DELETE", room(w, where) + "/invite-codes/" + invite_code(w, where)["id"]
        ),
        "join-by-invite-code": lambda w, a, where: call(
            w, a, "POST", f"/api/v1/invite-codes/{invite_code(w, where)['code']}/join"
        ),
        "revoke-outsiders-invitation": lambda w, a, where: call(
            w, a, "DELETE", invitation(w, where)
        ),
        "stats": lambda w, a, where: call(w, a, "GET", "/api/v1/admin/stats"),
        "audit": lambda w, a, where: call(w, a, "GET", "/api/v1/admin/audit"),
        "ban-bystander": lambda w, a, where: call(
            w, a, "POST", f"/api/v1/admin/users/{w.id('bystander')}/ban", {"reason": "test"}
        ),
        "unban-banned": lambda w, a, where: call(
            w, a, "POST", f"/api/v1/admin/users/{w.id('banned')}/unban"
        ),
        "delete-bystander": lambda w, a, where: call(
            w, a, "DELETE", f"/api/v1/admin/users/{w.id('bystander')}", {"password": PASSWORD}
        ),
        "force-delete-room": lambda w, a, where: call(
            w, a, "DELETE", f"/api/v1/admin/rooms/{w.room_id(where)}"
        ),
    }


HTTP_ACTIONS = _http_actions()

#: A real-time command's fields: ``(world, actor, where) -> fields``.
TcpFields = Callable[[Any, str, str], dict[str, Any]]


def _tcp_fields() -> dict[str, TcpFields]:
    def invitation(w: Any, where: str) -> str:
        return w.invite("owner", where, "outsider")

    def login(w: Any, a: str, where: str) -> dict[str, Any]:
        return {"identifier": "nobody" if a == "anonymous" else a, "password": PASSWORD}

    return {
        "ping": lambda w, a, where: {},
        "register": lambda w, a, where: {
            "username": f"new{a}",
            "email": f"new{a}@example.com",
            "password": PASSWORD,
        },
        "login": login,
        "authenticate": lambda w, a, where: {"token": "" if a == "anonymous" else w.token(a)},
        "logout": lambda w, a, where: {},
        "me": lambda w, a, where: {},
        "list-users": lambda w, a, where: {},
        "get-user": lambda w, a, where: {"user_id": w.id("bystander")},
        "create-room": lambda w, a, where: {"name": f"{a}'s"},
        "list-rooms": lambda w, a, where: {},
        "get-room": lambda w, a, where: {"room_id": w.room_id(where)},
        "join": lambda w, a, where: {"room_id": w.room_id(where)},
        "leave": lambda w, a, where: {"room_id": w.room_id(where)},
        "send": lambda w, a, where: {"target": target(w, where), "content": "hi"},
        "history": lambda w, a, where: {"target": target(w, where)},
        "mark-read": lambda w, a, where: {"target": target(w, where)},
        "search": lambda w, a, where: {"query": "hi", "target": target(w, where)},
        "search-everywhere": lambda w, a, where: {"query": "hi"},
        "edit-members-message": lambda w, a, where: {
            "message_id": w.messages[where],
            "content": "edited",
        },
        "delete-members-message": lambda w, a, where: {"message_id": w.messages[where]},
        "react": lambda w, a, where: {"message_id": w.messages[where], "emoji": "👍"},
        "unreact": lambda w, a, where: {"message_id": w.messages[where], "emoji": "👍"},
        "pin": lambda w, a, where: {"message_id": w.messages[where]},
        "unpin": lambda w, a, where: {"message_id": w.messages[where]},
        "list-pins": lambda w, a, where: {"room_id": w.room_id(where)},
        "typing": lambda w, a, where: {"target": target(w, where)},
        "invite": lambda w, a, where: {"room_id": w.room_id(where), "user_id": w.id("invitee")},
        "list-invitations": lambda w, a, where: {},
        "accept-outsiders-invitation": lambda w, a, where: {"invitation_id": invitation(w, where)},
        "decline-outsiders-invitation": lambda w, a, where: {"invitation_id": invitation(w, where)},
        "revoke-outsiders-invitation": lambda w, a, where: {"invitation_id": invitation(w, where)},
        "make-invite-code": lambda w, a, where: {"room_id": w.room_id(where)},
        "list-invite-codes": lambda w, a, where: {"room_id": w.room_id(where)},
        "revoke-owners-invite-code": lambda w, a, where: {
            "room_id": w.room_id(where),
            "code_id": invite_code(w, where)["id"],
        },
        "join-by-invite-code": lambda w, a, where: {"code": invite_code(w, where)["code"]},
    }


TCP_FIELDS = _tcp_fields()


def run_http(w: Any, row: Row, where: str, actor: str) -> Outcome:
    return http_outcome(HTTP_ACTIONS[row.name](w, actor, where))


def run_tcp(w: Any, row: Row, where: str, actor: str) -> Outcome:
    if row.preauth or actor == "anonymous":
        client = w.tcp()
    elif actor == "banned":
        client = w.tcp()
        reply = client.authenticate(w.token("banned"))
        assert reply["error"]["code"] == "account_banned", reply
    else:
        client = w.tcp(actor)
    fields = TCP_FIELDS[row.name](w, actor, where)
    if row.tcp == "typing" and client.state.value == "authenticated":
        return typing(w, client, actor, fields)
    if row.tcp == "ping":
        client.send({"type": "ping"})
        (pong,) = client.frames()
        return OK if pong["type"] == "pong" else Outcome(False, None, pong.get("code"))
    reply = client.request(row.tcp, **fields)
    if reply["type"] == "error":
        return Outcome(False, None, reply["code"], frame=True)
    if reply["success"]:
        return OK
    return Outcome(False, None, reply["error"]["code"])


def typing(w: Any, client: Any, actor: str, fields: dict[str, Any]) -> Outcome:
    """Typing has no response: whether ``bystander`` (in both rooms, and the other side
    of the DM) was told is the outcome."""
    observer = w.tcp("bystander")
    observer.frames()
    client.frames()
    client.send({"type": "typing", **fields})
    assert client.frames() == [], "typing never answers"
    told = [f for f in observer.frames() if f["type"] == "user_typing"]
    if not told:
        return DROPPED
    assert told == [{"type": "user_typing", "user_id": w.id(actor), "target": fields["target"]}]
    return DELIVERED


# --------------------------------------------------------------------------- the matrix


def _cases() -> list[Any]:
    cases = []
    for row in ROWS:
        for transport, name in (("http", row.http), ("tcp", row.tcp)):
            if name is None:
                continue
            for where in row.expect:
                for actor in ACTORS:
                    parts = (transport, row.name, where, actor)
                    case_id = "-".join(p for p in parts if p != "-")
                    cases.append(pytest.param(row, transport, where, actor, id=case_id))
    return cases


@pytest.mark.parametrize(("row", "transport", "where", "actor"), _cases())
def test_authorization(world: Any, row: Row, transport: str, where: str, actor: str) -> None:
    run = run_http if transport == "http" else run_tcp
    got = run(world, row, where, actor)
    want = expected(row, transport, where, actor)
    operation = row.http if transport == "http" else row.tcp
    assert got == want, f"{operation} in {where} as {actor}: got {got}, expected {want}"


def test_every_route_and_command_is_in_the_table() -> None:
    routed = {f"{r.method} {r.path}" for r in HttpApi(make_core()).routes}
    assert {row.http for row in ROWS if row.http} == routed
    assert set(HTTP_ACTIONS) == {row.name for row in ROWS if row.http}
    # client_hello and key_exchange are the handshake, before any identity exists
    # (the acceptance matrix of the session tests covers them).
    handshake = {"client_hello", "key_exchange"}
    assert {row.tcp for row in ROWS if row.tcp} == CLIENT_TYPES - handshake
    assert set(TCP_FIELDS) == {row.name for row in ROWS if row.tcp}


def test_every_row_names_every_actor_or_the_default() -> None:
    for row in ROWS:
        for where, profile in row.expect.items():
            assert where in ("public", "private", "dm", "-"), row
            assert set(profile) <= set(ACTORS), row
            assert set(ACTORS) - set(profile) <= {"anonymous", "banned"}, row


# --------------------------------------------------------------------------- secrecy

#: Everyone who must never read the private room or the DM between member and bystander.
OUTSIDERS = ("anonymous", "outsider", "sysmod", "admin", "banned")


def _texts(*things: Any) -> str:
    return "\n".join(
        t.body.decode() if isinstance(t, Reply) else orjson.dumps(t).decode() for t in things
    )


@pytest.mark.parametrize("actor", OUTSIDERS)
def test_private_history_and_dms_never_reach_outsiders_over_http(world: Any, actor: str) -> None:
    """Every HTTP read path an outsider could try, with the secret messages' ids as
    cursors and markers: none of the answers carries any of the secret contents."""
    w = world
    secret_ids = [w.messages[k] for k in ("private", "private:bystander", "dm", "dm:bystander")]
    replies = []
    conversations = [
        {"target_type": "room", "target_id": w.room_id("private")},
        {"target_type": "dm", "target_id": w.id("bystander")},
        {"target_type": "direct_message", "target_id": w.id("member")},
    ]
    search = "/api/v1/messages/search"
    replies.append(call(w, actor, "GET", search, params={"q": w.secret, "limit": "50"}))
    for params in conversations:
        replies.append(call(w, actor, "GET", "/api/v1/messages", params={**params, "limit": "100"}))
        replies.append(call(w, actor, "GET", search, params={**params, "q": w.secret}))
        for cursor in secret_ids:
            replies.append(
                call(w, actor, "GET", search, params={**params, "q": "s", "before": cursor})
            )
            replies.append(call(w, actor, "GET", search, params={"q": "s", "before": cursor}))
        for cursor in secret_ids:
            for bound in ("before", "after"):
                replies.append(
                    call(w, actor, "GET", "/api/v1/messages", params={**params, bound: cursor})
                )
    for message_id in secret_ids:
        replies.append(
            call(w, actor, "PATCH", f"/api/v1/messages/{message_id}", {"content": "mine now"})
        )
        replies.append(call(w, actor, "DELETE", f"/api/v1/messages/{message_id}"))
        for other in ("bystander", "member"):
            replies.append(
                call(
                    w,
                    actor,
                    "POST",
                    "/api/v1/messages/read",
                    {"target": {"type": "dm", "recipient": w.id(other)}, "up_to": message_id},
                )
            )
    replies += [
        call(w, actor, "GET", "/api/v1/rooms"),
        call(w, actor, "GET", "/api/v1/rooms", params={"joined_only": "true"}),
        call(w, actor, "GET", "/api/v1/rooms", params={"search": "Private"}),
        call(w, actor, "GET", f"/api/v1/rooms/{w.room_id('private')}/members"),
        call(w, actor, "GET", "/api/v1/users/me"),
        call(w, actor, "GET", "/api/v1/admin/stats"),
    ]
    assert all(r.status < 500 for r in replies), [r for r in replies if r.status >= 500]
    assert w.secret not in _texts(*replies)
    # Nothing was changed by any of it.
    for message_id in secret_ids:
        assert w.secret in result(w.core.store.get_message(message_id)).content
    # Private rooms are never listed publicly; the private room is nobody's here.
    listed = call(w, actor, "GET", "/api/v1/rooms", params={"joined_only": "true"})
    if listed.status == 200:
        assert listed.json["rooms"] == []


@pytest.mark.parametrize("actor", ["outsider", "sysmod", "admin"])
def test_private_history_and_dms_never_reach_outsiders_in_real_time(world: Any, actor: str) -> None:
    """Over TCP: the read commands, and every event of the private room and the DM
    while the outsider is connected (new messages, edits, deletions, typing)."""
    w = world
    spy = w.tcp(actor)
    seen: list[Any] = []
    for t in (
        {"type": "room", "room_id": w.room_id("private")},
        {"type": "dm", "recipient": w.id("bystander")},
        {"type": "dm", "recipient": w.id("member")},
    ):
        seen.append(spy.request("get_messages", target=t, limit=100))
        for key in ("private", "dm"):
            seen.append(spy.request("get_messages", target=t, before=w.messages[key]))
        seen.append(spy.request("mark_read", target=t, up_to=w.messages["dm"]))
        seen.append(spy.request("search_messages", query=w.secret, target=t, limit=50))
    seen.append(spy.request("search_messages", query=w.secret, limit=50))
    for key in ("private", "dm"):
        seen.append(spy.request("search_messages", query="s", before=w.messages[key]))
    seen.append(spy.request("list_rooms", filter={"joined_only": True}))
    seen.append(spy.request("list_rooms"))
    # Meanwhile the members talk, edit, delete and type.
    member = w.tcp("member")
    member.request(
        "send_message",
        target={"type": "room", "room_id": w.room_id("private")},
        content=f"more {w.secret}",
    )
    member.request(
        "send_message",
        target={"type": "dm", "recipient": w.id("bystander")},
        content=f"more {w.secret}",
    )
    member.request("edit_message", message_id=w.messages["private"], content=f"new {w.secret}")
    member.request("edit_message", message_id=w.messages["dm"], content=f"new {w.secret}")
    member.request("delete_message", message_id=w.messages["dm"])
    member.send({"type": "typing", "target": {"type": "room", "room_id": w.room_id("private")}})
    seen += spy.frames()
    assert w.secret not in _texts(*seen)
    assert w.room_id("private") not in _texts(*seen)


@pytest.mark.parametrize("how", ["leave", "kicked"])
def test_former_members_lose_the_private_room_at_once(world: Any, how: str) -> None:
    """Leaving or being kicked ends reading and real-time delivery immediately."""
    w = world
    member = w.tcp("member")
    room = w.room_id("private")
    if how == "leave":
        assert member.request("leave_room", room_id=room)["success"] is True
    else:
        reply = call(w, "owner", "DELETE", f"/api/v1/rooms/{room}/members/{w.id('member')}")
        assert reply.status == 200, reply
    member.frames()
    assert member.request("get_messages", target={"type": "room", "room_id": room})["error"] == {
        "code": "not_room_member",
        "message": "Not a member of this room",
    }
    history = call(
        w, "member", "GET", "/api/v1/messages", params={"target_type": "room", "target_id": room}
    )
    assert (history.status, history.code) == (403, "not_room_member")
    w.say("owner", "private", f"after {w.secret}")
    assert w.secret not in _texts(*member.frames())


def test_other_users_emails_stay_private_everywhere(world: Any) -> None:
    """An email is shown to its owner only, on every path that shows a user."""
    w = world
    own = "outsider@example.com"
    seen = [
        call(w, "outsider", "GET", "/api/v1/users"),
        call(w, "outsider", "GET", f"/api/v1/users/{w.id('bystander')}"),
        call(w, "outsider", "GET", "/api/v1/users", params={"search": "by"}),
    ]
    spy = w.tcp("outsider")
    seen.append(spy.request("list_users", limit=100))
    seen.append(spy.request("get_user", user_id=w.id("bystander")))
    seen.append(spy.request("join_room", room_id=w.room_id("public")))
    w.tcp("bystander")
    seen += spy.frames()
    text = _texts(*seen)
    emails = {f"{name}@example.com" for name in ("owner", "member", "bystander", "admin")}
    assert not any(e in text for e in emails)
    me = call(w, "outsider", "GET", "/api/v1/users/me")
    assert me.json["user"]["email"] == own


def test_session_listings_hold_only_the_callers_own(world: Any) -> None:
    """Every actor's listing names its own session alone, never another user's."""
    for actor in ("outsider", "member", "moderator", "owner", "sysmod", "admin"):
        reply = call(world, actor, "GET", "/api/v1/auth/sessions")
        assert reply.status == 200, reply
        listed = reply.json["sessions"]
        assert [s["id"] for s in listed if s["current"]] == [session_of(world, actor)]
        owners = {result(world.core.store.get_session(s["id"])).user_id for s in listed}
        assert owners == {world.id(actor)}, actor
    # sysmod and admin logged in twice: both of their sessions are listed.
    assert len(call(world, "admin", "GET", "/api/v1/auth/sessions").json["sessions"]) == 2
