"""Identifiers: random UUID v4, written lowercase hyphenated, read in any form Rust accepts."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def parse_uuid(value: object) -> str | None:
    """Return the canonical form of ``value``, or None if it is not a UUID.

    Accepts hyphenated, 32 hex digits, ``{braced}`` and ``urn:uuid:`` forms in any case,
    like the original's parser.
    """
    if not isinstance(value, str) or len(value) > 45:
        return None
    text = value
    if text[:9].lower() == "urn:uuid:":
        text = text[9:]
    elif text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if len(text) == 36:
        if text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
            return None
    elif len(text) != 32:
        return None
    hexpart = text.replace("-", "") if len(text) == 36 else text
    if len(hexpart) != 32 or not all(c in "0123456789abcdefABCDEF" for c in hexpart):
        return None
    return str(uuid.UUID(hex=hexpart))
