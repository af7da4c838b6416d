"""Message search as the client shows it: where a result's match is, and its line.

The server decides what matches (docs/HTTP.md, "Message search"): the query, trimmed,
NFKC-normalised and case-folded, inside the content normalised the same way. The
client only marks where: :func:`match_span` finds that place in the text as it was
sent, so the mark covers the characters the reader sees, and :func:`excerpt` cuts the
one line of it a list row has room for. Pure functions, no urwid: the browser
(``lairchat/web/app.js``, ``matchSpan``) follows the same rule, checked on one corpus
(``tests/unit/test_web_search.py``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta, tzinfo

from lairchat.client.net.errors import unsupported
from lairchat.domain.mentions import fold
from lairchat.domain.validation import CONTENT_MAX

__all__ = [
    "CONTEXT",
    "NO_SEARCH",
    "ROW",
    "day_after",
    "day_start",
    "excerpt",
    "filter_words",
    "match_span",
    "split_filters",
    "unsupported",
]

#: What a server without search (the original Lair Chat, an older lairchat) is said
#: to have, rather than its bare 404.
NO_SEARCH = "This server has no message search"
#: Characters of a line kept before its match, so that the match is on the row.
CONTEXT = 24
#: Characters of a line kept from its match on: more than a terminal's row shows.
ROW = 200


def _folded(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` folded a piece at a time (a character and the combining marks after
    it: ``e`` and an accent are the ``é`` a query typed precomposed must find), and
    for each character of the result the characters (start, end) it came from. The
    query is folded alike, as the browser must fold it (``foldedUnits``)."""
    starts = [i for i, char in enumerate(text) if i == 0 or not _combining(char)]
    folded: list[str] = []
    owner: list[tuple[int, int]] = []
    # The ends: each next start, and the text's end (none for an empty text).
    for start, end in zip(starts, [*starts[1:], len(text)][: len(starts)], strict=True):
        piece = fold(text[start:end])
        folded.append(piece)
        owner.extend([(start, end)] * len(piece))
    return "".join(folded), owner


def _combining(char: str) -> bool:
    """A combining mark (Unicode category M), as the browser's ``\\p{M}``."""
    return unicodedata.category(char).startswith("M")


def match_span(content: str, query: str) -> tuple[int, int] | None:
    """Where in ``content`` the first match of ``query`` is (start, end), or None
    when the server's rule found it where this one cannot (a match across pieces
    that normalise differently apart than together): then nothing is marked."""
    wanted = _folded(query.strip())[0]
    if not wanted:
        return None
    folded, owner = _folded(content)
    at = folded.find(wanted)
    if at < 0:
        return None
    return owner[at][0], owner[at + len(wanted) - 1][1]


def excerpt(content: str, query: str) -> tuple[str, str, str]:
    """The line of ``content`` that holds the match, as (before, match, after): at
    most :data:`CONTEXT` characters before it (``…`` when cut), the match (up to the
    line's end), the rest of the line, up to :data:`ROW` characters from the match.
    No match found: the first line, unmarked.

    Only the first ``CONTENT_MAX`` characters are looked at, which hold every message
    lairchat accepts (that many bytes) whole, as the mention rule does: a megabyte
    from another server, folded a character at a time, took seconds a result."""
    head = content[:CONTENT_MAX]
    span = match_span(head, query)
    if span is None:
        return head.split("\n", 1)[0][:ROW], "", ""
    start, end = span
    line_start = head.rfind("\n", 0, start) + 1
    line_end = head.find("\n", start)
    if line_end < 0:
        line_end = len(head)
    end = min(end, line_end)
    before = head[line_start:start]
    if len(before) > CONTEXT:
        before = "…" + before[-CONTEXT:]
    return before, head[start:end], head[end : min(line_end, start + ROW)]


#: A filter word of ``/search``, anywhere among the words: ``from:NAME``,
#: ``since:YYYY-MM-DD``, ``until:YYYY-MM-DD``, with the white space before it.
_FILTER = re.compile(r"(?:^|\s+)(from|since|until):(\S*)(?=\s|$)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def split_filters(text: str) -> tuple[str, str | None, date | None, date | None]:
    """``/search``'s words as (the text, the author's name, since, until): the filter
    words are taken out wherever they are (the text keeps its other white space, which
    the server matches as typed), ``from:@bob`` is bob. :class:`ValueError`, saying
    what to type, for an empty name, a date that is not one, or ``until`` before
    ``since`` (both days are included: ``until`` is the last day searched)."""
    found: dict[str, str] = {}
    for word, value in _FILTER.findall(text):
        found[word] = value
    author = found.get("from", "").lstrip("@") if "from" in found else None
    if author == "":
        raise ValueError("from: wants a user name, from:NAME")
    days = []
    for word in ("since", "until"):
        value = found.get(word)
        day = None
        if value is not None:
            try:
                day = date.fromisoformat(value) if _DATE.fullmatch(value) else None
            except ValueError:
                day = None
            if day is None:
                raise ValueError(f"{word}: wants a date, {word}:YYYY-MM-DD")
        days.append(day)
    since, until = days
    if since is not None and until is not None and until < since:
        raise ValueError("until: is the last day searched, not before since:")
    return _FILTER.sub("", text).strip(), author, since, until


def day_start(day: date, tz: tzinfo | None = None) -> str:
    """The RFC 3339 time a day starts at in the local zone (or ``tz``), as the
    server's ``since`` and ``until`` take it: the reader's days, not UTC's."""
    midnight = datetime.combine(day, time())
    return (midnight.replace(tzinfo=tz) if tz else midnight.astimezone()).isoformat()


def day_after(day: date, tz: tzinfo | None = None) -> str:
    """The start of the day after ``day``: ``until`` as the server takes it
    (exclusive) for ``day`` as the reader means it (the last day searched)."""
    return day_start(day + timedelta(days=1), tz)


def filter_words(author: str | None, since: date | None, until: date | None) -> str:
    """The filters as the results' header says them: " from bob since 2026-01-05"."""
    words = [f" from {author}" if author else ""]
    words += [
        f" {word} {day.isoformat()}" for word, day in (("since", since), ("until", until)) if day
    ]
    return "".join(words)
