"""Helpers for testing the client without a terminal or a server.

Wire-object builders (the JSON shapes of PROTOCOL.md §10), a controller that records
actions, a fake clock, a stand-in for the REST API, and a throwaway private CA for the
``--ca-file`` tests. Shipped with the package, as ``lairchat.testing`` is, so client
tests stay short.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urwid
from twisted.internet.defer import Deferred

from lairchat.client import commands as c

__all__ = [
    "FakeApi",
    "FakeClock",
    "PrivateCA",
    "RecordingController",
    "message",
    "render_text",
    "room",
    "session",
    "user",
    "write_private_ca",
]

CREATED = "2025-01-21T12:00:00Z"
#: What the fake server's ``/2fa setup`` answers, as lairchat's would.
OTPAUTH_URI = (
    "otpauth://totp/lairchat:alice?secret=JBSWY3DPEHPK3PXP&issuer=lairchat"
    "&algorithm=SHA1&digits=6&period=30"
)


def user(uid: str, name: str) -> dict[str, Any]:
    return {
        "id": uid,
        "username": name,
        "email": "",
        "role": "user",
        "created_at": CREATED,
        "updated_at": CREATED,
        "last_seen_at": None,
    }


def room(rid: str, name: str, owner: str = "", private: bool = False) -> dict[str, Any]:
    return {
        "id": rid,
        "name": name,
        "owner": owner,
        "settings": {"description": None, "is_private": private, "max_members": None},
        "created_at": CREATED,
    }


def message(
    mid: str,
    author: str,
    content: str,
    *,
    room_id: str | None = None,
    to: str | None = None,
    created_at: str = CREATED,
) -> dict[str, Any]:
    target = {"type": "room", "room_id": room_id} if to is None else {"type": "dm", "recipient": to}
    return {
        "id": mid,
        "author": author,
        "target": target,
        "content": content,
        "edited": False,
        "created_at": created_at,
    }


def session(
    sid: str,
    *,
    current: bool = False,
    created_at: str = CREATED,
    expires_at: str = "",
    address: str | None = None,
    agent: str | None = None,
) -> dict[str, Any]:
    """An entry of ``GET /auth/sessions`` (HTTP.md), expiring a day after it was made
    unless told."""
    return {
        "id": sid,
        "protocol": "http",
        "created_at": created_at,
        "last_active_at": created_at,
        "expires_at": expires_at or "2025-01-22T12:00:00+00:00",
        "ip_address": address,
        "user_agent": agent,
        "current": current,
    }


class FakeClock:
    """A settable ``seconds()``; also callable, for ``ClientState(clock=...)``."""

    def __init__(self, now: float = 1_737_460_800.0) -> None:  # 2025-01-21T12:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now

    def seconds(self) -> float:
        return self.now


class RecordingController:
    """Stands in for the app behind widgets: remembers what they asked for."""

    def __init__(self) -> None:
        self.actions: list[c.Action | c.CommandError | None] = []
        self.typed = 0
        self.tops = 0

    def dispatch(self, action: c.Action | c.CommandError | None) -> None:
        self.actions.append(action)

    def typing(self) -> None:
        self.typed += 1

    def load_older(self) -> None:
        self.tops += 1


def render_text(widget: urwid.Widget, cols: int, rows: int, focus: bool = True) -> list[str]:
    """The characters a box widget draws at ``cols`` × ``rows``, one string per row."""
    canvas = widget.render((cols, rows), focus=focus)
    return [line.decode("utf-8") for line in canvas.text]


class FakeApi:
    """The subset of :class:`~lairchat.client.net.http.HttpApi` the app uses, in memory.

    Each method answers from the attributes below; ``fail[name] = ServerError(...)``
    makes that method raise instead. ``calls`` records (name, args).
    """

    def __init__(self) -> None:
        self.token: str | None = None
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: dict[str, Exception] = {}
        #: A method named here waits for that Deferred first (a slow server).
        self.gates: dict[str, Deferred[None]] = {}
        self.me_user = user("u-me", "me")
        self.users_list: list[dict[str, Any]] = [{"user": self.me_user, "online": True}]
        #: Users the server has beyond the pages ``users`` gives (found by search).
        self.unlisted_users: list[dict[str, Any]] = []
        self.rooms_list: list[dict[str, Any]] = []
        self.joined_list: list[dict[str, Any]] = []
        self.invitation_list: list[dict[str, Any]] = []
        #: ``GET /auth/sessions``: the entries, and ``has_more``.
        self.session_list: list[dict[str, Any]] = []
        self.sessions_more = False
        #: ``GET /rooms/{id}/invitations`` by room id: the entries, and ``has_more``.
        self.room_invitation_lists: dict[str, list[dict[str, Any]]] = {}
        self.room_invitations_more = False
        self.history_pages: dict[tuple[str, str, str | None], tuple[list[Any], bool]] = {}
        self.members_list: dict[str, list[dict[str, Any]]] = {}
        #: ``GET /rooms/{id}/invite-codes`` by room id, newest first; and the room
        #: (id, name) each code joins.
        self.invite_code_lists: dict[str, list[dict[str, Any]]] = {}
        self.invite_code_rooms: dict[str, tuple[str, str]] = {}
        #: ``GET /rooms/{id}/pins`` by room id: the ``pins``.
        self.pin_lists: dict[str, list[dict[str, Any]]] = {}
        #: ``GET /messages/search`` by (query, kind, target id, before): the body.
        self.search_pages: dict[tuple[str, str | None, str | None, str | None], Any] = {}
        #: lairchat's ``unread_counts`` in ``/users/me`` (``by_room``, ``by_dm``, and
        #: ``mentions`` with its own ``by_room`` and ``by_dm``).
        self.unread_counts: dict[str, Any] | None = None
        #: lairchat's ``two_factor`` in ``/users/me`` (None: not in the answer).
        self.two_factor: dict[str, Any] | None = None
        #: ``POST /users/me/export``'s body, in the pieces it arrives in: a whole
        #: export of two messages unless a test cuts it.
        self.export_pieces: list[bytes] = [
            b'{"format":"lairchat-export","version":1,"user":{"id":"u-me"},"messages":[',
            b'{"id":"m1","author":"u-me","content":"one"},{"id":"m2","aut',
            b'hor":"u-2","content":"\\"author\\":"}',
            b'],"complete":true}',
        ]
        #: ``GET /admin/audit``'s entries, newest first.
        self.audit: list[Any] = []
        #: ``GET /admin/stats``'s ``stats``.
        self.stats: dict[str, Any] = {
            "total_users": 12,
            "total_rooms": 3,
            "online_users": 4,
            "total_messages": 870,
            "connections": 5,
        }
        self.closed = False

    async def _answer(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        gate = self.gates.pop(name, None)
        if gate is not None:
            await gate
        if name in self.fail:
            raise self.fail[name]

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.calls if n == name]

    def close(self) -> None:
        self.closed = True

    async def login(
        self, identifier: str, password: str, totp: str | None = None
    ) -> dict[str, Any]:
        await self._answer("login", identifier, password, *([totp] if totp else []))
        self.token = "token-1"
        return {"user": self.me_user, "session": {"id": "s1"}, "token": self.token}

    async def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        await self._answer("register", username, email, password)
        self.token = "token-1"
        return {"user": self.me_user, "session": {"id": "s1"}, "token": self.token}

    async def logout(self) -> None:
        await self._answer("logout")
        self.token = None

    async def change_password(self, current: str, new: str) -> None:
        await self._answer("change_password", current, new)

    async def setup_two_factor(self, password: str) -> dict[str, Any]:
        await self._answer("setup_two_factor", password)
        return {"secret": "JBSWY3DPEHPK3PXP", "otpauth_uri": OTPAUTH_URI, "enabled": False}

    async def enable_two_factor(self, code: str) -> list[str]:
        await self._answer("enable_two_factor", code)
        return [f"code-{i:04d}-abcd" for i in range(10)]

    async def disable_two_factor(self, password: str, code: str) -> None:
        await self._answer("disable_two_factor", password, code)

    async def new_recovery_codes(self, password: str, code: str) -> list[str]:
        await self._answer("new_recovery_codes", password, code)
        return [f"new-{i:04d}-abcd" for i in range(10)]

    async def delete_account(self, password: str, code: str | None = None) -> None:
        await self._answer("delete_account", password, *([code] if code else []))
        self.token = None  # the server ended every session of the account

    async def export_data(self, password: str, write: Any, code: str | None = None) -> None:
        await self._answer("export_data", password, *([code] if code else []))
        for piece in self.export_pieces:
            write(piece)

    async def sessions(self) -> tuple[list[dict[str, Any]], bool]:
        await self._answer("sessions")
        return self.session_list, self.sessions_more

    async def end_session(self, session_id: str) -> None:
        await self._answer("end_session", session_id)
        self.session_list = [s for s in self.session_list if s["id"] != session_id]

    async def me(self) -> dict[str, Any]:
        await self._answer("me")
        me: dict[str, Any] = {"user": self.me_user}
        if self.unread_counts is not None:
            me["unread_counts"] = self.unread_counts
        if self.two_factor is not None:
            me["two_factor"] = self.two_factor
        return me

    async def users(self) -> list[dict[str, Any]]:
        await self._answer("users")
        return self.users_list

    async def search_users(self, text: str) -> list[dict[str, Any]]:
        await self._answer("search_users", text)
        wanted = text.casefold()
        everyone = self.users_list + self.unlisted_users
        return [i for i in everyone if wanted in i["user"]["username"].casefold()]

    async def user(self, user_id: str) -> dict[str, Any]:
        await self._answer("user", user_id)
        for item in self.users_list:
            if item["user"]["id"] == user_id:
                return item
        from lairchat.client.net.errors import ServerError

        raise ServerError("user_not_found", "User not found", status=404)

    async def rooms(self) -> list[dict[str, Any]]:
        await self._answer("rooms")
        return self.rooms_list

    async def my_rooms(self) -> list[dict[str, Any]]:
        await self._answer("my_rooms")
        return self.joined_list

    async def create_room(self, name: str, private: bool = False) -> dict[str, Any]:
        await self._answer("create_room", name, private)
        return room(f"r-{name}", name, owner="u-me", private=private)

    async def join_room(self, room_id: str) -> dict[str, Any]:
        await self._answer("join_room", room_id)
        name = next(
            (i["room"]["name"] for i in self.rooms_list if i["room"]["id"] == room_id), room_id
        )
        return {
            "room": room(room_id, name),
            "membership": {"room_id": room_id, "user_id": "u-me", "role": "member"},
        }

    async def leave_room(self, room_id: str) -> None:
        await self._answer("leave_room", room_id)

    async def members(self, room_id: str) -> list[dict[str, Any]]:
        await self._answer("members", room_id)
        return self.members_list.get(room_id, [])

    async def set_role(self, room_id: str, user_id: str, role: str) -> dict[str, Any]:
        await self._answer("set_role", room_id, user_id, role)
        return {"user_id": user_id, "role": role}

    async def kick(self, room_id: str, user_id: str) -> None:
        await self._answer("kick", room_id, user_id)

    async def history(
        self, kind: str, target_id: str, *, limit: int = 50, before: str | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        await self._answer("history", kind, target_id, before)
        page = self.history_pages.get((kind, target_id, before), ([], False))
        if isinstance(page, Exception):
            raise page
        return page

    async def search_messages(
        self,
        query: str,
        kind: str | None = None,
        target_id: str | None = None,
        *,
        before: str | None = None,
        **filters: str | None,
    ) -> dict[str, Any]:
        # The filters given (author, since, until) are recorded after the rest.
        asked = {k: v for k, v in filters.items() if v is not None}
        await self._answer(
            "search_messages", query, kind, target_id, before, *[asked] * bool(asked)
        )
        return self.search_pages.get(
            (query, kind, target_id, before),
            {"messages": [], "has_more": False, "next_before": None},
        )

    async def mark_read(self, kind: str, target_id: str, up_to: str) -> None:
        await self._answer("mark_read", kind, target_id, up_to)

    async def pin(self, message_id: str) -> None:
        await self._answer("pin", message_id)

    async def unpin(self, message_id: str) -> None:
        await self._answer("unpin", message_id)

    async def pins(self, room_id: str) -> list[dict[str, Any]]:
        await self._answer("pins", room_id)
        return self.pin_lists.get(room_id, [])

    async def invite(self, room_id: str, user_id: str) -> dict[str, Any]:
        await self._answer("invite", room_id, user_id)
        return {}

    async def invitations(self) -> list[dict[str, Any]]:
        await self._answer("invitations")
        return self.invitation_list

    async def accept(self, invitation_id: str) -> dict[str, Any]:
        await self._answer("accept", invitation_id)
        inv = next(i for i in self.invitation_list if i["id"] == invitation_id)
        return {
            "membership": {"room_id": inv["room_id"], "user_id": "u-me", "role": "member"},
            "room": room(inv["room_id"], inv["room_name"], private=True),
        }

    async def decline(self, invitation_id: str) -> None:
        await self._answer("decline", invitation_id)

    async def revoke(self, invitation_id: str) -> None:
        await self._answer("revoke", invitation_id)
        for room_id, listed in self.room_invitation_lists.items():
            self.room_invitation_lists[room_id] = [i for i in listed if i["id"] != invitation_id]

    async def room_invitations(self, room_id: str) -> tuple[list[dict[str, Any]], bool]:
        await self._answer("room_invitations", room_id)
        return self.room_invitation_lists.get(room_id, []), self.room_invitations_more

    # -- invite codes (``lairchat/client/invitecodes.py``) -----------------------------

    async def create_invite_code(
        self, room_id: str, max_uses: int | None, hours: int | None
    ) -> dict[str, Any]:
        await self._answer("create_invite_code", room_id, max_uses, hours)
        code = {
            "id": f"c-{len(self.invite_code_lists.get(room_id, [])) + 1}",
            "room_id": room_id,
            "prefix": "Qx3v",
            "max_uses": max_uses,
            "uses": 0,
            "created_by": "u-me",
            "created_by_name": "me",
            "created_at": "2026-12-07T08:00:00Z",
            "expires_at": "2026-12-14T08:00:00Z",
        }
        self.invite_code_lists.setdefault(room_id, []).insert(0, code)
        return {**code, "code": "Qx3vN0p8l1Zs7d-YwV2a_g"}

    async def invite_codes(self, room_id: str) -> list[dict[str, Any]]:
        await self._answer("invite_codes", room_id)
        return list(self.invite_code_lists.get(room_id, []))

    async def revoke_invite_code(self, room_id: str, code_id: str) -> None:
        await self._answer("revoke_invite_code", room_id, code_id)
        listed = self.invite_code_lists.get(room_id, [])
        self.invite_code_lists[room_id] = [code for code in listed if code["id"] != code_id]

    async def join_by_invite_code(self, code: str) -> dict[str, Any]:
        await self._answer("join_by_invite_code", code)
        room_id, name = self.invite_code_rooms[code]
        return {
            "room": room(room_id, name),
            "membership": {"room_id": room_id, "user_id": "u-me", "role": "member"},
        }

    # -- room settings and administration (``lairchat/client/roomadmin.py``) -----------

    def _room_dict(self, room_id: str) -> dict[str, Any]:
        """The room's object in the lists (the same one, so changes show there)."""
        for item in self.rooms_list + self.joined_list:
            if item["room"]["id"] == room_id:
                return item["room"]
        from lairchat.client.net.errors import ServerError

        raise ServerError("room_not_found", "Room not found", status=404)

    async def room(self, room_id: str) -> dict[str, Any]:
        await self._answer("room", room_id)
        return {"room": self._room_dict(room_id), "membership": None, "member_count": 2}

    async def update_room(
        self,
        room_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """As the server: what is given changes; ``settings`` replaces them all."""
        await self._answer("update_room", room_id, name, description, settings)
        found = self._room_dict(room_id)
        if name is not None:
            found["name"] = name
        if description is not None:
            found["settings"]["description"] = description
        if settings is not None:
            found["settings"]["is_private"] = settings.get("public") is False
            found["settings"]["max_members"] = settings.get("max_members")
        return found

    async def delete_room(self, room_id: str) -> None:
        await self._answer("delete_room", room_id)

    async def admin_stats(self) -> dict[str, Any]:
        await self._answer("admin_stats")
        return dict(self.stats)

    async def admin_audit(self, limit: int) -> tuple[list[dict[str, Any]], bool]:
        await self._answer("admin_audit", limit)
        return list(self.audit[:limit]), len(self.audit) > limit

    async def ban_user(
        self, user_id: str, reason: str | None = None, duration_hours: int | None = None
    ) -> dict[str, Any]:
        await self._answer("ban_user", user_id, reason, duration_hours)
        expires = None if duration_hours is None else "2025-01-22T12:00:00Z"
        return {"success": True, "expires_at": expires}

    async def unban_user(self, user_id: str) -> None:
        await self._answer("unban_user", user_id)

    async def admin_delete_user(self, user_id: str, password: str) -> None:
        await self._answer("admin_delete_user", user_id, password)

    async def admin_delete_room(self, room_id: str) -> None:
        await self._answer("admin_delete_room", room_id)


@dataclass(frozen=True)
class PrivateCA:
    """A self-hosted server's PKI: ``ca`` signed ``cert`` (key ``key``, for the names
    given), ``other_ca`` signed nothing of it (a wrong ``--ca-file``)."""

    ca: Path
    cert: Path
    key: Path
    other_ca: Path


def write_private_ca(folder: Path, names: Sequence[str] = ("localhost",)) -> PrivateCA:
    """A CA and a server certificate it signs for the DNS ``names``, in ``folder``.

    The CAs are development certificates (self-signed, ``CA:TRUE``); the server's is
    a separate leaf, so verifying it needs the chain to the CA, as with a real private
    CA. An address the names leave out is a host name the certificate is not for."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from lairchat.tls import write_dev_certificate

    ca_cert, ca_key = write_dev_certificate(str(folder / "ca"))
    other_ca, _ = write_dev_certificate(str(folder / "other-ca"))
    issuer = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lairchat test")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert, key_path = folder / "server-cert.pem", folder / "server-key.pem"
    cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return PrivateCA(ca=ca_cert, cert=cert, key=key_path, other_ca=other_ca)
