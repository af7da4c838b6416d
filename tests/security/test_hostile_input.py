"""Hostile input: every limit, on every way in, and nothing a client sends becomes a 500.

- sizes: HTTP bodies (2 MiB → 413, refused on the wire before they are stored), TCP
  frames (over 1 MiB → the connection is dropped), JSON nesting (deeper than 32 → 400
  over HTTP, ``invalid_message`` over TCP), huge arrays;
- string lengths, in UTF-8 bytes: message content 4096, usernames 32, emails 254,
  room names 64 (after trimming), descriptions 1024, on every path that takes them;
- pagination: ``limit``/``offset`` negative, fractional or beyond u32;
- text that looks like SQL, markup or terminal escapes, control characters, NUL,
  bidirectional overrides, emoji: stored and returned exactly as sent; lone
  surrogates and invalid UTF-8: refused cleanly.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from lairchat.domain.hidden import NAME_UNSAFE
from lairchat.domain.validation import (
    CONTENT_MAX,
    DESCRIPTION_MAX,
    EMAIL_MAX,
    ROOM_NAME_MAX,
    USERNAME_MAX,
)
from lairchat.realtime.codec import MAX_DEPTH as FRAME_DEPTH
from lairchat.realtime.codec import REQUEST_ID_MAX
from lairchat.testing import result
from lairchat.transports.http.bodies import MAX_BODY_BYTES
from lairchat.transports.http.bodies import MAX_DEPTH as BODY_DEPTH
from lairchat.transports.http.testing import PASSWORD
from lairchat.transports.tcp import MAX_FRAME

U32_MAX = 2**32 - 1


def room_target(w: Any, which: str = "public") -> dict[str, str]:
    return {"type": "room", "room_id": w.room_id(which)}


def nested(depth: int) -> Any:
    """A JSON value whose outermost container is at nesting level 2 and whose deepest
    is at ``depth`` (so a body ``{"x": nested(d)}`` is ``d`` levels deep)."""
    value: Any = []
    for _ in range(depth - 2):
        value = [value]
    return value


def raw_post(w: Any, path: str, body: bytes, token: str | None = None) -> Any:
    return w.api.request(
        "POST", path, data=body, token=token, headers={"Content-Type": "application/json"}
    )


# --------------------------------------------------------------------------- HTTP bodies


def test_a_body_over_2_mib_is_413(world: Any) -> None:
    w = world
    padding = b" " * (MAX_BODY_BYTES - len(b'{"name":"x"}'))
    exactly = b'{"name":"x"}' + padding
    assert len(exactly) == MAX_BODY_BYTES
    reply = raw_post(w, "/api/v1/rooms", exactly, w.token("member"))
    assert reply.status == 201, reply
    reply = raw_post(w, "/api/v1/rooms", exactly + b" ", w.token("member"))
    assert (reply.status, reply.code) == (413, "payload_too_large")
    # Even where no body is read, and before authentication.
    reply = raw_post(w, "/api/v1/auth/logout", exactly + b" ")
    assert (reply.status, reply.code) == (413, "payload_too_large")


class RawHttp:
    """The real HTTP server factory (``BoundedRequest``) over an in-memory socket."""

    def __init__(self, w: Any):
        site = w.api.api.site(task.Clock())
        self.channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 45000))
        self.transport = StringTransport()
        self.channel.makeConnection(self.transport)

    def send(self, data: bytes) -> bytes:
        self.channel.dataReceived(data)
        return self.transport.value()


def test_a_declared_oversized_body_is_refused_before_it_arrives(world: Any) -> None:
    http = RawHttp(world)
    head = (
        b"POST /api/v1/rooms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1)
    )
    answer = http.send(head)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(
        b'{"error":{"code":"payload_too_large","message":"Request body too large"}}'
    )
    assert http.transport.disconnecting
    # What follows is thrown away: no second answer.
    assert http.send(b"x" * 65536) == answer


def test_a_chunked_body_is_refused_when_it_crosses_the_limit(world: Any) -> None:
    http = RawHttp(world)
    http.send(
        b"POST /api/v1/rooms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 65536
    sent = 0
    while not http.transport.value():
        http.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sent += len(chunk)
        assert sent <= MAX_BODY_BYTES + len(chunk)
    assert sent > MAX_BODY_BYTES
    assert http.transport.value().startswith(b"HTTP/1.1 413 ")
    assert http.transport.disconnecting


def test_deeply_nested_json_bodies_are_400(world: Any) -> None:
    w = world
    token = w.token("member")
    fine = orjson.dumps({"name": "deep but fine", "extra": nested(BODY_DEPTH)})
    assert raw_post(w, "/api/v1/rooms", fine, token).status == 201
    too_deep = orjson.dumps({"name": "too deep", "extra": nested(BODY_DEPTH + 1)})
    reply = raw_post(w, "/api/v1/rooms", too_deep, token)
    assert (reply.status, reply.code) == (400, "validation_failed")
    assert reply.error["message"] == "Validation failed: body - JSON nested deeper than 32 levels"
    # Far beyond any parser's recursion limit: still a clean 400.
    for opener, closer in ((b"[", b"]"), (b'{"a":', b"}")):
        body = b'{"name":"x","extra":' + opener * 100_000 + b"1" + closer * 100_000 + b"}"
        reply = raw_post(w, "/api/v1/rooms", body, token)
        assert (reply.status, reply.code) == (400, "validation_failed"), reply


def test_huge_arrays_in_bodies_are_ignored_cheaply(world: Any) -> None:
    w = world
    items = (MAX_BODY_BYTES - 100) // 2
    body = b'{"name":"arrays","ignored":[' + b"0," * (items - 1) + b"0]}"
    assert len(body) < MAX_BODY_BYTES
    reply = raw_post(w, "/api/v1/rooms", body, w.token("member"))
    assert reply.status == 201, reply
    flat = b'{"name":"many","ignored":[' + b"[]," * 600_000 + b"[]]}"
    assert raw_post(w, "/api/v1/rooms", flat, w.token("member")).status == 201


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"name":"\\ud800"}', id="lone-high-surrogate"),
        pytest.param(b'{"name":"\\udc00"}', id="lone-low-surrogate"),
        pytest.param(b'{"name":"\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'{"name":"\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
        pytest.param(b'{"name":"x"', id="truncated"),
        pytest.param(b'{"name":NaN}', id="nan"),
        pytest.param(b'{"name":"x","name":1e999999}', id="huge-number"),
        pytest.param(b"\x00", id="nul-byte"),
        pytest.param(b"", id="empty"),
    ],
)
def test_unreadable_bodies_are_400(world: Any, body: bytes) -> None:
    reply = raw_post(world, "/api/v1/rooms", body, world.token("member"))
    assert (reply.status, reply.code) == (400, "validation_failed"), reply


def test_a_body_that_is_json_but_not_an_object_is_422(world: Any) -> None:
    """Readable, of the wrong shape: 422, as the original's extractor answers."""
    reply = raw_post(world, "/api/v1/rooms", b"[]", world.token("member"))
    assert (reply.status, reply.code) == (422, "validation_failed"), reply


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/rooms/%ED%A0%80", 400),  # a surrogate, percent-encoded
        ("/api/v1/rooms/%FF", 400),
        ("/api/v1/rooms/%00", 404),
        ("/api/v1/rooms/..%2F..%2Fadmin%2Fstats", 404),
        ("/api/v1/users/" + "a" * 10_000, 404),
    ],
)
def test_hostile_paths(world: Any, path: str, code: int) -> None:
    reply = world.api.get(path, token=world.token("member"))
    assert reply.status == code, reply
    assert reply.code in ("validation_failed", "room_not_found", "user_not_found", "not_found")


def test_hostile_headers(world: Any) -> None:
    w = world
    reply = w.api.get("/api/v1/users/me", headers={b"Authorization": b"Bearer \xff\xfe"})
    assert (reply.status, reply.code) == (401, "missing_token"), reply
    # A NUL in a header never reaches us: Twisted's parser answers 400 itself.
    reply = w.api.get("/api/v1/users/me", headers={b"Authorization": b"Bearer \x00"})
    assert reply.status == 400
    reply = w.api.post(
        "/api/v1/rooms",
        data=b'{"name":"x"}',
        token=w.token("member"),
        headers={"Content-Type": "text/plain; application/json"},
    )
    assert (reply.status, reply.code) == (415, "unsupported_media_type")


@pytest.mark.parametrize("path", ["/health", "/", "/nowhere", "/api/v1/users/me"])
def test_answers_do_not_name_the_server_software(world: Any, path: str) -> None:
    """No ``Server: TwistedWeb/<version>`` to tell a scanner which CVEs to try."""
    http = RawHttp(world)
    answer = http.send(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 ")
    assert b"\r\nserver:" not in head and b"twisted" not in head


# --------------------------------------------------------------------------- string lengths


def sized(n: int, char: str, tag: str) -> str:
    """``tag`` (ASCII) then ``char`` (1 to 4 bytes wide) and ASCII padding: exactly ``n``
    UTF-8 bytes. Different tags make different values of the same size."""
    n -= len(tag)
    width = len(char.encode())
    return tag + char * (n // width) + "a" * (n % width)


#: field -> (largest accepted, refusal code)
LIMITS = {
    "content": (CONTENT_MAX, "content_invalid"),
    "username": (USERNAME_MAX, "username_invalid"),
    "email": (EMAIL_MAX, "email_invalid"),
    "room name": (ROOM_NAME_MAX, "room_name_invalid"),
    "description": (DESCRIPTION_MAX, "validation_failed"),
}
DOMAIN = "@example.com"


def submissions(w: Any, field: str, make: Any) -> list[tuple[str, int | None, str | None]]:
    """Submit a value of ``field`` made by ``make(tag)`` on every path that takes it;
    return ``(path, HTTP status or None, refusal code or None)`` for each."""
    out: list[tuple[str, int | None, str | None]] = []

    def http(how: str, reply: Any) -> None:
        assert reply.status < 500, (how, reply)
        out.append((how, reply.status, None if reply.status < 300 else reply.code))

    def tcp(how: str, reply: dict[str, Any]) -> None:
        out.append((how, None, None if reply["success"] else reply["error"]["code"]))

    member, owner = w.token("member"), w.token("owner")
    client = w.tcp("member")
    public = f"/api/v1/rooms/{w.room_id('public')}"
    if field == "content":
        dm = {"type": "dm", "recipient": w.id("bystander")}
        for how, target in (("POST /messages (room)", room_target(w)), ("POST /messages (dm)", dm)):
            body = {"target": target, "content": make("h")}
            http(how, w.api.post("/api/v1/messages", body, token=member))
        edit = f"/api/v1/messages/{w.messages['public']}"
        http("PATCH /messages", w.api.patch(edit, {"content": make("e")}, token=member))
        tcp("send_message", client.request("send_message", target=dm, content=make("t")))
        tcp(
            "edit_message",
            client.request("edit_message", message_id=w.messages["dm"], content=make("u")),
        )
    elif field == "username":
        for how, tag in (("POST /auth/register", "h"), ("register", "t")):
            body = {"username": make(tag), "email": f"{tag}{DOMAIN}", "password": PASSWORD}
            if how == "register":
                tcp(how, w.tcp().request("register", **body))
            else:
                http(how, w.api.post("/api/v1/auth/register", body))
    elif field == "email":
        for how, tag in (("POST /auth/register", "h"), ("register", "t")):
            body = {"username": f"user{tag}", "email": make(tag), "password": PASSWORD}
            if how == "register":
                tcp(how, w.tcp().request("register", **body))
            else:
                http(how, w.api.post("/api/v1/auth/register", body))
        http("PATCH /users/me", w.api.patch("/api/v1/users/me", {"email": make("p")}, token=member))
    elif field == "room name":
        # Names are trimmed before they are measured.
        http("POST /rooms", w.api.post("/api/v1/rooms", {"name": f" {make('h')}\n"}, token=member))
        http("PATCH /rooms", w.api.patch(public, {"name": f"\t{make('p')} "}, token=owner))
        tcp("create_room", client.request("create_room", name=f"\u3000{make('t')}"))
    else:
        for how, verb, path in (
            ("POST /rooms", "POST", "/api/v1/rooms"),
            ("PATCH /rooms", "PATCH", public),
        ):
            body = {"name": f"described {verb}", "description": make("h")}
            http(how, w.api.request(verb, path, body, token=owner))
        tcp(
            "create_room",
            client.request("create_room", name="described tcp", description=make("t")),
        )
    return out


@pytest.mark.parametrize("field", list(LIMITS))
@pytest.mark.parametrize(
    # 4 bytes: a CJK ideograph, a letter in plain form (a username may not use a
    # compatibility letter such as 𝔘, which is U written otherwise).
    "char",
    ["a", "é", "中", "\U00020000"],
    ids=["1-byte", "2-byte", "3-byte", "4-byte"],
)
def test_length_limits_on_every_path(world: Any, field: str, char: str) -> None:
    """The longest value is accepted and one byte more is refused, on every path."""
    limit, code = LIMITS[field]

    def make(size: int) -> Any:
        if field == "email":
            return lambda tag: sized(size - len(DOMAIN), char, tag) + DOMAIN
        return lambda tag: sized(size, char, tag)

    assert len(make(limit)("x").encode()) == limit
    accepted = submissions(world, field, make(limit))
    assert all(got is None for _, _, got in accepted), accepted
    refused = submissions(world, field, make(limit + 1))
    assert all(got == code for _, _, got in refused), refused
    assert all(status in (None, 400) for _, status, _ in refused), refused


def test_long_passwords_and_search_strings_cost_nothing_special(world: Any) -> None:
    """No maximum password length (as the original); searches longer than any name
    simply find nothing, on every path."""
    w = world
    long_password = "p" * 65536
    body = {"username": "longpw", "email": "longpw@example.com", "password": long_password}
    assert w.api.post("/api/v1/auth/register", body).status == 201
    login = w.api.post("/api/v1/auth/login", {"identifier": "longpw", "password": long_password})
    assert login.status == 200
    for search in ("%" * 5000, "_" * 5000, "a" * 5000):
        for path in ("/api/v1/users", "/api/v1/rooms"):
            reply = w.api.get(path, token=w.token("member"), params={"search": search})
            assert reply.status == 200, reply
            assert reply.json["total_count"] == 0
    client = w.tcp("member")
    for search in ("a" * 200_000, "%" * 200_000, "\\" * 200_000):
        for kind in ("list_users", "list_rooms"):
            reply = client.request(kind, filter={"search": search})
            assert reply["success"] is True, reply
            assert reply["total_count"] == 0


# --------------------------------------------------------------------------- pagination


BAD_NUMBERS = [
    "-1",
    "4294967296",
    "99999999999999999999",
    "1.5",
    "1e3",
    "abc",
    "",
    " 5",
    "0x10",
    "５",
]
#: GET /messages pages with cursors: it has ``limit`` but no ``offset``.
PAGED = [
    ("/api/v1/users", "limit"),
    ("/api/v1/users", "offset"),
    ("/api/v1/rooms", "limit"),
    ("/api/v1/rooms", "offset"),
    ("/api/v1/messages", "limit"),
]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize(("path", "name"), PAGED)
def test_pagination_out_of_bounds_is_400(world: Any, path: str, name: str, value: str) -> None:
    w = world
    params = {name: value}
    if path == "/api/v1/messages":
        params.update(target_type="room", target_id=w.room_id("public"))
    reply = w.api.get(path, token=w.token("member"), params=params)
    assert (reply.status, reply.code) == (400, "validation_failed"), reply
    assert name in reply.error["message"]


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/rooms", "/api/v1/messages"])
def test_pagination_at_the_u32_edges(world: Any, path: str) -> None:
    w = world
    params: dict[str, str] = {}
    if path == "/api/v1/messages":
        params.update(target_type="room", target_id=w.room_id("public"))
    biggest = w.api.get(path, token=w.token("member"), params={**params, "limit": str(U32_MAX)})
    assert biggest.status == 200, biggest
    items = next(v for v in biggest.json.values() if isinstance(v, list))
    assert 0 < len(items) <= 100
    if path != "/api/v1/messages":
        far = w.api.get(path, token=w.token("member"), params={"offset": str(U32_MAX)})
        assert far.status == 200 and far.json["total_count"] == 0, far
    none = w.api.get(path, token=w.token("member"), params={**params, "limit": "0"})
    assert none.status == 200


def test_realtime_pagination_bounds(world: Any) -> None:
    client = world.tcp("member")
    for kind in ("list_users", "list_rooms"):
        for field in ("limit", "offset"):
            for bad in (
                b"-1",
                b"4294967296",
                b"18446744073709551616",
                b"1.5",
                b"1e3",
                b'"10"',
                b"null",
            ):
                client.send_payload(b'{"type":"%s","%s":%s}' % (kind.encode(), field.encode(), bad))
                (reply,) = client.frames()
                assert reply["type"] == "error" and reply["code"] == "invalid_message", reply
        far = client.request(kind, offset=U32_MAX, limit=U32_MAX)
        assert far["success"] is True and far["total_count"] == 0, far
    reply = client.request("get_messages", target=room_target(world), limit=U32_MAX)
    assert reply["success"] is True and 0 < len(reply["messages"]) <= 100


# --------------------------------------------------------------------------- plain text

HOSTILE_TEXT = {
    "sql-drop": "'; DROP TABLE users;--",
    "sql-bobby": "Robert'); DROP TABLE students;--",
    "sql-or": "\" OR 1=1 -- ' OR '1'='1",
    "like-wildcards": "100% _of_ \\everything\\",
    "nul": "before\x00after",
    "control": "bell\x07 back\x08 esc\x1b[31mred\x1b[0m del\x7f",
    "crlf": "line one\r\nline two\rthree\nfour",
    "rtl-override": "invoice\u202egnp.exe\u202c",
    "zero-width": "zero\u200bwidth\u200djoin\ufeffbom",
    "line-separators": "para\u2028line\u2029sep\x85nel",
    "emoji": "🦄 👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷",
    "combining": "e\u0301 Z\u0351\u0352\u0353\u0354",
    "astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010fffd",
    "markup": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "json-looking": '{"type":"message_received","content":"fake"}',
    "format-strings": "%s%n%x {0} ${jndi:ldap://x} {{7*7}}",
    "path": "../../../etc/passwd\\..\\",
}


@pytest.mark.parametrize("text", list(HOSTILE_TEXT.values()), ids=list(HOSTILE_TEXT))
def test_hostile_text_is_stored_and_returned_byte_for_byte(world: Any, text: str) -> None:
    w = world
    member = w.token("member")
    client = w.tcp("member")
    # A message, sent over HTTP, read back over TCP; and the other way round.
    sent = w.api.post("/api/v1/messages", {"target": room_target(w), "content": text}, token=member)
    assert sent.status == 201, sent
    assert sent.json["message"]["content"] == text
    history = client.request("get_messages", target=room_target(w), limit=1)
    assert history["messages"][0]["content"] == text
    over_tcp = client.request(
        "send_message", target={"type": "dm", "recipient": w.id("bystander")}, content=text
    )
    assert over_tcp["success"] is True and over_tcp["message"]["content"] == text
    back = w.api.get(
        "/api/v1/messages",
        token=w.token("bystander"),
        params={"target_type": "dm", "target_id": w.id("member"), "limit": "1"},
    )
    assert back.json["messages"][0]["content"] == text
    # On the wire: JSON's own minimal escaping of exactly these characters, non-ASCII raw.
    assert orjson.dumps(text) in back.body
    # A room named and described with it, and found by searching for it; or, for
    # text with a control or an invisible character, a name refused (our addition).
    rooms = result(w.core.store.counts())["rooms"]
    room = w.api.post("/api/v1/rooms", {"name": text, "description": text}, token=member)
    if any(m.group(1) for m in NAME_UNSAFE.finditer(text)):
        assert (room.status, room.code) == (400, "room_name_invalid"), room
        assert result(w.core.store.counts())["rooms"] == rooms
        return
    assert room.status == 201, room
    assert room.json["room"]["name"] == text
    assert room.json["room"]["settings"]["description"] == text
    got = w.api.get(f"/api/v1/rooms/{room.json['room']['id']}", token=member)
    assert got.json["room"]["name"] == text
    found = w.api.get("/api/v1/rooms", token=member, params={"search": text})
    assert [r["room"]["name"] for r in found.json["rooms"]] == [text]
    listed = client.request("list_rooms", filter={"search": text})
    assert [r["room"]["name"] for r in listed["rooms"]] == [text]
    # Searching users for it is harmless too.
    users = w.api.get("/api/v1/users", token=member, params={"search": text})
    assert users.status == 200
    # And the database is whole.
    assert result(w.core.store.counts())["users"] == 9
    assert (
        w.api.post("/api/v1/auth/login", {"identifier": "member", "password": PASSWORD}).status
        == 200
    )


@pytest.mark.parametrize("text", list(HOSTILE_TEXT.values()), ids=list(HOSTILE_TEXT))
def test_hostile_identifiers_are_refused_or_harmless(world: Any, text: str) -> None:
    w = world
    register = w.api.post(
        "/api/v1/auth/register",
        {"username": text, "email": "x@example.com", "password": PASSWORD},
    )
    assert (register.status, register.code) == (400, "username_invalid"), register
    login = w.api.post("/api/v1/auth/login", {"identifier": text, "password": text + "x" * 8})
    assert (login.status, login.code) == (401, "invalid_credentials")


def test_emails_keep_their_quotes(world: Any) -> None:
    """The email rules check the @ and the dot only (as the original): the rest is
    stored as sent (lowercased) and never interpreted."""
    w = world
    email = "o'brien\"; drop table users;--@example.com"
    reply = w.api.post(
        "/api/v1/auth/register", {"username": "obrien", "email": email, "password": PASSWORD}
    )
    assert reply.status == 201, reply
    assert reply.json["user"]["email"] == email
    login = w.api.post("/api/v1/auth/login", {"identifier": email.upper(), "password": PASSWORD})
    assert login.status == 200


# --------------------------------------------------------------------------- TCP frames


def test_an_oversized_frame_drops_the_connection_unread(world: Any) -> None:
    client = world.tcp("member")
    client.send_raw((MAX_FRAME + 1).to_bytes(4, "big") + b"{")
    assert client.transport.disconnected or client.transport.disconnecting
    assert client.frames() == []
    # A frame of exactly 1 MiB is read (and answered).
    other = world.tcp("member")
    payload = b'{"type":"ping","pad":"' + b"x" * (MAX_FRAME - 24) + b'"}'
    assert len(payload) == MAX_FRAME
    other.send_payload(payload)
    assert [f["type"] for f in other.frames()] == ["pong"]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(
            orjson.dumps({"type": "ping", "x": nested(FRAME_DEPTH + 1)}), id="deeper-than-32"
        ),
        pytest.param(b'{"type":"ping","x":' + b"[" * 500_000 + b"]" * 500_000 + b"}", id="500k"),
        pytest.param(b'{"type":"send_message","content":"\\ud800"}', id="lone-surrogate"),
        pytest.param(b'{"type":"list_users","limit":1e999}', id="huge-float"),
        pytest.param(b'{"type":"ping"', id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00", id="nul"),
        pytest.param(b'{"type":"\\u0000"}', id="nul-type"),
        pytest.param(b'{"type":["ping"]}', id="type-array"),
    ],
)
def test_malformed_frames_are_invalid_messages(world: Any, payload: bytes) -> None:
    client = world.tcp("member")
    client.send_payload(payload)
    (reply,) = client.frames()
    assert reply["type"] == "error" and reply["code"] == "invalid_message", reply
    assert not client.closed
    client.send({"type": "ping"})
    assert [f["type"] for f in client.frames()] == ["pong"]


def test_a_frame_nested_32_deep_is_read(world: Any) -> None:
    client = world.tcp("member")
    client.send_payload(orjson.dumps({"type": "ping", "x": nested(FRAME_DEPTH)}))
    assert [f["type"] for f in client.frames()] == ["pong"]


def test_invalid_utf8_closes_the_connection(world: Any) -> None:
    client = world.tcp("member")
    client.send_payload(b'{"type":"ping","x":"\xff"}')
    assert client.frames() == []
    assert client.closed


def test_huge_arrays_in_frames(world: Any) -> None:
    w = world
    client = w.connect()
    features = ["x"] * ((MAX_FRAME - 100) // 4)
    client.send({"type": "client_hello", "version": "1.0", "features": features})
    assert client.frames() == []
    assert client.authenticate(w.token("member"))["success"] is True
    ignored = list(range((MAX_FRAME - 100) // 2))
    client.send_payload(b'{"type":"ping","ignored":[' + b",".join(b"0" for _ in ignored) + b"]}")
    assert [f["type"] for f in client.frames()] == ["pong"]
    # request_id is bounded (it is echoed in every response): a longer one is refused
    # as an invalid message, and the connection stays usable.
    client.send({"type": "list_invitations", "request_id": "r" * REQUEST_ID_MAX})
    (reply,) = client.frames()
    assert reply["request_id"] == "r" * REQUEST_ID_MAX
    client.send({"type": "list_invitations", "request_id": "r" * (MAX_FRAME - 43)})
    (refusal,) = client.frames()
    assert (refusal["type"], refusal["code"]) == ("error", "invalid_message")
    assert not client.closed
    client.send({"type": "ping"})
    assert [f["type"] for f in client.frames()] == ["pong"]
