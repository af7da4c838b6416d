"""One account on several devices at once, against a real server: the terminal
client's TCP (plain and encrypted), WebSocket, and REST with the same or other
tokens. What one device does to its session (logout, refresh, password change), what
an admin does to the account (ban), and what the session's own end (expiry) does to
the others' live connections and tokens; presence, echoes and read markers across
devices (docs/SECURITY.md, "Tokens and sessions"; docs/protocols/TCP.md §5, §6, §8).

Real sockets on loopback (``ServerProcess`` and the blocking clients of
:mod:`lairchat.testing_clients`), urllib for REST; every wait is a read with a
deadline or a ping barrier.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient, WSClient, rest

PASSWORD = "correct horse battery"
ADMIN = "sessions_admin"
Client = TCPClient | WSClient
PRESENCE = ("user_online", "user_offline")


def start(tmp: Path, **env: str) -> ServerProcess:
    return ServerProcess(tmp, LAIR_ADMIN_USERNAME=ADMIN, LAIR_ADMIN_PASSWORD=PASSWORD, **env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start(tmp_path_factory.mktemp("sessions-live"))
    yield srv
    srv.stop()


class User:
    """An account; :meth:`device` logs it in once more (a session of its own)."""

    def __init__(self, server: ServerProcess, name: str | None = None) -> None:
        """A new account, or with ``name`` an existing one."""
        self.server = server
        self.name = name or f"u{uuid.uuid4().hex[:10]}"
        if name is None:
            body = {"username": self.name, "email": f"{self.name}@ex.com", "password": PASSWORD}
            status, reply = rest(server, "POST", "/api/v1/auth/register", body)
            assert status == 201, reply
            self.id = reply["user"]["id"]
        else:
            self.id = self.device()["user"]["id"]

    def device(self) -> dict:
        """A new session: the login's answer (``token``, ``session``, ``user``)."""
        body = {"identifier": self.name, "password": PASSWORD}
        status, reply = rest(self.server, "POST", "/api/v1/auth/login", body)
        assert status == 200, reply
        return reply


def tcp(server: ServerProcess, token: str, encrypted: bool = False) -> TCPClient:
    client = TCPClient.connect(server.tcp_port)
    client.hello(encrypted=encrypted)
    client.ok("authenticate", token=token)
    return client


def ws(server: ServerProcess, token: str) -> WSClient:
    client = WSClient(server.http_port)
    assert client.recv()["type"] == "server_hello"
    client.send({"type": "client_hello", "version": "1.0", "features": []})
    client.ok("authenticate", token=token)
    return client


def devices(server: ServerProcess, *tokens: str) -> list[Client]:
    """One connection per token: TCP, encrypted TCP, WebSocket, in turn."""
    kinds = [tcp, lambda s, t: tcp(s, t, encrypted=True), ws]
    return [kinds[i % 3](server, token) for i, token in enumerate(tokens)]


def refused_on_realtime(server: ServerProcess, token: str) -> dict:
    """The error a new connection's ``authenticate`` with ``token`` gets."""
    with TCPClient.connect(server.tcp_port) as client:
        client.hello()
        response = client.request("authenticate", token=token)
    assert response["success"] is False, response
    return response["error"]


def me(server: ServerProcess, token: str) -> tuple[int, dict]:
    return rest(server, "GET", "/api/v1/users/me", token=token)


def presence(conn: Client, user_id: str) -> list[str]:
    """The presence events about ``user_id`` that ``conn`` was sent so far."""
    return [m["type"] for m in conn.barrier() if m["type"] in PRESENCE and m["user_id"] == user_id]


# -- ending sessions ----------------------------------------------------------------------


def test_a_logout_ends_that_session_only_on_every_transport(server: ServerProcess) -> None:
    alice, bob = User(server), User(server)
    s1, s2, s3 = alice.device(), alice.device(), alice.device()
    watcher = tcp(server, bob.device()["token"])
    a1, a2, a3 = devices(server, s1["token"], s2["token"], s3["token"])
    a3_again = tcp(server, s3["token"])  # the same session on two connections
    assert presence(watcher, alice.id) == ["user_online"]

    assert rest(server, "POST", "/api/v1/auth/logout", token=s3["token"]) == (
        200,
        {"success": True},
    )

    # Both connections of that session close (a logout says nothing first) ...
    assert a3.expect_closed() == []
    assert a3_again.expect_closed() == []
    assert me(server, s3["token"])[0] == 401
    assert refused_on_realtime(server, s3["token"])["code"] == "session_not_found"
    # ... and nothing else: the other sessions' connections and tokens still work.
    for conn in (a1, a2):
        assert conn.ok("get_current_user")["user"]["id"] == alice.id
    assert me(server, s1["token"])[0] == me(server, s2["token"])[0] == 200
    assert presence(watcher, alice.id) == []  # alice is still online


def test_a_session_ended_from_another_device_loses_its_connections_and_token(
    server: ServerProcess,
) -> None:
    """The owner of a stolen token lists the sessions on a device they trust and ends
    the one they do not recognize: its TCP and WebSocket connections close as a logout
    closes them, its token is refused on REST and real time, and nothing else ends."""
    alice, bob = User(server), User(server)
    owner, stolen = alice.device(), alice.device()
    bobs = bob.device()
    intruder_tcp, intruder_ws = tcp(server, stolen["token"]), ws(server, stolen["token"])
    mine, bystander = tcp(server, owner["token"]), tcp(server, bobs["token"])

    status, listing = rest(server, "GET", "/api/v1/auth/sessions", token=owner["token"])
    assert status == 200 and listing["has_more"] is False
    # The registration's session, then the two devices', newest first.
    listed = [(s["id"], s["current"]) for s in listing["sessions"]]
    assert listed[:2] == [(stolen["session"]["id"], False), (owner["session"]["id"], True)]
    assert len(listed) == 3 and not listed[2][1]
    # Bob's session is as unknown to alice as a made-up one, and stays.
    path = "/api/v1/auth/sessions/"
    status, answer = rest(server, "DELETE", path + bobs["session"]["id"], token=owner["token"])
    assert (status, answer["error"]["code"]) == (404, "not_found")

    status, answer = rest(server, "DELETE", path + stolen["session"]["id"], token=owner["token"])
    assert (status, answer) == (200, {"success": True})
    # Closed with nothing said first (presence events aside), as after a logout elsewhere.
    for conn in (intruder_tcp, intruder_ws):
        assert [m for m in conn.expect_closed() if m["type"] not in PRESENCE] == []
    assert me(server, stolen["token"])[0] == 401
    assert refused_on_realtime(server, stolen["token"])["code"] == "session_not_found"
    assert mine.ok("get_current_user")["user"]["id"] == alice.id
    assert bystander.ok("get_current_user")["user"]["id"] == bob.id
    assert me(server, owner["token"])[0] == 200
    status, listing = rest(server, "GET", "/api/v1/auth/sessions", token=owner["token"])
    assert [s["id"] for s in listing["sessions"]] == [owner["session"]["id"], listed[2][0]]


def test_the_listing_says_where_each_session_was_made_and_that_it_is_in_use(
    server: ServerProcess,
) -> None:
    """Each session with the address and User-Agent of the client that made it (a REST
    login, a real-time login over WebSocket and over TCP), live connections shown as
    in use now; an ended session is listed no more. All were null before."""
    alice = User(server)
    web = alice.device()  # urllib: its own User-Agent
    socket_ws = WSClient(server.http_port, headers={"User-Agent": "lair-test-ws/2.0"})
    assert socket_ws.recv()["type"] == "server_hello"
    socket_ws.send({"type": "client_hello", "version": "1.0", "features": []})
    by_ws = socket_ws.ok("login", identifier=alice.name, password=PASSWORD)
    terminal = TCPClient.connect(server.tcp_port)
    terminal.hello()
    by_tcp = terminal.ok("login", identifier=alice.name, password=PASSWORD)

    status, listing = rest(server, "GET", "/api/v1/auth/sessions", token=web["token"])
    assert status == 200
    seen = {s["id"]: (s["ip_address"], s["user_agent"]) for s in listing["sessions"]}
    assert seen[web["session"]["id"]][0] == "127.0.0.1"
    assert seen[web["session"]["id"]][1].startswith("Python-urllib/")
    assert seen[by_ws["session"]["id"]] == ("127.0.0.1", "lair-test-ws/2.0")
    assert seen[by_tcp["session"]["id"]] == ("127.0.0.1", None)
    # Whole seconds, as stored, even for the sessions in use now (connected).
    for entry in listing["sessions"]:
        assert entry["last_active_at"] >= entry["created_at"]

    path = "/api/v1/auth/sessions/" + by_ws["session"]["id"]
    assert rest(server, "DELETE", path, token=web["token"]) == (200, {"success": True})
    socket_ws.expect_closed()
    status, listing = rest(server, "GET", "/api/v1/auth/sessions", token=web["token"])
    assert by_ws["session"]["id"] not in {s["id"] for s in listing["sessions"]}
    assert len(listing["sessions"]) == 3  # registration, web, terminal
    terminal.close()


def test_a_password_change_ends_every_other_session_everywhere(server: ServerProcess) -> None:
    alice = User(server)
    s1, s2, s3 = alice.device(), alice.device(), alice.device()
    a1, a2, a3 = devices(server, s1["token"], s2["token"], s3["token"])
    body = {"current_password": PASSWORD, "new_password": PASSWORD + "!"}
    assert rest(server, "POST", "/api/v1/auth/change-password", body, s1["token"])[0] == 200

    notice = {
        "type": "error",
        "code": "session_not_found",
        "message": "Session ended: the password was changed",
    }
    for conn, session in ((a2, s2), (a3, s3)):
        assert conn.expect_closed() == [notice]
        assert me(server, session["token"])[0] == 401
        assert refused_on_realtime(server, session["token"])["code"] == "session_not_found"
    # The session that made the change stays, live connection and token.
    assert a1.ok("get_current_user")["user"]["id"] == alice.id
    assert me(server, s1["token"])[0] == 200


def test_a_ban_ends_every_session_with_account_banned(server: ServerProcess) -> None:
    alice, bob, admin = User(server), User(server), User(server, ADMIN)
    s1, s2, s3 = alice.device(), alice.device(), alice.device()
    watcher = ws(server, bob.device()["token"])
    conns = devices(server, s1["token"], s2["token"], s3["token"])
    assert presence(watcher, alice.id) == ["user_online"]

    path = f"/api/v1/admin/users/{alice.id}/ban"
    assert rest(server, "POST", path, {"reason": "spam"}, admin.device()["token"])[0] == 200

    banned = {"type": "error", "code": "account_banned", "message": "Account banned"}
    for conn in conns:
        assert conn.expect_closed() == [banned]
    assert presence(watcher, alice.id) == ["user_offline"]  # once, not per device
    for session in (s1, s2, s3):
        assert me(server, session["token"]) == (
            401,
            {"error": {"code": "session_not_found", "message": "Session not found or expired"}},
        )
        assert refused_on_realtime(server, session["token"])["code"] == "account_banned"
    body = {"identifier": alice.name, "password": PASSWORD}
    assert rest(server, "POST", "/api/v1/auth/login", body)[0] == 403


def test_an_expired_session_closes_its_connections_at_expiry(server: ServerProcess) -> None:
    """SECURITY.md: a live connection is closed when its session expires (Lair Chat
    kept it open and receiving); the account's other session stays. The session's row is made to end
    in a few seconds (room for a loaded machine to authenticate before); a connection
    authenticating with it reads that expiry."""
    alice = User(server)
    ending, other = alice.device(), alice.device()
    db = sqlite3.connect(server.database)
    with db:
        db.execute(
            "UPDATE sessions SET expires_at = ? WHERE id = ?",
            (int(time.time()) + 4, ending["session"]["id"]),
        )
    db.close()
    tcp_conn, ws_conn = tcp(server, ending["token"]), ws(server, ending["token"])
    stays = tcp(server, other["token"], encrypted=True)

    expired = {"type": "error", "code": "session_expired", "message": "Session expired"}
    assert tcp_conn.expect_closed() == [expired]
    assert ws_conn.expect_closed() == [expired]
    assert rest(server, "POST", "/api/v1/auth/refresh", token=ending["token"])[0] == 401
    assert stays.ok("get_current_user")["user"]["id"] == alice.id


def test_refreshes_at_once_and_after_logout(server: ServerProcess) -> None:
    alice = User(server)
    session = alice.device()
    old = session["token"]
    in_use = ws(server, old)
    answers: list[tuple[int, dict]] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(rest(server, "POST", "/api/v1/auth/refresh", token=old))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200, 200]
    # Nothing is extended: the session's own expiry, whole seconds.
    whole = session["session"]["expires_at"].split(".")[0].removesuffix("+00:00") + "+00:00"
    assert {reply["expires_at"] for _, reply in answers} == {whole}
    refreshed = answers[0][1]["token"]
    second = ws(server, refreshed)  # the new token beside the old one, same session
    assert in_use.ok("get_current_user")["user"]["id"] == alice.id

    second.ok("logout")
    assert second.expect_closed() == []
    assert in_use.expect_closed() == []  # the same session: closed too
    assert rest(server, "POST", "/api/v1/auth/refresh", token=old)[0] == 401
    assert rest(server, "POST", "/api/v1/auth/refresh", token=refreshed)[0] == 401


# -- several devices at work --------------------------------------------------------------


def test_presence_goes_offline_with_the_last_device_only(server: ServerProcess) -> None:
    alice, bob = User(server), User(server)
    watcher = tcp(server, bob.device()["token"])
    last = tcp(server, alice.device()["token"], encrypted=True)
    assert presence(watcher, alice.id) == ["user_online"]
    others = [ws(server, alice.device()["token"]) for _ in range(2)]
    assert presence(watcher, alice.id) == []  # online once, not per device
    for conn in others:
        conn.close_cleanly()  # returns once the server is done with the connection
    assert presence(watcher, alice.id) == []
    last.close()
    assert watcher.event("user_offline", user_id=alice.id)
    assert presence(watcher, alice.id) == []  # offline once


def test_a_message_reaches_every_device_of_both_parties_once(server: ServerProcess) -> None:
    alice, bob = User(server), User(server)
    senders = devices(
        server, alice.device()["token"], alice.device()["token"], alice.device()["token"]
    )
    receivers = devices(server, bob.device()["token"], bob.device()["token"])
    target = {"type": "dm", "recipient": bob.id}
    sent = senders[0].ok("send_message", target=target, content="from the terminal")["message"]
    status, reply = rest(
        server,
        "POST",
        "/api/v1/messages",
        {"target": {"type": "direct_message", "recipient": bob.id}, "content": "from the browser"},
        alice.device()["token"],
    )
    assert status == 201
    for conn in senders + receivers:
        got = [m["message"]["id"] for m in conn.barrier() if m["type"] == "message_received"]
        assert got == [sent["id"], reply["message"]["id"]]


def test_a_read_marker_set_on_one_device_counts_on_the_others(server: ServerProcess) -> None:
    """Read markers are the user's: no event, the other devices' next fetch."""
    alice, bob = User(server), User(server)
    phone, laptop = alice.device(), alice.device()
    terminal = tcp(server, phone["token"])
    sender = tcp(server, bob.device()["token"])
    for i in range(3):
        sender.ok("send_message", target={"type": "dm", "recipient": alice.id}, content=f"m{i}")
    assert me(server, laptop["token"])[1]["unread_counts"]["by_dm"] == {bob.id: 3}
    assert terminal.ok("mark_read", target={"type": "dm", "recipient": bob.id})["unread_count"] == 0
    assert me(server, laptop["token"])[1]["unread_counts"]["by_dm"] == {}


def test_no_device_learns_another_users_email_or_session(server: ServerProcess) -> None:
    alice, bob = User(server), User(server)
    bobs = bob.device()
    conn = ws(server, alice.device()["token"])
    other = tcp(server, bobs["token"])
    other.ok("send_message", target={"type": "dm", "recipient": alice.id}, content="hi")
    seen = json.dumps(
        [
            *conn.barrier(),
            conn.ok("get_user", user_id=bob.id),
            conn.ok("list_users", filter={"search": bob.name}),
            rest(server, "GET", f"/api/v1/users/{bob.id}", token=alice.device()["token"]),
        ]
    )
    assert bob.name in seen
    assert f"{bob.name}@ex.com" not in seen
    assert bobs["session"]["id"] not in seen and bobs["token"] not in seen


# -- shared allowances ----------------------------------------------------------------------


def test_a_stolen_token_cannot_keep_the_owner_from_changing_the_password(
    tmp_path: Path,
) -> None:
    """Rate limits are per user, shared by every session: the intruder's spending
    over TCP left the owner's password change 429 (found by a hostile review); it is
    counted against the owner's session and ends the intruder's."""
    limited = start(tmp_path, LAIR_RATE_LIMITS="on")
    try:
        alice = User(limited)
        stolen, owner = alice.device(), alice.device()
        intruder = tcp(limited, stolen["token"])
        for i in range(100):
            intruder.send({"type": "get_current_user", "request_id": str(i)})
        answers = [intruder.recv() for _ in range(100)]
        assert all(a["success"] for a in answers)
        assert me(limited, owner["token"])[0] == 429  # the user's allowance is spent
        body = {"current_password": PASSWORD, "new_password": PASSWORD + "!"}
        assert rest(limited, "POST", "/api/v1/auth/change-password", body, owner["token"])[0] == 200
        assert [m["code"] for m in intruder.expect_closed()] == ["session_not_found"]
    finally:
        limited.stop()
