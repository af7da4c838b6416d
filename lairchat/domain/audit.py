"""An admin audit log entry: who did which server-level administrative action, to
whom, when (docs/protocols/HTTP.md, "GET /api/v1/admin/audit")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lairchat.domain.timefmt import ts

#: Every action recorded. Room-level moderation (kicks, room roles, message
#: deletions by a room's owners and moderators) is not server administration and
#: is not recorded.
ACTIONS = (
    "user.ban",
    "user.unban",
    "user.delete",
    "user.set_role",
    "user.create",
    "user.reset_password",
    "user.reset_2fa",
    "room.delete",
)


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: float
    #: None: the operator (``lairchat admin ...``, ``LAIR_ADMIN_USERNAME``).
    actor_id: str | None
    actor_name: str | None
    action: str
    subject_type: str  # "user" or "room"
    subject_id: str
    subject_name: str
    #: Never a password, a hash or a token.
    details: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        actor: dict[str, Any] = (
            {"operator": True}
            if self.actor_id is None
            else {"user_id": self.actor_id, "username": self.actor_name}
        )
        return {
            "id": self.id,
            "at": ts(self.at),
            "actor": actor,
            "action": self.action,
            "subject": {
                "type": self.subject_type,
                "id": self.subject_id,
                "name": self.subject_name,
            },
            "details": self.details,
        }
