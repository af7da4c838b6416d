"""JSON objects to bytes and back, as the real-time protocol frames them.

Compact UTF-8 JSON, one object per frame. Incoming frames that are not a JSON object
are dropped (and logged) rather than raised: one odd frame must not take the
connection or the interface down. The REST client reads its answers with the same
rule (an answer that is not an object is none).
"""

from __future__ import annotations

import json
import logging
from typing import Any

__all__ = ["decode", "encode"]

log = logging.getLogger(__name__)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: arrays nested deeper than Python's stack (``[[[[…``, a few
        # hundred kilobytes fit in one frame), which the parser does not catch itself.
        log.warning("dropping %d bytes that are not JSON we can read", len(data))
        return None
    if not isinstance(value, dict):
        log.warning("dropping JSON that is not an object")
        return None
    return value
