"""Characters that hide or disguise text: one list for the server and both clients.

Names, room names and messages are shown to other people, who must be able to tell
them apart. Controls and the characters below are invisible, or change how the text
around them is laid out (``U+202E`` turns ``exe.txt`` into ``txt.exe``). Both clients
show every one as a visible mark (the web client by the same list in ``app.js``;
``tests/fixtures/hidden_characters.json`` holds both to it), and the server refuses
them in usernames and room names (:mod:`lairchat.domain.validation`): a name is how
people recognise each other, and ``admin`` followed by a zero-width space is not
``admin``.
"""

from __future__ import annotations

import re

__all__ = ["HIDDEN", "NAME_UNSAFE", "mark", "one_line", "unsafe_pattern"]

#: Invisible or layout-changing characters beyond the controls, as inclusive ranges:
#: ``tests/fixtures/hidden_characters.json``'s ``marked``, which the tests hold this to.
HIDDEN: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200B),  # zero-width space
    (0x200E, 0x200F),  # left-to-right and right-to-left marks
    (0x2028, 0x2029),  # line and paragraph separators
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2065),  # word joiner, invisible operators
    (0x2066, 0x2069),  # bidi isolates
    (0x206A, 0x206F),  # deprecated format characters
    (0x3164, 0x3164),  # Hangul filler
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x1D173, 0x1D17A),  # musical symbol format characters
    (0xE0000, 0xE007F),  # tag characters (but in an emoji tag sequence)
)

_HIDDEN_CLASS = "".join(rf"\U{first:08X}-\U{last:08X}" for first, last in HIDDEN)
#: A subdivision flag (England: ``U+1F3F4 U+E0067 … U+E007F``), whose tag
#: characters are kept.
_TAG_SEQUENCE = r"\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F"


def unsafe_pattern(c0: str) -> re.Pattern[str]:
    """A pattern whose group 1 is each character to show as a mark or refuse: the C0
    controls in the class ``c0``, DEL, the C1 controls and :data:`HIDDEN`. A match
    without group 1 is an emoji tag sequence, kept whole."""
    return re.compile(rf"{_TAG_SEQUENCE}|([{c0}\x7f-\x9f{_HIDDEN_CLASS}])")


#: What a name may not hold: every control (tab and newline too) and :data:`HIDDEN`.
NAME_UNSAFE = unsafe_pattern(r"\x00-\x1f")


def mark(char: str) -> str:
    """The visible stand-in for one character an :func:`unsafe_pattern` finds: C0
    controls as their control pictures (``ESC`` is ``␛``), ``DEL`` as ``␡``, the rest
    as ``U+XXXX``."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"U+{code:04X}"


def one_line(text: str) -> str:
    """``text`` as one line of plain output (the ``lairchat`` command's): every
    character of :data:`NAME_UNSAFE` as its :func:`mark`. Emails and ban reasons are
    stored as sent; printed raw, an escape sequence would act on the operator's
    terminal and a newline or carriage return forge or hide a line."""
    return NAME_UNSAFE.sub(lambda m: mark(m.group(1)) if m.group(1) else m.group(0), text)
