"""Mentions: whether a message addresses you as ``@name``.

One rule for the terminal client, which marks and counts mentions live, and for the
server, which counts those among a user's unread messages (``/users/me``'s
``unread_counts.mentions``, docs/protocols/HTTP.md). The rule (docs/CLIENT.md,
"Mentions and the bell"; the browser client follows the same one, tested alike by
tests/unit/test_mention_rule_agreement.py): the
content holds ``@`` and your username as a whole word. Both are compared in NFKC
form, case-folded (``@ÉMILE`` and ``＠émile`` name ``Émile``); the ``@`` must not
follow a character a username may hold (``a@name.com`` is an address, not a
mention), and the name must not go on with one (``@alice`` is not ``@alicebob`` or
``@alice_2``). Which characters those are is the server's own definition
(:data:`lairchat.domain.validation.USERNAME_CHAR`), so a name the server accepts is
found whole. Your own messages never mention you: that is the caller's rule
(the client's ``ClientState.mentions_me``; the server counts only others' messages),
since only it knows who wrote the message.
"""

from __future__ import annotations

import re
import unicodedata

from lairchat.domain.validation import CONTENT_MAX, USERNAME_CHAR

__all__ = ["AT_SIGNS", "fold", "mentions"]

#: Every character whose NFKC form holds ``@`` (the commercial at, its fullwidth and
#: small forms; tests/unit/test_mention_counts.py reads them all out of Unicode). A
#: text none of them is in mentions nobody, whatever NFKC does to the rest: what the
#: server's search for possible mentions relies on (SQLiteStore.unread_counts).
AT_SIGNS = "@\uff20\ufe6b"

#: ``@`` not after a name's character, and the whole run of them after it.
_CANDIDATE = re.compile(f"(?<!{USERNAME_CHAR})@({USERNAME_CHAR}+)")


def fold(text: str) -> str:
    """``text`` as names are compared: NFKC, then ``str.casefold``."""
    return unicodedata.normalize("NFKC", text).casefold()


def mentions(content: str, username: str) -> bool:
    """Whether ``content`` mentions ``username`` (see the module's rule)."""
    name = fold(username)
    # The first CONTENT_MAX characters hold every message lairchat accepts (that many
    # bytes) whole. Only another server sends more, and a megabyte of "@namex"
    # compared name by name took a second a message.
    plain = unicodedata.normalize("NFKC", content[:CONTENT_MAX])
    # Most messages do not hold the name at all: one pass in C says so, rather than
    # a regular-expression match at every ``@`` of a long message.
    if not name or name not in plain.casefold():
        return False
    return any(fold(found.group(1)) == name for found in _CANDIDATE.finditer(plain))
