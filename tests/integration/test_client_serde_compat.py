"""Does the original's own client (crates/lair-chat-client) parse what we send it?

The client reads every TCP/WebSocket frame as ``serde_json::from_slice::<ServerMessage>``
and, on TCP, a frame it cannot parse ends its reader task: the connection is dead. Its
REST calls parse the bodies into the structs of ``protocol/http.rs``. Below is a table
of those serde types (``protocol/messages.rs`` and ``protocol/http.rs`` at the original's
commit cd0edfe) with serde's rules for them, and every frame and body a live server
sends over a scenario that reaches each event and each response the client knows is
checked against it: plain TCP, TCP encrypted as the client does it (X25519, the raw
shared secret as the AES-256-GCM key, ``key_exchange_response`` in plaintext), and
WebSocket as ``WsConnection::connect_and_handshake`` does it.

serde's rules modelled: no ``deny_unknown_fields`` anywhere (extra keys are fine);
``Option<T>`` may be absent or null; ``#[serde(default)]`` may be absent but NOT null;
other fields are required and not null; ``u32``/``u64`` are non-negative JSON integers
in range; ``Uuid`` is a string; ``DateTime<Utc>`` is an RFC 3339 string (checked a bit
more strictly than chrono); the internally tagged enums (``type``) reject an unknown
tag. The table was validated against the real serde code: the same frames, decoded by
the client's types compiled with serde_json, gave the same verdicts.

Known divergence *inherited from the original server* (not checked here, since we put
on the wire what it puts): the client's ``RoomSettings`` reads ``public``/``moderated``,
both servers send ``is_private``, so the client sees every room as ``public: false``.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import EVENT_TYPES, TCPClient, WSClient, open_socket

# --------------------------------------------------------------------- serde's rules

Check = Callable[[Any, str], list[str]]
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)\Z")


def _scalar(name: str, ok: Callable[[Any], bool]) -> Check:
    return lambda v, path: [] if ok(v) else [f"{path}: expected {name}, got {v!r}"]


def _is_uuid(v: Any) -> bool:
    try:
        return isinstance(v, str) and bool(uuid.UUID(v))
    except ValueError:
        return False


def _uint(bits: int) -> Check:
    return _scalar(
        f"u{bits}",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**bits,
    )


STRING = _scalar("a string", lambda v: isinstance(v, str))
BOOL = _scalar("a bool", lambda v: isinstance(v, bool))
UUID = _scalar("a UUID string", _is_uuid)
DATETIME = _scalar(
    "an RFC 3339 timestamp", lambda v: isinstance(v, str) and bool(_RFC3339.match(v))
)
U32, U64 = _uint(32), _uint(64)
ANY: Check = lambda v, path: []  # noqa: E731  (serde_json::Value)


def vec(item: Check) -> Check:
    def check(v: Any, path: str) -> list[str]:
        if not isinstance(v, list):
            return [f"{path}: expected a sequence, got {v!r}"]
        return [p for i, x in enumerate(v) for p in item(x, f"{path}[{i}]")]

    return check


# Field modes: required, Option<T>, #[serde(default)].
REQ, OPT, DEF = "required", "option", "default"


def struct(**fields: tuple[str, Check] | tuple[str, Check, tuple[str, ...]]) -> Check:
    """A struct's fields as ``name=(mode, check[, aliases])``; unknown keys are ignored."""

    def check(v: Any, path: str) -> list[str]:
        if not isinstance(v, dict):
            return [f"{path}: expected an object, got {v!r}"]
        problems = []
        for name, (mode, item, *rest) in fields.items():
            keys = [k for k in (name, *(rest[0] if rest else ())) if k in v]
            if len(keys) > 1:
                problems.append(f"{path}: duplicate field {name!r} (as {keys})")
                continue
            where = f"{path}.{name}"
            if not keys:
                if mode == REQ:
                    problems.append(f"{where}: missing field")
                continue
            value = v[keys[0]]
            if value is None and mode == OPT:
                continue
            problems += item(value, where)
        return problems

    return check


def tagged(variants: dict[str, Check], tag: str = "type") -> Check:
    def check(v: Any, path: str) -> list[str]:
        if not isinstance(v, dict):
            return [f"{path}: expected an object, got {v!r}"]
        kind = v.get(tag)
        if kind not in variants:
            return [f"{path}: unknown variant {kind!r}"]
        return variants[kind](v, f"{path}<{kind}>")

    return check


# ----------------------------------------- the client's types (protocol/messages.rs)

TARGET = tagged({"room": struct(room_id=(REQ, UUID)), "dm": struct(recipient=(REQ, UUID))})
USER = struct(
    id=(REQ, UUID),
    username=(REQ, STRING),
    email=(REQ, STRING),
    role=(REQ, STRING),
    created_at=(REQ, DATETIME),
)
SESSION = struct(id=(REQ, UUID), expires_at=(REQ, DATETIME))
MESSAGE = struct(
    id=(REQ, UUID),
    author=(REQ, UUID),
    target=(REQ, TARGET),
    content=(REQ, STRING),
    edited=(REQ, BOOL),
    created_at=(REQ, DATETIME),
)
ROOM_SETTINGS = struct(
    public=(DEF, BOOL), max_members=(OPT, U32), moderated=(DEF, BOOL), description=(OPT, STRING)
)
ROOM = struct(
    id=(REQ, UUID),
    name=(REQ, STRING),
    description=(OPT, STRING),
    owner=(REQ, UUID),
    settings=(REQ, ROOM_SETTINGS),
    created_at=(REQ, DATETIME),
)
MEMBERSHIP = struct(
    room_id=(REQ, UUID), user_id=(REQ, UUID), role=(REQ, STRING), joined_at=(REQ, DATETIME)
)
ROOM_LIST_ITEM = struct(room=(REQ, ROOM), member_count=(REQ, U64), is_member=(REQ, BOOL))
INVITATION = struct(
    id=(REQ, UUID),
    room_id=(REQ, UUID),
    room_name=(REQ, STRING),
    inviter_id=(REQ, UUID, ("inviter",)),
    inviter_name=(REQ, STRING),
    invitee_id=(REQ, UUID, ("invitee",)),
    invitee_name=(REQ, STRING),
    status=(REQ, STRING),
    message=(OPT, STRING),
    created_at=(REQ, DATETIME),
    expires_at=(REQ, DATETIME),
    responded_at=(OPT, DATETIME),
)
ROOM_MEMBER = struct(
    user_id=(REQ, UUID),
    username=(REQ, STRING),
    role=(REQ, STRING),
    joined_at=(REQ, DATETIME),
    is_online=(REQ, BOOL),
)
ERROR_INFO = struct(code=(REQ, STRING), message=(REQ, STRING))


def response(**fields: tuple[str, Check]) -> Check:
    """A ``*_response`` variant: ``request_id: Option<String>``, ``success: bool``,
    ``error: Option<ErrorInfo>`` and its own fields."""
    return struct(request_id=(OPT, STRING), success=(REQ, BOOL), error=(OPT, ERROR_INFO), **fields)


SERVER_MESSAGE = tagged(
    {
        "server_hello": struct(
            version=(REQ, STRING),
            server_name=(REQ, STRING),
            features=(DEF, vec(STRING)),
            encryption_required=(DEF, BOOL),
        ),
        "authenticate_response": response(user=(OPT, USER), session=(OPT, SESSION)),
        "login_response": response(user=(OPT, USER), session=(OPT, SESSION), token=(OPT, STRING)),
        "register_response": response(
            user=(OPT, USER), session=(OPT, SESSION), token=(OPT, STRING)
        ),
        "logout_response": response(),
        "send_message_response": response(message=(OPT, MESSAGE)),
        "edit_message_response": response(message=(OPT, MESSAGE)),
        "delete_message_response": response(),
        "get_messages_response": response(messages=(DEF, vec(MESSAGE)), has_more=(DEF, BOOL)),
        "create_room_response": response(room=(OPT, ROOM)),
        "join_room_response": response(room=(OPT, ROOM), membership=(OPT, MEMBERSHIP)),
        "leave_room_response": response(),
        "list_rooms_response": response(
            rooms=(DEF, vec(ROOM_LIST_ITEM)), has_more=(DEF, BOOL), total_count=(OPT, U64)
        ),
        "get_room_response": response(
            room=(OPT, ROOM), membership=(OPT, MEMBERSHIP), member_count=(OPT, U64)
        ),
        "invite_to_room_response": response(invitation=(OPT, INVITATION)),
        "accept_invitation_response": response(membership=(OPT, MEMBERSHIP)),
        "decline_invitation_response": response(),
        "list_invitations_response": response(invitations=(DEF, vec(INVITATION))),
        "get_user_response": response(user=(OPT, USER)),
        "list_users_response": response(
            users=(DEF, vec(USER)),
            online_user_ids=(DEF, vec(STRING)),
            has_more=(DEF, BOOL),
            total_count=(OPT, U64),
        ),
        "get_current_user_response": response(user=(OPT, USER)),
        "pong": struct(server_time=(OPT, DATETIME)),
        "key_exchange_response": struct(public_key=(REQ, STRING)),
        "error": struct(
            request_id=(OPT, STRING),
            code=(REQ, STRING),
            message=(REQ, STRING),
            details=(OPT, ANY),
        ),
        "message_received": struct(message=(REQ, MESSAGE), author_username=(REQ, STRING)),
        "message_edited": struct(message=(REQ, MESSAGE), previous_content=(OPT, STRING)),
        "message_deleted": struct(
            message_id=(REQ, UUID), target=(REQ, TARGET), deleted_by=(REQ, UUID)
        ),
        "user_joined_room": struct(
            room_id=(REQ, UUID), user=(REQ, USER), membership=(REQ, MEMBERSHIP)
        ),
        "user_left_room": struct(room_id=(REQ, UUID), user_id=(REQ, UUID), reason=(REQ, STRING)),
        "member_role_changed": struct(
            room_id=(REQ, UUID),
            user_id=(REQ, UUID),
            username=(REQ, STRING),
            old_role=(REQ, STRING),
            new_role=(REQ, STRING),
            changed_by=(REQ, UUID),
        ),
        "room_updated": struct(
            room=(REQ, ROOM), changed_by=(REQ, UUID), changes=(DEF, vec(STRING))
        ),
        "room_deleted": struct(
            room_id=(REQ, UUID), room_name=(REQ, STRING), deleted_by=(REQ, UUID)
        ),
        "user_online": struct(user_id=(REQ, UUID), username=(REQ, STRING)),
        "user_offline": struct(user_id=(REQ, UUID), username=(REQ, STRING)),
        "user_typing": struct(user_id=(REQ, UUID), target=(REQ, TARGET)),
        "invitation_received": struct(invitation=(REQ, INVITATION)),
        "server_notice": struct(message=(REQ, STRING), severity=(REQ, STRING)),
        "session_expiring": struct(session_id=(REQ, UUID), expires_at=(REQ, DATETIME)),
    }
)

# ------------------------------------------------ the client's REST types (http.rs)


def _session_info(v: Any, path: str) -> list[str]:
    """``SessionInfo`` is two strings, then ``to_session`` parses them (Uuid, RFC 3339)."""
    return struct(id=(REQ, STRING), expires_at=(REQ, STRING))(v, path) or SESSION(v, path)


HTTP = {
    "AuthResponse": struct(user=(REQ, USER), session=(REQ, _session_info), token=(REQ, STRING)),
    "ErrorResponse": struct(error=(REQ, ERROR_INFO)),
    "ListRoomsResponse": struct(
        rooms=(REQ, vec(ROOM_LIST_ITEM)), has_more=(REQ, BOOL), total_count=(REQ, U64)
    ),
    "ListUsersResponse": struct(
        users=(REQ, vec(struct(user=(REQ, USER), online=(REQ, BOOL)))),
        has_more=(REQ, BOOL),
        total_count=(REQ, U32),
    ),
    "CreateRoomResponse": struct(room=(REQ, ROOM)),
    "JoinRoomResponse": struct(room=(REQ, ROOM)),
    "GetMessagesResponse": struct(messages=(REQ, vec(MESSAGE)), has_more=(REQ, BOOL)),
    "ListInvitationsResponse": struct(invitations=(REQ, vec(INVITATION)), has_more=(DEF, BOOL)),
    "AcceptInvitationResponse": struct(membership=(REQ, MEMBERSHIP), room=(REQ, ROOM)),
    "DeclineInvitationResponse": struct(success=(DEF, BOOL)),
    "CreateInvitationResponse": struct(invitation=(REQ, INVITATION)),
    "GetRoomMembersResponse": struct(members=(REQ, vec(ROOM_MEMBER)), total=(REQ, U32)),
    "UpdateRoleResponse": struct(member=(REQ, ROOM_MEMBER)),
}

# Every server-pushed event the client knows (and our core can publish).
EVENTS = EVENT_TYPES


def test_the_model_rejects_what_serde_rejects() -> None:
    """The checker is not vacuous: cases serde_json refuses (each confirmed against the
    compiled types) are refused here too."""
    good = {"type": "user_online", "user_id": str(uuid.uuid4()), "username": "a"}
    assert SERVER_MESSAGE(good, "") == []
    refused = [
        {"type": "user_signed_in", "user_id": good["user_id"], "username": "a"},
        {"type": "user_online", "username": "a"},  # missing required
        {"type": "user_online", "user_id": "not-a-uuid", "username": "a"},
        {"type": "user_online", "user_id": good["user_id"], "username": None},
        {"type": "get_messages_response", "success": True, "messages": None},  # default≠null
        {"type": "list_rooms_response", "success": True, "total_count": 1.0},
        {"type": "list_rooms_response", "success": True, "total_count": -1},
        {"type": "pong", "server_time": "2024-01-01 00:00:00"},
        {
            "type": "message_deleted",
            "message_id": good["user_id"],
            "deleted_by": good["user_id"],
            "target": {"type": "direct_message", "recipient": good["user_id"]},
        },
    ]
    for frame in refused:
        assert SERVER_MESSAGE(frame, ""), frame
    assert SERVER_MESSAGE({"type": "pong"}, "") == []  # Option absent
    assert SERVER_MESSAGE({"type": "pong", "server_time": None}, "") == []  # Option null


# ------------------------------------------------------------------ live capture


class Recorded:
    """Mixin: every message a test client reads is kept in ``self.seen``."""

    seen: list[dict[str, Any]]

    def _read(self) -> dict[str, Any]:
        message = super()._read()  # type: ignore[misc]
        self.seen.append(message)
        return message


class RecTCP(Recorded, TCPClient):
    def __init__(self, port: int) -> None:
        self.seen = []
        super().__init__(open_socket(port))

    def handshake(self, encrypted: bool) -> None:
        """As ``TcpClient::handshake_with_encryption``, which asks for encryption only
        when the server offers it (the key exchange response is recorded too)."""
        assert not encrypted or "encryption" in self.server_hello["features"]
        self.hello(encrypted, client_name="Lair Chat TUI")

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A response, or an error frame (which may lack the request id)."""
        request_id = f"{kind}-{next(self._ids)}"
        self.send({"type": kind, "request_id": request_id, **fields})
        return self.wait_for(
            lambda m: (
                m.get("request_id") in (request_id, None)
                and m["type"] in (f"{kind}_response", "error")
            )
        )


class RecWS(Recorded, WSClient):
    def __init__(self, port: int, path: str = "/ws") -> None:
        self.seen = []
        super().__init__(port, path)

    request = RecTCP.request


Client = RecTCP | RecWS


class Http:
    def __init__(self, url: str) -> None:
        self.url = url
        #: (label, client type it is parsed as, status, body)
        self.seen: list[tuple[str, str, int, Any]] = []

    def __call__(
        self, method: str, path: str, as_: str | None, body: Any = None, token: str = ""
    ) -> Any:
        """``as_`` is the type the client parses a 2xx body as (None: not parsed); the
        client parses a non-2xx body as ``ErrorResponse`` on every call it makes."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        parsed = json.loads(raw) if raw else None
        kind = as_ if 200 <= status < 300 else "ErrorResponse"
        if kind:
            self.seen.append((f"{method} {path}", kind, status, parsed))
        return parsed


def problems_in(clients: list[Client], http: Http) -> list[str]:
    out = []
    for client in clients:
        for message in client.seen:
            out += SERVER_MESSAGE(message, type(client).__name__)
    for label, kind, status, body in http.seen:
        out += HTTP[kind](body, f"{label} [{status}] {kind}")
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("serde-compat"), startup_timeout=30)
    yield srv
    srv.stop()


def register(http: Http, name: str) -> tuple[str, str]:
    body = http(
        "POST",
        "/api/v1/auth/register",
        "AuthResponse",
        {"username": name, "email": f"{name}@example.com", "password": "password123"},
    )
    return body["token"], body["user"]["id"]


def test_every_frame_and_body_parses_as_the_tui_client_types(server: ServerProcess) -> None:
    http = Http(server.url)
    sfx = uuid.uuid4().hex[:6]
    (a_tok, a_id), (b_tok, b_id), (c_tok, c_id), (d_tok, d_id) = (
        register(http, f"{who}_{sfx}") for who in ("alice", "bob", "carol", "dave")
    )
    http(
        "POST",
        "/api/v1/auth/login",
        "AuthResponse",
        {"identifier": f"alice_{sfx}", "password": "password123"},
    )
    http("POST", "/api/v1/auth/login", None, {"identifier": f"alice_{sfx}", "password": "nope1234"})
    http(
        "POST",
        "/api/v1/auth/register",
        None,
        {"username": f"alice_{sfx}", "email": "x@example.com", "password": "password123"},
    )

    # The transports as the client uses them: TCP (encryption when offered, which it
    # always is; one plain connection too) and WebSocket hello-then-authenticate.
    alice = RecTCP(server.tcp_port)
    alice.handshake(encrypted=False)
    assert alice.request("authenticate", token="not-a-jwt")["success"] is False
    alice.request("list_rooms")  # before authenticating: an error frame
    assert alice.request("authenticate", token=a_tok)["success"] is True
    bob = RecTCP(server.tcp_port)
    bob.handshake(encrypted=True)
    assert bob.request("authenticate", token=b_tok)["success"] is True
    carol = RecWS(server.http_port)
    carol.recv()  # server_hello
    carol.send({"type": "client_hello", "version": "1.0", "client_name": "Lair Chat TUI"})
    assert carol.request("authenticate", token=c_tok)["success"] is True
    dave = RecWS(server.http_port, f"/ws?token={d_tok}")  # WsConnection::connect_with_token
    clients: list[Client] = [alice, bob, carol, dave]
    legacy = RecTCP(server.tcp_port)
    legacy.handshake(encrypted=True)
    legacy.request(
        "register", username=f"erin_{sfx}", email=f"erin_{sfx}@example.com", password="password123"
    )
    legacy.request("login", identifier=f"erin_{sfx}", password="password123")  # already in
    legacy.close()
    clients.append(legacy)

    room = alice.request("create_room", name=f"room-{sfx}", description="d")["room"]
    rid, tgt = room["id"], {"type": "room", "room_id": room["id"]}
    alice.request("create_room", name=f"room-{sfx}")  # name taken
    priv = alice.request(
        "create_room", name=f"priv-{sfx}", settings={"public": False, "max_members": 5}
    )["room"]
    http("POST", "/api/v1/rooms", "CreateRoomResponse", {"name": f"http-{sfx}"}, a_tok)
    bob.request("join_room", room_id=rid)
    http("POST", f"/api/v1/rooms/{rid}/join", "JoinRoomResponse", token=c_tok)
    http("POST", f"/api/v1/rooms/{rid}/join", "JoinRoomResponse", token=c_tok)  # again
    http("POST", f"/api/v1/rooms/{uuid.uuid4()}/join", "JoinRoomResponse", token=c_tok)
    dave.request("join_room", room_id=rid)

    alice.send({"type": "typing", "target": tgt})
    first = alice.request("send_message", target=tgt, content="hello")["message"]
    dm = alice.request("send_message", target={"type": "dm", "recipient": b_id}, content="hi")
    bob.request("send_message", target={"type": "dm", "recipient": a_id}, content="hi back")
    alice.request("edit_message", message_id=first["id"], content="hello (edited)")
    bob.request("edit_message", message_id=first["id"], content="not mine")
    alice.request("delete_message", message_id=dm["message"]["id"])
    alice.request("delete_message", message_id=str(uuid.uuid4()))
    bob.request("send_message", target={"type": "room", "room_id": priv["id"]}, content="x")
    alice.request("send_message", target=tgt, content="")
    alice.request("get_messages", target=tgt, limit=10)
    bob.request("get_messages", target={"type": "room", "room_id": priv["id"]})
    q = "/api/v1/messages?target_type={}&target_id={}&limit=50"
    http("GET", q.format("room", rid), "GetMessagesResponse", token=c_tok)
    http("GET", q.format("direct_message", a_id), "GetMessagesResponse", token=b_tok)
    http("GET", q.format("room", priv["id"]), "GetMessagesResponse", token=b_tok)

    alice.request("list_rooms")
    alice.request("list_rooms", filter={"joined_only": True})
    alice.request("get_room", room_id=rid)
    alice.request("get_room", room_id=str(uuid.uuid4()))
    alice.request("list_users")
    alice.request("get_user", user_id=b_id)
    alice.request("get_user", user_id=str(uuid.uuid4()))
    alice.request("get_current_user")
    http("GET", "/api/v1/rooms", "ListRoomsResponse", token=a_tok)
    http("GET", "/api/v1/users", "ListUsersResponse", token=a_tok)
    http("GET", f"/api/v1/rooms/{rid}/members", "GetRoomMembersResponse", token=a_tok)

    invitation = alice.request("invite_to_room", room_id=priv["id"], user_id=b_id)["invitation"]
    alice.request("invite_to_room", room_id=priv["id"], user_id=b_id)  # already invited
    bob.request("list_invitations")
    bob.request("accept_invitation", invitation_id=invitation["id"])
    bob.request("accept_invitation", invitation_id=str(uuid.uuid4()))
    body = {"room_id": priv["id"], "user_id": c_id, "message": "hey"}
    one = http("POST", "/api/v1/invitations", "CreateInvitationResponse", body, a_tok)
    http("GET", "/api/v1/invitations", "ListInvitationsResponse", token=c_tok)
    http(
        "POST",
        f"/api/v1/invitations/{one['invitation']['id']}/decline",
        "DeclineInvitationResponse",
        token=c_tok,
    )
    two = http("POST", "/api/v1/invitations", "CreateInvitationResponse", body, a_tok)
    http(
        "POST",
        f"/api/v1/invitations/{two['invitation']['id']}/accept",
        "AcceptInvitationResponse",
        token=c_tok,
    )
    three = alice.request("invite_to_room", room_id=priv["id"], user_id=d_id)["invitation"]
    dave.request("decline_invitation", invitation_id=three["id"])

    role = {"role": "moderator"}
    http("PUT", f"/api/v1/rooms/{rid}/members/{b_id}/role", "UpdateRoleResponse", role, a_tok)
    http("PUT", f"/api/v1/rooms/{rid}/members/{b_id}/role", "UpdateRoleResponse", role, c_tok)
    http("DELETE", f"/api/v1/rooms/{rid}/members/{d_id}", None, token=a_tok)  # kick
    http("PATCH", f"/api/v1/rooms/{rid}", None, {"description": "new"}, a_tok)
    carol.request("leave_room", room_id=rid)
    carol.request("leave_room", room_id=rid)
    http("DELETE", f"/api/v1/rooms/{priv['id']}", None, token=a_tok)

    alice.send_payload(b"{not json")
    alice.send_payload(b'{"type":"no_such_type"}')
    carol.send_frame(0x1, b"{not json")
    for client in (alice, bob, carol, dave):
        client.barrier()
    bob.request("logout")
    bob.expect_closed()
    http("POST", "/api/v1/auth/logout", None, token=d_tok)
    dave.expect_closed()

    server.process.terminate()  # server_notice to whoever is still connected
    for client in (alice, carol):
        client.expect_closed()

    problems = problems_in(clients, http)
    assert problems == [], "\n".join(problems)

    kinds = {m["type"] for c in clients for m in c.seen}
    missing_events = EVENTS - kinds
    assert not missing_events, f"scenario no longer reaches {missing_events}"
    assert {"key_exchange_response", "pong", "error", "server_hello"} <= kinds
    http_kinds = {kind for _, kind, _, _ in http.seen}
    assert http_kinds == set(HTTP), set(HTTP) - http_kinds


def test_rate_limited_answers_parse(tmp_path: Path) -> None:
    """The refusals of the limiter (TCP response with ``error.details``; HTTP 429)."""
    srv = ServerProcess(tmp_path, startup_timeout=30, LAIR_RATE_LIMITS="on")
    try:
        http = Http(srv.url)
        client = RecTCP(srv.tcp_port)
        client.handshake(encrypted=True)
        name = f"lim_{uuid.uuid4().hex[:6]}"
        client.request(
            "register", username=name, email=f"{name}@example.com", password="password123"
        )
        rid = client.request("create_room", name=f"lim-{name}")["room"]["id"]
        target = {"type": "room", "room_id": rid}
        for _ in range(40):
            refused = client.request("send_message", target=target, content="x")
            if not refused["success"]:
                break
        assert refused["error"]["code"] == "rate_limited", refused
        for _ in range(15):
            http("POST", "/api/v1/auth/login", None, {"identifier": "nobody", "password": "pw"})
        assert http.seen[-1][2] == 429, http.seen[-1]
        client.close()
        problems = problems_in([client], http)
        assert problems == [], "\n".join(problems)
    finally:
        srv.stop()
