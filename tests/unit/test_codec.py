"""Client-frame decoding (PROTOCOL.md §0.1, §1, §7): normalization and rejection."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lairchat.domain.types import Target
from lairchat.realtime.codec import (
    CLIENT_TYPES,
    MAX_DEPTH,
    InvalidMessage,
    UndecodableFrame,
    decode,
    encode,
)

ROOM = "6f1c5f9e-2b7a-4c1e-9d3f-0a1b2c3d4e5f"
USER = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
ROOM_T = {"type": "room", "room_id": ROOM}
DM_T = {"type": "dm", "recipient": USER}
ROOM_FILTER_DEFAULT = {"search": None, "joined_only": False, "public_only": False}
USER_FILTER_DEFAULT = {"search": None, "online_only": False}


def frame(obj: Any) -> bytes:
    return orjson.dumps(obj)


def bad(payload: bytes) -> str:
    with pytest.raises(InvalidMessage) as info:
        decode(payload)
    assert info.value.message.startswith("Invalid JSON: ")
    assert str(info.value) == info.value.message
    assert "Traceback" not in info.value.message
    return info.value.message


# (type, minimal input fields, expected normalized fields) — request_id absent.
MINIMAL: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("client_hello", {"version": "1.0"}, {"version": "1.0", "client_name": None, "features": []}),
    ("key_exchange", {"public_key": "k"}, {"public_key": "k"}),
    ("authenticate", {"token": "t"}, {"token": "t"}),
    (
        "login",
        {"identifier": "a", "password": "p"},
        {"identifier": "a", "password": "p", "totp": None},
    ),
    (
        "register",
        {"username": "u", "email": "e", "password": "p"},
        {"username": "u", "email": "e", "password": "p"},
    ),
    ("logout", {}, {}),
    (
        "send_message",
        {"target": ROOM_T, "content": "hi"},
        {"target": Target("room", ROOM), "content": "hi"},
    ),
    ("edit_message", {"message_id": "m", "content": "c"}, {"message_id": "m", "content": "c"}),
    ("delete_message", {"message_id": "m"}, {"message_id": "m"}),
    (
        "get_messages",
        {"target": DM_T},
        {"target": Target("dm", USER), "limit": 50, "before": None, "after": None},
    ),
    (
        "create_room",
        {"name": "n"},
        {"name": "n", "description": None, "settings": None},
    ),
    ("get_room", {"room_id": "r"}, {"room_id": "r"}),
    ("list_rooms", {}, {"filter": ROOM_FILTER_DEFAULT, "limit": 50, "offset": 0}),
    ("join_room", {"room_id": "r"}, {"room_id": "r"}),
    ("leave_room", {"room_id": "r"}, {"room_id": "r"}),
    (
        "invite_to_room",
        {"room_id": "r", "user_id": "u"},
        {"room_id": "r", "user_id": "u", "message": None},
    ),
    ("accept_invitation", {"invitation_id": "i"}, {"invitation_id": "i"}),
    ("decline_invitation", {"invitation_id": "i"}, {"invitation_id": "i"}),
    ("list_invitations", {}, {}),
    ("get_user", {"user_id": "u"}, {"user_id": "u"}),
    ("list_users", {}, {"filter": USER_FILTER_DEFAULT, "limit": 50, "offset": 0}),
    ("get_current_user", {}, {}),
    ("typing", {"target": ROOM_T}, {"target": Target("room", ROOM)}),
    ("ping", {}, {}),
    ("mark_read", {"target": ROOM_T}, {"target": Target("room", ROOM), "up_to": None}),
    ("revoke_invitation", {"invitation_id": "i"}, {"invitation_id": "i"}),
    ("add_reaction", {"message_id": "m", "emoji": "e"}, {"message_id": "m", "emoji": "e"}),
    ("remove_reaction", {"message_id": "m", "emoji": "e"}, {"message_id": "m", "emoji": "e"}),
    ("pin_message", {"message_id": "m"}, {"message_id": "m"}),
    ("unpin_message", {"message_id": "m"}, {"message_id": "m"}),
    ("get_pins", {"room_id": "r"}, {"room_id": "r"}),
    (
        "create_invite_code",
        {"room_id": "r"},
        {"room_id": "r", "max_uses": None, "expires_in_hours": None},
    ),
    ("list_invite_codes", {"room_id": "r"}, {"room_id": "r"}),
    ("revoke_invite_code", {"room_id": "r", "code_id": "c"}, {"room_id": "r", "code_id": "c"}),
    ("join_by_invite_code", {"code": "c"}, {"code": "c"}),
    (
        "search_messages",
        {"query": "x"},
        {
            "query": "x",
            "target": None,
            "limit": None,
            "before": None,
            "author": None,
            "since": None,
            "until": None,
        },
    ),
]

# (type, full input fields, expected normalized fields)
FULL: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "client_hello",
        {"version": "1.1", "client_name": "Lair Chat TUI", "features": ["encryption", "x"]},
        {"version": "1.1", "client_name": "Lair Chat TUI", "features": ["encryption", "x"]},
    ),
    (
        "get_messages",
        {"target": ROOM_T, "limit": 2**32 - 1, "before": "b", "after": "a"},
        {"target": Target("room", ROOM), "limit": 2**32 - 1, "before": "b", "after": "a"},
    ),
    (
        "create_room",
        {
            "name": "n",
            "description": "d",
            "settings": {"public": False, "max_members": 10, "moderated": True},
        },
        {"name": "n", "description": "d", "settings": {"public": False, "max_members": 10}},
    ),
    (
        "create_room",
        {"name": "n", "description": None, "settings": {}},
        {"name": "n", "description": None, "settings": {"public": None, "max_members": None}},
    ),
    (
        "create_room",
        {"name": "n", "settings": {"public": None, "max_members": None}},
        {"name": "n", "description": None, "settings": {"public": None, "max_members": None}},
    ),
    (
        "list_rooms",
        {
            "filter": {"search": "q", "joined_only": True, "public_only": True},
            "limit": 0,
            "offset": 7,
        },
        {
            "filter": {"search": "q", "joined_only": True, "public_only": True},
            "limit": 0,
            "offset": 7,
        },
    ),
    (
        "list_rooms",
        {"filter": None},
        {"filter": ROOM_FILTER_DEFAULT, "limit": 50, "offset": 0},
    ),
    (
        "list_rooms",
        {"filter": {"search": None}},
        {"filter": ROOM_FILTER_DEFAULT, "limit": 50, "offset": 0},
    ),
    (
        "list_users",
        {"filter": {"search": "q", "online_only": True}, "limit": 3, "offset": 1},
        {"filter": {"search": "q", "online_only": True}, "limit": 3, "offset": 1},
    ),
    (
        "invite_to_room",
        {"room_id": "r", "user_id": "u", "message": "come"},
        {"room_id": "r", "user_id": "u", "message": "come"},
    ),
    (
        "mark_read",
        {"target": DM_T, "up_to": "m"},
        {"target": Target("dm", USER), "up_to": "m"},
    ),
    # limit and before as sent, whatever their type: the core's validation_failed.
    (
        "search_messages",
        {"query": "q", "target": DM_T, "limit": "5", "before": 7},
        {
            "query": "q",
            "target": Target("dm", USER),
            "limit": "5",
            "before": 7,
            "author": None,
            "since": None,
            "until": None,
        },
    ),
    # The filters too: a bad one is the core's validation_failed, naming it.
    (
        "search_messages",
        {"query": "", "author": 5, "since": "2026-01-01T00:00:00Z", "until": ["x"]},
        {
            "query": "",
            "target": None,
            "limit": None,
            "before": None,
            "author": 5,
            "since": "2026-01-01T00:00:00Z",
            "until": ["x"],
        },
    ),
]

NO_REQUEST_ID = {"client_hello", "key_exchange", "typing", "ping"}


def test_tables_cover_every_type() -> None:
    assert {t for t, _, _ in MINIMAL} == set(CLIENT_TYPES)


@pytest.mark.parametrize(("kind", "fields", "expected"), MINIMAL + FULL)
def test_valid_frames_normalize(kind: str, fields: dict, expected: dict) -> None:
    result = decode(frame({"type": kind, **fields}))
    assert result == {"type": kind, "request_id": None, **expected}
    assert list(result) == ["type", "request_id", *expected]


@pytest.mark.parametrize(("kind", "fields", "expected"), MINIMAL)
def test_request_id_handling(kind: str, fields: dict, expected: dict) -> None:
    with_id = decode(frame({"request_id": "r1", **fields, "type": kind, "junk": [1, {}]}))
    assert with_id["request_id"] == (None if kind in NO_REQUEST_ID else "r1")
    assert "junk" not in with_id
    assert decode(frame({"type": kind, "request_id": None, **fields}))["request_id"] is None
    wrong = frame({"type": kind, "request_id": 5, **fields})
    if kind in NO_REQUEST_ID:
        assert decode(wrong)["request_id"] is None
    else:
        assert "request_id" in bad(wrong)


def test_login_takes_an_optional_second_factor() -> None:
    login = {"type": "login", "identifier": "a", "password": "p"}
    assert decode(frame({**login, "totp": "123456"}))["totp"] == "123456"
    assert "totp" in bad(frame({**login, "totp": 123456}))


@pytest.mark.parametrize(
    ("kind", "fields", "_"), [m for m in MINIMAL if m[1]], ids=lambda v: str(v)[:20]
)
def test_each_required_field_missing_or_null(kind: str, fields: dict, _: dict) -> None:
    for name in fields:
        rest = {k: v for k, v in fields.items() if k != name}
        assert f"missing field `{name}`" in bad(frame({"type": kind, **rest}))
        bad(frame({"type": kind, **rest, name: None}))


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("authenticate", "token", 1),
        ("login", "password", ["p"]),
        ("send_message", "content", {"a": 1}),
        ("client_hello", "version", 1.0),
        ("client_hello", "client_name", 3),
        ("client_hello", "features", "encryption"),
        ("client_hello", "features", ["encryption", 1]),
        ("edit_message", "message_id", True),
        ("get_messages", "before", 5),
        ("get_messages", "after", False),
        ("create_room", "description", []),
        ("create_room", "settings", "public"),
        ("create_room", "settings", {"public": "yes"}),
        ("create_room", "settings", {"max_members": "5"}),
        ("list_rooms", "filter", []),
        ("list_rooms", "filter", {"joined_only": 1}),
        ("list_rooms", "filter", {"search": 1}),
        ("list_users", "filter", {"online_only": "true"}),
        ("invite_to_room", "message", 1),
        ("mark_read", "up_to", 1),
        ("add_reaction", "emoji", 1),
        ("remove_reaction", "message_id", None),
        ("pin_message", "message_id", 1),
        ("get_pins", "room_id", None),
        ("search_messages", "query", 1),
        ("search_messages", "target", "room"),
        ("create_invite_code", "max_uses", "5"),
        ("create_invite_code", "expires_in_hours", -1),
        ("join_by_invite_code", "code", None),
    ],
)
def test_ill_typed_fields(kind: str, field: str, value: Any) -> None:
    base = dict(next(f for t, f, _ in MINIMAL if t == kind))
    assert field in bad(frame({"type": kind, **base, field: value}))


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("client_hello", "features"),
        ("get_messages", "limit"),
        ("list_rooms", "limit"),
        ("list_rooms", "offset"),
        ("list_users", "limit"),
        ("list_users", "offset"),
        ("list_rooms", "filter.joined_only"),
        ("list_rooms", "filter.public_only"),
        ("list_users", "filter.online_only"),
    ],
)
def test_null_in_defaulted_field(kind: str, field: str) -> None:
    base = dict(next(f for t, f, _ in MINIMAL if t == kind))
    if "." in field:
        outer, inner = field.split(".")
        base[outer] = {inner: None}
    else:
        base[field] = None
    assert "null" in bad(frame({"type": kind, **base}))


U32_BAD = [-1, 2**32, 2**63, 1.5, 5.0, True, "5", [5]]


@pytest.mark.parametrize("value", U32_BAD, ids=repr)
@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("get_messages", ("limit",)),
        ("list_rooms", ("limit",)),
        ("list_rooms", ("offset",)),
        ("list_users", ("offset",)),
        ("create_room", ("settings", "max_members")),
    ],
)
def test_bad_u32(kind: str, path: tuple[str, ...], value: Any) -> None:
    base = dict(next(f for t, f, _ in MINIMAL if t == kind))
    if len(path) == 2:
        base[path[0]] = {path[1]: value}
    else:
        base[path[0]] = value
    assert "u32" in bad(frame({"type": kind, **base}))


def test_u32_bounds_raw() -> None:
    # Written by hand so the numbers are exactly what a client could put on the wire.
    assert decode(b'{"type":"list_rooms","limit":4294967295,"offset":0}')["limit"] == 2**32 - 1
    bad(b'{"type":"list_rooms","limit":4294967296}')
    bad(b'{"type":"list_rooms","limit":1e2}')
    bad(b'{"type":"list_rooms","limit":-0.0}')
    bad(b'{"type":"list_rooms","limit":123456789012345678901234567890}')


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (ROOM_T, Target("room", ROOM)),
        (DM_T, Target("dm", USER)),
        ({"type": "direct_message", "recipient": USER}, Target("dm", USER)),
        ({"room": ROOM}, Target("room", ROOM)),
        ({"type": "room", "room_id": ROOM.upper().replace("-", "")}, Target("room", ROOM)),
        ({"type": "dm", "recipient": "{" + USER + "}", "room_id": 5}, Target("dm", USER)),
        ({"type": "room", "room_id": "urn:uuid:" + ROOM, "extra": 1}, Target("room", ROOM)),
    ],
)
def test_target_forms(target: dict, expected: Target) -> None:
    for kind in ("send_message", "get_messages", "typing", "mark_read"):
        assert decode(frame({"type": kind, "target": target, "content": "x"}))["target"] == expected


@pytest.mark.parametrize(
    "target",
    [
        None,
        "room",
        [ROOM],
        {},
        {"type": "room"},
        {"type": "room", "recipient": USER},
        {"type": "dm", "room_id": ROOM},
        {"type": "room", "room_id": "not-a-uuid"},
        {"type": "room", "room_id": 5},
        {"type": "dm", "recipient": None},
        {"type": "user", "recipient": USER},
        {"type": "Room", "room_id": ROOM},
        {"type": 1, "room_id": ROOM},
        {"room": "nope"},
        {"dm": USER},
    ],
    ids=repr,
)
def test_bad_targets(target: Any) -> None:
    assert "target" in bad(frame({"type": "send_message", "target": target, "content": "x"}))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b" ",
        b"not json",
        b"{",
        b'{"type":"ping"}x',
        b'{"type":"ping",}',
        b"NaN",
        b'\xef\xbb\xbf{"type":"ping"}',
        b'"\\ud800"',
        b"1e400",
    ],
    ids=repr,
)
def test_invalid_json(payload: bytes) -> None:
    bad(payload)


@pytest.mark.parametrize("value", [1, 1.5, "ping", None, True, [], [{"type": "ping"}]], ids=repr)
def test_top_level_not_object(value: Any) -> None:
    bad(frame(value))


@pytest.mark.parametrize(
    ("obj", "needle"),
    [
        ({}, "missing field `type`"),
        ({"request_id": "x"}, "missing field `type`"),
        ({"type": None}, "type"),
        ({"type": 5}, "type"),
        ({"type": ["ping"]}, "type"),
        ({"type": "foo"}, "unknown variant `foo`"),
        ({"type": "Ping"}, "unknown variant `Ping`"),
        ({"type": "pong"}, "unknown variant `pong`"),
        ({"type": "error"}, "unknown variant `error`"),
    ],
)
def test_type_errors(obj: dict, needle: str) -> None:
    assert needle in bad(frame(obj))


def test_type_anywhere_and_extra_fields_ignored() -> None:
    assert decode(b'{"a":{"b":[1,2]},"type":"ping","request_id":7}') == {
        "type": "ping",
        "request_id": None,
    }


def test_whitespace_and_unicode() -> None:
    payload = ' \r\n\t{"content":"h\u00e9llo \U0001f600","type":"send_message","target":%s} \n'
    result = decode((payload % orjson.dumps(ROOM_T).decode()).encode())
    assert result["content"] == "h\u00e9llo \U0001f600"


def test_accepts_bytearray_and_memoryview() -> None:
    raw = b'{"type":"ping"}'
    assert decode(bytearray(raw))["type"] == "ping"
    assert decode(memoryview(raw))["type"] == "ping"


def nested(depth: int) -> bytes:
    """A valid ping whose ignored field makes the whole document ``depth`` deep."""
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)
    return b'{"type":"ping","x":' + inner + b"}"


def test_nesting_limit() -> None:
    assert decode(nested(MAX_DEPTH))["type"] == "ping"
    assert "recursion" in bad(nested(MAX_DEPTH + 1))
    assert "recursion" in bad(b'{"type":"ping","x":' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"}")
    bad(b"[" * 5000 + b"]" * 5000)  # orjson's own limit, no Python recursion
    bad(b'{"type":"ping","x":' + b"[" * 100_000)
    # Many brackets but shallow: the cheap pre-check passes, the walk accepts.
    wide = b'{"type":"ping","x":[' + b",".join([b"[]"] * 1000) + b"]}"
    assert decode(wide)["type"] == "ping"


@pytest.mark.parametrize(
    "payload",
    [b"\xff", b'{"type":"ping","x":"\xc3"}', b'{"type":"\xed\xa0\x80"}', b"\x80{}", b"\xc0\xaf"],
    ids=repr,
)
def test_invalid_utf8_is_undecodable(payload: bytes) -> None:
    with pytest.raises(UndecodableFrame):
        decode(payload)


def test_invalid_message_is_not_undecodable() -> None:
    assert not issubclass(InvalidMessage, UndecodableFrame)
    assert not issubclass(UndecodableFrame, InvalidMessage)


def test_encode() -> None:
    obj = {"type": "error", "code": "x", "message": "h\u00e9 \U0001f600", "n": None, "b": [True]}
    out = encode(obj)
    assert (
        out
        == '{"type":"error","code":"x","message":"h\u00e9 \U0001f600","n":null,"b":[true]}'.encode()
    )
    assert list(orjson.loads(out)) == list(obj)


# Bytes that are mostly valid UTF-8 and JSON-ish, so the property reaches the parser.
json_ish_bytes = st.text(
    alphabet='{}[]",:0123456789.-+eE truefalsn\\ud\u00e9type', max_size=64
).map(str.encode)


@given(st.binary(max_size=256) | json_ish_bytes)
def test_arbitrary_bytes_only_raise_protocol_errors(payload: bytes) -> None:
    with contextlib.suppress(InvalidMessage, UndecodableFrame):
        decode(payload)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from([ROOM, USER, "room", "dm", "direct_message"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["type", "room_id", "recipient", "room", "public", "max_members", "search"]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=6,
)


@given(
    st.sampled_from(sorted(CLIENT_TYPES)),
    st.dictionaries(
        st.sampled_from(
            [
                "request_id",
                "version",
                "features",
                "target",
                "content",
                "limit",
                "offset",
                "filter",
                "settings",
                "room_id",
                "message_id",
                "before",
                "up_to",
                "token",
            ]
        ),
        json_values,
        max_size=6,
    ),
)
def test_arbitrary_objects_only_raise_invalid_message(kind: str, fields: dict) -> None:
    try:
        result = decode(frame({"type": kind, **fields}))
    except InvalidMessage as exc:
        assert exc.message.startswith("Invalid JSON: ")
    else:
        assert result["type"] == kind
        encode({k: v for k, v in result.items() if k != "target"})


def test_request_id_is_bounded() -> None:
    import orjson

    from lairchat.realtime.codec import REQUEST_ID_MAX, InvalidMessage, decode

    ok = decode(orjson.dumps({"type": "list_invitations", "request_id": "r" * REQUEST_ID_MAX}))
    assert len(ok["request_id"]) == REQUEST_ID_MAX
    try:
        decode(orjson.dumps({"type": "list_invitations", "request_id": "r" * 5000}))
    except InvalidMessage as e:
        assert e.message == f"Invalid JSON: request_id longer than {REQUEST_ID_MAX} characters"
    else:
        raise AssertionError("an oversized request_id was accepted")


def _outcome(payload: bytes) -> Any:
    try:
        return decode(payload)
    except InvalidMessage as exc:
        return ("invalid", exc.message)


#: Nested past MAX_DEPTH (32).
DEEP: Any = 0
for _ in range(40):
    DEEP = [DEEP]

SEND_TARGETS = [
    ROOM_T,
    {"type": "room", "room_id": ROOM.upper()},
    {"type": "room", "room_id": "{" + ROOM + "}"},
    {"type": "room", "room_id": "nope"},
    {"type": "room", "room_id": 5},
    {"type": "room", "room_id": None},
    {"type": "Room", "room_id": ROOM},
    {"type": None, "room_id": ROOM},
    {"room": ROOM},
    DM_T,
    {"type": "dm", "recipient": USER, "room_id": ROOM},
    None,
    [ROOM],
    # Fields the schema ignores, shallow and nested past the depth limit.
    {"type": "room", "room_id": ROOM, "x": 1},
    {"type": "room", "room_id": ROOM, "x": DEEP},
]


def test_common_send_message_path_matches_the_schema() -> None:
    """The shortcut for ``send_message`` to a known room gives exactly what the
    schema table gives, for every combination below: the same dict, or the same
    error text."""
    from lairchat.realtime import codec

    contents = ["hi", " ", "", None, 5, ["hi"]]
    request_ids = [None, "r1", "", "r" * 256, "r" * 257, 5, True]
    extras = [{}, {"x": None}, {"x": DEEP}]
    cases = itertools.product(SEND_TARGETS, contents, request_ids, range(8), extras)
    for target, content, request_id, dropped, extra in cases:
        fields = {"target": target, "content": content, "request_id": request_id}
        kept = {k: v for i, (k, v) in enumerate(fields.items()) if not dropped & (1 << i)}
        kept.update(extra)
        payload = frame({"type": "send_message", **kept})
        codec._ROOM_TARGETS.clear()
        general = _outcome(payload)  # a room id not seen yet takes the schema path
        for known in (ROOM_T, target):
            _outcome(frame({"type": "send_message", "target": known, "content": "x"}))
        assert _outcome(payload) == general, kept  # the room may now be known


_E = "é".encode()
_TARGET = b'"target":{"type":"room","room_id":"' + ROOM.encode() + b'"}'


@pytest.mark.parametrize(
    "payload",
    [
        b'{"type":"send_message",%s,"content":"a","content":"b"}' % _TARGET,
        b'{"type":"send_message","type":"send_message",%s,"content":"a"}' % _TARGET,
        b'{"type":"ping","type":"send_message",%s,"content":"a"}' % _TARGET,
        b'{"type":"send_message",%s,"content":"\\ud800"}' % _TARGET,
        b'{"type":"send_message",%s,"content":"\\ud83d\\ude00\\u0000"}' % _TARGET,
        b'{"type":"send_message",%s,"content":"\xff"}' % _TARGET,
        b'{"type":"send_message",%s,"content":"\xed\xa0\x80"}' % _TARGET,
        b'{"type":"send_message",%s,"content":"a\nb"}' % _TARGET,
        b'\xef\xbb\xbf{"type":"send_message",%s,"content":"a"}' % _TARGET,
        b'\x0c{"type":"send_message",%s,"content":"a"}' % _TARGET,
        b' {"type" : "send_message" ,\n%s,"content":"a"}\r\n' % _TARGET,
        b'{"type":"send_message",%s,"content":"a"}\x00' % _TARGET,
        b'{"type":"send_message",%s,"content":"a"}{}' % _TARGET,
        b'{"type":"send_message",%s,"content":"a","request_id":null}' % _TARGET,
        # 256 and 257 characters of two bytes each: the limit counts characters.
        b'{"type":"send_message",%s,"content":"a","request_id":"%s"}' % (_TARGET, _E * 256),
        b'{"type":"send_message",%s,"content":"a","request_id":"%s"}' % (_TARGET, _E * 257),
        b'{"type":"send_message","target":{"type":"room","room_id":"x","room_id":"%s"},'
        b'"content":"a"}' % ROOM.encode(),
        b'{"type":"send_message","target":{"room_id":"%s","type":"room"},"content":"a"}'
        % ROOM.encode(),
        b'{"content":"a",%s,"type":"send_message"}' % _TARGET,
        b"",
        b"{",
    ],
)
def test_common_send_message_path_matches_the_parser(payload: bytes) -> None:
    """The shortcut parses with another library than the general path: byte for
    byte, a frame it accepts decodes as the general path decodes it, and one it
    refuses gets the general path's error (duplicate keys, escapes, stray bytes,
    whitespace, lengths in characters)."""
    from lairchat.realtime import codec

    def outcome() -> Any:
        try:
            return _outcome(payload)
        except UndecodableFrame:
            return "undecodable"

    codec._ROOM_TARGETS.clear()
    general = outcome()  # a room not seen yet: the schema path
    _outcome(frame({"type": "send_message", "target": ROOM_T, "content": "x"}))
    assert codec._ROOM_TARGETS
    assert outcome() == general
