"""Events pushed to real-time clients, and who receives them (PROTOCOL.md §9).

An event is built once by a service and published to the hub. Its wire bytes are
computed once per wire format and cached on the event, so fan-out to N recipients
costs one encoding, not N.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lairchat.domain.types import Target
from lairchat.realtime.codec import encode


@dataclass(frozen=True, slots=True)
class RoomAudience:
    """Members of a room; ``also`` adds users who are no longer members (the departed)."""

    room_id: str
    also: tuple[str, ...] = ()
    exclude_user: str | None = None


@dataclass(frozen=True, slots=True)
class UserAudience:
    """Every connection of the listed users (DM: author and recipient; or one user)."""

    user_ids: tuple[str, ...]
    exclude_user: str | None = None


@dataclass(frozen=True, slots=True)
class EveryoneAudience:
    """Every authenticated connection, optionally except one (the one that caused it)."""

    exclude: Any = None


#: The ``client_hello`` feature that asks for lairchat's own event types
#: (:class:`OptedInAudience`; docs/protocols/TCP.md, "lairchat's own events").
LAIRCHAT_EVENTS = "lairchat-events"


@dataclass(frozen=True, slots=True)
class OptedInAudience:
    """The connections of ``user_ids`` (every user's, if None) whose client asked for
    :data:`LAIRCHAT_EVENTS`: event types Lair Chat's own client does not know, and
    would end its TCP connection on, go to these only."""

    user_ids: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class ConnectionsAudience:
    """These connections, not their users' others, those of them whose client asked
    for :data:`LAIRCHAT_EVENTS`: for an event about what each connection holds (the
    system role it signed in with: ``system_role_changed`` goes to the connections
    holding an old one, not to a device that signed in with the new one)."""

    connections: tuple[Any, ...]


Audience = RoomAudience | UserAudience | EveryoneAudience | OptedInAudience | ConnectionsAudience


@lru_cache(maxsize=4096)
def room_audience(room_id: str) -> RoomAudience:
    """A room's members, one shared object per room: every message to a room names
    it, and the hub joins runs of events whose audience is the same object."""
    return RoomAudience(room_id)


def target_audience(target: Target, author: str, exclude_user: str | None = None) -> Audience:
    """Room members for a room target; both participants for a DM."""
    if target.kind == "room":
        if exclude_user is None:
            return room_audience(target.id)
        return RoomAudience(target.id, exclude_user=exclude_user)
    return UserAudience((author, target.id), exclude_user=exclude_user)


@dataclass(slots=True, init=False)
class Event:
    payload: dict[str, Any]
    audience: Audience
    #: Per-wire-format encodings, filled on first use (e.g. "json", "tcp", "ws").
    cache: dict[str, Any]
    #: What caused the event, as the adapter that asked for it sees it (opaque here;
    #: see Session._answered_cause), or None if unknown.
    cause: Any

    def __init__(self, payload: dict[str, Any], audience: Audience, cause: Any = None):
        # Written out: the generated one calls a factory for ``cache`` (twice the
        # cost; one event per message).
        self.payload = payload
        self.audience = audience
        self.cache = {}
        self.cause = cause

    @property
    def type(self) -> str:
        return self.payload["type"]

    def json(self) -> bytes:
        data = self.cache.get("json")
        if data is None:
            data = self.cache["json"] = encode(self.payload)
        return data
