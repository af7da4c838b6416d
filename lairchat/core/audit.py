"""The admin audit log: what is recorded, and the one reading of it for the API and
the operator command (docs/operations.md, "Audit log").

An entry is made by the write that does the action, in its transaction, wherever
the action is one store write (a ban, an unban, a role or password set, a room's
deletion, an account's deletion begun): an action and its entry are stored or lost
together. An account's creation (several writes) is recorded right after it
succeeds. A refused action, or one that changed nothing (unbanning a user who is not
banned, setting the role a user has), records nothing.
"""

from __future__ import annotations

from typing import Any

from lairchat.core.deferreds import deferred
from lairchat.core.paging import split
from lairchat.domain.audit import ACTIONS, AuditEntry
from lairchat.domain.errors import validation_failed
from lairchat.domain.ids import new_id, parse_uuid
from lairchat.domain.types import Room, User
from lairchat.storage.interfaces import IStore

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def record(
    actor: User | None, action: str, subject: User | Room, at: float, **details: Any
) -> AuditEntry:
    """The entry of ``actor`` (None: the operator) doing ``action`` to ``subject`` at
    ``at``, the names as they are now. ``action`` must be one of
    :data:`~lairchat.domain.audit.ACTIONS`, the list clients label (the browser's
    test holds its labels to it)."""
    if action not in ACTIONS:
        raise ValueError(f"audit action {action!r} is not in lairchat.domain.audit.ACTIONS")
    kind, name = ("room", subject.name) if isinstance(subject, Room) else ("user", subject.username)
    return AuditEntry(
        new_id(),
        at,
        None if actor is None else actor.id,
        None if actor is None else actor.username,
        action,
        kind,
        subject.id,
        name,
        details,
    )


def _id(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parsed = parse_uuid(value)
    if parsed is None:
        raise validation_failed(name, "must be an id (a UUID)")
    return parsed


def check_action(action: str | None) -> str | None:
    """An ``action`` filter: one of :data:`ACTIONS` (a typo would list nothing)."""
    if action is not None and action not in ACTIONS:
        raise validation_failed("action", f"must be one of {', '.join(ACTIONS)}")
    return action


@deferred
async def page(
    store: IStore,
    limit: int | None,
    before: str | None = None,
    action: str | None = None,
    subject_id: str | None = None,
    actor_id: str | None = None,
    name: str | None = None,
    largest: int = MAX_LIMIT,
) -> tuple[list[AuditEntry], bool]:
    """A page of entries, newest first, and whether older ones match too: ``limit``
    from 1 (default :data:`DEFAULT_LIMIT`, a larger one cut to ``largest``), the
    other filters checked, each error ``validation_failed`` naming its parameter."""
    if limit is not None and limit < 1:
        raise validation_failed("limit", f"must be from 1 to {largest}")
    size = min(DEFAULT_LIMIT if limit is None else limit, largest)
    found = await store.audit_entries(
        size + 1,
        _id("before", before),
        check_action(action),
        _id("subject_id", subject_id),
        _id("actor_id", actor_id),
        name,
    )
    return split(found, size)
