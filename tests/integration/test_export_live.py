"""A user's data export on a real server (docs/protocols/HTTP.md, ``POST
/api/v1/users/me/export``): a user with a few thousand messages among many more of
others' gets every one of theirs, oldest first, in a chunked body read a piece at a
time, that parses and ends with ``"complete":true``. Then the terminal client's own
:class:`HttpApi` and :class:`ExportFile` on the test's reactor (pytest-twisted), as
``/export PATH`` uses them (docs/CLIENT.md, "Downloading your data")."""

from __future__ import annotations

import http.client
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import pytest_twisted
from twisted.internet import reactor

from lairchat.client.export import ExportFile
from lairchat.client.net.errors import ServerError
from lairchat.client.net.http import HttpApi
from lairchat.testing import ServerProcess
from lairchat.testing_clients import rest
from tests.integration.test_sessions_live import PASSWORD, User, start

EXPORT = "/api/v1/users/me/export"
#: alice's messages, bob's DMs to her and others' room messages (not hers), in an
#: interleaving that spreads hers over several reads of the table.
ALICE, DMS, OTHERS = 3_000, 400, 9_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict]]:
    workdir = tmp_path_factory.mktemp("export-live")
    first = start(workdir)
    alice, bob = User(first), User(first)
    alice_token, bob_token = alice.device()["token"], bob.device()["token"]
    room = rest(first, "POST", "/api/v1/rooms", {"name": alice.name}, alice_token)[1]["room"]
    assert rest(first, "POST", f"/api/v1/rooms/{room['id']}/join", {}, bob_token)[0] == 200
    first.stop()
    rows, alices = _messages(alice.id, bob.id, room["id"])
    db = sqlite3.connect(first.database)
    db.executemany(
        "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, 0)",
        rows,
    )
    db.commit()
    db.close()
    server = start(workdir)
    try:
        yield server, {"alice": alice, "bob": bob, "room": room, "alices": alices}
    finally:
        server.stop()


def _messages(alice: str, bob: str, room: str) -> tuple[list[tuple], list[str]]:
    """Rows in insertion order, and the ids of alice's (hers and those to her), in it."""
    grouped = ["alice"] * ALICE + ["dm"] * DMS + ["other"] * OTHERS
    # A permutation (7,919 is prime to the length): every kind all along the table.
    kinds = [grouped[(i * 7_919) % len(grouped)] for i in range(len(grouped))]
    rows, theirs = [], []
    for n, kind in enumerate(kinds):
        message_id = str(uuid.uuid4())
        author, target_type, target = {
            "alice": (alice, "room", room),
            "dm": (bob, "dm", alice),
            "other": (bob, "room", room),
        }[kind]
        rows.append((message_id, author, target_type, target, f"{kind} {n}", 1_700_000_000 + n))
        if kind != "other":
            theirs.append(message_id)
    return rows, theirs


def login(server: ServerProcess, user: User) -> str:
    """A token from this server (``user`` was made on the one before the restart)."""
    body = {"identifier": user.name, "password": PASSWORD}
    status, reply = rest(server, "POST", "/api/v1/auth/login", body)
    assert status == 200, reply
    return reply["token"]


def export(server: ServerProcess, token: str, password: str) -> tuple[int, dict, list[bytes]]:
    """POST the export and read the answer 16 KiB at a time: status, headers, pieces."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request(
            "POST",
            EXPORT,
            orjson.dumps({"password": password}),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        pieces = []
        while piece := response.read(16 * 1024):
            pieces.append(piece)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, pieces
    finally:
        connection.close()


def test_a_user_with_thousands_of_messages_gets_them_all(
    world: tuple[ServerProcess, dict],
) -> None:
    server, w = world
    alice = w["alice"]
    token = login(server, alice)
    live = rest(
        server,
        "POST",
        "/api/v1/messages",
        {"target": {"type": "room", "room_id": w["room"]["id"]}, "content": "sent live"},
        token,
    )
    assert live[0] == 201, live

    status, headers, pieces = export(server, token, PASSWORD)

    assert status == 200, pieces[:1]
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert headers["content-disposition"].startswith(
        f'attachment; filename="lairchat-export-{alice.name}-'
    )
    assert len(pieces) > 10  # read as it came, not held whole anywhere
    data = orjson.loads(b"".join(pieces))
    assert data["complete"] is True and list(data)[-1] == "complete"
    assert data["user"]["id"] == alice.id
    ids = [m["id"] for m in data["messages"]]
    assert ids == w["alices"] + [live[1]["message"]["id"]]
    assert len(ids) == ALICE + DMS + 1
    assert {m["author"] for m in data["messages"]} == {alice.id, w["bob"].id}
    assert all(m["target"]["type"] == "dm" for m in data["messages"] if m["author"] != alice.id)
    assert [r["room"]["id"] for r in data["rooms"]] == [w["room"]["id"]]


def test_a_wrong_password_gets_the_login_refusal(world: tuple[ServerProcess, dict]) -> None:
    server, w = world
    token = login(server, w["bob"])
    status, _, pieces = export(server, token, "not-the-password")
    assert status == 401
    assert orjson.loads(b"".join(pieces))["error"]["code"] == "invalid_credentials"


@pytest_twisted.ensureDeferred
async def test_the_terminal_client_saves_it_to_a_file(
    world: tuple[ServerProcess, dict], tmp_path: Path
) -> None:
    server, w = world
    api = HttpApi(server.url, reactor, timeout=30)
    try:
        await api.login(w["alice"].name, PASSWORD)
        with pytest.raises(ServerError) as refused:
            await api.export_data("not-the-password", ExportFile(str(tmp_path / "x")).write)
        assert refused.value.code == "invalid_credentials"
        target = ExportFile(str(tmp_path / "alice.json"))
        await api.export_data(PASSWORD, target.write)
        target.finish()
    finally:
        await api.close()
    data = orjson.loads((tmp_path / "alice.json").read_bytes())
    assert data["complete"] is True and data["user"]["id"] == w["alice"].id
    assert target.messages == len(data["messages"]) >= ALICE + DMS
    assert [m["id"] for m in data["messages"]][: ALICE + DMS] == w["alices"]
    assert (tmp_path / "alice.json").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.json"]


def test_a_server_stopped_mid_way_ends_the_body_without_complete(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """SIGTERM while an export of some 24 MiB waits on a client that stopped reading
    (more than the sockets' buffers hold): the server stops, and what the client then
    reads is cut off, without ``"complete"`` (docs/protocols/HTTP.md)."""
    workdir = tmp_path_factory.mktemp("export-stopped")
    first = start(workdir)
    alice = User(first)
    room = rest(first, "POST", "/api/v1/rooms", {"name": alice.name}, login(first, alice))[1]
    first.stop()
    db = sqlite3.connect(first.database)
    db.executemany(
        "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
        "updated_at) VALUES (?, ?, 'room', ?, ?, ?, 0)",
        [
            (str(uuid.uuid4()), alice.id, room["room"]["id"], f"{n} " + "x" * 4_000, n)
            for n in range(6_000)
        ],
    )
    db.commit()
    db.close()
    server = start(workdir)
    try:
        host, port = server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        connection.request(
            "POST",
            EXPORT,
            orjson.dumps({"password": PASSWORD}),
            {"Authorization": f"Bearer {login(server, alice)}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        assert response.status == 200
        received = response.read(64 * 1024)
        server.stop()
        try:
            while piece := response.read(64 * 1024):
                received += piece
        except (http.client.IncompleteRead, ConnectionError) as cut:
            received += getattr(cut, "partial", b"")
        connection.close()
    finally:
        server.stop()
    assert 64 * 1024 <= len(received) < 6_000 * 4_000
    assert b'"complete"' not in received
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(received)
