"""The login lockout on a real server (real sockets, real Argon2id): concurrent
honest logins from one address all get in, and during a lock for every address
the address the user logged in from still does (SECURITY.md)."""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lairchat.core.auth import LOCKOUT_THRESHOLD, LOCKOUT_THRESHOLD_ALL
from tests.integration.conftest import PASSWORD, LiveServer, unique

CONCURRENT = 3 * LOCKOUT_THRESHOLD


def post(
    server: LiveServer, path: str, body: dict, forwarded: str | None = None
) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
    try:
        headers = {"Content-Type": "application/json"}
        if forwarded is not None:
            headers["X-Forwarded-For"] = forwarded
        conn.request("POST", f"/api/v1{path}", json.dumps(body), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def register(server: LiveServer) -> str:
    name = unique("lock")
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    assert post(server, "/auth/register", body)[0] == 201
    return name


def login(
    server: LiveServer, name: str, password: str = PASSWORD, forwarded: str | None = None
) -> tuple[int, str | None]:
    """(status, error code or None)."""
    body = {"identifier": name, "password": password}
    status, answer = post(server, "/auth/login", body, forwarded)
    return status, answer.get("error", {}).get("code")


@pytest.fixture(scope="module")
def server(start_live_server) -> LiveServer:
    """Behind a trusted proxy on loopback: X-Forwarded-For names the client, so one
    test can log in from many addresses."""
    return start_live_server(LAIR_TRUSTED_PROXIES="127.0.0.1")


def test_concurrent_honest_logins_from_one_address_all_get_in(server: LiveServer) -> None:
    """Sent together on separate connections, each holding the password check
    longer than the others take to arrive: the sixth on were refused 403
    ``account_locked`` though none had failed."""
    name = register(server)
    start = threading.Barrier(CONCURRENT)

    def one(_: int) -> tuple:
        start.wait(timeout=30)
        return login(server, name, forwarded="203.0.113.9")

    with ThreadPoolExecutor(CONCURRENT) as pool:
        outcomes = list(pool.map(one, range(CONCURRENT)))
    assert outcomes == [(200, None)] * CONCURRENT


def test_a_client_logging_in_on_several_tcp_connections_at_once_gets_in_on_each(
    server: LiveServer,
) -> None:
    """The legacy TCP ``login`` on connections opened together (all from 127.0.0.1):
    the sixth on were refused ``account_locked``."""
    name = register(server)
    clients = [server.connect() for _ in range(CONCURRENT)]
    try:
        for client in clients:
            client.hello()
        for i, client in enumerate(clients):
            message = {"type": "login", "request_id": f"login-{i}"}
            client.send({**message, "identifier": name, "password": PASSWORD})
        replies = [client.wait_for(lambda m: m["type"] == "login_response") for client in clients]
    finally:
        for client in clients:
            client.close()
    assert [reply["success"] for reply in replies] == [True] * CONCURRENT, replies


def test_a_burst_of_guesses_is_still_cut_at_the_threshold(server: LiveServer) -> None:
    name = register(server)
    start = threading.Barrier(CONCURRENT)

    def one(i: int) -> tuple:
        start.wait(timeout=30)
        return login(server, name, f"guess-{i}", forwarded="203.0.113.10")

    with ThreadPoolExecutor(CONCURRENT) as pool:
        outcomes = list(pool.map(one, range(CONCURRENT)))
    assert outcomes.count((401, "invalid_credentials")) == LOCKOUT_THRESHOLD
    assert outcomes.count((403, "account_locked")) == CONCURRENT - LOCKOUT_THRESHOLD


def test_the_users_own_address_gets_in_during_a_lock_for_everyone(server: LiveServer) -> None:
    name = register(server)
    assert login(server, name, forwarded="198.51.100.7") == (200, None)
    per_address = LOCKOUT_THRESHOLD - 1
    for i in range(LOCKOUT_THRESHOLD_ALL):
        address = f"203.0.113.{100 + i // per_address}"
        assert login(server, name, "guess-guess", address) == (401, "invalid_credentials")
    assert login(server, name, forwarded="192.0.2.44") == (403, "account_locked")
    assert login(server, name, "guess-guess", "192.0.2.45") == (403, "account_locked")
    assert login(server, name, forwarded="198.51.100.7") == (200, None)


def test_an_identifier_spelling_an_address_key_locks_nobody_out(server: LiveServer) -> None:
    """``name`` NUL ``ip:<address>`` was the lockout key of ``name`` from that
    address: 25 failures as that identifier, from anywhere, locked the user out of
    their own address."""
    name = register(server)
    assert login(server, name, forwarded="198.51.100.8") == (200, None)
    spelled = f"{name}\0ip:198.51.100.8"
    for i in range(LOCKOUT_THRESHOLD_ALL):
        assert login(server, spelled, "guess-guess", f"203.0.113.{i}")[0] == 401
    assert login(server, name, forwarded="198.51.100.8") == (200, None)


def send_login(server: LiveServer, name: str, forwarded: str) -> http.client.HTTPConnection:
    """A login request sent, its answer not read."""
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
    body = json.dumps({"identifier": name, "password": PASSWORD})
    headers = {"Content-Type": "application/json", "X-Forwarded-For": forwarded}
    conn.request("POST", "/api/v1/auth/login", body, headers)
    return conn


def test_clients_that_give_up_waiting_leave_the_address_usable(server: LiveServer) -> None:
    """Logins waiting for their turn whose clients hang up: the web server cancels
    them, and they were let through later all the same, counted and never settled,
    so the address waited for ever after."""
    name = register(server)
    address = "203.0.113.11"
    answered = [send_login(server, name, address) for _ in range(LOCKOUT_THRESHOLD)]
    for conn in [send_login(server, name, address) for _ in range(LOCKOUT_THRESHOLD)]:
        conn.close()  # hangs up, most likely while waiting
    for conn in answered:
        assert conn.getresponse().status == 200
        conn.close()
    start = threading.Barrier(CONCURRENT)

    def one(_: int) -> tuple:
        start.wait(timeout=30)
        return login(server, name, forwarded=address)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        outcomes = list(pool.map(one, range(CONCURRENT)))
    assert outcomes == [(200, None)] * CONCURRENT
