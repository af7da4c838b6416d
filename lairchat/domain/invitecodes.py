"""Room invite codes (docs/protocols/HTTP.md, "Invite codes"): what a code is, its
limits, and its wire shape. The one place these are written: the store, the core,
the OpenAPI document and the docs take them from here.

A code is 128 random bits as URL-safe base64 (22 characters). Only its SHA-256 is
stored, with its first :data:`PREFIX_LENGTH` characters to name it in a listing
(docs/SECURITY.md, "Invite codes"): the code itself is shown once, to whoever made it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from lairchat.domain.errors import LairError, validation_failed
from lairchat.domain.timefmt import ts

#: Bytes of randomness in a code (128 bits).
CODE_BYTES = 16
#: Characters of a code kept in clear to tell codes apart in a listing.
PREFIX_LENGTH = 4
#: ``max_uses`` when given: 1 to this. Absent: no limit on uses.
MAX_USES = 1000
#: ``expires_in_hours``: 1 to this (30 days); absent: :data:`DEFAULT_HOURS` (7 days).
MAX_HOURS = 720
DEFAULT_HOURS = 168
#: Codes a room has live (neither expired nor used up) at most: a new one past it is
#: ``validation_failed``; revoke one first. Also the most a listing answers.
LIVE_PER_ROOM = 100
#: Days an expired or used-up code is kept before retention deletes it: until then a
#: listing leaves it out, and joining with it is ``invite_code_not_found``.
KEPT_DAYS = 30

#: What a code may look like: anything else is ``invite_code_not_found`` unread.
_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> str:
    """What the database keeps of a code: 128 random bits need no slow hash."""
    return hashlib.sha256(code.encode()).hexdigest()


def well_formed(code: str | None) -> bool:
    return isinstance(code, str) and _SHAPE.fullmatch(code) is not None


def not_found() -> LairError:
    """The one answer for a code that is malformed, unknown, expired, used up or
    revoked: which of them is not told."""
    return LairError("invite_code_not_found")


def check_limits(max_uses: int | None, hours: int | None) -> tuple[int | None, int]:
    """``(max_uses, hours)`` checked, the default hours filled in."""
    if max_uses is not None and not 1 <= max_uses <= MAX_USES:
        raise validation_failed("max_uses", f"must be 1 to {MAX_USES}")
    if hours is None:
        hours = DEFAULT_HOURS
    elif not 1 <= hours <= MAX_HOURS:
        raise validation_failed("expires_in_hours", f"must be 1 to {MAX_HOURS}")
    return max_uses, hours


def too_many_codes() -> LairError:
    return validation_failed(
        "room_id", f"a room keeps at most {LIVE_PER_ROOM} live invite codes: revoke one first"
    )


@dataclass(slots=True)
class InviteCode:
    id: str
    room_id: str
    prefix: str
    created_by: str
    created_at: float
    expires_at: float
    max_uses: int | None
    uses: int = 0
    created_by_name: str = ""
    #: The code itself: only in the answer that made it (the database has its hash).
    code: str | None = None

    def to_wire(self, secret: bool = True) -> dict[str, Any]:
        """The code as listed, and its text too where the object has it, unless
        ``secret`` is False (the events that tell others of it: never the text)."""
        out: dict[str, Any] = {
            "id": self.id,
            "room_id": self.room_id,
            "prefix": self.prefix,
            "max_uses": self.max_uses,
            "uses": self.uses,
            "created_by": self.created_by,
            "created_by_name": self.created_by_name,
            "created_at": ts(self.created_at),
            "expires_at": ts(self.expires_at),
        }
        if secret and self.code is not None:
            out["code"] = self.code
        return out


#: ``invite_code_revoked``'s ``reason``: revoked by one of the room's owners or
#: moderators, or deleted with its maker's kick or demotion to member.
REVOKED, KICKED, DEMOTED = "revoked", "kicked", "demoted"


def revoked_event(room_id: str, code_id: str, by: str, reason: str) -> dict[str, Any]:
    """``invite_code_revoked`` (docs/protocols/TCP.md, "lairchat's own events")."""
    return {
        "type": "invite_code_revoked",
        "room_id": room_id,
        "code_id": code_id,
        "revoked_by": by,
        "reason": reason,
    }
