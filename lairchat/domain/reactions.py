"""Message reactions: what an emoji may be, and how many a message may carry.

The one place the rule is written (docs/protocols/HTTP.md, "Reactions"); the REST
routes, the real-time commands and the store's cap all come here. An emoji is shown
beside a message to everyone who reads the conversation, in both clients, so it is
held to what a name is held to (:mod:`lairchat.domain.hidden`), and a little more:
it is one short token with nothing invisible in it.
"""

from __future__ import annotations

import unicodedata

from lairchat.domain.errors import LairError, validation_failed
from lairchat.domain.hidden import NAME_UNSAFE

__all__ = ["EMOJI_MAX", "EMOJI_PER_MESSAGE", "USER_IDS_SHOWN", "check_emoji"]

#: Bytes of UTF-8 an emoji may take: the longest emoji sequences (a family of four
#: with skin tones) are about 30; a subdivision flag is 28.
EMOJI_MAX = 32
#: Distinct emoji one message may carry: a 21st new one is ``validation_failed``
#: (the store decides it in the write that would add it).
EMOJI_PER_MESSAGE = 20
#: ``user_ids`` a history answer lists per emoji (the first to react); ``count`` is
#: the full number.
USER_IDS_SHOWN = 50

#: What joins or varies an emoji: zero-width joiner, text and emoji presentation.
_JOINERS = frozenset("\u200d\ufe0e\ufe0f")
#: Categories refused: controls, format characters, surrogates, separators.
_REFUSED = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


def check_emoji(emoji: str) -> str:
    """The stored form of ``emoji`` (NFC), or ``validation_failed`` naming ``emoji``.

    Refused: empty, over :data:`EMOJI_MAX` bytes once in NFC, any whitespace,
    control, format character or separator but the zero-width joiner (U+200D) and
    the variation selectors U+FE0E/U+FE0F, and every invisible character names may
    not hold (``hidden.HIDDEN``), and ``/``, which no emoji holds and a REST path
    could not carry (its segment ends there); a subdivision flag's tag characters
    are kept. Any other character is taken (not only emoji: a client may offer
    ``+1``), so that an emoji newer than this server's Unicode tables is not
    refused."""
    if not isinstance(emoji, str) or not emoji:
        raise validation_failed("emoji", "value cannot be empty")
    emoji = unicodedata.normalize("NFC", emoji)
    size = len(emoji.encode("utf-8", "surrogatepass"))
    if size > EMOJI_MAX:
        raise validation_failed("emoji", f"must be at most {EMOJI_MAX} bytes (got {size})")
    for match in NAME_UNSAFE.finditer(emoji):
        if match.group(1):
            raise _invisible(match.group(1))
    # Tag sequences (a subdivision flag) are whole and kept; the rest is looked at.
    outside_tags = NAME_UNSAFE.sub(lambda m: m.group(0)[0], emoji)
    for char in outside_tags:
        if char in _JOINERS:
            continue
        if char == "/":
            raise validation_failed("emoji", "must not contain '/'")
        if char.isspace() or unicodedata.category(char) in _REFUSED:
            raise _invisible(char)
    return emoji


def _invisible(char: str) -> LairError:
    return validation_failed(
        "emoji",
        f"must not contain whitespace, control or invisible characters (U+{ord(char):04X})",
    )
