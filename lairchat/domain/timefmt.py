"""Timestamps as the original writes them (PROTOCOL.md §0.3).

``ts`` is RFC 3339 UTC with ``Z``; ``ts_plus`` the same with ``+00:00``. The fraction
appears only when non-zero, as 3 or 6 digits (we keep microseconds).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

#: The last second formatted: every message of a busy second reuses its text.
_last: tuple[int, str] = (-1, "")


def _format(t: float, suffix: str) -> str:
    global _last
    whole = int(t)
    micros = round((t - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    seen, base = _last
    if whole != seen:
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last = (whole, base)
    if micros == 0:
        return base + suffix
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}{suffix}"
    return f"{base}.{micros:06d}{suffix}"


def ts(t: float) -> str:
    return _format(t, "Z")


def ts_plus(t: float) -> str:
    return _format(t, "+00:00")


def parse_ts(text: str) -> float | None:
    """Parse an RFC 3339 timestamp (as sent in ``before``/``after``); None if it is not one."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
