"""Pinned messages: how many a room keeps (docs/protocols/HTTP.md, "Pinned messages").

The one place the cap is written: the store decides it in the write that pins, and
the OpenAPI document and the docs state it from here.
"""

from __future__ import annotations

from lairchat.domain.errors import LairError, validation_failed

__all__ = ["PINS_PER_ROOM", "too_many_pins", "not_a_room_message"]

#: Pins a room keeps: a 51st is ``validation_failed`` naming ``message_id``.
PINS_PER_ROOM = 50


def too_many_pins() -> LairError:
    return validation_failed("message_id", f"a room keeps at most {PINS_PER_ROOM} pinned messages")


def not_a_room_message() -> LairError:
    """A DM the caller reads: it has no pins (a DM the caller does not read is
    ``message_not_found``, as everywhere)."""
    return validation_failed("message_id", "only room messages can be pinned")
