"""A daemonized server stopped with SIGTERM while two clients chat.

``twistd --pidfile --logfile lairchat`` (no ``-n``), two TCP clients in one room each
sending messages, some acknowledged and some still in flight, then SIGTERM through the
pidfile: both clients get ``server_notice`` before the connection closes, the process
exits, the pidfile is gone, and every message the server acknowledged is in the
database file.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import uuid
from pathlib import Path

import pytest

from tests.integration.test_ops_support import Server, closing_all, wait_until

ACKED_ROUNDS = 20
IN_FLIGHT = 30


def room_target(room_id: str) -> dict[str, str]:
    return {"type": "room", "room_id": room_id}


@pytest.fixture
def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Server:
    server = Server(tmp_path, daemon=True)
    request.addfinalizer(server.stop)
    return server


@pytest.mark.parametrize(
    ("whole_group", "signum"),
    [(False, signal.SIGTERM), (True, signal.SIGTERM), (True, signal.SIGHUP)],
    ids=["server", "process-group", "hangup"],
)
def test_sigterm_notifies_clients_and_keeps_every_acknowledged_message(
    daemon: Server, whole_group: bool, signum: signal.Signals
) -> None:
    """``process-group``: SIGTERM reaches the message writer process too, as systemd's
    default ``KillMode=control-group`` and Ctrl-C in a terminal do. The writer must
    not die of it: it exits when the server closes its input, after the last batch.
    ``hangup``: what a closing terminal sends its processes; its default action ended
    both at once, with no notice to the clients."""
    assert daemon.pidfile.exists()
    alice, bob = daemon.tcp(), daemon.tcp()
    with closing_all(alice, bob):
        suffix = uuid.uuid4().hex[:8]
        alice.register(f"alice_{suffix}")
        bob.register(f"bob_{suffix}")
        room = alice.ok("create_room", name=f"ops-{suffix}")["room"]["id"]
        bob.ok("join_room", room_id=room)

        acknowledged: set[str] = set()
        for i in range(ACKED_ROUNDS):
            for client in (alice, bob):
                sent = client.ok(
                    "send_message", target=room_target(room), content=f"{client.username} {i}"
                )
                acknowledged.add(sent["message"]["id"])
        # More messages that are still on their way when the signal arrives.
        for i in range(IN_FLIGHT):
            for client in (alice, bob):
                client.send(
                    {
                        "type": "send_message",
                        "request_id": f"late-{i}",
                        "target": room_target(room),
                        "content": f"late {i}",
                    }
                )

        if whole_group:
            os.killpg(os.getpgid(daemon.pid), signum)
        else:
            daemon.signal(signum)
        seen = {}
        for client in (alice, bob):
            frames = client.expect_closed()
            seen[client.username] = frames
            notices = [f for f in frames if f.get("type") == "server_notice"]
            assert notices, f"{client.username} got no server_notice: {frames[-5:]}"
            assert notices[0]["severity"] == "warning"
            acknowledged |= {
                f["message"]["id"]
                for f in frames
                if f.get("type") == "send_message_response" and f.get("success")
            }
            # Answered before the close, messages still on their way were stored too.
            refused = [
                f for f in frames if f.get("type") == "send_message_response" and not f["success"]
            ]
            assert not refused, refused[:3]

    daemon.wait_exit()
    wait_until(lambda: not daemon.pidfile.exists(), "for twistd to remove its pidfile")
    log = daemon.output()
    assert f"Received {signal.Signals(signum).name}" in log
    assert "lairchat stopped" in log
    assert "Traceback" not in log, log

    with sqlite3.connect(daemon.db_path) as db:
        stored = {row[0] for row in db.execute("SELECT id FROM messages")}
    assert len(acknowledged) >= 2 * ACKED_ROUNDS
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged message(s) lost"


def test_shutdown_order_in_the_log(daemon: Server) -> None:
    """Listeners stop before the core closes the connections and the database."""
    client = daemon.tcp()
    with closing_all(client):
        client.register(f"solo_{uuid.uuid4().hex[:8]}")
        daemon.signal(signal.SIGTERM)
        frames = client.expect_closed()
    assert [f["type"] for f in frames] == ["server_notice"]
    daemon.wait_exit()
    log = daemon.output()
    order = [
        log.index("lairchat stopping"),
        log.index("tcp stops listening"),
        log.index("closing "),  # a session closed by the server
        log.index("lairchat stopped"),
    ]
    assert order == sorted(order), log
