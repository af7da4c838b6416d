"""Hostile input against a live server: it must stay up and keep serving everyone else.

Each example opens a fresh connection, optionally completes some of the handshake
(plain or encrypted, up to a legacy ``login``), then throws one of: random bytes,
random length-prefixed frames, or random JSON objects with random or valid ``type``s
and fields. Every frame the server sends back must be a well-formed server frame.
After each example the server process must be alive, a new client must complete
hello + authenticate + ping, and two long-lived clients must still chat in a room.
"""

from __future__ import annotations

import base64
import os
import struct
import uuid
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lairchat.realtime.codec import CLIENT_TYPES
from lairchat.testing_clients import EVENT_TYPES

if TYPE_CHECKING:
    from conftest import LiveServer

    from lairchat.testing_clients import TCPClient

PASSWORD = "password123"  # conftest.PASSWORD, for the legacy login of the fuzzing user

SERVER_TYPES = {
    "server_hello",
    "error",
    "pong",
    "key_exchange_response",
    *(f"{t}_response" for t in CLIENT_TYPES),
    *EVENT_TYPES,
}


class Chat:
    """Two long-lived users in one room, and a user for the fuzzing connections."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.alice = server.register("alice")
        self.bob = server.register("bob")
        self.fuzzer = server.register("fuzz")
        self.fuzzer.close()
        self.room = self.alice.ok("create_room", name=f"fuzz-{self.alice.username}")["room"]["id"]
        self.bob.ok("join_room", room_id=self.room)
        self.counter = 0

    def still_chatting(self) -> None:
        self.counter += 1
        content = f"still here {self.counter}"
        target = {"type": "room", "room_id": self.room}
        self.alice.ok("send_message", target=target, content=content)
        self.bob.wait_for(
            lambda f: f["type"] == "message_received" and f["message"]["content"] == content,
            keep_others=False,
        )
        self.alice.backlog.clear()
        self.bob.barrier()  # the server only resets the idle timer on frames it reads


@pytest.fixture(scope="module")
def chat(live_server: LiveServer) -> Any:
    chat = Chat(live_server)
    yield chat
    chat.alice.close()
    chat.bob.close()


# --------------------------------------------------------------------------- strategies

ROOM_PLACEHOLDER = "<room>"
USER_PLACEHOLDER = "<user>"

FIELD_NAMES = [
    "request_id",
    "version",
    "client_name",
    "features",
    "public_key",
    "token",
    "identifier",
    "password",
    "username",
    "email",
    "target",
    "content",
    "message_id",
    "limit",
    "offset",
    "before",
    "after",
    "up_to",
    "name",
    "description",
    "settings",
    "filter",
    "room_id",
    "user_id",
    "invitation_id",
    "message",
    "emoji",
    "author",
    "since",
    "until",
    "type",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=24),
    st.sampled_from(
        [ROOM_PLACEHOLDER, USER_PLACEHOLDER, str(uuid.uuid4()), "1.0", "2.0", "encryption"]
    ),
)
targets = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["room", "dm", "direct_message", "channel", ""]),
        "room_id": st.sampled_from([ROOM_PLACEHOLDER, "x", str(uuid.uuid4())]),
        "recipient": st.sampled_from([USER_PLACEHOLDER, "x", str(uuid.uuid4())]),
    }
)
json_values = st.recursive(
    scalars | targets,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
message_types = st.sampled_from(sorted(CLIENT_TYPES - {"logout"})) | st.text(max_size=12)
json_objects = st.builds(
    lambda kind, fields, type_first: (
        {"type": kind, **fields} if type_first else {**fields, "type": kind}
    ),
    st.one_of(message_types, st.just("logout"), json_values),
    st.dictionaries(st.sampled_from(FIELD_NAMES[:-1]), json_values, max_size=6),
    st.booleans(),
)

ids = st.sampled_from([ROOM_PLACEHOLDER, USER_PLACEHOLDER, str(uuid.uuid4()), "x", ""])
short_text = st.text(max_size=40)
#: Reactions: real ones, refused ones (empty, a ``/``, invisible) and anything.
emoji = st.sampled_from(["👍", "🎉", "", ".", "a/b", "\u200b", "👍" * 9]) | short_text
#: Plausible messages of every client type, so that random values reach the handlers
#: (fully random objects mostly stop at validation).
TEMPLATES: dict[str, dict[str, st.SearchStrategy]] = {
    "client_hello": {
        "version": st.sampled_from(["1.0", "1.1", "1.", "2.0", "1", ""]) | short_text,
        "features": st.lists(
            st.sampled_from(["encryption", "compression", "lairchat-events"]), max_size=3
        ),
    },
    "key_exchange": {
        "public_key": st.binary(min_size=32, max_size=32).map(
            lambda b: base64.b64encode(b).decode()
        )
        | short_text
    },
    "authenticate": {"token": short_text},
    "login": {"identifier": short_text, "password": short_text, "totp": short_text},
    "register": {"username": short_text, "email": short_text, "password": short_text},
    "send_message": {"target": targets, "content": short_text},
    "edit_message": {"message_id": ids, "content": short_text},
    "delete_message": {"message_id": ids},
    "get_messages": {
        "target": targets,
        "limit": st.integers(0, 200),
        "before": ids | short_text,
        "after": ids | short_text,
    },
    "mark_read": {"target": targets, "up_to": ids},
    "search_messages": {
        "query": short_text,
        "target": targets,
        "limit": st.integers(-2, 200) | json_values,
        "before": ids | json_values,
        "author": ids | json_values,
        "since": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday", ""]) | json_values,
        "until": st.sampled_from(["2026-12-31T00:00:00+01:00", "0"]) | json_values,
    },
    "add_reaction": {"message_id": ids, "emoji": emoji},
    "remove_reaction": {"message_id": ids, "emoji": emoji},
    "pin_message": {"message_id": ids},
    "unpin_message": {"message_id": ids},
    "get_pins": {"room_id": ids},
    "create_invite_code": {
        "room_id": ids,
        "max_uses": st.integers(-1, 1001) | json_values,
        "expires_in_hours": st.integers(-1, 721) | json_values,
    },
    "list_invite_codes": {"room_id": ids},
    "revoke_invite_code": {"room_id": ids, "code_id": ids},
    "join_by_invite_code": {"code": short_text},
    "create_room": {
        "name": short_text,
        "description": short_text,
        "settings": st.fixed_dictionaries(
            {"public": st.booleans(), "max_members": st.integers(0, 5)}
        ),
    },
    "get_room": {"room_id": ids},
    "list_rooms": {
        "filter": st.fixed_dictionaries(
            {"joined_only": st.booleans(), "public_only": st.booleans(), "search": short_text}
        ),
        "limit": st.integers(0, 200),
        "offset": st.integers(0, 10),
    },
    "join_room": {"room_id": ids},
    "leave_room": {"room_id": ids},
    "invite_to_room": {"room_id": ids, "user_id": ids, "message": short_text},
    "accept_invitation": {"invitation_id": ids},
    "decline_invitation": {"invitation_id": ids},
    "revoke_invitation": {"invitation_id": ids},
    "list_invitations": {},
    "get_user": {"user_id": ids},
    "list_users": {"limit": st.integers(0, 200), "offset": st.integers(0, 10)},
    "get_current_user": {},
    "typing": {"target": targets},
    "ping": {},
    "logout": {},
}
assert set(TEMPLATES) == CLIENT_TYPES
plausible_messages = st.sampled_from(sorted(TEMPLATES)).flatmap(
    lambda kind: st.fixed_dictionaries(
        {"type": st.just(kind), **TEMPLATES[kind]},
        optional={"request_id": st.text(max_size=8)},
    )
)

#: Mostly past the handshake, where most of the code is.
stages = st.sampled_from(["none", "hello", "encrypted"]) | st.sampled_from(
    ["login", "encrypted_login"]
)
attacks = st.one_of(
    st.tuples(st.just("bytes"), st.binary(max_size=3000)),
    st.tuples(st.just("frames"), st.lists(st.binary(max_size=400), min_size=1, max_size=6)),
    st.tuples(st.just("json"), st.lists(json_objects, min_size=1, max_size=8)),
    st.tuples(
        st.just("json"),
        st.lists(plausible_messages | json_objects, min_size=1, max_size=10),
    ),
    st.tuples(st.just("json"), st.lists(plausible_messages, min_size=1, max_size=12)),
)


def substitute(value: Any, chat: Chat) -> Any:
    """Put the real room and user ids where the strategies left placeholders."""
    if value == ROOM_PLACEHOLDER:
        return chat.room
    if value == USER_PLACEHOLDER:
        return chat.alice.user_id
    if isinstance(value, list):
        return [substitute(v, chat) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, chat) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- checks


def check_frame(frame: Any) -> None:
    """What the server sends is always a known, well-formed frame."""
    assert isinstance(frame, dict) and frame.get("type") in SERVER_TYPES, frame
    if frame["type"] == "error":
        assert list(frame) == ["type", "code", "message"], frame
        assert isinstance(frame["code"], str) and isinstance(frame["message"], str)
    elif frame["type"].endswith("_response") and frame["type"] != "key_exchange_response":
        assert list(frame)[:3] == ["type", "request_id", "success"], frame
        if frame["success"] is False:
            assert {"code", "message"} <= set(frame["error"]) <= {"code", "message", "details"}
            assert frame["error"]["code"] != "internal_error", frame


def read_until_pong_or_close(client: TCPClient) -> None:
    """Validate every frame up to the pong of a final ping (or until the server closes)."""
    try:
        client.send({"type": "ping"})
        while True:
            frame = client.recv()
            check_frame(frame)
            if frame["type"] == "pong":
                return
    except ConnectionError:  # ServerClosed (EOF) included
        return


def attack(chat: Chat, stage: str, kind: str, data: Any) -> None:
    server = chat.server
    client = server.connect()
    try:
        if stage != "none":
            client.hello(encrypted=stage.startswith("encrypted"))
        if stage.endswith("login"):
            client.ok("login", identifier=chat.fuzzer.username, password=PASSWORD)
        if kind == "bytes":
            client.send_raw(data)
            return  # the stream may now be anywhere inside a frame: just hang up
        if kind == "frames":
            for payload in data:
                client.send_raw(struct.pack("!I", len(payload)) + payload)
            return
        for message in data:
            client.send_payload(orjson.dumps(substitute(message, chat)))
        read_until_pong_or_close(client)
    except ConnectionError:
        pass  # the server may legitimately hang up on garbage
    finally:
        client.close()


def well_behaved_client_works(server: LiveServer, token: str, encrypted: bool) -> None:
    client = server.connect()
    try:
        client.hello(encrypted=encrypted)
        assert client.ok("authenticate", token=token)["user"]["username"]
        client.barrier()
    finally:
        client.close()


@settings(
    max_examples=80,
    # The same examples on every CI run (as the OpenAPI fuzz): a landing must not
    # depend on the draw. Elsewhere each run tries new ones.
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stage=stages, hostile=attacks)
def test_hostile_input_never_hurts_the_server(
    live_server: LiveServer, chat: Chat, stage: str, hostile: tuple[str, Any]
) -> None:
    log_start = live_server.log_size()
    kind, data = hostile
    attack(chat, stage, kind, data)
    assert live_server.alive(), live_server.log()
    well_behaved_client_works(live_server, chat.alice.token, encrypted=chat.counter % 2 == 1)
    chat.still_chatting()
    new_log = live_server.log_since(log_start)
    assert "Traceback" not in new_log and "Unhandled" not in new_log, new_log
