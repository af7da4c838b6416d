"""A login storm on a real server, over real sockets: password checks expected to
wait longer than LAIR_PASSWORD_WAIT for a password hasher are refused at once (429
``rate_limited`` with ``Retry-After``, REST; the same error over TCP) instead of
queued; every request is answered, and logins go through again once it is over
(lairchat.core.passwords, docs/operations.md "Password checks")."""

from __future__ import annotations

import http.client
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from lairchat.testing_clients import rest
from tests.integration.conftest import PASSWORD, LiveServer, unique

STORM = 80


@pytest.fixture(scope="module")
def server(start_live_server) -> LiveServer:
    """A wait of 10 ms: a check that finds both hashers busy is refused (a hash
    takes tens of milliseconds). Rate limits off: the storm comes from one address."""
    return start_live_server(LAIR_RATE_LIMITS="off", LAIR_PASSWORD_WAIT="0.01")


def login(server: LiveServer, name: str) -> tuple[int, str | None, dict]:
    """One REST login: status, Retry-After header, body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
    try:
        body = orjson.dumps({"identifier": name, "password": PASSWORD})
        connection.request("POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), orjson.loads(response.read())
    finally:
        connection.close()


def test_a_login_storm_is_answered_at_once_past_the_wait(server):
    """Over four accounts: 40 logins at once to one account from one address fill its
    lockout's waiting line (5 checked, 25 waiting), and the rest were answered 403
    ``account_locked`` (2 runs in 3 here), which is the lockout's, not this bound's."""
    names = [unique("storm") for _ in range(4)]
    for name in names:
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert rest(server, "POST", "/api/v1/auth/register", body)[0] == 201
    before = server.log_size()
    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(lambda i: login(server, names[i % 4]), range(STORM)))
    statuses = Counter(status for status, _, _ in outcomes)
    assert set(statuses) == {200, 429}, statuses
    assert statuses[200] >= 2
    for status, retry_after, reply in outcomes:
        if status == 200:
            assert reply["user"]["username"] in names
            continue
        error = reply["error"]
        assert error["code"] == "rate_limited"
        assert error["details"]["retry_after"] >= 1
        assert retry_after == str(error["details"]["retry_after"])
    assert "password checks refused" in server.log_since(before)
    # Over: the next login is checked (and was never counted as a wrong password).
    status, _, reply = login(server, names[0])
    assert status == 200, reply


def test_a_tcp_login_in_a_storm_is_refused_the_same_way(server):
    name = unique("stormtcp")
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    assert rest(server, "POST", "/api/v1/auth/register", body)[0] == 201
    with server.connect() as client, ThreadPoolExecutor(40) as pool:
        client.hello()
        storm = [pool.submit(login, server, name) for _ in range(STORM)]
        codes = []
        for _ in range(20):
            reply = client.request("login", identifier=name, password=PASSWORD)
            codes.append("ok" if reply["success"] else reply["error"]["code"])
            if "rate_limited" in codes:
                break
        for future in storm:
            future.result()
    assert "rate_limited" in codes, codes


def test_logins_whose_clients_hang_up_are_taken_back_not_hashed(start_live_server):
    """Logins sent and their connections closed at once, 20 at a time: a check still
    queued when its client goes is taken back and never hashed (lairchat.hashers),
    one being hashed counts until it is done. So 400 logins hung up on leave the
    hashers no backlog: nothing is refused, and the next login is answered within a
    couple of hashes' time, not behind 400 hashes (about 6 s here). (Before the
    hashers, each hung-up check counted until done, and the queue was refused past
    the bound; before that, none counted, nothing was refused, and the next login
    waited behind all of them.)"""
    server = start_live_server(LAIR_RATE_LIMITS="off", LAIR_PASSWORD_WAIT="1")
    before = server.log_size()
    batch: list[socket.socket] = []
    for i in range(400):
        body = orjson.dumps({"identifier": unique(f"gone{i}-"), "password": PASSWORD})
        head = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        client = socket.create_connection(("127.0.0.1", server.http_port), timeout=30)
        client.sendall(head + body)
        batch.append(client)
        if len(batch) == 20:
            time.sleep(0.05)  # read, and their hashes queued
            for client in batch:
                client.close()
            batch = []
    time.sleep(0.2)  # the last hang-ups seen
    started = time.monotonic()
    status, _, body = login(server, unique("next-"))
    waited = time.monotonic() - started
    assert (status, body["error"]["code"]) == (401, "invalid_credentials"), body
    assert waited < 3.0, waited
    assert "password checks refused" not in server.log_since(before)
