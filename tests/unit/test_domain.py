"""Domain rules without I/O: validation (DOMAIN.md §2.1, §7.1, §10), ids, timestamps,
roles, errors and wire shapes (PROTOCOL.md §0.3, §10, §11)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import orjson
import pytest

from lairchat.core.rooms import parse_room_role
from lairchat.domain import validation
from lairchat.domain.errors import CODES, LairError, validation_error, validation_failed
from lairchat.domain.ids import new_id, new_ordered_id, parse_uuid
from lairchat.domain.timefmt import parse_ts, ts, ts_plus
from lairchat.domain.types import (
    Ban,
    Invitation,
    Member,
    Membership,
    Message,
    Room,
    Session,
    Target,
    User,
    room_role,
    system_role,
)

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
ALNUM = "invalid format: must contain only alphanumeric characters or underscore"


def refused(check, value, code: str) -> str:
    with pytest.raises(LairError) as info:
        check(value)
    assert info.value.code == code
    return info.value.message


# -- usernames ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    [
        "abc",
        "a_b",
        "abc_",
        "ABC123",
        "a" * 32,
        "éa",  # 3 bytes, two characters
        "日本",  # 6 bytes
        "日" * 10,  # 30 bytes
        "Ωμέγα",
        "١٢٣",  # Arabic-Indic digits are numeric
        # Vowel signs are Alphabetic (Other_Alphabetic), as Rust's is_alphanumeric
        # says and Lair Chat accepts, though Python's isalnum says no:
        "राहुल",  # Rahul, Devanagari: U+093E, U+0941
        "অমিত",  # Amit, Bengali: U+09BF
        "அருண",  # Arun, Tamil: U+0BC1
        "อภิชาติ",  # Thai: U+0E34, U+0E34
    ],
)
def test_username_accepted_as_given(username):
    assert validation.check_username(username) == username


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("", "value too short: minimum 3, got 0"),
        ("ab", "value too short: minimum 3, got 2"),
        ("é", "value too short: minimum 3, got 2"),  # bytes, not characters
        ("_a", "value too short: minimum 3, got 2"),  # length is checked before format
        ("a" * 33, "value too long: maximum 32, got 33"),
        ("日" * 11, "value too long: maximum 32, got 33"),  # 11 characters, 33 bytes
        ("_" * 40, "value too long: maximum 32, got 40"),
        ("_abc", "invalid format: cannot start with underscore"),
        ("__ab", "invalid format: cannot start with underscore"),
        ("ab c", ALNUM),
        ("abc ", ALNUM),  # not trimmed
        (" abc", ALNUM),
        ("ab-c", ALNUM),
        ("ab.c", ALNUM),
        ("ab@c", ALNUM),
        ("ab!c", ALNUM),
        ("abc\n", ALNUM),
        ("रा\u094dम", ALNUM),  # a virama is a mark but not Alphabetic: Lair Chat refuses it too
        ("x\u0301yz", ALNUM),  # nor is an acute accent
    ],
)
def test_username_refused(username, reason):
    message = refused(validation.check_username, username, "username_invalid")
    assert message == f"Username invalid: {reason}"


@pytest.mark.parametrize(
    ("username", "plain"),
    [
        ("ａｌｉｃｅ", "alice"),  # fullwidth letters
        ("\u210cello", "Hello"),  # a blackletter capital
        ("ﬁnn", "finn"),  # a ligature
        ("admin²", "admin2"),  # a superscript digit
    ],
)
def test_usernames_that_look_like_plainer_ones_are_refused(username, plain):
    """Each looks like (or is, once normalised) another name: the user it would pass
    for. The original took them all. Names already plain are unchanged (above)."""
    message = refused(validation.check_username, username, "username_invalid")
    assert (
        message
        == f"Username invalid: invalid format: must be written in plain characters ({plain})"
    )
    assert validation.check_username(plain) == plain


# -- emails ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "alice@example.com"),
        ("ÜBER@BEISPIEL.DE", "über@beispiel.de"),  # full Unicode lowercase
        ("a b@x.io", "a b@x.io"),  # nothing else is checked
        ('"quoted"@x.io', '"quoted"@x.io'),
        (" a@x.io ", " a@x.io "),  # not trimmed
        ("a@.", "a@."),
        ("a" * 249 + "@x.io", "a" * 249 + "@x.io"),  # 254 bytes
    ],
)
def test_email_accepted_and_lowercased(email, stored):
    assert validation.check_email(email) == stored


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("a" * 250 + "@x.io", "value too long: maximum 254, got 255"),
        ("é" * 125 + "@x.io", "value too long: maximum 254, got 255"),  # bytes
        ("a" * 255, "value too long: maximum 254, got 255"),  # length checked first
        ("", "invalid format: missing @ symbol"),
        ("alice.example.com", "invalid format: missing @ symbol"),
        ("a@b@c.d", "invalid format: must contain exactly one @ symbol"),
        ("@@", "invalid format: must contain exactly one @ symbol"),
        ("@x.io", "invalid format: local part cannot be empty"),
        ("@", "invalid format: local part cannot be empty"),  # local part before domain
        ("a@", "invalid format: domain cannot be empty"),
        ("a@localhost", "invalid format: domain must contain a dot"),
        ("a.b@localhost", "invalid format: domain must contain a dot"),
    ],
)
def test_email_refused(email, reason):
    message = refused(validation.check_email, email, "email_invalid")
    assert message == f"Email invalid: {reason}"


# -- passwords ------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["12345678", "        ", "éééé", "a" * 1000])
def test_password_accepted(password):
    assert validation.check_password(password) == password


@pytest.mark.parametrize("password", ["", "1234567", "ééé", " 123456"])
def test_password_refused(password):
    message = refused(validation.check_password, password, "password_too_weak")
    assert message == "Password too weak: password must be at least 8 characters"


# -- room names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("general", "general"),
        ("  general \t\n", "general"),
        ("\u3000x\u3000", "x"),  # Unicode whitespace is trimmed
        ("\x85\u2029x\u205f", "x"),  # all of it (Unicode's White_Space property)
        ("Room #1: Q&A!", "Room #1: Q&A!"),
        ("a  b", "a  b"),  # inner spaces kept
        ("a" * 64, "a" * 64),
        (" " + "a" * 64 + " ", "a" * 64),  # measured after trimming
        ("日" * 21, "日" * 21),  # 63 bytes
    ],
)
def test_room_name_trimmed_and_accepted(name, stored):
    assert validation.check_room_name(name) == stored


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "value cannot be empty"),
        ("   ", "value cannot be empty"),
        ("\u3000\n", "value cannot be empty"),
        ("a" * 65, "value too long: maximum 64, got 65"),
        ("日" * 22, "value too long: maximum 64, got 66"),
        ("é" * 33, "value too long: maximum 64, got 66"),
        # Not whitespace (Unicode's White_Space), so not trimmed: a control, refused.
        (
            "\x1cgeneral",
            "invalid format: must not contain control or invisible characters (U+001C)",
        ),
    ],
)
def test_room_name_refused(name, reason):
    message = refused(validation.check_room_name, name, "room_name_invalid")
    assert message == f"Room name invalid: {reason}"


HIDDEN_LIST = orjson.loads(
    (Path(__file__).parents[1] / "fixtures" / "hidden_characters.json").read_bytes()
)
HIDDEN_ENDS = [chr(int(r[end], 16)) for r in HIDDEN_LIST["marked"] for end in ("first", "last")]


@pytest.mark.parametrize("char", [*HIDDEN_ENDS, "\x00", "\t", "\x1b", "\x7f", "\x85"])
def test_room_names_with_hidden_characters_are_refused(char):
    """Our addition: a name is how people tell rooms apart; both clients would show
    these as marks, and other clients would not show them at all."""
    message = refused(validation.check_room_name, f"gen{char}eral", "room_name_invalid")
    assert message.startswith(
        "Room name invalid: invalid format: must not contain control or invisible characters"
    )
    assert f"(U+{ord(char):04X})" in message


@pytest.mark.parametrize("kept", HIDDEN_LIST["kept"], ids=lambda k: k["name"])
def test_room_names_keep_what_only_looks_hidden(kept):
    assert validation.check_room_name(f"x {kept['text']} y") == f"x {kept['text']} y"


@pytest.mark.parametrize("char", [c for c in HIDDEN_ENDS if c.isalnum()])
def test_usernames_with_letters_that_show_nothing_are_refused(char):
    """The Hangul fillers are letters to ``isalnum``, and show as nothing."""
    message = refused(validation.check_username, f"adm{char}in", "username_invalid")
    assert "must not contain control or invisible characters" in message


def test_description_bound_is_ours():
    assert validation.check_description(None) is None
    assert validation.check_description("d" * 1024) == "d" * 1024
    message = refused(validation.check_description, "é" * 513, "validation_failed")
    assert message == "Validation failed: description - value too long: maximum 1024, got 1026"


# -- message content ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "hi",
        "  hi  \n",
        "x" * 4096,
        "é" * 2048,
        "<b>&amp;</b>",
        "\u3000x",
        # Not Unicode White_Space (Python's isspace says they are; Lair Chat's Rust
        # trim, which the spec follows, keeps them): content, like a zero-width space.
        "\x1c\x1d\x1e\x1f",
        "\u200b",
    ],
)
def test_content_stored_exactly(content):
    assert validation.check_content(content) == content


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "value cannot be empty"),
        (" \t\r\n", "value cannot be empty"),
        ("\u3000\u00a0\u2003", "value cannot be empty"),  # Unicode whitespace
        ("\x85\u1680\u2028\u2029\u202f\u205f\x0b\x0c", "value cannot be empty"),  # all of it
        (" " * 5000, "value cannot be empty"),  # emptiness before length
        ("x" * 4097, "value too long: maximum 4096, got 4097"),
        ("é" * 2049, "value too long: maximum 4096, got 4098"),
    ],
)
def test_content_refused(content, reason):
    message = refused(validation.check_content, content, "content_invalid")
    assert message == f"Content invalid: {reason}"


# -- ids ------------------------------------------------------------------------------

CANON = "6f1c5f9e-2b7a-4c1e-9d3f-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    "text",
    [
        CANON,
        CANON.upper(),
        CANON.replace("-", ""),
        CANON.replace("-", "").upper(),
        "{" + CANON + "}",
        "{" + CANON.upper() + "}",
        "urn:uuid:" + CANON,
        "urn:uuid:" + CANON.upper(),
    ],
)
def test_parse_uuid_accepts_every_form(text):
    assert parse_uuid(text) == CANON


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        b"6f1c5f9e2b7a4c1e9d3f0a1b2c3d4e5f",
        "",
        "not-a-uuid",
        CANON[:-1],
        CANON + "0",
        CANON + " ",
        " " + CANON,
        CANON.replace("-", "")[:-1],
        CANON.replace("0", "g"),
        "6f1c5f9e2-b7a-4c1e-9d3f-0a1b2c3d4e5f",  # hyphens in the wrong places
        "6f1c-5f9e-2b7a-4c1e-9d3f0a1b2c3d4e5f",
        "{" + CANON,
        CANON + "}",
        "urn:uuid:{" + CANON + "}",
        "{urn:uuid:" + CANON + "}",
        "urn:uuid:" + CANON + "0",
        "x" * 100,
    ],
)
def test_parse_uuid_rejects(value):
    assert parse_uuid(value) is None


def test_new_id_is_canonical_v4():
    ids = {new_id() for _ in range(50)}
    assert len(ids) == 50
    for value in ids:
        assert parse_uuid(value) == value
        assert uuid.UUID(value).version == 4


def test_new_ordered_id_is_canonical_v7_and_sorts_by_time():
    before = time.time_ns() // 1_000_000
    ids = [new_ordered_id() for _ in range(1000)]  # past a refill of the random pool
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == 1000
    for value in ids:
        parsed = uuid.UUID(value)
        assert parse_uuid(value) == value
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after  # the millisecond it was made
    stamps = [uuid.UUID(v).int >> 80 for v in ids]
    assert stamps == sorted(stamps)
    # Every random digit is random: the variant digit takes each of its 4 values, the
    # 18 others vary (a digit left out of the tail's layout would be constant).
    assert {v[19] for v in ids} == set("89ab")
    for at in (15, 16, 17, 20, 21, 22, *range(24, 36)):
        assert len({v[at] for v in ids}) >= 8, at


# -- timestamps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (T0, "2023-11-14T22:13:20"),
        (T0 + 0.5, "2023-11-14T22:13:20.500"),
        (T0 + 0.123, "2023-11-14T22:13:20.123"),
        (T0 + 0.123456, "2023-11-14T22:13:20.123456"),
        (T0 + 0.000001, "2023-11-14T22:13:20.000001"),
        (T0 + 0.12345, "2023-11-14T22:13:20.123450"),
        (T0 + 0.1234567, "2023-11-14T22:13:20.123457"),  # rounded to microseconds
        (T0 + 0.9999999, "2023-11-14T22:13:21"),  # rounding carries into the second
        (0, "1970-01-01T00:00:00"),
    ],
)
def test_ts_and_ts_plus(t, text):
    assert ts(t) == text + "Z"
    assert ts_plus(t) == text + "+00:00"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2023-11-14T22:13:20Z", T0),
        ("2023-11-14T22:13:20z", T0),
        ("2023-11-14T22:13:20+00:00", T0),
        ("2023-11-14T23:13:20+01:00", T0),
        ("2023-11-14T22:13:20.5Z", T0 + 0.5),
        ("2023-11-14T22:13:20", T0),  # no offset reads as UTC
        ("2023-11-14 22:13:20Z", T0),
        ("2023-11-14t22:13:20Z", T0),
        ("2023-11-14T22:13:20.123456789Z", T0 + 0.123456),  # nanoseconds, cut to micro
    ],
)
def test_parse_ts(text, value):
    assert parse_ts(text) == pytest.approx(value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2023-13-01T00:00:00Z",
        CANON,
        # ISO 8601 forms that are not RFC 3339 (datetime.fromisoformat takes them all)
        "2020-W01-1",
        "20200101T000000Z",
        "2020-01-01",
        "2020-01-01T00:00:00,5Z",
        "2020-01-01T00:00:00+00:00:00.5",
        "2020-01-01T00:00",
        "2020-01-01T00:00:00+0100",
        "２０２０-01-01T00:00:00Z",  # fullwidth digits
    ],
)
def test_parse_ts_rejects(text):
    assert parse_ts(text) is None


def test_ts_round_trips_through_parse_ts():
    for t in (T0, T0 + 0.25, T0 + 0.123456):
        assert parse_ts(ts(t)) == pytest.approx(t)


# -- roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "role"),
    [
        ("user", "user"),
        ("moderator", "moderator"),
        ("admin", "admin"),
        ("ADMIN", "admin"),
        ("Moderator", "moderator"),
        ("owner", "user"),
        ("root", "user"),
        ("", "user"),
        (None, "user"),
    ],
)
def test_system_role_read_leniently(stored, role):
    assert system_role(stored) == role


@pytest.mark.parametrize(
    ("stored", "role"),
    [
        ("owner", "owner"),
        ("OWNER", "owner"),
        ("moderator", "moderator"),
        ("admin", "moderator"),
        ("Admin", "moderator"),
        ("member", "member"),
        ("user", "member"),
        ("", "member"),
        (None, "member"),
    ],
)
def test_room_role_read_leniently(stored, role):
    assert room_role(stored) == role


@pytest.mark.parametrize(
    ("given", "role"),
    [
        ("owner", "owner"),
        ("Owner", "owner"),
        ("moderator", "moderator"),
        ("MODERATOR", "moderator"),
        ("admin", "moderator"),
        ("member", "member"),
        ("superuser", "member"),
        ("", "member"),
        (" owner", "member"),  # no trimming: anything unrecognised is member
    ],
)
def test_room_role_input_parsed_leniently(given, role):
    assert parse_room_role(given) == role


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("invalid_credentials", 401, "Invalid credentials"),
        ("session_not_found", 401, "Session not found or expired"),
        ("session_expired", 401, "Session expired"),
        ("token_expired", 401, "Token expired"),
        ("permission_denied", 403, "Permission denied"),
        ("not_room_member", 403, "Not a member of this room"),
        ("not_message_author", 403, "Not the author of this message"),
        ("username_taken", 409, "Username already taken"),
        ("email_taken", 409, "Email already registered"),
        ("incorrect_password", 400, "Current password incorrect"),
        ("user_not_found", 404, "User not found"),
        ("room_not_found", 404, "Room not found"),
        ("message_not_found", 404, "Message not found"),
        ("invitation_not_found", 404, "Invitation not found"),
        ("already_member", 409, "Already a member of this room"),
        ("not_invitee", 409, "Not the invitee"),
        ("room_name_taken", 409, "Room name already taken"),
        ("already_invited", 409, "Invitation already sent"),
        ("room_full", 409, "Room is full"),
        ("room_private", 409, "Room requires invitation"),
        ("last_owner", 409, "Cannot leave as only owner"),
        ("invitation_expired", 409, "Invitation expired"),
        ("internal_error", 500, "Internal error"),
    ],
)
def test_error_codes_statuses_and_texts(code, status, message):
    error = LairError(code)
    assert (error.code, error.status, error.message) == (code, status, message)
    assert error.to_wire() == {"code": code, "message": message}
    assert list(error.to_wire()) == ["code", "message"]


def test_error_message_override_details_and_unknown_code():
    error = LairError("rate_limited", details={"retry_after": 3, "limit": 100})
    assert error.to_wire() == {
        "code": "rate_limited",
        "message": "Too many requests",
        "details": {"retry_after": 3, "limit": 100},
    }
    assert LairError("room_not_found", "gone").message == "gone"
    unknown = LairError("no_such_code")
    assert (unknown.status, unknown.message) == (500, "Internal error")
    assert str(LairError("room_full")) == "room_full: Room is full"


def test_validation_error_builders():
    assert validation_error("username_invalid", "x").message == "Username invalid: x"
    assert validation_error("content_invalid", "y").status == 400
    failed = validation_failed("target_type", "must be 'room' or 'direct_message'")
    assert failed.code == "validation_failed"
    assert failed.message == ("Validation failed: target_type - must be 'room' or 'direct_message'")


def test_every_code_has_a_status_and_message():
    for code, (status, message) in CODES.items():
        assert 400 <= status < 600, code
        assert message, code


# -- wire shapes (PROTOCOL.md §10) ----------------------------------------------------

U1, U2, R1, M1, S1, I1 = (str(uuid.UUID(int=i)) for i in range(1, 7))


def test_user_wire_shape_hides_the_hash():
    user = User(U1, "alice", "a@x.io", "user", T0 + 0.5, T0, password_hash="$argon2id$secret")
    wire = user.to_wire()
    assert wire == {
        "id": U1,
        "username": "alice",
        "email": "a@x.io",
        "role": "user",
        "created_at": "2023-11-14T22:13:20.500Z",
        "updated_at": "2023-11-14T22:13:20Z",
        "last_seen_at": None,
    }
    assert list(wire) == [
        "id",
        "username",
        "email",
        "role",
        "created_at",
        "updated_at",
        "last_seen_at",
    ]
    assert "secret" not in repr(user)
    # what other users see: the same shape with the email blanked
    assert user.public_wire() == {**wire, "email": ""}
    assert list(user.public_wire()) == list(wire)
    assert user.wire_for(U1) == wire
    assert user.wire_for(U2) == user.wire_for(None) == {**wire, "email": ""}


def test_session_wire_shape_uses_ts_plus():
    session = Session(S1, U1, T0, T0 + 86400)
    assert session.to_wire() == {"id": S1, "expires_at": "2023-11-15T22:13:20+00:00"}
    assert session.protocol == "http"


def test_session_listing_shape():
    """GET /auth/sessions' entry: the row as stored; a session made in memory (a
    login's, whose row says last_active_at = created_at) was last active when made."""
    fresh = Session(S1, U1, T0 + 0.5, T0 + 86400)
    assert fresh.to_listing(current=True) == {
        "id": S1,
        "protocol": "http",
        "created_at": "2023-11-14T22:13:20.500Z",
        "last_active_at": "2023-11-14T22:13:20.500Z",
        "expires_at": "2023-11-15T22:13:20+00:00",
        "ip_address": None,
        "user_agent": None,
        "current": True,
    }
    stored = Session(S1, U1, T0, T0 + 86400, "tcp", T0 + 60, "192.0.2.1", "lair-tui/0.8")
    listed = stored.to_listing(current=False)
    assert (listed["protocol"], listed["last_active_at"]) == ("tcp", "2023-11-14T22:14:20Z")
    assert (listed["ip_address"], listed["user_agent"], listed["current"]) == (
        "192.0.2.1",
        "lair-tui/0.8",
        False,
    )


def test_room_wire_shape():
    room = Room(R1, "general", U1, None, True, 10, T0, T0 + 5)
    wire = room.to_wire()
    assert wire == {
        "id": R1,
        "name": "general",
        "owner": U1,
        "settings": {"description": None, "is_private": True, "max_members": 10},
        "created_at": "2023-11-14T22:13:20Z",
    }
    assert list(wire) == ["id", "name", "owner", "settings", "created_at"]
    assert list(wire["settings"]) == ["description", "is_private", "max_members"]


def test_membership_and_member_wire_shapes():
    assert list(Membership(R1, U1, "owner", T0).to_wire().items()) == [
        ("room_id", R1),
        ("user_id", U1),
        ("role", "owner"),
        ("joined_at", "2023-11-14T22:13:20Z"),
    ]
    assert list(Member(U1, "alice", "member", T0, True).to_wire().items()) == [
        ("user_id", U1),
        ("username", "alice"),
        ("role", "member"),
        ("joined_at", "2023-11-14T22:13:20Z"),
        ("is_online", True),
    ]


@pytest.mark.parametrize(
    ("target", "wire"),
    [
        (Target("room", R1), {"type": "room", "room_id": R1}),
        (Target("dm", U2), {"type": "dm", "recipient": U2}),
    ],
)
def test_message_wire_shape(target, wire):
    message = Message(M1, U1, target, " hi ", True, T0 + 0.123456789, T0 + 9)
    out = message.to_wire()
    assert out == {
        "id": M1,
        "author": U1,
        "target": wire,
        "content": " hi ",
        "edited": True,
        "created_at": "2023-11-14T22:13:20.123457Z",
    }
    assert list(out) == ["id", "author", "target", "content", "edited", "created_at"]
    assert list(out["target"]) == list(wire)


def test_enriched_invitation_wire_shape():
    invitation = Invitation(
        I1, R1, U1, U2, "pending", T0, T0 + 7 * 86400, None, "general", "alice", "bob"
    )
    wire = invitation.to_wire()
    assert list(wire) == [
        "id",
        "room_id",
        "room_name",
        "inviter_id",
        "inviter_name",
        "invitee_id",
        "invitee_name",
        "status",
        "message",
        "created_at",
        "expires_at",
        "responded_at",
    ]
    assert wire["message"] is None
    assert wire["responded_at"] is None
    assert wire["expires_at"] == "2023-11-21T22:13:20Z"
    assert (wire["room_name"], wire["inviter_name"], wire["invitee_name"]) == (
        "general",
        "alice",
        "bob",
    )
    invitation.responded_at = T0 + 60
    assert invitation.to_wire()["responded_at"] == "2023-11-14T22:14:20Z"


@pytest.mark.parametrize(
    ("expires_at", "now", "active"),
    [(None, T0 + 10**9, True), (T0 + 10, T0 + 9, True), (T0 + 10, T0 + 10, False)],
)
def test_ban_active(expires_at, now, active):
    assert Ban(U1, None, None, T0, expires_at).active(now) is active
