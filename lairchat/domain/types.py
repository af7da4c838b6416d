"""Plain domain records and their wire shapes (PROTOCOL.md §10).

Timestamps are unix seconds as floats: fresh objects carry sub-second precision,
objects read back from SQLite whole seconds, exactly like the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lairchat.domain.timefmt import ts, ts_plus

SYSTEM_ROLES = ("user", "moderator", "admin")
ROOM_ROLES = ("owner", "moderator", "member")
ROOM_ROLE_RANK = {"member": 0, "moderator": 1, "owner": 2}


def system_role(stored: str | None) -> str:
    """Stored roles read case-insensitively; unknown values read as ``user``."""
    value = (stored or "").lower()
    return value if value in SYSTEM_ROLES else "user"


def room_role(stored: str | None) -> str:
    """``admin`` reads as ``moderator``; unknown values read as ``member``."""
    value = (stored or "").lower()
    if value == "admin":
        return "moderator"
    return value if value in ROOM_ROLES else "member"


@dataclass(slots=True)
class User:
    id: str
    username: str
    email: str
    role: str
    created_at: float
    updated_at: float
    password_hash: str = field(default="", repr=False)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "role": self.role,
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
            "last_seen_at": None,
        }

    def public_wire(self) -> dict[str, Any]:
        """The shape other users see: the same fields, the email blanked (privacy fix;
        the original showed every user's email to everyone)."""
        wire = self.to_wire()
        wire["email"] = ""
        return wire

    def wire_for(self, viewer_id: str | None) -> dict[str, Any]:
        """Full shape for the user themself, public shape for anyone else."""
        return self.to_wire() if viewer_id == self.id else self.public_wire()


@dataclass(slots=True)
class Session:
    id: str
    user_id: str
    created_at: float
    expires_at: float
    protocol: str = "http"
    #: For the session listing (``GET /auth/sessions``). ``last_active_at`` is
    #: renewed by use, at most once a minute (``AuthService.validate``; None: never
    #: read back, last active when it was made); the client's address and
    #: ``User-Agent`` are kept from the request that made the session (None where
    #: unknown). The original writes ``last_active_at`` once and never the other two.
    last_active_at: float | None = None
    ip_address: str | None = None
    user_agent: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "expires_at": ts_plus(self.expires_at)}

    def to_listing(self, current: bool) -> dict[str, Any]:
        """One entry of ``GET /auth/sessions``; ``current``: the caller's own session.
        ``expires_at`` is written as every session expiry is (``+00:00``)."""
        return {
            "id": self.id,
            "protocol": self.protocol,
            "created_at": ts(self.created_at),
            "last_active_at": ts(
                self.created_at if self.last_active_at is None else self.last_active_at
            ),
            "expires_at": ts_plus(self.expires_at),
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "current": current,
        }


@dataclass(slots=True)
class Room:
    id: str
    name: str
    owner: str
    description: str | None
    is_private: bool
    max_members: int | None
    created_at: float
    updated_at: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "settings": {
                "description": self.description,
                "is_private": self.is_private,
                "max_members": self.max_members,
            },
            "created_at": ts(self.created_at),
        }


def moderates(room_role: str) -> bool:
    """Whether a room role manages the room (DOMAIN.md §8): updates it, invites over
    HTTP, kicks plain members, deletes others' messages. Owners and moderators."""
    return ROOM_ROLE_RANK[room_role] >= ROOM_ROLE_RANK["moderator"]


@dataclass(slots=True)
class Membership:
    room_id: str
    user_id: str
    role: str
    joined_at: float

    @property
    def moderates(self) -> bool:
        """Whether the role manages the room (:func:`moderates`)."""
        return moderates(self.role)

    def to_wire(self) -> dict[str, Any]:
        return {
            "room_id": self.room_id,
            "user_id": self.user_id,
            "role": self.role,
            "joined_at": ts(self.joined_at),
        }


@dataclass(slots=True, frozen=True)
class Target:
    """Where a message goes: ``room`` (id = room id) or ``dm`` (id = recipient id)."""

    kind: str
    id: str
    #: The wire shape, built once: a room's Target is shared by all its messages (see
    #: the codec's room target cache), and every new message's wire shape includes it.
    #: Shared, so never to be changed; :meth:`to_wire` hands out copies.
    wire: dict[str, Any] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.kind == "room":
            wire = {"type": "room", "room_id": self.id}
        else:
            wire = {"type": "dm", "recipient": self.id}
        object.__setattr__(self, "wire", wire)

    def to_wire(self) -> dict[str, Any]:
        return dict(self.wire)


@dataclass(slots=True)
class Message:
    id: str
    author: str
    target: Target
    content: str
    edited: bool
    created_at: float
    updated_at: float
    #: Insertion order (SQLite rowid): the stable tie-breaker for history and unread counts.
    seq: int = 0
    #: The wire shape, once built for a new message (shared by its event and the
    #: sender's response); never set on a message that may still change.
    wire: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def to_wire(self) -> dict[str, Any]:
        if self.wire is not None:
            return self.wire
        return {
            "id": self.id,
            "author": self.author,
            "target": self.target.wire,
            "content": self.content,
            "edited": self.edited,
            "created_at": ts(self.created_at),
        }


@dataclass(slots=True)
class Invitation:
    id: str
    room_id: str
    inviter_id: str
    invitee_id: str
    status: str
    created_at: float
    expires_at: float
    responded_at: float | None = None
    room_name: str = ""
    inviter_name: str = ""
    invitee_name: str = ""

    def to_wire(self) -> dict[str, Any]:
        """The EnrichedInvitation shape, the only invitation shape on the wire."""
        return {
            "id": self.id,
            "room_id": self.room_id,
            "room_name": self.room_name,
            "inviter_id": self.inviter_id,
            "inviter_name": self.inviter_name,
            "invitee_id": self.invitee_id,
            "invitee_name": self.invitee_name,
            "status": self.status,
            "message": None,
            "created_at": ts(self.created_at),
            "expires_at": ts(self.expires_at),
            "responded_at": None if self.responded_at is None else ts(self.responded_at),
        }


@dataclass(slots=True)
class Member:
    """A row of a room's member list: membership joined with the user's name and presence."""

    user_id: str
    username: str
    role: str
    joined_at: float
    is_online: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "role": self.role,
            "joined_at": ts(self.joined_at),
            "is_online": self.is_online,
        }


@dataclass(slots=True)
class Ban:
    user_id: str
    reason: str | None
    banned_by: str | None
    created_at: float
    expires_at: float | None

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at
