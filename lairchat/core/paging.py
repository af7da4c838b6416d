"""Pagination conventions shared by every list (HTTP.md §9)."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

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


def bounded(limit: int | None, largest: int) -> int:
    """The page size of a bounded newest-first listing (sessions, invitations): the
    largest page unless ``limit`` asks for fewer; a larger one is cut silently, as
    :func:`cap` cuts."""
    return largest if limit is None else max(0, min(limit, largest))


def split(found: list[T], size: int) -> tuple[list[T], bool]:
    """``found`` (read with ``size + 1`` as its limit) as a page of ``size`` and
    whether more come after it: unlike the original's rule (:func:`has_more`), a
    bounded listing says exactly whether it left some out."""
    return found[:size], len(found) > size
