"""The admin audit log against a real server (docs/operations.md, "Audit log"): an
admin bans, unbans and deletes over the API, the operator bans and unbans with the
``lairchat`` command beside the running server, and both the API and the command
read the same entries, newest first."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import rest
from tests.integration.test_sessions_live import ADMIN, PASSWORD, User, start

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start(tmp_path_factory.mktemp("audit-live"))
    yield srv
    srv.stop()


def lairchat(server: ServerProcess, *argv: str) -> str:
    """The operator command on the server's database, as an operator runs it."""
    env = {**os.environ, "PYTHONPATH": ROOT, "LAIR_DATABASE_URL": f"sqlite:{server.database}"}
    done = subprocess.run(
        [sys.executable, "-m", "lairchat.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_admin_and_operator_actions_are_read_back_by_both(server: ServerProcess) -> None:
    admin, mallory, eve = User(server, ADMIN), User(server), User(server)
    root = admin.device()["token"]
    status, reply = rest(server, "POST", "/api/v1/rooms", {"name": eve.name}, eve.device()["token"])
    assert status == 201, reply
    room_id = reply["room"]["id"]
    base = f"/api/v1/admin/users/{mallory.id}"
    assert rest(server, "POST", f"{base}/ban", {"reason": "spam"}, root)[0] == 200
    assert rest(server, "POST", f"{base}/unban", {}, root)[0] == 200
    assert rest(server, "POST", f"{base}/unban", {}, root)[0] == 200  # a no-op: no entry
    lairchat(server, "admin", "ban", mallory.name, "--hours", "1")
    lairchat(server, "admin", "unban", mallory.name)
    assert rest(server, "DELETE", f"/api/v1/admin/rooms/{room_id}", token=root)[0] == 200
    deleted = rest(server, "DELETE", f"/api/v1/admin/users/{eve.id}", {"password": PASSWORD}, root)
    assert deleted == (200, {"success": True})

    status, page = rest(server, "GET", "/api/v1/admin/audit?limit=6", token=root)
    assert status == 200, page
    by_admin = {"user_id": admin.id, "username": ADMIN}
    operator = {"operator": True}
    assert [(e["action"], e["actor"], e["subject"]["name"]) for e in page["entries"]] == [
        ("user.delete", by_admin, eve.name),
        ("room.delete", by_admin, eve.name),
        ("user.unban", operator, mallory.name),
        ("user.ban", operator, mallory.name),
        ("user.unban", by_admin, mallory.name),
        ("user.ban", by_admin, mallory.name),
    ]
    assert page["entries"][5]["details"] == {"reason": "spam", "until": None}
    assert page["entries"][3]["details"]["until"] is not None
    # The server's start recorded its admin's creation (LAIR_ADMIN_USERNAME) first.
    status, older = rest(
        server, "GET", f"/api/v1/admin/audit?before={page['entries'][5]['id']}", token=root
    )
    assert status == 200, older
    assert [(e["action"], e["actor"], e["subject"]["name"]) for e in older["entries"]] == [
        ("user.create", operator, ADMIN)
    ]
    assert older["has_more"] is False

    # The command reads the same log beside the running server.
    lines = lairchat(server, "admin", "audit", "--user", mallory.name).splitlines()
    assert [line.split("  ")[1:3] for line in lines] == [
        ["operator", "user.unban"],
        ["operator", "user.ban"],
        [f"{ADMIN} ({admin.id})", "user.unban"],
        [f"{ADMIN} ({admin.id})", "user.ban"],
    ]
    # Not an admin: refused.
    status, reply = rest(server, "GET", "/api/v1/admin/audit", token=mallory.device()["token"])
    assert (status, reply["error"]["code"]) == (403, "permission_denied")
