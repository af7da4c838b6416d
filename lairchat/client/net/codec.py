"""JSON objects to bytes and back, as the real-time protocol frames them.

Compact UTF-8 JSON, one object per frame. Incoming frames that are not a JSON object
are dropped (and logged) rather than raised: one odd frame must not take the
connection or the interface down.
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
    except (UnicodeDecodeError, ValueError):
        log.warning("dropping a frame that is not JSON (%d bytes)", len(data))
        return None
    if not isinstance(value, dict):
        log.warning("dropping a frame that is not a JSON object")
        return None
    return value
