"""Mention counts among a user's unread messages, read beside the unread counts
(:meth:`SQLiteStore.unread_counts`, :meth:`SQLiteStore.unread_count`;
docs/protocols/HTTP.md, ``/users/me``). Nothing is kept as messages are written (no
trigger, column or index on ``messages``: storing a message must cost no more), so
the count is made when asked, over the rows the unread count reads anyway (at most
UNREAD_MAX a conversation), in two steps:

1. While SQL counts a conversation's unread rows, it counts those that *may* mention
   the user (:func:`possible`): a test in C that never misses a mention, and lets
   nearly every message that is none go without leaving SQLite.
2. For the conversations with any, those rows are read again (the same index range,
   its pages now cached) and the rule itself (:func:`lairchat.domain.mentions.mentions`)
   decides, in the read's thread, for at most :data:`MATCH_SECONDS` a request: the
   rule normalizes each text (4 KiB of it takes 56 µs), so a thousand rooms of a
   thousand such messages naming the user would hold a read thread for a minute.
   Past that time the candidates left count as no mention: an ``@`` is shown only
   where there is a mention. Counting them all would put one beside every busy
   conversation whose text is not ASCII alone (each ``@`` there is a candidate),
   a worse answer than a mention left uncounted after a flood of them; the unread
   count still says something waits there.

Step 1 reads every unread message's text, which the unread count alone never did: a
user in 1,000 rooms with 1,000 unread messages of 4 KiB each waited 5.7 s for it
(0.4 s before), holding one of the two read threads. So it has :data:`SCAN_SECONDS`
(:func:`bounded`); past them the counts are made again without candidates, reading
no text, and no mention is counted in that answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from time import monotonic

from lairchat.domain.mentions import AT_SIGNS, fold, mentions

__all__ = [
    "MATCH_SECONDS",
    "SCAN_SECONDS",
    "SPAN",
    "bounded",
    "count",
    "deadline",
    "interrupted",
    "needle",
    "possible",
    "split",
]

#: How long one request may spend on the exact rule, past which the candidates left
#: count as none (search's bound is the same: docs/architecture.md, "Reads at scale").
MATCH_SECONDS = 0.2

#: How long step 1 (the counts with their candidates, every unread text read) may
#: take for one request, past which the counts are made without (see the module).
SCAN_SECONDS = 0.3

#: VM instructions between two looks at the clock while a bounded statement runs.
_CHECK_EVERY = 10_000


@contextmanager
def bounded(conn: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Statements run inside are interrupted once ``seconds`` have passed (they raise
    what :func:`interrupted` recognizes)."""
    until = monotonic() + seconds
    conn.set_progress_handler(lambda: monotonic() > until, _CHECK_EVERY)
    try:
        yield
    finally:
        conn.set_progress_handler(None, 0)


def interrupted(error: sqlite3.Error) -> bool:
    """Whether ``error`` is a statement stopped by :func:`bounded`."""
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT


#: One number carries a conversation's unread count (< SPAN) and its candidates: SQL's
#: scalar subquery answers one value, and one pass over the rows makes both.
SPAN = 1 << 16


def needle(username: str) -> str:
    """The SQL parameter :func:`possible` looks for: a ``LIKE`` pattern of ``@`` and
    the folded name anywhere (a ``_`` in the name matches any character there: more
    candidates, never fewer; no name holds ``%``)."""
    return f"%@{fold(username)}%"


def possible(text: str) -> str:
    """SQL: whether the text expression ``text`` may mention the user whose
    :func:`needle` is the parameter ``?3``. A superset of the rule, never a miss
    (tests/unit/test_mention_counts.py tries the clients' hard cases and a random
    corpus): first, the text must hold a character whose NFKC form holds ``@``
    (:data:`AT_SIGNS`; ``instr`` is a byte search, the cheapest test, and rules out
    most messages); then either

    - ``@`` and the folded name are in it, ASCII letters in any case (``LIKE``): all
      a text of ASCII alone can hold, since NFKC leaves ASCII as it is and case-folds
      it to lower case (a name that folds to more than ASCII is never found there,
      rightly); or
    - it is not ASCII alone, and the rule must say: ``length`` counts characters,
      ``CAST AS BLOB`` bytes, and the two differ exactly when a character is not
      ASCII, or a NUL ends SQLite's characters early (then ``LIKE`` stops there too).
    """
    signs = " OR ".join(f"instr({text}, '{sign}')" for sign in AT_SIGNS)
    return f"(({signs}) AND ({text} LIKE ?3 OR length({text}) < length(CAST({text} AS BLOB))))"


def split(packed: int) -> tuple[int, int]:
    """``(unread, candidates)`` out of the one number SQL answers (:data:`SPAN`)."""
    candidates, unread = divmod(packed, SPAN)
    return unread, candidates


def deadline() -> float:
    """When a request that starts now must stop matching (:data:`MATCH_SECONDS`)."""
    return monotonic() + MATCH_SECONDS


def count(
    cur: sqlite3.Cursor,
    wanted: Iterable[tuple[str, tuple]],
    username: str,
    deadline: float,
) -> list[int]:
    """How many rows of each ``(sql, args)`` (a conversation's candidates, one text a
    row) mention ``username``, as the rule decides until the ``monotonic`` time
    ``deadline``: the rows left then, and the conversations, count none (see the
    module)."""
    found = []
    for sql, args in wanted:
        n = 0
        if monotonic() <= deadline:
            for (text,) in cur.execute(sql, args):
                n += mentions(text, username)
                if monotonic() > deadline:
                    break
        found.append(n)
    return found
