"""Two-factor sign-in on a real server, over real sockets (docs/protocols/HTTP.md,
"Two-factor sign-in (TOTP)"; docs/SECURITY.md, "Two-factor sign-in"): REST and TCP
logins with and without a code, a code refused the second time, recovery codes used
once, wrong codes counted by the lockout, other sessions ended on turning it on, and
the operator's ``lairchat admin reset-2fa`` beside the running server.

The server's clock is the real one: codes are made here from the secret, as an
authenticator makes them (one step either side of the server's is accepted, so a
step changing between here and there does no harm)."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lairchat.core.auth import LOCKOUT_THRESHOLD
from lairchat.domain import totp
from lairchat.testing_clients import TCPClient, WSClient, rest
from tests.integration.conftest import PASSWORD, LiveServer, unique
from tests.integration.test_admin_audit_live import lairchat


@pytest.fixture(scope="module")
def server(start_live_server) -> LiveServer:
    """Rate limits off: one address makes more logins here than the auth tier's 10 a
    minute (the lockout, which is what is tested, is not a rate limit)."""
    return start_live_server(LAIR_RATE_LIMITS="off")


class Person:
    def __init__(self, server: LiveServer):
        self.server = server
        self.name = unique("otp")
        body = {"username": self.name, "email": f"{self.name}@example.com", "password": PASSWORD}
        status, reply = rest(server, "POST", "/api/v1/auth/register", body)
        assert status == 201, reply
        self.token = reply["token"]
        self.key = b""
        #: The code enable used.
        self.used = ""
        self.recovery: list[str] = []

    def login(self, **extra: Any) -> tuple[int, dict]:
        body = {"identifier": self.name, "password": PASSWORD, **extra}
        return rest(self.server, "POST", "/api/v1/auth/login", body)

    def code(self, offset: int = 0) -> str:
        return totp.hotp(self.key, totp.step_at(time.time()) + offset)

    def turn_on(self) -> None:
        path = "/api/v1/users/me/2fa/setup"
        status, reply = rest(self.server, "POST", path, {"password": PASSWORD}, self.token)
        assert status == 200, reply
        secret = reply["secret"]
        self.key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        path = "/api/v1/users/me/2fa/enable"
        self.used = self.code()
        status, reply = rest(self.server, "POST", path, {"code": self.used}, self.token)
        assert status == 200, reply
        self.recovery = reply["recovery_codes"]


def code_of(reply: tuple[int, dict]) -> tuple[int, str | None]:
    status, body = reply
    return status, body.get("error", {}).get("code")


def tcp_login(server: LiveServer, name: str, **extra: Any) -> dict:
    with server.connect() as client:
        client.hello()
        return client.request("login", identifier=name, password=PASSWORD, **extra)


def test_rest_and_tcp_logins_with_and_without_a_code(server: LiveServer) -> None:
    alice = Person(server)
    # Before: every login as today, over both.
    assert alice.login()[0] == 200
    assert tcp_login(server, alice.name)["success"] is True

    # Another device signed in, with a live connection: turning it on ends it.
    status, other = alice.login()
    elsewhere = server.login(other["token"])
    alice.turn_on()
    elsewhere.sock.settimeout(10)
    notices = [m for m in elsewhere.expect_closed() if m["type"] == "error"]
    assert [(m["code"], m["message"]) for m in notices] == [
        ("session_not_found", "Session ended: two-factor sign-in was turned on")
    ]
    status, me = rest(server, "GET", "/api/v1/users/me", token=alice.token)
    assert status == 200 and me["two_factor"] == {"enabled": True, "recovery_codes_left": 10}

    assert code_of(alice.login()) == (401, "totp_required")
    assert code_of(alice.login(totp="")) == (401, "totp_required")
    # Codes are made once each: the step may change while the test runs.
    nxt = alice.code(1)
    wrong = "000000" if nxt != "000000" else "111111"
    assert code_of(alice.login(totp=wrong)) == (401, "invalid_totp")
    assert code_of(alice.login(password="wrong-password", totp=nxt)) == (
        401,
        "invalid_credentials",
    )
    # The code enable used is used up; the next one signs in, once.
    assert code_of(alice.login(totp=alice.used)) == (401, "invalid_totp")
    status, signed_in = alice.login(totp=nxt)
    assert status == 200, signed_in
    assert code_of(alice.login(totp=nxt)) == (401, "invalid_totp")

    # The real-time login: totp_required without a code, no session; with one, a
    # session, once; the token made over HTTP authenticates as always.
    answer = tcp_login(server, alice.name)
    assert (answer["success"], answer["error"]["code"]) == (False, "totp_required")
    assert "token" not in answer
    # (No later step's code is valid yet: the REST login above used the next one.)
    answer = tcp_login(server, alice.name, totp=alice.code(1))
    assert (answer["success"], answer["error"]["code"]) == (False, "invalid_totp")
    recovery = alice.recovery[5]
    answer = tcp_login(server, alice.name, totp=recovery)
    assert answer["success"] is True and answer["user"]["username"] == alice.name
    answer = tcp_login(server, alice.name, totp=recovery)
    assert (answer["success"], answer["error"]["code"]) == (False, "invalid_totp")
    with server.login(signed_in["token"]) as client:
        assert client.username == alice.name
    # Over WebSocket too (the same session code).
    with WSClient(server.http_port) as ws:
        assert ws.recv()["type"] == "server_hello"
        ws.send({"type": "client_hello", "version": "1.0"})
        answer = ws.request("login", identifier=alice.name, password=PASSWORD)
        assert (answer["success"], answer["error"]["code"]) == (False, "totp_required")

    # A recovery code signs in once.
    assert alice.login(totp=alice.recovery[0])[0] == 200
    assert code_of(alice.login(totp=alice.recovery[0])) == (401, "invalid_totp")
    status, me = rest(server, "GET", "/api/v1/users/me", token=alice.token)
    assert me["two_factor"]["recovery_codes_left"] == 8  # one used over TCP


def test_wrong_codes_lock_the_login_as_wrong_passwords_do(server: LiveServer) -> None:
    bob = Person(server)
    bob.turn_on()
    for _ in range(LOCKOUT_THRESHOLD):
        assert code_of(bob.login(totp="12345x"))[1] == "invalid_totp"
    assert code_of(bob.login(totp=bob.code(1))) == (403, "account_locked")
    assert code_of(bob.login(totp=bob.recovery[0])) == (403, "account_locked")


def test_the_operator_resets_it_beside_the_running_server(server: LiveServer) -> None:
    carol = Person(server)
    carol.turn_on()
    status, reply = carol.login(totp=carol.recovery[1])
    connection: TCPClient = server.login(reply["token"])
    said = lairchat(server, "admin", "reset-2fa", carol.name)
    assert said.startswith(f"two-factor sign-in of {carol.name} turned off; 2 session(s)")
    connection.sock.settimeout(15)  # the server looks every 5 s
    assert [m.get("code") for m in connection.expect_closed() if m["type"] == "error"] == [
        "session_not_found"
    ]
    assert rest(server, "GET", "/api/v1/users/me", token=carol.token)[0] == 401
    status, reply = carol.login()
    assert status == 200, reply
    status, me = rest(server, "GET", "/api/v1/users/me", token=reply["token"])
    assert me["two_factor"]["enabled"] is False


def test_one_code_sent_in_many_logins_at_once_makes_one_session(server: LiveServer) -> None:
    """The step's check and its record are one conditional write: of logins sent
    together with one code (or one recovery code), one gets in."""
    for recovery in (False, True):
        dave = Person(server)  # a fresh lockout count each: 3 failures here
        dave.turn_on()
        shared = dave.recovery[2] if recovery else dave.code(1)
        assert at_once(dave, shared, 4) == [200, 401, 401, 401], shared


def at_once(person: Person, code: str, n: int) -> list[int]:
    """The statuses of ``n`` logins with ``code`` sent together, sorted."""
    start = threading.Barrier(n)

    def one(_: int) -> int:
        start.wait(timeout=30)
        return person.login(totp=code)[0]

    with ThreadPoolExecutor(n) as pool:
        return sorted(pool.map(one, range(n)))


def test_one_code_over_rest_and_tcp_at_once_makes_one_session(server: LiveServer) -> None:
    """As above, two logins over REST and two real-time ``login`` frames at once: the
    transports share the one write that takes the code (helper-97's review)."""
    for recovery in (False, True):
        erin = Person(server)
        erin.turn_on()
        shared = erin.recovery[4] if recovery else erin.code(1)
        answers = mixed_at_once(server, erin, shared)
        assert answers == [(False, "invalid_totp")] * 3 + [(True, None)], (shared, answers)


def mixed_at_once(server: LiveServer, person: Person, code: str) -> list[tuple]:
    """(signed in, error code) of two REST logins and two real-time ones with
    ``code``, sent together, sorted."""
    start = threading.Barrier(4)

    def one(i: int) -> tuple[bool, str | None]:
        start.wait(timeout=30)
        if i % 2:
            answer = tcp_login(server, person.name, totp=code)
            return answer["success"], (answer.get("error") or {}).get("code")
        status, error = code_of(person.login(totp=code))
        return status == 200, error

    with ThreadPoolExecutor(4) as pool:
        return sorted(pool.map(one, range(4)), key=str)


def test_new_recovery_codes_replace_the_old_ones(server: LiveServer) -> None:
    frank = Person(server)
    frank.turn_on()
    path = "/api/v1/users/me/2fa/recovery-codes"
    status, reply = rest(server, "POST", path, {"password": PASSWORD}, frank.token)
    assert (status, reply["error"]["code"]) == (401, "invalid_totp")
    body = {"password": PASSWORD, "code": frank.recovery[9]}
    status, reply = rest(server, "POST", path, body, frank.token)
    assert status == 200, reply
    new = reply["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(frank.recovery)
    assert code_of(frank.login(totp=frank.recovery[0])) == (401, "invalid_totp")
    assert frank.login(totp=new[0])[0] == 200
    status, me = rest(server, "GET", "/api/v1/users/me", token=frank.token)
    assert me["two_factor"] == {"enabled": True, "recovery_codes_left": 9}


def test_export_and_deletion_ask_for_the_code_too(server: LiveServer) -> None:
    grace = Person(server)
    grace.turn_on()
    for method, path in (("POST", "/api/v1/users/me/export"), ("DELETE", "/api/v1/users/me")):
        status, reply = rest(server, method, path, {"password": PASSWORD}, grace.token)
        assert (status, reply["error"]["code"]) == (401, "totp_required"), path
        body = {"password": PASSWORD, "totp": "zzzz-zzzz-zzzz"}
        status, reply = rest(server, method, path, body, grace.token)
        assert (status, reply["error"]["code"]) == (401, "invalid_totp"), path
    body = {"password": PASSWORD, "totp": grace.recovery[0]}
    status, reply = rest(server, "POST", "/api/v1/users/me/export", body, grace.token)
    assert status == 200 and reply["complete"] is True
    assert reply["two_factor"] == {"enabled": True}
    body = {"password": PASSWORD, "totp": grace.recovery[1]}
    status, reply = rest(server, "DELETE", "/api/v1/users/me", body, grace.token)
    assert (status, reply) == (200, {"success": True})
    assert code_of(grace.login(totp=grace.recovery[2])) == (401, "invalid_credentials")


def test_the_operator_clears_a_setup_never_turned_on(server: LiveServer) -> None:
    heidi = Person(server)
    path = "/api/v1/users/me/2fa/setup"
    assert rest(server, "POST", path, {"password": PASSWORD}, heidi.token)[0] == 200
    said = lairchat(server, "admin", "reset-2fa", heidi.name)
    assert said.startswith(f"two-factor sign-in was set up for {heidi.name} but never turned on")
    # Nothing was in force: the session stays; an enable finds nothing set up.
    path = "/api/v1/users/me/2fa/enable"
    status, reply = rest(server, "POST", path, {"code": "123456"}, heidi.token)
    assert (status, reply["error"]["code"]) == (409, "totp_not_set_up")
