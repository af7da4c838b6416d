"""Message search's rules (docs/protocols/TCP.md, "Message search"): what a query is,
when a message matches it, and how many a request may return or examine.

Matching is done in Python over rows read newest first, not by SQL: SQLite's LIKE
folds ASCII case only, and an index for text search would add to the cost of
storing every message (the send path is benchmarked). Instead each request reads at
most :data:`SCAN_MAX` messages, for at most :data:`SCAN_SECONDS`, and the client
pages on from where it stopped. The :class:`Filters` (author, dates) are checked on
each message examined too, and what they leave out counts: no index by author or
time is walked (a room's has neither), so none may read uncounted rows.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lairchat.domain.errors import LairError, validation_failed
from lairchat.domain.ids import parse_uuid
from lairchat.domain.timefmt import parse_ts
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


def matcher(query: Any, filtered: bool = False) -> Callable[[str], bool]:
    """Whether a message's content matches ``query`` (validated by :func:`query_key`,
    so a bad query is refused before anything is read). With ``filtered`` (the
    search has :class:`Filters`), no query or a blank one matches every message: "all
    of bob's messages here" needs no text."""
    if filtered and (query is None or (isinstance(query, str) and not query.strip(WHITE_SPACE))):
        return lambda content: True
    key = query_key(query)
    return lambda content: key in fold(content)


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search looks at beyond the text: one author's messages (a user id), and
    those created in the second ``since`` or later and before the second ``until``
    (Unix seconds, whole), each None when not asked. ``created_at`` is stored in
    whole seconds (a send's answer has the fraction, search and history not): the
    bounds are cut to the second too, so ``since`` set to a message's time, as any
    answer gave it, finds that message, and ``until`` set to it leaves it out."""

    author: str | None = None
    since: int | None = None
    until: int | None = None

    @property
    def asked(self) -> bool:
        return (self.author, self.since, self.until) != (None, None, None)

    def admits(self, author_id: str, created_at: float) -> bool:
        """Whether a message of ``author_id`` created at ``created_at`` is in."""
        return (
            (self.author is None or author_id == self.author)
            and (self.since is None or created_at >= self.since)
            and (self.until is None or created_at < self.until)
        )


def filters(author: Any = None, since: Any = None, until: Any = None) -> Filters:
    """The filters as sent (any JSON value; absent or ``""`` is no filter):
    ``validation_failed`` naming the field for an ``author`` that is no user id, a
    ``since`` or ``until`` that is no RFC 3339 timestamp, or an ``until`` not in a
    later second than ``since``. An author who is no one (or wrote nothing) is no error: nothing
    of theirs matches."""
    wanted = None
    if author is not None and author != "":
        wanted = parse_uuid(author) if isinstance(author, str) else None
        if wanted is None:
            raise validation_failed("author", "must be a user id")
    moments = []
    for name, value in (("since", since), ("until", until)):
        moment = None
        if value is not None and value != "":
            moment = parse_ts(value) if isinstance(value, str) else None
            if moment is None:
                raise validation_failed(name, "must be an RFC 3339 timestamp")
            moment = math.floor(moment)
        moments.append(moment)
    start, end = moments
    if start is not None and end is not None and end <= start:
        raise validation_failed("until", "must be later than since")
    return Filters(wanted, start, end)


#: A search without filters.
NO_FILTERS = Filters()


def page_size(limit: Any) -> int:
    """Matches wanted: DEFAULT_LIMIT when absent, at most MAX_LIMIT;
    ``validation_failed`` for 0, a negative number or anything not an integer."""
    if limit is None:
        return DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise validation_failed("limit", "must be a positive integer")
    return min(limit, MAX_LIMIT)
