"""Server timestamps in, local wall-clock text out.

The server writes RFC 3339 in UTC (``…Z`` or ``…+00:00``, up to nine fraction
digits); people want their own time zone. Parsing never raises: a message with an
odd timestamp is still worth showing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

__all__ = ["format_clock", "parse_time"]

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(text: object, fallback: datetime | None = None) -> datetime:
    """An aware UTC datetime from a wire timestamp (or ``fallback``/now if unreadable)."""
    if isinstance(text, str):
        cleaned = _FRACTION.sub(r"\1", text.strip()).replace("z", "Z")
        try:
            value = datetime.fromisoformat(cleaned)
        except ValueError:
            value = None
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
    return fallback if fallback is not None else datetime.now(UTC)


def format_clock(when: datetime, now: datetime | None = None, tz: tzinfo | None = None) -> str:
    """``HH:MM`` for today, ``YYYY-MM-DD HH:MM`` otherwise, in the local zone (or ``tz``)."""
    local = when.astimezone(tz)
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")
