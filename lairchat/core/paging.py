"""Pagination conventions shared by every list (HTTP.md §9)."""

from __future__ import annotations

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def cap(limit: int | None) -> int:
    """The page size actually used: default 50, silently capped at 100."""
    if limit is None:
        return DEFAULT_LIMIT
    return max(0, min(int(limit), MAX_LIMIT))


def has_more(page_length: int, requested: int | None) -> bool:
    """The original's rule: the page is as long as the (uncapped) request."""
    return page_length == (DEFAULT_LIMIT if requested is None else requested)
