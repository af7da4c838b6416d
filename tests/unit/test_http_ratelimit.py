"""HTTP rate limiting: the original's tiers, keyed per user or per client address."""

from __future__ import annotations

import itertools

import pytest
from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.web.http import Request
from twisted.web.test.requesthelper import DummyChannel

import lairchat.core.passwords
from lairchat.core.ratelimit import RateLimiter
from lairchat.testing import make_core
from lairchat.transports.http.ratelimit import HttpRateLimiter
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient
from lairchat.transports.proxies import ProxyPolicy

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


def limited_client(clock: task.Clock, trusted: tuple[str, ...] = ()) -> ApiClient:
    client = ApiClient(make_core(clock=clock))
    core = client.core
    core.limiter = RateLimiter(clock, enabled=True)
    client.api.limiter = HttpRateLimiter(core.limiter, core.auth.tokens, ProxyPolicy(trusted))
    return client


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lairchat.core.passwords, "HASHER", CHEAP_HASHER)


_attempts = itertools.count()


def bad_login(client: ApiClient, **headers: str):
    """A failed login under a fresh identifier (so account lockout stays out of the way)."""
    identifier = f"nobody{next(_attempts)}"
    return client.post(LOGIN, {"identifier": identifier, "password": "x" * 8}, headers=headers)


def test_login_storm_from_one_address_gets_429_with_retry_after(clock: task.Clock) -> None:
    client = limited_client(clock)
    replies = [bad_login(client) for _ in range(11)]
    assert [r.status for r in replies] == [401] * 10 + [429]
    refused = replies[-1]
    assert refused.code == "rate_limited"
    assert refused.json["error"]["details"] == {"retry_after": 60, "limit": 10}
    assert refused.header("Retry-After") == "60"
    # A refusal's headers show the tier that refused (the general tier's said 89 of
    # 100 left on a 429); an admitted request's show the general tier, as the original's.
    assert refused.header("X-RateLimit-Limit") == "10"
    assert refused.header("X-RateLimit-Remaining") == "0"
    assert refused.header("X-RateLimit-Reset") == "60"
    assert replies[0].header("X-RateLimit-Limit") == "100"
    assert replies[0].header("X-RateLimit-Remaining") == "99"
    clock.advance(60)
    assert bad_login(client).status == 401


def test_authenticated_requests_are_keyed_per_user(clock: task.Clock) -> None:
    client = limited_client(clock)
    alice, bob = client.register("alice"), client.register("bob")
    room = client.create_room(alice, "lobby")
    client.post(f"/api/v1/rooms/{room['id']}/join", token=bob.token)
    target = {"type": "room", "room_id": room["id"]}
    sent = [
        client.post("/api/v1/messages", {"target": target, "content": f"m{i}"}, token=alice.token)
        for i in range(31)
    ]
    assert [r.status for r in sent] == [201] * 30 + [429]
    # Bob shares alice's address but not her bucket.
    reply = client.post("/api/v1/messages", {"target": target, "content": "hi"}, token=bob.token)
    assert reply.status == 201


def test_forwarded_for_is_ignored_from_untrusted_peers(clock: task.Clock) -> None:
    client = limited_client(clock)
    statuses = [
        bad_login(client, **{"X-Forwarded-For": f"198.51.100.{i}"}).status for i in range(11)
    ]
    assert statuses[-1] == 429


def test_forwarded_for_is_believed_from_trusted_proxies(clock: task.Clock) -> None:
    client = limited_client(clock, trusted=("0.0.0.0/0", "::/0"))
    for _ in range(10):
        bad_login(client, **{"X-Forwarded-For": "198.51.100.1"})
    assert bad_login(client, **{"X-Forwarded-For": "198.51.100.1"}).status == 429
    assert bad_login(client, **{"X-Forwarded-For": "198.51.100.2"}).status == 401


def test_general_tier_covers_every_path(clock: task.Clock) -> None:
    client = limited_client(clock)
    statuses = [client.get("/health").status for _ in range(101)]
    assert statuses == [200] * 100 + [429]


def test_every_forwarded_for_line_counts_as_over_websocket() -> None:
    """Proxies that each add a line of their own (HAProxy's option forwardfor): HTTP
    read the last line only, and took the proxy written there for the client, where
    the WebSocket adapter reads them all (Autobahn joins them)."""
    policy = ProxyPolicy(["10.0.0.0/8"])
    request = Request(DummyChannel())
    request.client = IPv4Address("TCP", "10.0.0.5", 4711)
    request.requestHeaders.setRawHeaders(b"x-forwarded-for", [b"198.51.100.9", b"10.0.0.2"])
    assert policy.client_of_request(request) == "198.51.100.9"
    assert policy.client_of("10.0.0.5", {"x-forwarded-for": "198.51.100.9, 10.0.0.2"}.get) == (
        "198.51.100.9"
    )
    # X-Real-IP is one address: of several lines, the last, on both transports.
    request.requestHeaders.removeHeader(b"x-forwarded-for")
    request.requestHeaders.setRawHeaders(b"x-real-ip", [b"203.0.113.1", b"198.51.100.7"])
    assert policy.client_of_request(request) == "198.51.100.7"
    assert policy.client_of("10.0.0.5", {"x-real-ip": "203.0.113.1, 198.51.100.7"}.get) == (
        "198.51.100.7"
    )


def test_a_proxy_on_a_unix_socket_is_believed_once_trusted() -> None:
    """Behind nginx on lairchat's Unix socket every request comes from 'unix': without
    a way to trust it, all clients shared one rate limit and one login lockout (five
    failures from anyone locked a known user out for everyone)."""
    assert ProxyPolicy(["unix"]).client_host("unix", "198.51.100.9") == "198.51.100.9"
    assert ProxyPolicy(["127.0.0.1"]).client_host("unix", "198.51.100.9") == "unix"
    assert ProxyPolicy(["unix"]).client_host("127.0.0.1", "198.51.100.9") == "127.0.0.1"
    assert not ProxyPolicy(["unix"]).is_trusted("198.51.100.9")


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, "198.51.100.66"),  # X-Forwarded-For first: what the client wrote
        ("x-real-ip", "203.0.113.7"),  # the one header the proxy sets
        ("x-forwarded-for", "198.51.100.66"),
    ],
)
def test_the_one_header_a_proxy_sets_names_the_client(header: str | None, key: str) -> None:
    """A proxy that sets X-Real-IP and passes the client's own X-Forwarded-For through
    (nginx does unless told otherwise): read first, that header let every client pick
    its rate-limit and lockout key, or frame another address. LAIR_FORWARDED_HEADER
    names the one header to read."""
    policy = ProxyPolicy(["10.0.0.0/8"], header)
    sent = {"x-forwarded-for": "198.51.100.66", "x-real-ip": "203.0.113.7"}
    assert policy.client_of("10.0.0.5", sent.get) == key
    request = Request(DummyChannel())
    request.client = IPv4Address("TCP", "10.0.0.5", 4711)
    for name, value in sent.items():
        request.requestHeaders.setRawHeaders(name, [value])
    assert policy.client_of_request(request) == key
    # Only the named header counts: without it, the proxy itself.
    alone = {"x-forwarded-for": "x-real-ip", "x-real-ip": "x-forwarded-for"}.get(header)
    if alone is not None:
        assert policy.client_of("10.0.0.5", {alone: sent[alone]}.get) == "10.0.0.5"
    # From anyone but a trusted proxy, neither counts.
    assert policy.client_of("192.0.2.1", sent.get) == "192.0.2.1"


def test_the_proxy_header_is_one_the_policy_knows() -> None:
    with pytest.raises(ValueError, match="x-forwarded-for, x-real-ip"):
        ProxyPolicy(["10.0.0.0/8"], "forwarded")


def test_a_proxy_header_named_keys_http_rate_limits(clock: task.Clock) -> None:
    """The server's policy, from its settings, is what the rate limiter reads."""
    from types import SimpleNamespace

    config = SimpleNamespace(trusted_proxies=("0.0.0.0/0", "::/0"), forwarded_header="x-real-ip")
    client = limited_client(clock)
    client.api.limiter.proxies = ProxyPolicy.from_config(config)
    for i in range(10):  # a client writing a new X-Forwarded-For each time
        bad_login(client, **{"X-Real-IP": "198.51.100.1", "X-Forwarded-For": f"192.0.2.{i}"})
    assert bad_login(client, **{"X-Real-IP": "198.51.100.1"}).status == 429
    assert bad_login(client, **{"X-Real-IP": "198.51.100.2"}).status == 401


@pytest.mark.parametrize("spent", ["general", "auth"])
def test_another_session_cannot_spend_the_owners_logout_or_password_change(
    clock: task.Clock, spent: str
) -> None:
    """Allowances are per user, so every holder of the account's tokens shares them:
    an intruder with a stolen token kept them used up (100 cheap requests a minute,
    or 10 refreshes), and the owner's password change, the one thing that locks the
    intruder out, and logout got 429. Those two count against their own session."""
    client = limited_client(clock)
    intruder = client.register("alice")
    owner = client.login(intruder)

    def spend() -> int:
        if spent == "general":
            return client.get("/api/v1/users/me", token=intruder.token).status
        return client.post("/api/v1/auth/refresh", token=intruder.token).status

    assert [spend() for _ in range(101 if spent == "general" else 11)][-1] == 429
    change = {"current_password": owner.password, "new_password": "changed-1"}
    assert client.post("/api/v1/auth/change-password", change, token=owner.token).status == 200
    # The user's allowance is still spent (the limiter answers before the session).
    assert spend() == 429
    assert client.post("/api/v1/auth/logout", token=owner.token).status == 200


def test_logout_and_password_change_are_still_limited_per_session(clock: task.Clock) -> None:
    """Counted per session, not exempt: a token holder gets no unbounded requests."""
    client = limited_client(clock)
    alice = client.register("alice")
    statuses = [client.post("/api/v1/auth/logout", token=alice.token).status for _ in range(11)]
    assert statuses == [200] + [401] * 9 + [429]


def test_an_intruder_cannot_spend_the_owners_listing_or_ending_of_sessions(
    clock: task.Clock,
) -> None:
    """The owner of a stolen token lists the sessions and ends the intruder's, however
    much of the user's allowance the intruder has used: both count against the
    owner's own session, as logout does."""
    client = limited_client(clock)
    intruder = client.register("alice")
    owner = client.login(intruder)
    statuses = [client.post("/api/v1/auth/refresh", token=intruder.token).status for _ in range(11)]
    assert statuses[-1] == 429
    listed = client.get("/api/v1/auth/sessions", token=owner.token)
    assert listed.status == 200
    assert [s["current"] for s in listed.json["sessions"]] == [True, False]
    stolen = listed.json["sessions"][1]["id"]
    assert client.delete(f"/api/v1/auth/sessions/{stolen}", token=owner.token).status == 200
    assert client.get("/api/v1/users/me", token=owner.token).status == 200


def test_listing_and_ending_sessions_are_still_limited_per_session(clock: task.Clock) -> None:
    """Counted per session (the auth tier: 10 a minute), not exempt."""
    client = limited_client(clock)
    alice = client.register("alice")
    statuses = [client.get("/api/v1/auth/sessions", token=alice.token).status for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    other = client.login(alice)
    unknown = "/api/v1/auth/sessions/00000000-0000-4000-8000-000000000000"
    statuses = [client.delete(unknown, token=other.token).status for _ in range(11)]
    assert statuses == [404] * 10 + [429]


@pytest.mark.parametrize(
    "spelling", ["/api/v1/%61uth/login", "/api/v1/auth/%6Cogin", "/api/v1/%61%75%74%68/login"]
)
def test_a_percent_encoded_path_counts_against_the_tier_of_the_route_it_reaches(
    clock: task.Clock, spelling: str
) -> None:
    """The router decodes the path before matching it, so ``/api/v1/%61uth/login`` is
    the login route; the tier has to be chosen on the same decoded path, or a
    password guesser spelling it so had the general 100 a minute instead of the
    auth tier's 10 (found against a real server: 14 such logins, no 429)."""
    client = limited_client(clock)
    body = {"password": "x" * 8}
    statuses = [
        client.post(spelling, {**body, "identifier": f"nobody{next(_attempts)}"}).status
        for _ in range(11)
    ]
    assert statuses == [401] * 10 + [429]


def test_a_percent_encoded_sessions_path_is_still_counted_per_session(
    clock: task.Clock,
) -> None:
    """The session routes are keyed per session however their path is spelled."""
    client = limited_client(clock)
    intruder = client.register("alice")
    owner = client.login(intruder)
    for _ in range(11):
        client.post("/api/v1/auth/refresh", token=intruder.token)
    assert client.get("/api/v1/auth/%73essions", token=owner.token).status == 200
