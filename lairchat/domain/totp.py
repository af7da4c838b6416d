"""Time-based one-time passwords (RFC 6238, over RFC 4226's HOTP) and recovery codes:
the arithmetic of two-factor sign-in, without storage or clock (docs/SECURITY.md,
"Two-factor sign-in").

HMAC-SHA-1, 6 digits, 30-second steps, the code of one step either side of the
current one accepted too: what every authenticator app reads from an
``otpauth://totp/...`` URI (Google's "Key Uri Format").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import unicodedata
from urllib.parse import quote

DIGITS = 6
STEP = 30
#: Steps either side of the current one whose codes are accepted too (a phone's clock
#: a little off, a code typed as it changed).
DRIFT = 1
#: 160 bits, the length RFC 4226 recommends (and SHA-1's block of output).
SECRET_BYTES = 20
ISSUER = "lairchat"

RECOVERY_CODES = 10
#: Characters of a recovery code (base32's alphabet, lower case: no 0/O, 1/l to
#: confuse), 5 bits each: 60 bits.
RECOVERY_LENGTH = 12
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 §5.3: the ``digits``-digit code of ``counter`` (dynamic truncation)."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), digest).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(now: float) -> int:
    """RFC 6238's T: the number of whole steps since the Unix epoch."""
    return int(now // STEP)


def code_at(key: bytes, now: float) -> str:
    """The code an authenticator shows at ``now``."""
    return hotp(key, step_at(now))


def tidy(code: str) -> str:
    """A code as typed, without spaces and dashes (``492 039``, ``k7dq-3m2a-pz5x``),
    lower case. Any space (a pasted line's end, an app's no-break or thin space) and
    any dash (a word processor's en dash in a recovery code kept in a document)."""
    return "".join(c for c in code if not c.isspace() and unicodedata.category(c) != "Pd").lower()


def looks_like_totp(code: str) -> bool:
    """Six ASCII digits (after :func:`tidy`): an authenticator's code, else perhaps a
    recovery code."""
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(key: bytes, code: str, now: float) -> int | None:
    """The step within :data:`DRIFT` of ``now`` whose code ``code`` is, or None. Every
    candidate is compared, in constant time each."""
    if not looks_like_totp(code):
        return None
    current = step_at(now)
    found = None
    for step in range(current - DRIFT, current + DRIFT + 1):
        if hmac.compare_digest(hotp(key, step), code) and found is None:
            found = step
    return found


def new_secret() -> bytes:
    return os.urandom(SECRET_BYTES)


def base32(secret: bytes) -> str:
    """The secret as authenticators take it typed in: RFC 4648 base32, no padding."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def otpauth_uri(username: str, secret: bytes) -> str:
    """``otpauth://totp/lairchat:alice?secret=...&issuer=lairchat&...``: the label and
    the issuer percent-encoded (a username may be in any script)."""
    label = quote(f"{ISSUER}:{username}", safe=":")
    return (
        f"otpauth://totp/{label}?secret={base32(secret)}&issuer={quote(ISSUER)}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP}"
    )


def new_recovery_codes() -> list[str]:
    """:data:`RECOVERY_CODES` codes, each written ``xxxx-xxxx-xxxx``."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4)))
    return codes


def recovery_hash(user_id: str, code: str) -> str | None:
    """What is stored of a recovery code: SHA-256 of the account's id and the code
    (:func:`tidy`), hex; None for text that is no recovery code. 60 random bits each,
    so a plain hash suffices (nothing to stretch); the id keeps one account's
    hashes from being looked up in another's."""
    code = tidy(code)
    if len(code) != RECOVERY_LENGTH or any(c not in RECOVERY_ALPHABET for c in code):
        return None
    return hashlib.sha256(f"{user_id}:{code}".encode("ascii")).hexdigest()
