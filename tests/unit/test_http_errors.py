"""Framework-level behaviour: error envelopes, request rejections, CORS, the
rate-limit hook, mounted children, body limits and unexpected failures."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.web.resource import Resource
from twisted.web.test.requesthelper import DummyRequest

from lairchat.core import passwords
from lairchat.domain.errors import LairError
from lairchat.transports.http.bodies import MAX_BODY_BYTES
from lairchat.transports.http.responses import json_body
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient

ROOMS = "/api/v1/rooms"
REGISTER = "/api/v1/auth/register"
GOOD = b'{"username":"alice","email":"a@example.com","password":"password1"}'


@pytest.fixture
def alice(client: ApiClient):
    return client.register("alice")


class Data(Resource):
    """A fixed plain-text page (a stand-in for /ws or /metrics)."""

    isLeaf = True

    def __init__(self, body: bytes, content_type: str):
        super().__init__()
        self.body, self.content_type = body, content_type.encode("ascii")

    def render_GET(self, request: Any) -> bytes:  # noqa: N802
        request.setHeader(b"Content-Type", self.content_type)
        return self.body


def post_raw(client: ApiClient, body: bytes, content_type: str | None = "application/json"):
    headers = {} if content_type is None else {"Content-Type": content_type}
    return client.post(REGISTER, data=body, headers=headers)


# -- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/api/v1/nope",
        "/api/v1/rooms/",
        "/api//v1/rooms",
        "//api/v1/rooms",
        "/metrics",
        "/",
    ],
)
def test_unknown_path_is_json_404(client: ApiClient, path: str) -> None:
    reply = client.get(path)
    assert reply.status == 404
    assert reply.header("content-type") == "application/json"
    assert reply.error == {"code": "not_found", "message": "Not found"}


def test_wrong_method_is_json_405_with_allow(client: ApiClient) -> None:
    reply = client.put(ROOMS, {})
    assert reply.status == 405
    assert reply.code == "method_not_allowed"
    assert reply.header("allow") == "GET, HEAD, POST"
    assert client.delete("/health").header("allow") == "GET, HEAD"


def test_routing_comes_before_authentication(client: ApiClient) -> None:
    assert client.get("/api/v1/nothing-here").status == 404
    assert client.request("PATCH", ROOMS).status == 405


def test_head_answers_like_get_without_a_body(client: ApiClient) -> None:
    reply = client.request("HEAD", "/health")
    assert (reply.status, reply.body) == (200, b"")


def test_path_that_is_not_utf8(client: ApiClient, alice) -> None:
    reply = client.get(ROOMS + "/%ff", token=alice.token)
    assert (reply.status, reply.code) == (400, "validation_failed")


# -- bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "text/json", "application/x-www-form-urlencoded"]
)
def test_body_without_json_content_type_is_415(client: ApiClient, content_type) -> None:
    reply = post_raw(client, GOOD, content_type)
    assert reply.status == 415
    assert reply.error == {
        "code": "unsupported_media_type",
        "message": "Content-Type must be application/json",
    }


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json"],
)
def test_json_content_types(client: ApiClient, content_type: str) -> None:
    assert post_raw(client, GOOD, content_type).status == 201


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"{'a': 1}",
        b'{"username": NaN}',
        b'{"a":1} {"b":2}',
        b'{"username":"\\ud800"}',
        b"\xff\xfe",
        b"[" * 2000,
    ],
)
def test_unreadable_json_is_400(client: ApiClient, body: bytes) -> None:
    reply = post_raw(client, body)
    assert (reply.status, reply.code) == (400, "validation_failed")
    assert reply.error["message"].startswith("Validation failed: body - ")


@pytest.mark.parametrize(
    ("body", "kind"), [(b"[]", "an array"), (b'"text"', "a string"), (b"null", "null")]
)
def test_json_that_is_not_an_object_is_422(client: ApiClient, body: bytes, kind: str) -> None:
    """Readable JSON of the wrong shape, as HTTP.md and the original's extractor say."""
    reply = post_raw(client, body)
    assert reply.status == 422
    assert reply.error == {
        "code": "validation_failed",
        "message": f"Validation failed: body - expected a JSON object, got {kind}",
    }


def test_unknown_fields_are_ignored(client: ApiClient) -> None:
    body = b'{"username":"alice","email":"a@example.com","password":"password1","x":[1]}'
    assert post_raw(client, body).status == 201


def test_oversized_body_is_413(client: ApiClient, alice) -> None:
    body = b'{"name":"' + b"x" * MAX_BODY_BYTES + b'"}'
    reply = client.post(ROOMS, data=body, headers={"Content-Type": "application/json"})
    assert reply.status == 413
    assert reply.error == {"code": "payload_too_large", "message": "Request body too large"}


# -- unexpected failures ------------------------------------------------------------------


def test_unexpected_exception_is_logged_and_500(client: ApiClient, alice, monkeypatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(client.core.rooms, "list_public", broken)
    with capturedLogs() as events:
        reply = client.get(ROOMS + "?search=query-secret", token=alice.token)
    assert reply.status == 500
    assert reply.error == {"code": "internal_error", "message": "Internal error"}
    assert b"secret" not in reply.body and b"Traceback" not in reply.body
    failures = [e for e in events if "log_failure" in e]
    assert len(failures) == 1
    assert failures[0]["log_failure"].check(RuntimeError)
    # The path is logged, never the query string (it may hold a token: /ws?token=).
    assert formatEvent(failures[0]) == f"GET {ROOMS} failed"


# -- CORS ---------------------------------------------------------------------------------


def test_cors_headers_on_every_response(client: ApiClient, alice) -> None:
    for reply in (client.get("/health"), client.get(ROOMS), client.get("/nope")):
        assert reply.header("access-control-allow-origin") == "*"
        exposed = reply.header("access-control-expose-headers")
        assert "X-RateLimit-Remaining" in exposed and "Retry-After" in exposed


def test_api_answers_are_neither_sniffed_nor_kept_by_caches(client: ApiClient, alice) -> None:
    """One user's rooms, messages and profile: a browser fetching them without the
    web client's own cache: "no-store" (another client, a shared computer) kept
    them, and nothing said the JSON was only JSON."""
    me = {"Authorization": f"Bearer {alice.token}"}
    for reply in (
        client.get("/api/v1/users/me", headers=me),
        client.get(ROOMS, headers=me),
        client.get("/nope"),
        client.request("OPTIONS", ROOMS),
    ):
        assert reply.header("cache-control") == "no-store"
        assert reply.header("x-content-type-options") == "nosniff"


def test_preflight(client: ApiClient) -> None:
    reply = client.request(
        "OPTIONS",
        "/api/v1/messages",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert (reply.status, reply.body) == (200, b"")
    assert reply.header("access-control-allow-origin") == "*"
    assert reply.header("access-control-allow-methods") == "*"
    assert reply.header("access-control-allow-headers") == "authorization,content-type"
    bare = client.request("OPTIONS", "/anything")
    assert (bare.status, bare.header("access-control-allow-headers")) == (200, "*")


# -- the rate-limit hook and mounted children ---------------------------------------------


class RefuseAll:
    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def admit(self, request: Any) -> LairError:
        self.seen.append(request.path)
        request.setHeader(b"Retry-After", b"42")
        return LairError("rate_limited", details={"retry_after": 42, "limit": 100})


def test_limiter_hook_sees_every_request_but_preflights(client: ApiClient) -> None:
    limiter = client.api.limiter = RefuseAll()
    client.api.resource().putChild(b"ws", Data(b"upgrade", "text/plain"))
    for path in ("/health", "/ws", "/api/v1/rooms", "/nope"):
        reply = client.get(path)
        assert reply.status == 429
        assert reply.header("retry-after") == "42"
        assert reply.error == {
            "code": "rate_limited",
            "message": "Too many requests",
            "details": {"retry_after": 42, "limit": 100},
        }
    assert client.request("OPTIONS", "/health").status == 200
    assert limiter.seen == [b"/health", b"/ws", b"/api/v1/rooms", b"/nope"]


def test_rate_limits_off_in_config_skips_the_limiter(monkeypatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)

    class Config:
        rate_limits = False

    client = ApiClient(config=Config())
    client.api.limiter = RefuseAll()
    assert client.get("/health").status == 200


def test_children_are_served_beside_the_api(client: ApiClient) -> None:
    client.api.resource().putChild(b"metrics", Data(b"lair_up 1\n", "text/plain"))
    reply = client.get("/metrics")
    assert (reply.status, reply.body) == (200, b"lair_up 1\n")
    assert reply.header("access-control-allow-origin") == "*"
    assert client.get("/health").status == 200


# -- bodies bounded on arrival (the site's request factory) -------------------------------


def connect_site(client: ApiClient) -> tuple[Any, StringTransport]:
    site = client.api.site(reactor=MemoryReactorClock())
    protocol = site.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def test_site_refuses_a_declared_oversized_body_at_once(client: ApiClient) -> None:
    protocol, transport = connect_site(client)
    protocol.dataReceived(
        b"POST /api/v1/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1)
    )
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"Access-Control-Allow-Origin: *" in answer
    assert answer.endswith(
        b'{"error":{"code":"payload_too_large","message":"Request body too large"}}'
    )
    assert transport.disconnecting
    protocol.dataReceived(b"x" * 1000)  # the rest of the body is dropped
    assert transport.value() == answer


def test_site_refuses_a_chunked_body_crossing_the_limit(client: ApiClient) -> None:
    protocol, transport = connect_site(client)
    protocol.dataReceived(
        b"POST /api/v1/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * (1024 * 1024)
    for _ in range(2):
        protocol.dataReceived(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    assert transport.value() == b""
    protocol.dataReceived(b"1\r\nx\r\n")
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assert transport.disconnecting


def test_host_that_is_not_utf8(client: ApiClient) -> None:
    protocol, transport = connect_site(client)
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHost: \xff\r\n\r\n")
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.endswith(b'"message":"Validation failed: url - not valid UTF-8"}}')


def test_site_serves_normal_requests(client: ApiClient) -> None:
    protocol, transport = connect_site(client)
    body = GOOD
    protocol.dataReceived(
        b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 201 ")
    assert b'"username":"alice"' in answer


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=b0", "multipart/form-data; boundary=x", None],
)
def test_form_bodies_are_not_parsed_before_the_api_refuses_them(
    client: ApiClient, content_type: str | None
) -> None:
    """Twisted parses multipart and form POST bodies into request.args before any
    resource runs; nested parts raised a RecursionError (a traceback and a dropped
    connection) and a malformed one got a bare 400. The API reads JSON only."""
    if content_type is None:  # form-urlencoded, with a body Twisted would parse
        content_type, body = "application/x-www-form-urlencoded", b"a=1&" * 1000
    else:
        body = b"".join(
            b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
            for i in range(1000)
        )
    protocol, transport = connect_site(client)
    with capturedLogs() as events:
        protocol.dataReceived(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (content_type.encode(), len(body), body)
        )
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 415 "), answer[:200]
    assert answer.endswith(b'"message":"Content-Type must be application/json"}}')
    assert not transport.disconnecting
    assert [e for e in events if e.get("log_failure") or e["log_level"].name != "info"] == []


def refusal(status: str, code: str, message: str) -> tuple[bytes, bytes]:
    """The status and JSON body a refusal made by the channel starts and ends with."""
    body = b'{"error":{"code":"%s","message":"%s"}}' % (code.encode(), message.encode())
    return b"HTTP/1.1 " + status.encode() + b" ", body


LONG_LINE = refusal("414", "uri_too_long", "Request URI too long")
LARGE_HEADERS = refusal("431", "headers_too_large", "Request headers too large")
MALFORMED = refusal(
    "400", "validation_failed", "Validation failed: request - malformed HTTP request"
)


@pytest.mark.parametrize(
    ("request_head", "expected"),
    [
        # One request line over 16 KiB (Twisted alone closed without a word).
        (b"GET /api/v1/rooms?search=" + b"a" * 17_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", LONG_LINE),
        # ...still arriving: no line end yet.
        (b"GET /api/v1/messages/search?q=" + b"a" * 20_000, LONG_LINE),
        # One header line over 16 KiB.
        (
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
            LARGE_HEADERS,
        ),
        # Lines each short, over 16 KiB together (Twisted: a bare 400).
        (
            b"GET /health HTTP/1.1\r\n" + (b"X-Many: " + b"a" * 4000 + b"\r\n") * 5 + b"\r\n",
            LARGE_HEADERS,
        ),
        # A long request line that short headers push over 16 KiB: the headers' fault.
        (
            b"GET /health?x=" + b"a" * 16_000 + b" HTTP/1.1\r\nX-A: " + b"a" * 500 + b"\r\n\r\n",
            LARGE_HEADERS,
        ),
        # More than 500 header fields (Twisted: a bare 400).
        (b"GET /health HTTP/1.1\r\n" + b"X-A: 1\r\n" * 501 + b"\r\n", LARGE_HEADERS),
        # Not HTTP at all (Twisted: a bare 400).
        (b"NONSENSE\r\n\r\n", MALFORMED),
        (b"GET /health HTTP/1.1\r\nContent-Length: ten\r\n\r\n", MALFORMED),
    ],
    ids=[
        "request-line",
        "request-line-unfinished",
        "header-line",
        "headers-in-all",
        "line-plus-headers",
        "header-count",
        "not-http",
        "bad-length",
    ],
)
def test_a_request_over_twisteds_limits_gets_its_status_and_the_error_body(
    client: ApiClient, request_head: bytes, expected: tuple[bytes, bytes]
) -> None:
    """Refused while it arrives, before any resource sees it: the status a client
    looks for and the JSON body every other refusal has, then a close. What else
    arrives is dropped unread (no second answer)."""
    protocol, transport = connect_site(client)
    protocol.dataReceived(request_head)
    answer = transport.value()
    status_line, body = expected
    assert answer.startswith(status_line), answer[:200]
    assert b"\r\nContent-Type: application/json\r\n" in answer
    assert b"\r\nContent-Length: %d\r\n" % len(body) in answer
    assert b"\r\nAccess-Control-Allow-Origin: *\r\n" in answer
    assert answer.endswith(b"\r\n\r\n" + body)
    assert transport.disconnecting
    protocol.dataReceived(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.value() == answer


def test_statuses_twisted_has_no_phrase_for_get_one() -> None:
    """Twisted's table lacks 422, 426 and 429: their status lines said 'Unknown Status'."""
    for status, phrase in ((422, b"Unprocessable Entity"), (429, b"Too Many Requests")):
        request = DummyRequest([b""])
        json_body(request, status, {})
        assert (request.responseCode, request.responseMessage) == (status, phrase)
