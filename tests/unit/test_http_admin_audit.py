"""``GET /api/v1/admin/audit``: who banned, unbanned, deleted whom, and when
(docs/protocols/HTTP.md, "GET /api/v1/admin/audit"; docs/operations.md, "Audit log")."""

from __future__ import annotations

import orjson
import pytest

from lairchat.core import audit
from lairchat.core.deferreds import result
from lairchat.transports.http.testing import PASSWORD, ApiClient

ADMIN = "/api/v1/admin"
NOBODY = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def people(client: ApiClient):
    accounts = {name: client.register(name) for name in ("root", "user", "victim")}
    client.make_admin(accounts["root"])
    return accounts


def log(client: ApiClient, token: str, query: str = "") -> dict:
    reply = client.get(f"{ADMIN}/audit{query}", token=token)
    assert reply.status == 200, reply
    return reply.json


def test_each_admin_action_is_one_entry_newest_first(client: ApiClient, people) -> None:
    root, user, victim = people["root"], people["user"], people["victim"]
    room = client.create_room(user, "Lobby")
    client.post(f"{ADMIN}/users/{victim.id}/ban", {"reason": "spam"}, token=root.token)
    client.post(f"{ADMIN}/users/{victim.id}/unban", token=root.token)
    assert client.delete(f"{ADMIN}/rooms/{room['id']}", token=root.token).status == 200
    reply = client.delete(f"{ADMIN}/users/{victim.id}", {"password": PASSWORD}, token=root.token)
    assert reply.status == 200
    page = log(client, root.token)
    assert page["has_more"] is False
    by = {"user_id": root.id, "username": "root"}
    assert [(e["action"], e["actor"], e["subject"], e["details"]) for e in page["entries"]] == [
        ("user.delete", by, {"type": "user", "id": victim.id, "name": "victim"}, {}),
        ("room.delete", by, {"type": "room", "id": room["id"], "name": "Lobby"}, {}),
        ("user.unban", by, {"type": "user", "id": victim.id, "name": "victim"}, {}),
        (
            "user.ban",
            by,
            {"type": "user", "id": victim.id, "name": "victim"},
            {"reason": "spam", "until": None},
        ),
    ]
    assert {e["at"] for e in page["entries"]} == {"2023-11-14T22:13:20Z"}
    assert len({e["id"] for e in page["entries"]}) == 4
    # The deleted user and room are still named; no password anywhere.
    assert PASSWORD not in orjson.dumps(page).decode()


def test_a_timed_ban_says_until_when(client: ApiClient, people) -> None:
    root, victim = people["root"], people["victim"]
    client.post(f"{ADMIN}/users/{victim.id}/ban", {"duration_hours": 1.5}, token=root.token)
    [entry] = log(client, root.token)["entries"]
    assert entry["details"] == {"reason": None, "until": "2023-11-14T23:43:20Z"}


def test_what_changed_nothing_or_was_refused_records_nothing(client: ApiClient, people) -> None:
    root, user, victim = people["root"], people["user"], people["victim"]
    assert client.post(f"{ADMIN}/users/{victim.id}/unban", token=root.token).status == 200
    assert client.post(f"{ADMIN}/users/{root.id}/ban", {}, token=root.token).status == 403
    assert client.post(f"{ADMIN}/users/{victim.id}/ban", {}, token=user.token).status == 403
    reply = client.delete(f"{ADMIN}/users/{victim.id}", {"password": "wrong"}, token=root.token)
    assert reply.status == 401
    assert client.delete(f"{ADMIN}/rooms/{NOBODY}", token=root.token).status == 404
    assert log(client, root.token) == {"entries": [], "has_more": False}


def test_only_admins_read_it(client: ApiClient, people) -> None:
    reply = client.get(f"{ADMIN}/audit", token=people["user"].token)
    assert (reply.status, reply.code) == (403, "permission_denied")
    assert client.get(f"{ADMIN}/audit").status == 401


def test_pages_with_before_and_filters(client: ApiClient, people) -> None:
    root, user, victim = people["root"], people["user"], people["victim"]
    for target in (victim, user, victim):
        client.post(f"{ADMIN}/users/{target.id}/ban", {}, token=root.token)
    client.post(f"{ADMIN}/users/{victim.id}/unban", token=root.token)
    every = [e["id"] for e in log(client, root.token)["entries"]]
    assert len(every) == 4
    first = log(client, root.token, "?limit=3")
    assert ([e["id"] for e in first["entries"]], first["has_more"]) == (every[:3], True)
    rest = log(client, root.token, f"?limit=3&before={every[2]}")
    assert ([e["id"] for e in rest["entries"]], rest["has_more"]) == (every[3:], False)
    bans = log(client, root.token, "?action=user.ban")["entries"]
    assert [e["id"] for e in bans] == every[1:]
    about = log(client, root.token, f"?subject_id={victim.id}&action=user.ban")["entries"]
    assert [e["id"] for e in about] == [every[1], every[3]]
    assert len(log(client, root.token, f"?actor_id={root.id}")["entries"]) == 4
    assert log(client, root.token, f"?actor_id={user.id}")["entries"] == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=1&limit=2", "limit"),
        ("before=nope", "before"),
        (f"before={NOBODY}", "before"),
        ("action=user.kick", "action"),
        ("subject_id=42", "subject_id"),
        ("actor_id=x", "actor_id"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    client: ApiClient, people, query: str, parameter: str
) -> None:
    reply = client.get(f"{ADMIN}/audit?{query}", token=people["root"].token)
    assert (reply.status, reply.code) == (400, "validation_failed")
    assert f" {parameter} " in reply.error["message"]


def test_a_larger_limit_is_cut_to_200(client: ApiClient, people) -> None:
    root, victim = people["root"], people["victim"]
    target = result(client.core.store.get_user(victim.id))
    for _ in range(audit.MAX_LIMIT + 1):
        result(client.core.store.add_audit(audit.record(None, "user.unban", target, 0)))
    page = log(client, root.token, "?limit=4294967295")
    assert (len(page["entries"]), page["has_more"]) == (audit.MAX_LIMIT, True)
    assert page["entries"][0]["actor"] == {"operator": True}
    assert len(log(client, root.token)["entries"]) == audit.DEFAULT_LIMIT


def test_lifting_a_ban_already_over_records_nothing(client: ApiClient, people) -> None:
    """A timed ban that has run out lets its user in again by itself: "unbanning" them
    afterwards changed nothing, and an entry would name the admin as the one who let
    them back in (found against a real server: the unban of a user whose ban had
    expired was recorded)."""
    root, victim = people["root"], people["victim"]
    client.post(f"{ADMIN}/users/{victim.id}/ban", {"duration_hours": 1}, token=root.token)
    client.core.clock.advance(2 * 3600)
    assert client.post(f"{ADMIN}/users/{victim.id}/unban", token=root.token).status == 200
    assert [e["action"] for e in log(client, root.token)["entries"]] == ["user.ban"]


def test_a_non_admin_is_refused_before_the_filters_are_read(client: ApiClient, people) -> None:
    """HTTP.md said 403 first for every parameter; a malformed ``limit`` (read with the
    request, as every route reads its input) is 400 to anyone, the rest 403 first."""
    user = people["user"].token
    for query in ("action=user.kick", f"before={NOBODY}", "subject_id=42"):
        assert client.get(f"{ADMIN}/audit?{query}", token=user).status == 403
    assert client.get(f"{ADMIN}/audit?limit=abc", token=user).status == 400
