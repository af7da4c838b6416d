"""Field rules of the original server, byte-for-byte (lengths are UTF-8 bytes)."""

from __future__ import annotations

import re
import unicodedata

from lairchat.domain.alphabetic import OTHER_ALPHABETIC
from lairchat.domain.errors import LairError, validation_error
from lairchat.domain.hidden import NAME_UNSAFE

USERNAME_MIN, USERNAME_MAX = 3, 32
EMAIL_MAX = 254
PASSWORD_MIN = 8
ROOM_NAME_MAX = 64
CONTENT_MAX = 4096
#: Our own bound (the original has none): descriptions are shown in lists and must stay small.
DESCRIPTION_MAX = 1024
#: Unicode's White_Space property, what Lair Chat's Rust ``trim`` and ``is_whitespace``
#: use. Python's ``isspace``/``strip()`` also count U+001C..U+001F, which the original
#: keeps as content (a message of only those is a message there).
WHITE_SPACE = "".join(
    [
        "\t\n\x0b\x0c\r \x85\xa0\u1680",
        *map(chr, range(0x2000, 0x200B)),
        "\u2028\u2029\u202f\u205f\u3000",
    ]
)


#: One character a username may hold, as a regular-expression class: Lair Chat's
#: ``char::is_alphanumeric`` (Unicode's Alphabetic property or a number) or ``_``.
#: ``\w`` is exactly Python's ``isalnum`` and ``_``; Other_Alphabetic adds what that
#: misses. A class rather than a predicate so that the clients' mention rule
#: (``@name`` as a whole word, docs/CLIENT.md) finds names with the same alphabet.
USERNAME_CHAR = "[\\w" + "".join(map(re.escape, sorted(OTHER_ALPHABETIC))) + "]"
_USERNAME = re.compile(USERNAME_CHAR + "+")


def _too_short(minimum: int, got: int) -> str:
    return f"value too short: minimum {minimum}, got {got}"


def _too_long(maximum: int, got: int) -> str:
    return f"value too long: maximum {maximum}, got {got}"


def check_username(username: str) -> str:
    size = len(username.encode("utf-8"))
    if size < USERNAME_MIN:
        raise validation_error("username_invalid", _too_short(USERNAME_MIN, size))
    if size > USERNAME_MAX:
        raise validation_error("username_invalid", _too_long(USERNAME_MAX, size))
    if username.startswith("_"):
        raise validation_error("username_invalid", "invalid format: cannot start with underscore")
    if not _USERNAME.fullmatch(username):
        raise validation_error(
            "username_invalid",
            "invalid format: must contain only alphanumeric characters or underscore",
        )
    _check_visible("username_invalid", username)
    plain = unicodedata.normalize("NFKC", username)
    if plain != username:
        # Fullwidth, ligature, superscript or other compatibility characters:
        # "ａｌｉｃｅ" beside "alice" looks like the same user (our addition).
        raise validation_error(
            "username_invalid", f"invalid format: must be written in plain characters ({plain})"
        )
    return username


def _check_visible(code: str, name: str) -> None:
    """Refuse a name with a control or an invisible character (lairchat.domain.hidden):
    the original accepted them, so ``admin`` and ``admin`` with a Hangul filler were
    two names that look alike (our addition)."""
    found = next((m.group(1) for m in NAME_UNSAFE.finditer(name) if m.group(1)), None)
    if found is not None:
        raise validation_error(
            code,
            f"invalid format: must not contain control or invisible characters "
            f"(U+{ord(found):04X})",
        )


def check_email(email: str) -> str:
    """Validate and return the stored form (fully lowercased)."""
    size = len(email.encode("utf-8"))
    if size > EMAIL_MAX:
        raise validation_error("email_invalid", _too_long(EMAIL_MAX, size))
    ats = email.count("@")
    if ats == 0:
        raise validation_error("email_invalid", "invalid format: missing @ symbol")
    if ats > 1:
        raise validation_error("email_invalid", "invalid format: must contain exactly one @ symbol")
    local, domain = email.split("@")
    if not local:
        raise validation_error("email_invalid", "invalid format: local part cannot be empty")
    if not domain:
        raise validation_error("email_invalid", "invalid format: domain cannot be empty")
    if "." not in domain:
        raise validation_error("email_invalid", "invalid format: domain must contain a dot")
    return email.lower()


def check_password(password: str) -> str:
    if len(password.encode("utf-8")) < PASSWORD_MIN:
        raise validation_error("password_too_weak", "password must be at least 8 characters")
    return password


def check_room_name(name: str) -> str:
    """Trim (Unicode whitespace) and validate; returns the stored form."""
    name = name.strip(WHITE_SPACE)
    if not name:
        raise validation_error("room_name_invalid", "value cannot be empty")
    size = len(name.encode("utf-8"))
    if size > ROOM_NAME_MAX:
        raise validation_error("room_name_invalid", _too_long(ROOM_NAME_MAX, size))
    _check_visible("room_name_invalid", name)
    return name


def size_problem(value: str, maximum: int) -> str | None:
    """Why ``value`` is longer than ``maximum`` bytes of UTF-8, or None if it is not."""
    size = len(value.encode("utf-8"))
    return _too_long(maximum, size) if size > maximum else None


def check_description(description: str | None) -> str | None:
    if description is not None and (problem := size_problem(description, DESCRIPTION_MAX)):
        raise LairError("validation_failed", f"Validation failed: description - {problem}")
    return description


def check_content(content: str) -> str:
    """Content is stored exactly as sent; it must hold a non-whitespace character."""
    if not content.strip(WHITE_SPACE):
        raise validation_error("content_invalid", "value cannot be empty")
    # A code point is at most 4 bytes of UTF-8: short content needs no encoding.
    if len(content) * 4 > CONTENT_MAX and (size := len(content.encode("utf-8"))) > CONTENT_MAX:
        raise validation_error("content_invalid", _too_long(CONTENT_MAX, size))
    return content
