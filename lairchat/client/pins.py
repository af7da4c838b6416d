"""Pinned messages in the terminal client: a room's list as ``/pins`` shows it, kept up
to date by lairchat's own events, and which message ``/pin N`` and ``/unpin N`` mean.

The server decides who may pin (a room's owners and moderators; docs/protocols/HTTP.md,
"Pinned messages"): the commands are offered to everyone and a refusal is shown in
the server's words, as for the room's other moderation. A room's list is fetched when
``/pins`` opens it (``GET /rooms/{id}/pins``) and then changed by ``message_pinned``
and ``message_unpinned`` (which the client asks for in its hello), by
``message_deleted`` (a deleted message's pin goes with it, with no event of its own)
and by ``message_edited``. No I/O here: the controller asks, this keeps the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lairchat.client.model import ChatMessage, Pin
from lairchat.client.net.errors import ServerError, unsupported
from lairchat.client.timefmt import parse_time

if TYPE_CHECKING:
    from lairchat.client.state import ClientState

__all__ = [
    "NO_PINS",
    "cannot_pin",
    "edited",
    "forget",
    "gist",
    "nth_newest",
    "on_message_pinned",
    "on_message_unpinned",
    "set_pins",
]

#: What a server without pins (the original Lair Chat, an older lairchat) is said to
#: have, rather than its bare 404.
NO_PINS = "This server cannot pin messages"
#: Characters of a pinned message's first line a notice quotes.
GIST = 60


def cannot_pin(err: ServerError) -> bool:
    """Whether a refusal of a pin route means the server has none: Lair Chat's bare
    404 (:func:`unsupported`), or an older lairchat's router answering ``not_found``
    for a path it does not route (the pin routes' own 404s are ``message_not_found``
    and ``room_not_found``)."""
    return unsupported(err.status, err.code) or (err.status == 404 and err.code == "not_found")


def _pin(state: ClientState, raw: dict[str, Any]) -> Pin | None:
    """A pin as the list and ``message_pinned`` give it: ``message``, ``pinned_by``,
    ``pinned_at``; None if it names no message."""
    message = raw.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("id"), str):
        return None
    by = raw.get("pinned_by")
    return Pin(
        state.message_from_wire(message),
        by if isinstance(by, str) else "",
        parse_time(raw.get("pinned_at"), state.now_dt()),
    )


def set_pins(state: ClientState, room_id: str, listed: Any) -> None:
    """``GET /rooms/{id}/pins``' ``pins``, newest pin first; anything malformed is left
    out."""
    found = [_pin(state, item) for item in listed if isinstance(item, dict)]
    state.pins[room_id] = [pin for pin in found if pin is not None]


def gist(msg: ChatMessage) -> str:
    """A message's first line, cut to :data:`GIST` characters."""
    line = msg.content.split("\n", 1)[0]
    return line if len(line) <= GIST else line[: GIST - 1] + "…"


def on_message_pinned(state: ClientState, event: dict[str, Any]) -> None:
    """lairchat's own event: the message goes first in the room's list, if loaded,
    and the room, if open, says who pinned what."""
    room_id = str(event.get("room_id", ""))
    pin = _pin(state, event)
    if pin is None:
        return
    listed = state.pins.get(room_id)
    if listed is not None:
        listed[:] = [pin, *(p for p in listed if p.message.id != pin.message.id)]
    key = ("room", room_id)
    if key in state.conversations:
        who = state.username_of(pin.pinned_by)
        state.system(f"{who} pinned a message: {gist(pin.message)}", key)


def on_message_unpinned(state: ClientState, event: dict[str, Any]) -> None:
    room_id = str(event.get("room_id", ""))
    message_id = event.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        return
    listed = state.pins.get(room_id)
    gone = next((p for p in listed or () if p.message.id == message_id), None)
    if listed is not None and gone is not None:
        listed.remove(gone)
    key = ("room", room_id)
    if key in state.conversations:
        who = state.username_of(str(event.get("unpinned_by", "")))
        what = f": {gist(gone.message)}" if gone is not None else ""
        state.system(f"{who} unpinned a message{what}", key)


def forget(state: ClientState, message_id: str) -> None:
    """A deleted message leaves every list it is in (its pin went with it)."""
    for listed in state.pins.values():
        listed[:] = [p for p in listed if p.message.id != message_id]


def edited(state: ClientState, message: dict[str, Any]) -> None:
    """An edited message shows its new text in the lists too."""
    message_id = message.get("id")
    for listed in state.pins.values():
        for pin in listed:
            if pin.message.id == message_id:
                state.set_content(pin.message, message.get("content", pin.message.content))
                pin.message.edited = True


def nth_newest(state: ClientState, n: int) -> ChatMessage | None:
    """The message ``/pin N`` means: the ``n``-th newest of the conversation shown (1:
    the newest), counting the server's messages only (not notices, not ours still
    on their way)."""
    seen = 0
    for msg in reversed(state.current_conversation.messages):
        if msg.kind == "user" and msg.id:
            seen += 1
            if seen == n:
                return msg
    return None
