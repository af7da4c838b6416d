"""HTTP message endpoints (HTTP.md §5.4), history cursors and read markers (ours)."""

from __future__ import annotations

import pytest

from lairchat.domain.timefmt import ts
from lairchat.transports.http.testing import ApiClient

MESSAGES = "/api/v1/messages"
NOBODY = "00000000-0000-4000-8000-000000000000"


def to_room(room: dict, content: str = "hello") -> dict:
    return {"target": {"type": "room", "room_id": room["id"]}, "content": content}


def send(client: ApiClient, account, body: dict):
    reply = client.post(MESSAGES, body, token=account.token)
    assert reply.status == 201, reply
    return reply.json["message"]


# -- send ---------------------------------------------------------------------------------


def test_send_room_message(client: ApiClient, people, room) -> None:
    reply = client.post(MESSAGES, to_room(room, " hi "), token=people["member"].token)
    assert reply.status == 201
    message = reply.json["message"]
    assert list(message) == ["id", "author", "target", "content", "edited", "created_at"]
    assert message["target"] == {"type": "room", "room_id": room["id"]}
    assert (message["author"], message["content"], message["edited"]) == (
        people["member"].id,
        " hi ",
        False,
    )


@pytest.mark.parametrize("kind", ["direct_message", "dm"])
def test_send_dm_either_spelling(client: ApiClient, people, kind: str) -> None:
    bob = people["member"]
    body = {"target": {"type": kind, "recipient": bob.id.upper()}, "content": "psst"}
    message = send(client, people["owner"], body)
    assert message["target"] == {"type": "dm", "recipient": bob.id}


def test_send_errors(client: ApiClient, people, room) -> None:
    token = people["outsider"].token
    member = people["member"].token

    def status(body: dict, tok: str = member) -> tuple[int, str]:
        reply = client.post(MESSAGES, body, token=tok)
        return reply.status, reply.code

    assert status(to_room(room, "   ")) == (400, "content_invalid")
    assert status(to_room(room, "x" * 4097)) == (400, "content_invalid")
    assert status(to_room(room), token) == (403, "not_room_member")
    unknown_room = {"target": {"type": "room", "room_id": NOBODY}, "content": "x"}
    assert status(unknown_room) == (403, "not_room_member")
    unknown_user = {"target": {"type": "dm", "recipient": NOBODY}, "content": "x"}
    assert status(unknown_user) == (404, "user_not_found")
    bad_room = {"target": {"type": "room", "room_id": "nope"}, "content": "x"}
    assert status(bad_room) == (404, "room_not_found")
    bad_user = {"target": {"type": "direct_message", "recipient": "nope"}, "content": "x"}
    assert status(bad_user) == (404, "user_not_found")
    # content rules come before the membership check
    assert status(to_room(room, ""), token) == (400, "content_invalid")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "x"}, "target"),
        ({"target": "room", "content": "x"}, "target"),
        ({"target": {"room_id": NOBODY}, "content": "x"}, "target.type"),
        ({"target": {"type": "channel", "room_id": NOBODY}, "content": "x"}, "target.type"),
        ({"target": {"type": "room"}, "content": "x"}, "target.room_id"),
        ({"target": {"type": "dm", "room_id": NOBODY}, "content": "x"}, "target.recipient"),
        ({"target": {"type": "room", "room_id": NOBODY}}, "content"),
        ({"target": {"type": "room", "room_id": NOBODY}, "content": 5}, "content"),
    ],
)
def test_send_shape_errors(client: ApiClient, people, body: dict, field: str) -> None:
    reply = client.post(MESSAGES, body, token=people["member"].token)
    assert (reply.status, reply.code) == (422, "validation_failed")
    assert reply.error["message"].startswith(f"Validation failed: {field} - ")


def test_malformed_id_is_found_missing_before_the_session(client: ApiClient, people) -> None:
    owner = people["owner"]
    client.post("/api/v1/auth/logout", token=owner.token)
    bad = {"target": {"type": "room", "room_id": "nope"}, "content": "x"}
    assert client.post(MESSAGES, bad, token=owner.token).code == "room_not_found"
    good = {"target": {"type": "room", "room_id": NOBODY}, "content": "x"}
    assert client.post(MESSAGES, good, token=owner.token).code == "session_not_found"


# -- history ------------------------------------------------------------------------------


def history(client: ApiClient, account, query: str):
    return client.get(MESSAGES + query, token=account.token)


def test_history_newest_first_with_paging(client: ApiClient, people, room) -> None:
    member = people["member"]
    sent = []
    for i in range(5):
        sent.append(send(client, member, to_room(room, f"m{i}")))
        client.core.clock.advance(10)
    base = f"?target_type=room&target_id={room['id']}"
    page = history(client, member, base + "&limit=2").json
    assert [m["content"] for m in page["messages"]] == ["m4", "m3"]
    assert page["has_more"] is True and list(page) == ["messages", "has_more"]
    older = history(client, member, base + f"&limit=2&before={sent[3]['id']}").json
    assert [m["content"] for m in older["messages"]] == ["m2", "m1"]
    newer = history(client, member, base + f"&after={sent[2]['id']}").json
    assert [m["content"] for m in newer["messages"]] == ["m4", "m3"]
    forward = history(client, member, base + f"&after={sent[0]['id']}&limit=2").json
    assert [m["content"] for m in forward["messages"]] == ["m2", "m1"]  # oldest after it
    assert forward["has_more"] is True
    between = history(client, member, base + f"&after={sent[0]['id']}&before={sent[3]['id']}")
    assert [m["content"] for m in between.json["messages"]] == ["m2", "m1"]
    moment = ts(1_700_000_000 + 20)  # m2 was sent at +20s
    by_time = history(client, member, base + f"&before={moment}").json
    assert [m["content"] for m in by_time["messages"]] == ["m1", "m0"]
    everything = history(client, member, base + "&limit=1000").json
    assert len(everything["messages"]) == 5 and everything["has_more"] is False


def test_history_dm_both_spellings(client: ApiClient, people) -> None:
    owner, member = people["owner"], people["member"]
    send(client, owner, {"target": {"type": "dm", "recipient": member.id}, "content": "a"})
    send(client, member, {"target": {"type": "dm", "recipient": owner.id}, "content": "b"})
    for kind in ("direct_message", "dm"):
        page = history(client, owner, f"?target_type={kind}&target_id={member.id}").json
        assert [m["content"] for m in page["messages"]] == ["b", "a"]
    assert (
        history(client, people["outsider"], f"?target_type=dm&target_id={owner.id}").json[
            "messages"
        ]
        == []
    )


def test_history_errors(client: ApiClient, people, room) -> None:
    member = people["member"]
    rid = room["id"]

    def status(query: str, account=member) -> tuple[int, str]:
        reply = history(client, account, query)
        return reply.status, reply.code

    assert status(f"?target_id={rid}") == (400, "validation_failed")
    assert status("?target_type=room") == (400, "validation_failed")
    assert status(f"?target_type=room&target_id={rid}&limit=abc") == (400, "validation_failed")
    reply = history(client, member, f"?target_type=channel&target_id={rid}")
    assert (reply.status, reply.error["message"]) == (
        400,
        "Validation failed: target_type - must be 'room' or 'direct_message'",
    )
    assert status("?target_type=room&target_id=bad") == (404, "room_not_found")
    assert status("?target_type=direct_message&target_id=bad") == (404, "user_not_found")
    assert status(f"?target_type=direct_message&target_id={NOBODY}") == (404, "user_not_found")
    outsider = people["outsider"]
    assert status(f"?target_type=room&target_id={rid}", outsider) == (403, "not_room_member")
    assert status(f"?target_type=room&target_id={rid}&before=yesterday") == (
        400,
        "validation_failed",
    )
    assert status(f"?target_type=room&target_id={rid}&after={NOBODY}") == (
        404,
        "message_not_found",
    )


# -- edit and delete ----------------------------------------------------------------------


def test_edit_message(client: ApiClient, people, room) -> None:
    member = people["member"]
    message = send(client, member, to_room(room, "draft"))
    path = f"{MESSAGES}/{message['id']}"
    reply = client.patch(path, {"content": "final"}, token=member.token)
    assert reply.status == 200
    edited = reply.json["message"]
    assert (edited["content"], edited["edited"], edited["created_at"]) == (
        "final",
        True,
        message["created_at"],
    )
    assert client.patch(path, {"content": "x"}, token=people["owner"].token).status == 403
    assert client.patch(path, {"content": "x"}, token=people["owner"].token).code == (
        "not_message_author"
    )
    assert client.patch(path, {"content": " "}, token=member.token).code == "content_invalid"
    assert client.patch(path, {}, token=member.token).status == 422
    for missing in (NOBODY, "bad"):
        reply = client.patch(f"{MESSAGES}/{missing}", {"content": "x"}, token=member.token)
        assert (reply.status, reply.code) == (404, "message_not_found")


def test_delete_message(client: ApiClient, people, room) -> None:
    member, mod, owner = people["member"], people["mod"], people["owner"]
    first = send(client, member, to_room(room, "one"))
    second = send(client, member, to_room(room, "two"))
    mine = send(client, mod, to_room(room, "mod's"))
    assert client.delete(f"{MESSAGES}/{mine['id']}", token=member.token).code == (
        "permission_denied"
    )
    reply = client.delete(f"{MESSAGES}/{first['id']}", token=member.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.delete(f"{MESSAGES}/{second['id']}", token=mod.token).status == 200
    assert client.delete(f"{MESSAGES}/{second['id']}", token=mod.token).code == "message_not_found"
    dm = send(client, member, {"target": {"type": "dm", "recipient": owner.id}, "content": "x"})
    assert client.delete(f"{MESSAGES}/{dm['id']}", token=owner.token).code == "permission_denied"
    assert client.delete(f"{MESSAGES}/nope", token=owner.token).code == "message_not_found"


# -- read markers -------------------------------------------------------------------------


def test_mark_read(client: ApiClient, people, room) -> None:
    owner, member = people["owner"], people["member"]
    sent = [send(client, owner, to_room(room, f"m{i}")) for i in range(3)]
    me = client.get("/api/v1/users/me", token=member.token).json["unread_counts"]
    assert me == {
        "total": 3,
        "by_room": {room["id"]: 3},
        "by_dm": {},
        "mentions": {"total": 0, "by_room": {}, "by_dm": {}},
    }
    target = {"type": "room", "room_id": room["id"]}
    partial = client.post(
        f"{MESSAGES}/read", {"target": target, "up_to": sent[0]["id"]}, token=member.token
    )
    assert (partial.status, partial.json) == (200, {"unread_count": 2, "mention_count": 0})
    everything = client.post(
        f"{MESSAGES}/read", {"target": target, "up_to": None}, token=member.token
    )
    assert everything.json == {"unread_count": 0, "mention_count": 0}
    assert client.get("/api/v1/users/me", token=member.token).json["unread_counts"]["total"] == 0


def test_mark_read_errors(client: ApiClient, people, room) -> None:
    member, outsider = people["member"], people["outsider"]
    target = {"type": "room", "room_id": room["id"]}
    path = f"{MESSAGES}/read"
    assert client.post(path, {"target": target}, token=outsider.token).code == "not_room_member"
    unknown = client.post(path, {"target": target, "up_to": NOBODY}, token=member.token)
    assert (unknown.status, unknown.code) == (404, "message_not_found")
    typed = client.post(path, {"target": target, "up_to": 5}, token=member.token)
    assert (typed.status, typed.code) == (422, "validation_failed")
    dm = {"type": "direct_message", "recipient": people["owner"].id}
    assert client.post(path, {"target": dm}, token=member.token).json == {
        "unread_count": 0,
        "mention_count": 0,
    }
