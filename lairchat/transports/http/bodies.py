"""Reading requests: the JSON body, the query string and message targets.

The original deserializes into typed structs, so a request that does not fit is
refused before any rule runs. We keep its categories but answer them with the JSON
envelope (HTTP.md §2.4, our choice): 415 without a JSON content type, 413 over
2 MiB, 400 for unreadable JSON (or JSON nested deeper than 32 levels) or query
strings, 422 for JSON of the wrong shape.
Unknown fields are ignored; ``null`` means absent for optional fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from lairchat.domain.errors import LairError
from lairchat.domain.ids import parse_uuid
from lairchat.domain.jsonlimits import MAX_DEPTH, too_deep
from lairchat.domain.types import Target
from lairchat.transports.http.errors import bad_request, unprocessable

MAX_BODY_BYTES = 2 * 1024 * 1024
U32_MAX = 2**32 - 1

_MISSING: Any = object()
_UNSIGNED = re.compile(r"\+?[0-9]+")


# --------------------------------------------------------------------------- body


def declared_length(request: Any) -> int | None:
    values = request.requestHeaders.getRawHeaders(b"content-length")
    if not values or not values[0].isdigit():
        return None
    return int(values[0])


def check_size(request: Any) -> None:
    """413 when the declared or the received body exceeds the limit."""
    declared = declared_length(request)
    if declared is not None and declared > MAX_BODY_BYTES:
        raise LairError("payload_too_large")
    content = getattr(request, "content", None)
    if content is not None:
        content.seek(0, 2)
        size = content.tell()
        content.seek(0)
        if size > MAX_BODY_BYTES:
            raise LairError("payload_too_large")


def is_json_type(content_type: bytes | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters allowed."""
    if not content_type:
        return False
    mime = content_type.split(b";", 1)[0].strip().lower()
    kind, _, subtype = mime.partition(b"/")
    return kind == b"application" and (subtype == b"json" or subtype.endswith(b"+json"))


def json_body(request: Any) -> Body:
    """The request's JSON object: 415, 413, then 400 (syntax, not an object)."""
    content_type = request.requestHeaders.getRawHeaders(b"content-type")
    if not is_json_type(content_type[0] if content_type else None):
        raise LairError("unsupported_media_type")
    check_size(request)
    content = getattr(request, "content", None)
    raw = content.read(MAX_BODY_BYTES + 1) if content is not None else b""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise bad_request("body", f"invalid JSON: {error}") from None
    if not isinstance(value, dict):
        # Valid JSON of the wrong shape, as the original's extractor sees it (422).
        raise unprocessable("body", f"expected a JSON object, got {_kind(value)}")
    if too_deep(raw, value):
        raise bad_request("body", f"JSON nested deeper than {MAX_DEPTH} levels")
    return Body(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


@dataclass(frozen=True, slots=True)
class TargetInput:
    """A message target as sent: its kind and the id text, not yet parsed.

    Shape errors are 422 while the body is read; a malformed id is the resource's
    404, raised later by :meth:`resolve` (the original's order)."""

    kind: str
    raw_id: str

    def resolve(self) -> Target:
        canonical = parse_uuid(self.raw_id)
        if canonical is None:
            raise LairError("room_not_found" if self.kind == "room" else "user_not_found")
        return Target(self.kind, canonical)


class Body:
    """Typed access to the fields of a JSON object; ``prefix`` names nested objects."""

    def __init__(self, data: dict[str, Any], prefix: str = ""):
        self.data = data
        self.prefix = prefix

    def _name(self, name: str) -> str:
        return self.prefix + name

    def _present(self, name: str, required: bool) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise unprocessable(self._name(name), "missing field")
            return _MISSING
        return value

    def _wrong(self, name: str, expected: str, value: Any) -> LairError:
        return unprocessable(self._name(name), f"expected {expected}, got {_kind(value)}")

    def text(self, name: str) -> str:
        value = self._present(name, True)
        if not isinstance(value, str):
            raise self._wrong(name, "a string", value)
        return value

    def opt_text(self, name: str) -> str | None:
        value = self._present(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            raise self._wrong(name, "a string", value)
        return value

    def opt_bool(self, name: str) -> bool | None:
        value = self._present(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            raise self._wrong(name, "a boolean", value)
        return value

    def opt_u32(self, name: str) -> int | None:
        value = self._present(name, False)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, "a non-negative integer", value)
        if not 0 <= value <= U32_MAX:
            raise unprocessable(self._name(name), f"must be between 0 and {U32_MAX}")
        return value

    def opt_number(self, name: str) -> float | None:
        value = self._present(name, False)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(name, "a number", value)
        return value

    def opt_object(self, name: str) -> Body | None:
        value = self._present(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            raise self._wrong(name, "an object", value)
        return Body(value, self._name(name) + ".")

    def target(self, name: str) -> TargetInput:
        """``{"type":"room","room_id"}`` or ``{"type":"direct_message"|"dm","recipient"}``."""
        value = self._present(name, True)
        if not isinstance(value, dict):
            raise self._wrong(name, "an object", value)
        inner = Body(value, self._name(name) + ".")
        kind = inner.text("type")
        if kind == "room":
            return TargetInput("room", inner.text("room_id"))
        if kind in ("direct_message", "dm"):
            return TargetInput("dm", inner.text("recipient"))
        raise unprocessable(
            inner._name("type"), f"unknown target type {kind!r}, expected room or direct_message"
        )


# --------------------------------------------------------------------------- query


def _query_pairs(request: Any) -> list[tuple[str, str]]:
    uri: bytes = request.uri
    _, _, raw = uri.partition(b"?")
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        try:
            pairs.append(
                (
                    unquote_to_bytes(key.replace(b"+", b" ")).decode("utf-8"),
                    unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8"),
                )
            )
        except UnicodeDecodeError:
            raise bad_request("query", "not valid UTF-8") from None
    return pairs


class Query:
    """The query string, read the way the original's typed extractor reads it: each
    known parameter at most once, integers unsigned 32-bit, booleans ``true``/``false``."""

    def __init__(self, request: Any):
        self._values: dict[str, list[str]] = {}
        for key, value in _query_pairs(request):
            self._values.setdefault(key, []).append(value)

    def _one(self, name: str) -> str | None:
        values = self._values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise bad_request(name, "duplicate parameter")
        return values[0]

    def text(self, name: str) -> str:
        value = self._one(name)
        if value is None:
            raise bad_request(name, "missing required parameter")
        return value

    def opt_text(self, name: str) -> str | None:
        return self._one(name)

    def u32(self, name: str) -> int | None:
        value = self._one(name)
        if value is None:
            return None
        if not _UNSIGNED.fullmatch(value) or int(value) > U32_MAX:
            raise bad_request(name, f"must be an integer between 0 and {U32_MAX}")
        return int(value)

    def flag(self, name: str) -> bool:
        value = self._one(name)
        if value is None:
            return False
        if value not in ("true", "false"):
            raise bad_request(name, "must be true or false")
        return value == "true"
