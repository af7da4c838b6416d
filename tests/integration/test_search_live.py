"""Message search on a real server (``ServerProcess``, real sockets): the real-time
``search_messages`` over TCP and over WebSocket and ``GET /api/v1/messages/search``
give the same pages for the same questions, paging on with ``next_before`` to the
end, and none of them shows a room the caller is not in or another pair's DMs
(docs/protocols/TCP.md and HTTP.md, "Message search")."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient, WSClient, rest

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("search"))
    yield srv
    srv.stop()


def register(server: ServerProcess) -> tuple[TCPClient, str, str]:
    name = f"u{uuid.uuid4().hex[:10]}"
    tcp = TCPClient.connect(server.tcp_port)
    tcp.send({"type": "client_hello", "version": "1.0"})
    answer = tcp.request("register", username=name, email=f"{name}@example.com", password=PASSWORD)
    assert answer["success"] is True, answer
    return tcp, answer["user"]["id"], answer["token"]


def test_tcp_websocket_and_rest_find_the_same(server: ServerProcess) -> None:
    alice, alice_id, token = register(server)
    bob, bob_id, _ = register(server)
    carol, carol_id, carol_token = register(server)
    ws = WSClient(server.http_port, f"/ws?token={token}")
    assert ws.recv()["type"] == "server_hello"
    assert ws.recv()["success"] is True

    def room_of(client: TCPClient, *members: TCPClient, **settings: Any) -> str:
        room_id = client.ok("create_room", name=f"r{uuid.uuid4().hex[:8]}", **settings)
        room_id = room_id["room"]["id"]
        for member in members:
            member.ok("join_room", room_id=room_id)
        return room_id

    shared = room_of(alice, bob)
    secret = room_of(carol, settings={"public": False})
    left = room_of(bob, alice)
    expected = []
    for i in range(12):
        sender, target = [
            (bob, {"type": "room", "room_id": shared}),
            (alice, {"type": "dm", "recipient": bob_id}),
            (bob, {"type": "dm", "recipient": alice_id}),
        ][i % 3]
        expected.append(sender.ok("send_message", target=target, content=f"Straße {i}")["message"])
    bob.ok("send_message", target={"type": "dm", "recipient": carol_id}, content="Straße b-c")
    carol.ok("send_message", target={"type": "room", "room_id": secret}, content="STRASSE c")
    alice.ok("send_message", target={"type": "room", "room_id": left}, content="strasse left")
    alice.ok("leave_room", room_id=left)
    expected.reverse()

    def over_tcp(**fields: Any) -> dict:
        return alice.ok("search_messages", **fields)

    def over_ws(**fields: Any) -> dict:
        return ws.ok("search_messages", **fields)

    def over_rest(**fields: Any) -> dict:
        params = {"q": fields["query"], "limit": fields["limit"]}
        params |= {k: fields[k] for k in ("author", "since", "until") if k in fields}
        if "target" in fields:
            target = fields["target"]
            params["target_type"] = target["type"]
            params["target_id"] = target.get("room_id") or target.get("recipient")
        if fields.get("before"):
            params["before"] = fields["before"]
        status, body = rest(
            server, "GET", f"/api/v1/messages/search?{urlencode(params)}", None, token
        )
        assert status == 200, body
        return body

    def walk(ask: Callable[..., dict], **fields: Any) -> list[dict]:
        pages, before = [], None
        while True:
            page = ask(**fields, limit=5, **({"before": before} if before else {}))
            pages.append({k: page[k] for k in ("messages", "has_more", "next_before")})
            if not page["has_more"]:
                return pages
            before = page["next_before"]

    for scope in (
        {},
        {"target": {"type": "room", "room_id": shared}},
        {"target": {"type": "dm", "recipient": bob_id}},
    ):
        answers = [walk(ask, query=" STRASSE ", **scope) for ask in (over_tcp, over_ws, over_rest)]
        assert answers[0] == answers[1] == answers[2], scope
        # By id and content: a stored time is whole seconds, a send's answer is not.
        found = [(m["id"], m["content"]) for page in answers[0] for m in page["messages"]]
        wanted = [
            (m["id"], m["content"])
            for m in expected
            if not scope
            or m["target"] == scope["target"]
            or (scope["target"]["type"] == "dm" and m["target"]["type"] == "dm")
        ]
        assert found == wanted, scope
    # Filters: bob's messages, no text needed, alike over all three; a bad one is
    # validation_failed naming it.
    for scope in ({}, {"target": {"type": "dm", "recipient": bob_id}}):
        fields = {"query": "", "author": bob_id, "since": expected[-1]["created_at"], **scope}
        answers = [walk(ask, **fields) for ask in (over_tcp, over_ws, over_rest)]
        assert answers[0] == answers[1] == answers[2], scope
        bobs = [m["id"] for page in answers[0] for m in page["messages"]]
        wanted = [
            m["id"]
            for m in expected
            if m["author"] == bob_id and (not scope or m["target"]["type"] == "dm")
        ]
        assert bobs == wanted, scope
    refused = alice.request("search_messages", query="x", since="yesterday")
    assert (refused["success"], refused["error"]["message"]) == (
        False,
        "Validation failed: since - must be an RFC 3339 timestamp",
    )
    # Alice sees none of carol's room, bob and carol's DMs or the room she left.
    assert all("c" not in content and "left" not in content for _, content in found)
    refused = alice.request(
        "search_messages", query="x", target={"type": "room", "room_id": secret}
    )
    assert (refused["success"], refused["error"]["code"]) == (False, "not_room_member")
    refused = ws.request("search_messages", query=" \t ")
    assert (refused["success"], refused["error"]["code"]) == (False, "validation_failed")
    assert (refused["has_more"], refused["next_before"]) == (False, None)
    status, body = rest(server, "GET", "/api/v1/messages/search?q=c", None, carol_token)
    assert status == 200 and [m["content"] for m in body["messages"]] == ["STRASSE c", "Straße b-c"]
    for client in (alice, bob, carol, ws):
        client.close()
