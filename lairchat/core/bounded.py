"""Tables bounded by forgetting their oldest entries.

The in-memory tables that clients can grow (lockout, typing throttle, rate windows)
are plain dicts kept in the order their entries became current, so the first entry is
always the oldest and dropping it costs O(1).
"""

from __future__ import annotations


def forget_oldest(table: dict, bound: int) -> None:
    """Drop ``table``'s first-inserted entries until it holds at most ``bound``."""
    while len(table) > bound:
        del table[next(iter(table))]
