"""Decode and validate client frames; encode server frames (PROTOCOL.md §0, §1, §7).

The original deserializes every frame into one closed serde enum, so anything that
does not fit (bad JSON, unknown ``type``, a missing or ill-typed field) is answered
with a single ``invalid_message`` error frame and the connection stays open. This
module reproduces that contract with one schema table (:data:`SCHEMAS`) and a handful
of field-kind validators, and hands the command layer a *normalized* dict: every
declared field present, defaults filled in, ``null`` optionals as ``None``, message
targets as :class:`~lairchat.domain.types.Target`, unknown fields dropped.

Invalid UTF-8 is deliberately a different exception (:class:`UndecodableFrame`):
the original closes the connection for it instead of replying (§1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
import orjson

from lairchat.domain.ids import parse_uuid
from lairchat.domain.jsonlimits import MAX_DEPTH, too_deep
from lairchat.domain.types import Target

__all__ = [
    "CLIENT_TYPES",
    "MAX_DEPTH",
    "SCHEMAS",
    "InvalidMessage",
    "UndecodableFrame",
    "decode",
    "encode",
]


U32_MAX = 2**32 - 1


class InvalidMessage(Exception):
    """The frame is not a valid client message; ``message`` is the wire error text."""

    def __init__(self, detail: str) -> None:
        self.message = f"Invalid JSON: {detail}"
        super().__init__(self.message)


class UndecodableFrame(Exception):
    """The payload is not UTF-8; the transport must close the connection (§1)."""


#: Serialize a server frame the way the original does: compact JSON, UTF-8, non-ASCII
#: raw, key order as built by the caller. orjson's own function, not a wrapper: it
#: runs twice per message.
encode: Callable[[dict[str, Any]], bytes] = orjson.dumps


# --------------------------------------------------------------------------- helpers

_MISSING: Any = object()


#: The largest frame either side may send (a TCP frame's payload, encrypted or not;
#: a WebSocket message), as in Lair Chat.
MAX_FRAME = 1_048_576


def clip(text: str, limit: int = 40) -> str:
    """Client text quoted in an error message, cut to ``limit`` characters: an error
    must not grow with what the client sent (a 1 MiB value echoed back would not fit
    in one frame)."""
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(value: Any) -> str:
    """Name a JSON value the way serde's ``invalid type`` errors do (no Python repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return "string " + orjson.dumps(clip(value)).decode()
    if isinstance(value, list):
        return "a sequence"
    return "a map"


def _invalid_type(value: Any, expected: str, path: str) -> InvalidMessage:
    return InvalidMessage(f"invalid type: {_describe(value)}, expected {expected} at `{path}`")


def _invalid_value(value: Any, expected: str, path: str) -> InvalidMessage:
    return InvalidMessage(f"invalid value: {_describe(value)}, expected {expected} at `{path}`")


# A checker validates one present, non-null value and returns its normalized form.
Checker = Callable[[Any, str], Any]
# A field spec receives the raw value (or _MISSING) and returns the normalized value.
FieldSpec = Callable[[Any, str], Any]


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _invalid_type(value, "a string", path)
    return value


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid_type(value, "a boolean", path)
    return value


def _u32(value: Any, path: str) -> int:
    # bool is an int subclass in Python but never an integer in JSON; floats are
    # rejected even when integral, exactly like serde's u32 (``5.0`` is a float).
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid_type(value, "u32", path)
    if not 0 <= value <= U32_MAX:
        raise _invalid_value(value, "u32", path)
    return value


def _string_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise _invalid_type(value, "a sequence of strings", path)
    return [_string(item, f"{path}[{i}]") for i, item in enumerate(value)]


def _uuid(value: Any, path: str) -> str:
    canonical = parse_uuid(_string(value, path))
    if canonical is None:
        raise _invalid_value(value, "a UUID", path)
    return canonical


#: Room targets by the id text clients sent: a room's messages all name the same
#: room, so its id is parsed once rather than once per message. Cleared when full,
#: which bounds what a client sending many distinct ids can make us keep.
_ROOM_TARGETS: dict[str, Target] = {}
_ROOM_TARGETS_MAX = 4096


def _room_target(value: Any, path: str) -> Target:
    target = _ROOM_TARGETS.get(value) if type(value) is str else None
    if target is None:
        target = Target("room", _uuid(value, path))
        if len(_ROOM_TARGETS) >= _ROOM_TARGETS_MAX:
            _ROOM_TARGETS.clear()
        _ROOM_TARGETS[value] = target
    return target


def _target(value: Any, path: str) -> Target:
    """MessageTarget (§10.5), plus the spellings the original's docs advertise:
    ``"direct_message"`` for DMs (TCP.md/HTTP.md) and the type-less ``{"room": id}``
    (WEBSOCKET.md). Ids are typed: a bad UUID rejects the whole frame."""
    if not isinstance(value, dict):
        raise _invalid_type(value, "a message target object", path)
    kind = value.get("type", _MISSING)
    if kind is _MISSING:
        if "room" in value:
            return _room_target(value["room"], f"{path}.room")
        raise InvalidMessage(f"missing field `type` at `{path}`")
    if not isinstance(kind, str):
        raise _invalid_type(kind, "`room` or `dm`", f"{path}.type")
    if kind == "room":
        return _room_target(_require(value, "room_id", path), f"{path}.room_id")
    if kind in ("dm", "direct_message"):
        return Target("dm", _uuid(_require(value, "recipient", path), f"{path}.recipient"))
    raise InvalidMessage(
        f"unknown variant `{clip(kind)}`, expected `room` or `dm` at `{path}.type`"
    )


def _require(obj: dict[str, Any], name: str, path: str) -> Any:
    value = obj.get(name, _MISSING)
    if value is _MISSING:
        raise InvalidMessage(f"missing field `{name}` at `{path}`")
    return value


# Field specs: how absence and null are treated, wrapped around a checker.


def _required(check: Checker) -> FieldSpec:
    """Must be present and non-null."""

    def spec(value: Any, path: str) -> Any:
        if value is _MISSING:
            raise InvalidMessage(f"missing field `{path}`")
        return check(value, path)

    return spec


def _optional(check: Checker, *, absent: Callable[[], Any] | None = None) -> FieldSpec:
    """May be absent or null (serde ``Option``); both normalize to ``absent()``/None."""

    def spec(value: Any, path: str) -> Any:
        if value is _MISSING or value is None:
            return absent() if absent is not None else None
        return check(value, path)

    return spec


def _defaulted(check: Checker, default: Callable[[], Any]) -> FieldSpec:
    """May be absent (→ ``default()``) but not null (serde ``#[serde(default)]``)."""

    def spec(value: Any, path: str) -> Any:
        if value is _MISSING:
            return default()
        return check(value, path)

    return spec


def _record(fields: dict[str, FieldSpec]) -> Checker:
    """A nested object: known keys validated, other keys ignored."""

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _invalid_type(value, "a map", path)
        return _apply(fields, value, path + ".")

    return check


def _apply(fields: dict[str, FieldSpec], obj: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {name: spec(obj.get(name, _MISSING), prefix + name) for name, spec in fields.items()}


# --------------------------------------------------------------------------- schema

_ROOM_FILTER = {
    "search": _optional(_string),
    "joined_only": _defaulted(_boolean, lambda: False),
    "public_only": _defaulted(_boolean, lambda: False),
}
_USER_FILTER = {
    "search": _optional(_string),
    "online_only": _defaulted(_boolean, lambda: False),
}
_ROOM_SETTINGS = {
    "public": _optional(_boolean),
    "max_members": _optional(_u32),
}

_STR = _required(_string)
_OPT_STR = _optional(_string)
_TARGET = _required(_target)
_LIMIT = _defaulted(_u32, lambda: 50)
_OFFSET = _defaulted(_u32, lambda: 0)


def _any(value: Any, path: str) -> Any:
    """Any JSON value: checked by the core, whose refusal (``validation_failed``) is
    the command's answer rather than a frame error (message search's ``limit`` and
    ``before``, as the API decided: docs/protocols/TCP.md)."""
    return value


_RAW = _optional(_any)

#: Client message type → its fields (beyond ``type``/``request_id``), in output order.
SCHEMAS: dict[str, dict[str, FieldSpec]] = {
    "client_hello": {
        "version": _STR,
        "client_name": _OPT_STR,
        "features": _defaulted(_string_list, list),
    },
    "key_exchange": {"public_key": _STR},
    "authenticate": {"token": _STR},
    # ``totp`` is our extension: the second factor, for an account that has it on.
    "login": {"identifier": _STR, "password": _STR, "totp": _OPT_STR},
    "register": {"username": _STR, "email": _STR, "password": _STR},
    "logout": {},
    "send_message": {"target": _TARGET, "content": _STR},
    "edit_message": {"message_id": _STR, "content": _STR},
    "delete_message": {"message_id": _STR},
    # ``after`` is our extension (forward paging); the original has only ``before``.
    "get_messages": {"target": _TARGET, "limit": _LIMIT, "before": _OPT_STR, "after": _OPT_STR},
    "create_room": {
        "name": _STR,
        "description": _OPT_STR,
        "settings": _optional(_record(_ROOM_SETTINGS)),
    },
    "get_room": {"room_id": _STR},
    "list_rooms": {
        "filter": _optional(_record(_ROOM_FILTER), absent=lambda: _apply(_ROOM_FILTER, {}, "")),
        "limit": _LIMIT,
        "offset": _OFFSET,
    },
    "join_room": {"room_id": _STR},
    "leave_room": {"room_id": _STR},
    "invite_to_room": {"room_id": _STR, "user_id": _STR, "message": _OPT_STR},
    "accept_invitation": {"invitation_id": _STR},
    "decline_invitation": {"invitation_id": _STR},
    "list_invitations": {},
    "get_user": {"user_id": _STR},
    "list_users": {
        "filter": _optional(_record(_USER_FILTER), absent=lambda: _apply(_USER_FILTER, {}, "")),
        "limit": _LIMIT,
        "offset": _OFFSET,
    },
    "get_current_user": {},
    "typing": {"target": _TARGET},
    "ping": {},
    # Our extension: mark a conversation read, optionally up to a given message id.
    "mark_read": {"target": _TARGET, "up_to": _OPT_STR},
    # Our extension: withdraw a pending invitation (its inviter, or a room moderator).
    "revoke_invitation": {"invitation_id": _STR},
    # Our extension: reactions (TCP.md, "Reactions"); the emoji's rule is the core's.
    "add_reaction": {"message_id": _STR, "emoji": _STR},
    "remove_reaction": {"message_id": _STR, "emoji": _STR},
    # Our extension: pinned messages (TCP.md, "Pinned messages"); the rules are the core's.
    "pin_message": {"message_id": _STR},
    "unpin_message": {"message_id": _STR},
    "get_pins": {"room_id": _STR},
    # Our extension: message search (TCP.md, "Message search"); no target: everywhere.
    "search_messages": {
        "query": _STR,
        "target": _optional(_target),
        "limit": _RAW,
        "before": _RAW,
        "author": _RAW,
        "since": _RAW,
        "until": _RAW,
    },
    # Our extension: room invite codes (TCP.md, "Invite codes"); the limits are the core's.
    "create_invite_code": {
        "room_id": _STR,
        "max_uses": _optional(_u32),
        "expires_in_hours": _optional(_u32),
    },
    "list_invite_codes": {"room_id": _STR},
    "revoke_invite_code": {"room_id": _STR, "code_id": _STR},
    "join_by_invite_code": {"code": _STR},
}

#: Types whose original struct has no ``request_id``: any value sent is ignored.
_NO_REQUEST_ID = frozenset({"client_hello", "key_exchange", "typing", "ping"})
#: Longest request_id echoed back: it travels in every response, so it is bounded
#: (a 1 MiB id would make the response itself too large to send).
REQUEST_ID_MAX = 256


def _request_id(value: Any, path: str) -> str:
    text = _string(value, path)
    if len(text) > REQUEST_ID_MAX:
        raise InvalidMessage(f"{path} longer than {REQUEST_ID_MAX} characters")
    return text


_REQUEST_ID = _optional(_request_id)

#: Every client message type :func:`decode` accepts.
CLIENT_TYPES: frozenset[str] = frozenset(SCHEMAS)


# --------------------------------------------------------------------------- decode


def decode(payload: bytes) -> dict[str, Any]:
    """Parse and validate one (already decrypted) frame payload.

    Returns ``{"type": ..., "request_id": str | None, **fields}`` with the fields of
    :data:`SCHEMAS` normalized. Raises :class:`UndecodableFrame` for invalid UTF-8 and
    :class:`InvalidMessage` for everything else that is not a valid client message.
    """
    if type(payload) is not bytes:
        payload = bytes(payload)  # accept bytearray/memoryview from the transport
    sent = decode_send_to_room(payload)
    if sent is not None:
        request_id, room, content = sent
        return {
            "type": "send_message",
            "request_id": request_id,
            "target": room,
            "content": content,
        }
    if not payload:
        raise InvalidMessage("EOF while parsing a value at line 1 column 0")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        # orjson accepts only valid UTF-8, so the UTF-8 check is needed on failure alone.
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            raise UndecodableFrame("payload is not valid UTF-8") from None
        raise InvalidMessage(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise InvalidMessage(f"invalid type: {_describe(data)}, expected a JSON object")
    if too_deep(payload, data):
        raise InvalidMessage(f"recursion limit exceeded (nesting deeper than {MAX_DEPTH})")

    kind = data.get("type", _MISSING)
    if kind is _MISSING:
        raise InvalidMessage("missing field `type`")
    if not isinstance(kind, str):
        raise _invalid_type(kind, "a message type string", "type")
    fields = SCHEMAS.get(kind)
    if fields is None:
        raise InvalidMessage(f"unknown variant `{clip(kind)}`")

    request_id = None
    if kind not in _NO_REQUEST_ID:
        request_id = _REQUEST_ID(data.get("request_id", _MISSING), "request_id")
    return {"type": kind, "request_id": request_id, **_apply(fields, data, "")}


def decode_send_to_room(payload: bytes) -> tuple[str | None, Any, str] | None:
    """``(request_id, target, content)`` of a ``send_message`` frame of the common
    shape to a room seen before (what :func:`decode` returns for it without its
    general path); None for any other frame, which :func:`decode` then takes."""
    try:
        common = _SEND_TO_ROOM.decode(payload)
    except ValueError:  # msgspec's errors, and UnicodeDecodeError inside a string
        return None  # any other frame, or a faulty one: the general path words its error
    room = _ROOM_TARGETS.get(common.target.room_id)
    if room is None:
        return None
    return common.request_id, room, common.content


class _RoomTarget(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    type: Literal["room"]
    room_id: str


class _SendToRoom(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The frame nearly every client sends most: ``send_message`` to a room by
    ``room_id``, with a string ``request_id`` or none, and no other field. msgspec
    parses and checks this shape in one pass in C, at half the cost of orjson's
    parse and the same checks in Python (``bench/jsonlibs.py``). A frame of any
    other shape fails here and takes the general path, which also words every error.
    With no field besides these, the frame nests 2 deep: no depth check is needed."""

    type: Literal["send_message"]
    target: _RoomTarget
    content: str
    request_id: Annotated[str, msgspec.Meta(max_length=REQUEST_ID_MAX)] | None = None


_SEND_TO_ROOM = msgspec.json.Decoder(_SendToRoom)
