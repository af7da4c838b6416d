"""Message search's rules (docs/protocols/TCP.md, "Message search"): what a query is,
when a message matches it, and how many a request may return or examine.

Matching is done in Python over rows read newest first, not by SQL: SQLite's LIKE
folds ASCII case only, and an index for text search would add to the cost of
storing every message (the send path is benchmarked). Instead each request reads at
most :data:`SCAN_MAX` messages, for at most :data:`SCAN_SECONDS`, and the client
pages on from where it stopped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from lairchat.domain.errors import LairError, validation_failed
from lairchat.domain.validation import WHITE_SPACE

#: Longest query, in characters (code points) once trimmed.
QUERY_MAX = 256
#: Matches per page: the default, and the most a request gets (a larger limit is cut).
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
#: Messages examined per request at most: about 5,000 rows of up to 4 KiB each read
#: and normalised in one read thread, which must stay short for the other reads.
SCAN_MAX = 5000
#: ... and for at most this long (seconds of matching in the read thread, one row at
#: least). Folding is not the same cost for every text: 5,000 messages of 4 KiB of
#: U+FDFA (which NFKC makes 18 characters each) took 4 s, holding one of the two read
#: threads every other read (history, logins) waits on.
SCAN_SECONDS = 0.2


def fold(text: str) -> str:
    """The form both sides are compared in: NFKC (compatibility forms and composed
    marks made one: "ﬁ" is "fi", "e" + U+0301 is "é"), then case-folded ("ß" is "ss",
    "Σ" and "ς" are "σ")."""
    return unicodedata.normalize("NFKC", text).casefold()


class QueryInvalid(LairError):
    """``validation_failed`` for a bad query, naming the field ``query`` as the
    real-time command does; a transport whose clients send it under another name
    says that name instead (:meth:`named`), the rule staying this module's."""

    def __init__(self, reason: str):
        self.reason = reason
        failed = validation_failed("query", reason)
        super().__init__(failed.code, failed.message)

    def named(self, field: str) -> LairError:
        return validation_failed(field, self.reason)


def query_key(query: Any) -> str:
    """The query as it is matched, folded; :class:`QueryInvalid` unless it is a string
    of 1 to QUERY_MAX characters once trimmed of Unicode white space."""
    if not isinstance(query, str):
        raise QueryInvalid("must be a string")
    trimmed = query.strip(WHITE_SPACE)
    if not trimmed:
        raise QueryInvalid("cannot be empty")
    if len(trimmed) > QUERY_MAX:
        raise QueryInvalid(f"must be at most {QUERY_MAX} characters")
    return fold(trimmed)


def matcher(query: Any) -> Callable[[str], bool]:
    """Whether a message's content matches ``query`` (validated by :func:`query_key`,
    so a bad query is refused before anything is read)."""
    key = query_key(query)
    return lambda content: key in fold(content)


def page_size(limit: Any) -> int:
    """Matches wanted: DEFAULT_LIMIT when absent, at most MAX_LIMIT;
    ``validation_failed`` for 0, a negative number or anything not an integer."""
    if limit is None:
        return DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise validation_failed("limit", "must be a positive integer")
    return min(limit, MAX_LIMIT)
