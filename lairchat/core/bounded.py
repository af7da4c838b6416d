"""Tables bounded by forgetting their oldest entries.

The in-memory tables that clients can grow (lockout, typing throttle, rate windows)
are plain dicts kept in the order their entries became current, so the first entry is
always the oldest and dropping it costs O(1). Expired entries are at the front too,
and are dropped as new ones come in: a table held only its bound in entries, but on a
server run for months every one filled to it and stayed full of entries that no
longer counted (tests/unit/test_table_growth.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def forget_oldest(table: dict, bound: int) -> None:
    """Drop ``table``'s first-inserted entries until it holds at most ``bound``."""
    while len(table) > bound:
        del table[next(iter(table))]


def forget_expired(table: dict, expired: Callable[[Any, Any], bool]) -> None:
    """Drop ``table``'s first-inserted entries while ``expired(key, value)``: it stops
    at the first entry still current, so it costs what it drops."""
    while table:
        key = next(iter(table))
        if not expired(key, table[key]):
            return
        del table[key]
