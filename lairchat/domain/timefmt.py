"""Timestamps as the original writes them (PROTOCOL.md §0.3).

``ts`` is RFC 3339 UTC with ``Z``; ``ts_plus`` the same with ``+00:00``. The fraction
appears only when non-zero, as 3 or 6 digits (we keep microseconds).
"""

from __future__ import annotations

import re
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


#: The last instant written by :func:`ts`: the messages of a run share theirs.
_last_ts: tuple[float, str] = (-1.0, "")


def ts(t: float) -> str:
    global _last_ts
    seen, text = _last_ts
    if t != seen:
        text = _format(t, "Z")
        _last_ts = (t, text)
    return text


def ts_plus(t: float) -> str:
    return _format(t, "+00:00")


#: RFC 3339's date-time (§5.6; "T", "t" or a space between date and time), with the
#: offset optional (then UTC). ``datetime.fromisoformat`` alone also takes ISO 8601's
#: other forms (week dates, a date alone, a comma before the fraction, no hyphens).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)


def parse_ts(text: str) -> float | None:
    """Parse an RFC 3339 timestamp (as sent in ``before``/``after``); None if it is not one."""
    shape = _RFC3339.fullmatch(text)
    if shape is None:
        return None
    fraction = shape.group(1) or ""
    offset = shape.group(2) or ""
    text = text[: shape.start(1) if fraction else len(text) - len(offset)]
    if offset in ("Z", "z"):
        offset = "+00:00"
    try:
        parsed = datetime.fromisoformat(text.replace("t", "T") + fraction[:7] + offset)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
