"""X25519 key agreement and AES-256-GCM frame sealing, byte-compatible with the
original's TCP encryption (PROTOCOL.md §5).

The scheme is deliberately minimal because the original's is: the raw 32-byte X25519
shared secret *is* the AES-256-GCM key (no KDF, same key both directions), and an
encrypted payload is ``nonce(12) || ciphertext || tag(16)`` with a fresh random nonce
and no associated data. Anything "better" here would break wire compatibility.

Both ends use the same classes. A server creates one :class:`KeyExchange` per
connection when the client asks for encryption and answers with
:attr:`KeyExchange.public_key_b64`; a client (our terminal client, tests) creates one,
sends :attr:`~KeyExchange.public_key_b64` in ``key_exchange`` and calls
:meth:`KeyExchange.agree` with the ``key_exchange_response`` key. Either side gets the
same :class:`FrameCipher`.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "KEY_SIZE",
    "MIN_FRAME_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "DecryptError",
    "FrameCipher",
    "KeyExchange",
    "decode_public_key",
    "encode_public_key",
]

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
#: Smallest valid encrypted payload: nonce plus tag (empty plaintext).
MIN_FRAME_SIZE = NONCE_SIZE + TAG_SIZE


class DecryptError(Exception):
    """An encrypted payload is too short or fails authentication (→ close, §1)."""


def encode_public_key(raw: bytes) -> str:
    """Standard base64 with padding: 32 bytes → 44 characters."""
    return base64.b64encode(raw).decode("ascii")


def decode_public_key(text: object) -> bytes | None:
    """Strictly decode a peer public key, or return None.

    Matches the original's decoder (standard alphabet, canonical ``=`` padding, no
    whitespace, no stray trailing bits) plus its 32-byte length check. Python's
    ``b64decode`` is laxer, so the result is re-encoded and compared to the input.
    """
    if not isinstance(text, str) or len(text) != 44:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != KEY_SIZE or encode_public_key(raw) != text:
        return None
    return raw


class FrameCipher:
    """AES-256-GCM over whole frame payloads, one key for both directions."""

    __slots__ = ("_aead", "_random")

    def __init__(self, key: bytes, *, random: Callable[[int], bytes] = os.urandom) -> None:
        """``random`` supplies nonces; override only to make tests deterministic."""
        if len(key) != KEY_SIZE:
            raise ValueError(f"AES-256-GCM key must be {KEY_SIZE} bytes, got {len(key)}")
        self._aead = AESGCM(bytes(key))
        self._random = random

    def encrypt(self, plaintext: bytes) -> bytes:
        """Return ``nonce || ciphertext || tag`` for one frame (no associated data)."""
        nonce = self._random(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, bytes(plaintext), None)

    def decrypt(self, frame: bytes) -> bytes:
        """Open ``nonce || ciphertext || tag``; raise :class:`DecryptError` on failure."""
        frame = bytes(frame)
        if len(frame) < MIN_FRAME_SIZE:
            raise DecryptError(f"encrypted frame too short: {len(frame)} < {MIN_FRAME_SIZE}")
        try:
            return self._aead.decrypt(frame[:NONCE_SIZE], frame[NONCE_SIZE:], None)
        except InvalidTag:
            raise DecryptError("authentication failed") from None


class KeyExchange:
    """One ephemeral X25519 key pair; usable by the server and the client alike."""

    __slots__ = ("_private", "_public_b64")

    def __init__(self, private_key: bytes | None = None) -> None:
        """Generate a fresh key pair, or load a raw 32-byte private key (tests)."""
        self._private = (
            X25519PrivateKey.generate()
            if private_key is None
            else X25519PrivateKey.from_private_bytes(private_key)
        )
        raw = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._public_b64 = encode_public_key(raw)

    @property
    def public_key_b64(self) -> str:
        """Our public key as sent in ``key_exchange``/``key_exchange_response``."""
        return self._public_b64

    def agree(self, peer_public_b64: str) -> FrameCipher | None:
        """Derive the shared :class:`FrameCipher`, or None if the peer key is unusable.

        None covers a key that is not strict base64 of 32 bytes and a low-order key
        giving an all-zero secret (``cryptography`` refuses those; the original would
        accept it, §5.5). The caller decides what to do (the original stays silent).
        """
        raw = decode_public_key(peer_public_b64)
        if raw is None:
            return None
        try:
            secret = self._private.exchange(X25519PublicKey.from_public_bytes(raw))
        except ValueError:
            return None
        if secret == bytes(KEY_SIZE):
            return None
        return FrameCipher(secret)
