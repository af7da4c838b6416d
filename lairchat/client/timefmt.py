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
            try:
                return value.astimezone(UTC)
            except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
                pass
    return fallback if fallback is not None else datetime.now(UTC)


def format_clock(when: datetime, now: datetime | None = None, tz: tzinfo | None = None) -> str:
    """``HH:MM`` for today, ``YYYY-MM-DD HH:MM`` otherwise, in the local zone (or ``tz``).

    A time at the edge of the calendar (year 1, year 9999) that the zone would push
    past it is written in UTC: raising here would stop every redraw of its
    conversation."""
    try:
        local = when.astimezone(tz)
    except OverflowError:
        utc = when.astimezone(UTC)
        return f"{utc.date().isoformat()} {utc:%H:%M} UTC"
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    # isoformat, not %Y: the C library writes year 1 as "1", not "0001".
    return f"{local.date().isoformat()} {local:%H:%M}"
