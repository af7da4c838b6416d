"""lairchat's own events for a system role and for room invite codes on a real server
(real sockets on 127.0.0.1, TCP and WebSocket): the operator's ``lairchat admin
set-role``, run in a process of its own, reaches the user's connections that asked
(``system_role_changed``, within the 5 s of the server's look at the database); a
code made, used and revoked reaches the room's owners and moderators that asked,
never a plain member nor a connection that did not ask (which stays open). Every
wait is a read with a deadline; nothing sleeps (docs/protocols/TCP.md, "lairchat's
own events")."""

from __future__ import annotations

import uuid

from lairchat.testing_clients import LAIRCHAT_EVENT_TYPES, WSClient, rest
from tests.integration.test_live_state_consistency import lairchat_admin

#: A look every 5 s (lairchat.revocation.CHECK_INTERVAL), and the command's own start.
WAIT = 20.0


def ws_extended(server, token: str) -> WSClient:
    """A WebSocket connection that asked for lairchat's own events, signed in."""
    ws = WSClient(server.http_port, "/ws", timeout=WAIT)
    assert ws.recv()["type"] == "server_hello"
    ws.send({"type": "client_hello", "version": "1.0", "features": ["lairchat-events"]})
    ws.ok("authenticate", token=token)
    return ws


def test_a_role_set_by_the_operator_reaches_tcp_and_websocket(live_server) -> None:
    server = live_server
    with (
        server.register("rolefan", extended=True) as fan,
        server.register("roleother", extended=True) as other,
    ):
        plain = server.login(fan.token)  # Lair Chat's client: asks for nothing of ours
        fan.sock.settimeout(WAIT)
        with plain, ws_extended(server, fan.token) as ws:
            lairchat_admin(server, "set-role", fan.username, "admin")
            for client in (fan, ws):
                event = client.event("system_role_changed")
                assert list(event) == ["type", "user"]
                assert event["user"] == client.ok("get_current_user")["user"]
                assert event["user"]["role"] == "admin"
            assert not {m["type"] for m in plain.barrier()} & LAIRCHAT_EVENT_TYPES
            assert plain.ok("get_current_user")["user"]["role"] == "admin"  # still open
            assert "system_role_changed" not in {m["type"] for m in other.barrier()}

            lairchat_admin(server, "set-role", fan.username, "user")
            assert ws.event("system_role_changed")["user"]["role"] == "user"
            assert fan.event("system_role_changed")["user"]["role"] == "user"


def test_a_device_signed_in_after_the_operators_change_is_not_told_it(live_server) -> None:
    """The user's TCP connection holds the old role; a WebSocket signed in after
    ``set-role`` holds the new one. Only the stale connection is told. The server
    looks every 5 s and the WebSocket signs in within milliseconds of the command,
    so the look nearly always comes after it (if it came first, there was nothing
    to tell the WebSocket either way)."""
    server = live_server
    with server.register("rolestale", extended=True) as stale:
        stale.sock.settimeout(WAIT)
        lairchat_admin(server, "set-role", stale.username, "admin")
        with ws_extended(server, stale.token) as fresh:
            assert fresh.ok("get_current_user")["user"]["role"] == "admin"
            assert stale.event("system_role_changed")["user"]["role"] == "admin"
            # Sent to both at once, if at all: it would be before the pong.
            assert "system_role_changed" not in {m["type"] for m in fresh.barrier()}


def test_invite_code_events_reach_the_rooms_moderators_over_tcp_and_websocket(
    live_server,
) -> None:
    server = live_server
    with (
        server.register("codeowner", extended=True) as owner,
        server.register("codemod") as mod,
        server.register("codemember", extended=True) as member,
        server.register("codejoiner", extended=True) as joiner,
    ):
        room = owner.ok("create_room", name=f"codes{uuid.uuid4().hex[:8]}")["room"]["id"]
        for who in (mod, member):
            who.ok("join_room", room_id=room)
        path = f"/api/v1/rooms/{room}/members/{mod.user_id}/role"
        assert rest(server, "PUT", path, {"role": "moderator"}, owner.token)[0] == 200
        plain = server.login(owner.token)
        with plain, ws_extended(server, mod.token) as ws:
            # Made over REST by the owner: the moderator's WebSocket is told, not the code.
            status, made = rest(
                server, "POST", f"/api/v1/rooms/{room}/invite-codes", {"max_uses": 5}, owner.token
            )
            assert status == 201, made
            code = made["invite_code"]
            listed = {k: v for k, v in code.items() if k != "code"}
            for client in (ws, owner):
                event = client.event("invite_code_created")
                assert event == {
                    "type": "invite_code_created",
                    "room_id": room,
                    "invite_code": listed,
                }
            joiner.ok("join_by_invite_code", code=code["code"])
            used = ws.event("invite_code_used")
            assert used["invite_code"] == {**listed, "uses": 1}
            assert owner.event("invite_code_used") == used
            ws.ok("revoke_invite_code", room_id=room, code_id=code["id"])
            revoked = {
                "type": "invite_code_revoked",
                "room_id": room,
                "code_id": code["id"],
                "revoked_by": mod.user_id,
                "reason": "revoked",
            }
            assert owner.event("invite_code_revoked") == revoked
            assert ws.event("invite_code_revoked") == revoked
            for client in (member, joiner):
                assert not {m["type"] for m in client.barrier()} & {
                    "invite_code_created",
                    "invite_code_used",
                    "invite_code_revoked",
                }
            assert not {m["type"] for m in plain.barrier()} & LAIRCHAT_EVENT_TYPES
            assert plain.ok("get_current_user")["success"]
