"""X25519 + AES-256-GCM frame encryption (PROTOCOL.md §5)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lairchat.realtime.crypto import (
    MIN_FRAME_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    DecryptError,
    FrameCipher,
    KeyExchange,
    decode_public_key,
    encode_public_key,
)

# RFC 7748 §6.1 test vectors.
ALICE_PRIV = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUB = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIV = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUB = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")

FIXED_KEY = bytes(range(32))
FIXED_NONCE = bytes(range(100, 112))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def pair() -> tuple[FrameCipher, FrameCipher]:
    server, client = KeyExchange(), KeyExchange()
    s = server.agree(client.public_key_b64)
    c = client.agree(server.public_key_b64)
    assert s is not None and c is not None
    return s, c


def test_public_key_format() -> None:
    kx = KeyExchange()
    assert len(kx.public_key_b64) == 44 and kx.public_key_b64.endswith("=")
    assert len(base64.b64decode(kx.public_key_b64, validate=True)) == 32
    assert KeyExchange().public_key_b64 != kx.public_key_b64


def test_rfc7748_vectors_and_raw_secret_is_the_key() -> None:
    alice, bob = KeyExchange(ALICE_PRIV), KeyExchange(BOB_PRIV)
    assert alice.public_key_b64 == b64(ALICE_PUB)
    assert bob.public_key_b64 == b64(BOB_PUB)
    a, b = alice.agree(bob.public_key_b64), bob.agree(alice.public_key_b64)
    assert a is not None and b is not None
    # No KDF: the raw shared secret opens what either side seals.
    sealed = a.encrypt(b'{"type":"ping"}')
    assert (
        AESGCM(SHARED).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], None) == b'{"type":"ping"}'
    )
    assert b.decrypt(sealed) == b'{"type":"ping"}'


def test_both_sides_agree_and_round_trip_both_directions() -> None:
    server, client = pair()
    for plaintext in (b"", b'{"type":"ping"}', "h\u00e9llo \U0001f600".encode(), bytes(70_000)):
        assert server.decrypt(client.encrypt(plaintext)) == plaintext
        assert client.decrypt(server.encrypt(plaintext)) == plaintext


def test_frame_layout_and_fresh_nonces() -> None:
    cipher = FrameCipher(FIXED_KEY)
    one, two = cipher.encrypt(b"abc"), cipher.encrypt(b"abc")
    assert len(one) == NONCE_SIZE + 3 + TAG_SIZE
    assert one[:NONCE_SIZE] != two[:NONCE_SIZE]
    assert len(cipher.encrypt(b"")) == MIN_FRAME_SIZE == 28


def test_known_answer_layout() -> None:
    """Build the frame by hand: nonce || AES-GCM(key, nonce, pt, aad=None)."""
    plaintext = b'{"type":"key_exchange_response"}'
    by_hand = FIXED_NONCE + AESGCM(FIXED_KEY).encrypt(FIXED_NONCE, plaintext, None)
    cipher = FrameCipher(FIXED_KEY, random=lambda n: FIXED_NONCE[:n])
    assert cipher.encrypt(plaintext) == by_hand
    assert FrameCipher(FIXED_KEY).decrypt(by_hand) == plaintext
    # Empty plaintext: the frame is just nonce + tag, and the tag is GCM's.
    empty = FIXED_NONCE + AESGCM(FIXED_KEY).encrypt(FIXED_NONCE, b"", None)
    assert len(empty) == 28 and FrameCipher(FIXED_KEY).decrypt(empty) == b""


def test_associated_data_is_not_used() -> None:
    with_aad = FIXED_NONCE + AESGCM(FIXED_KEY).encrypt(FIXED_NONCE, b"x", b"aad")
    with pytest.raises(DecryptError):
        FrameCipher(FIXED_KEY).decrypt(with_aad)


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])
def test_tampered_frame(position: int) -> None:
    server, client = pair()
    frame = bytearray(client.encrypt(b'{"type":"ping","padding":"xxxxxxxx"}'))
    frame[position] ^= 0x01
    with pytest.raises(DecryptError):
        server.decrypt(bytes(frame))


def test_wrong_key() -> None:
    (_, client), (other, _) = pair(), pair()
    with pytest.raises(DecryptError):
        other.decrypt(client.encrypt(b"secret"))


@pytest.mark.parametrize("length", [0, 1, 12, 27])
def test_short_frame(length: int) -> None:
    with pytest.raises(DecryptError):
        FrameCipher(FIXED_KEY).decrypt(bytes(length))


def test_truncated_frame() -> None:
    frame = FrameCipher(FIXED_KEY).encrypt(b"hello")
    with pytest.raises(DecryptError):
        FrameCipher(FIXED_KEY).decrypt(frame[:-1])


def test_cipher_rejects_wrong_key_size() -> None:
    with pytest.raises(ValueError):
        FrameCipher(bytes(16))


URLSAFE_KEY = bytes([0xFB]) * 32  # standard base64 "+/v7…", urlsafe "-_v7…"


@pytest.mark.parametrize(
    "peer",
    [
        "",
        "not valid base64!!!",
        "aGVsbG8=",  # 5 bytes
        b64(bytes(33)),
        b64(bytes(31)),
        b64(BOB_PUB).rstrip("="),  # missing padding
        b64(BOB_PUB) + "=",  # extra padding
        " " + b64(BOB_PUB)[1:],  # whitespace
        b64(BOB_PUB)[:-2] + "\n=",
        base64.urlsafe_b64encode(URLSAFE_KEY).decode(),  # wrong alphabet
        "\u00e9" * 43 + "=",
        None,
        42,
        BOB_PUB,  # bytes, not str
    ],
    ids=repr,
)
def test_bad_peer_keys(peer: object) -> None:
    assert decode_public_key(peer) is None
    assert KeyExchange().agree(peer) is None  # type: ignore[arg-type]


def test_standard_alphabet_accepted() -> None:
    assert "+" in b64(URLSAFE_KEY) and "/" in b64(URLSAFE_KEY)
    assert decode_public_key(b64(URLSAFE_KEY)) == URLSAFE_KEY
    assert KeyExchange().agree(b64(URLSAFE_KEY)) is not None


def test_non_canonical_padding_bits_rejected() -> None:
    canonical = b64(BOB_PUB)
    assert decode_public_key(canonical) == BOB_PUB
    last = canonical[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    index = alphabet.index(last)
    for low_bits in (1, 2, 3):
        sloppy = canonical[:-2] + alphabet[(index & ~3) | low_bits] + "="
        # Python's lax decoder would accept it and yield the same bytes.
        assert base64.b64decode(sloppy) == BOB_PUB
        assert decode_public_key(sloppy) is None


def test_low_order_peer_key_rejected() -> None:
    # All-zero public key (and the order-8 point 1) give an all-zero shared secret.
    assert KeyExchange().agree(b64(bytes(32))) is None
    assert KeyExchange().agree(b64(b"\x01" + bytes(31))) is None


def test_public_key_helpers_round_trip() -> None:
    assert encode_public_key(ALICE_PUB) == b64(ALICE_PUB)
    assert decode_public_key(encode_public_key(ALICE_PUB)) == ALICE_PUB
