"""Look-alike usernames on a real server: a name that looks like a user's is refused
as taken over REST and over TCP, and a merely similar one registers
(lairchat.domain.lookalike, docs/SECURITY.md)."""

from __future__ import annotations

import http.client
import json

from tests.integration.conftest import PASSWORD, LiveServer, unique

#: Cyrillic ѕ and о, Greek capital tau: ``sUpport`` spelled to pass for ``support``.
LOOKS_LIKE = str.maketrans({"s": "\u0455", "o": "\u043e", "t": "\u03a4"})


def rest_register(server: LiveServer, username: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
    try:
        body = {"username": username, "email": f"{unique('e')}@example.com", "password": PASSWORD}
        conn.request(
            "POST", "/api/v1/auth/register", json.dumps(body), {"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_look_alikes_are_taken_over_rest_and_tcp(live_server: LiveServer) -> None:
    owner = live_server.register("support")  # over TCP
    twin = owner.username.translate(LOOKS_LIKE)
    assert twin != owner.username

    status, body = rest_register(live_server, twin)
    assert (status, body["error"]["code"]) == (409, "username_taken"), body
    assert body["error"]["message"] == "Username already taken"

    client = live_server.connect()
    client.hello()
    response = client.request(
        "register", username=twin.upper(), email=f"{unique('e')}@example.com", password=PASSWORD
    )
    assert response["success"] is False
    assert response["error"]["code"] == "username_taken", response
    client.close()

    similar = owner.username.replace("support", "supp0rts")  # one letter more: not alike
    status, body = rest_register(live_server, similar)
    assert status == 201, body
    assert body["user"]["username"] == similar
    owner.close()
