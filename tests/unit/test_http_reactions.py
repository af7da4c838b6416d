"""Message reactions over REST (docs/protocols/HTTP.md, "Reactions"): add, remove,
who may, the emoji rule and the cap, events to the connections that asked, and
history's ``reactions``."""

from __future__ import annotations

from urllib.parse import quote

from lairchat.transports.http.ratelimit import tier_of
from lairchat.transports.http.testing import ApiClient

MESSAGES = "/api/v1/messages"
NOBODY = "00000000-0000-4000-8000-000000000000"


def send(client: ApiClient, account, target: dict, content: str = "hello") -> dict:
    reply = client.post(MESSAGES, {"target": target, "content": content}, token=account.token)
    assert reply.status == 201, reply
    return reply.json["message"]


def path(message_id: str, emoji: str) -> str:
    return f"{MESSAGES}/{message_id}/reactions/{quote(emoji, safe='')}"


def history(client: ApiClient, account, target_type: str, target_id: str) -> list[dict]:
    reply = client.get(
        f"{MESSAGES}?target_type={target_type}&target_id={target_id}", token=account.token
    )
    assert reply.status == 200, reply
    return reply.json["messages"]


def room_target(room: dict) -> dict:
    return {"type": "room", "room_id": room["id"]}


def test_react_then_history_shows_counts_in_order(client: ApiClient, people, room) -> None:
    message = send(client, people["owner"], room_target(room))
    for who, emoji in (("member", "👍"), ("mod", "🎉"), ("owner", "👍")):
        reply = client.put(path(message["id"], emoji), token=people[who].token)
        assert (reply.status, reply.json) == (200, {"success": True}), reply
    shown = history(client, people["member"], "room", room["id"])[0]
    assert list(shown) == ["id", "author", "target", "content", "edited", "created_at", "reactions"]
    thumbs = {"emoji": "👍", "count": 2, "user_ids": [people["member"].id, people["owner"].id]}
    party = {"emoji": "🎉", "count": 1, "user_ids": [people["mod"].id]}
    assert shown["reactions"] == [{**thumbs, "me": True}, {**party, "me": False}]
    # Per reader: the same message, read by the moderator.
    shown = history(client, people["mod"], "room", room["id"])[0]
    assert shown["reactions"] == [{**thumbs, "me": False}, {**party, "me": True}]


def test_no_reactions_is_an_empty_list(client: ApiClient, people, room) -> None:
    send(client, people["owner"], room_target(room))
    assert history(client, people["owner"], "room", room["id"])[0]["reactions"] == []


def test_add_and_remove_are_idempotent_and_announced_once(client: ApiClient, people, room) -> None:
    message = send(client, people["owner"], room_target(room))
    asked = client.connect(people["mod"])
    asked.extended = True
    plain = client.connect(people["owner"])
    for _ in range(2):
        assert client.put(path(message["id"], "👍"), token=people["member"].token).status == 200
    for _ in range(2):
        assert client.delete(path(message["id"], "👍"), token=people["member"].token).status == 200
    got = [e.payload for e in asked.events if e.payload["type"].startswith("reaction_")]
    assert [p["type"] for p in got] == ["reaction_added", "reaction_removed"]
    assert got[0] == {
        "type": "reaction_added",
        "message_id": message["id"],
        "target": {"type": "room", "room_id": room["id"]},
        "user_id": people["member"].id,
        "emoji": "👍",
    }
    assert [e for e in plain.events if e.payload["type"].startswith("reaction_")] == []
    assert history(client, people["owner"], "room", room["id"])[0]["reactions"] == []


def test_who_may_react(client: ApiClient, people, room) -> None:
    message = send(client, people["owner"], room_target(room))
    reply = client.put(path(message["id"], "👍"), token=people["outsider"].token)
    assert (reply.status, reply.code) == (403, "not_room_member")
    reply = client.put(path(NOBODY, "👍"), token=people["member"].token)
    assert (reply.status, reply.code) == (404, "message_not_found")
    reply = client.put(path("not-an-id", "👍"), token=people["member"].token)
    assert (reply.status, reply.code) == (404, "message_not_found")
    reply = client.put(path(message["id"], "👍"))
    assert reply.status == 401


def test_dm_parties_react_a_stranger_finds_nothing(client: ApiClient, people) -> None:
    owner, member = people["owner"], people["member"]
    dm = send(client, owner, {"type": "dm", "recipient": member.id})
    seen = client.connect(owner)
    seen.extended = True
    assert client.put(path(dm["id"], "❤️"), token=member.token).status == 200
    assert seen.events[-1].payload["target"] == {"type": "dm", "recipient": member.id}
    reply = client.put(path(dm["id"], "❤️"), token=people["outsider"].token)
    assert (reply.status, reply.code) == (404, "message_not_found")
    shown = history(client, owner, "dm", member.id)[0]["reactions"]
    assert shown == [{"emoji": "❤️", "count": 1, "user_ids": [member.id], "me": False}]


def test_bad_emoji_is_validation_failed(client: ApiClient, people, room) -> None:
    message = send(client, people["owner"], room_target(room))
    for bad in ("a b", "\u200b", "x" * 33, "👍\u202e"):
        reply = client.put(path(message["id"], bad), token=people["member"].token)
        assert (reply.status, reply.code) == (400, "validation_failed"), bad
        assert "emoji" in reply.error["message"]


def test_twentieth_emoji_is_the_last(client: ApiClient, people, room) -> None:
    message = send(client, people["owner"], room_target(room))
    token = people["member"].token
    for i in range(20):
        assert client.put(path(message["id"], f"e{i}"), token=token).status == 200
    reply = client.put(path(message["id"], "e20"), token=token)
    assert (reply.status, reply.code) == (400, "validation_failed")
    # An emoji already there is still taken: the cap counts distinct emoji.
    assert client.put(path(message["id"], "e3"), token=people["owner"].token).status == 200


def test_deleted_message_loses_its_reactions(client: ApiClient, people, room) -> None:
    message = send(client, people["owner"], room_target(room))
    assert client.put(path(message["id"], "👍"), token=people["member"].token).status == 200
    assert client.delete(f"{MESSAGES}/{message['id']}", token=people["owner"].token).status == 200
    assert client.core.store.reactions_of([message["id"]]).result == {}
    reply = client.put(path(message["id"], "👍"), token=people["member"].token)
    assert (reply.status, reply.code) == (404, "message_not_found")


def test_reactions_count_against_the_general_allowance_only() -> None:
    """As their real-time commands (not MESSAGING): a reaction is no message sent."""
    reaction = b"/api/v1/messages/m1/reactions/\xf0\x9f\x91\x8d"
    assert tier_of(reaction, b"PUT") is None
    assert tier_of(reaction, b"DELETE") is None
    assert tier_of(b"/api/v1/messages/m1", b"DELETE") == "messaging"
    # The emoji as a query parameter (``?emoji=..``): the same operations.
    assert tier_of(b"/api/v1/messages/m1/reactions", b"PUT") is None
    assert tier_of(b"/api/v1/messages/m1/reactions", b"DELETE") is None
    assert tier_of(b"/api/v1/messages/m1/reactions/x/y", b"PUT") == "messaging"
    assert tier_of(b"/api/v1/messages/m1/other/x", b"PUT") == "messaging"


def by_query(message_id: str, emoji: str | None) -> str:
    """The collection path with the emoji as ``?emoji=``, percent-encoded."""
    at = f"{MESSAGES}/{message_id}/reactions"
    return at if emoji is None else f"{at}?emoji={quote(emoji, safe='')}"


def test_dots_are_reactions_through_the_query(client: ApiClient, people, room) -> None:
    """``.`` and ``..`` are emoji the server takes, but a path segment of either is a
    dot segment that HTTP clients resolve away (``…/reactions/..`` leaves as
    ``…/messages/{id}/``; found with the browser client, which sends them over the
    real-time connection instead): no REST client could add or take back either.
    The query form takes them, and any emoji, as the path form does: the same
    answers, the same events, once."""
    message = send(client, people["owner"], room_target(room))
    member = people["member"].token
    told = client.connect(people["owner"])
    told.extended = True
    for emoji in (".", "..", "👍"):
        reply = client.put(by_query(message["id"], emoji), token=member)
        assert (reply.status, reply.json) == (200, {"success": True}), reply
    assert client.put(by_query(message["id"], ".."), token=member).status == 200  # a repeat
    added = [e.payload["emoji"] for e in told.events if e.payload["type"] == "reaction_added"]
    assert added == [".", "..", "👍"]
    shown = history(client, people["member"], "room", room["id"])[0]["reactions"]
    mine = [people["member"].id]
    assert shown == [
        {"emoji": e, "count": 1, "user_ids": mine, "me": True} for e in (".", "..", "👍")
    ]
    reply = client.delete(by_query(message["id"], ".."), token=member)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.delete(path(message["id"], "👍"), token=member).status == 200  # path form
    shown = history(client, people["member"], "room", room["id"])[0]["reactions"]
    assert [r["emoji"] for r in shown] == ["."]


def test_the_query_form_refuses_as_the_path_form(client: ApiClient, people, room) -> None:
    message = send(client, people["owner"], room_target(room))
    member = people["member"].token
    for method in (client.put, client.delete):
        for bad in (None, "", "a b", "x" * 33):
            reply = method(by_query(message["id"], bad), token=member)
            assert (reply.status, reply.code) == (400, "validation_failed"), bad
            assert "emoji" in reply.error["message"], bad
        twice = f"{by_query(message['id'], '.')}&emoji=."
        assert (method(twice, token=member).status, "duplicate") == (400, "duplicate")
        for missing in (NOBODY, "junk"):
            reply = method(by_query(missing, "."), token=member)
            assert (reply.status, reply.code) == (404, "message_not_found")
        reply = method(by_query(message["id"], "."), token=people["outsider"].token)
        assert (reply.status, reply.code) == (403, "not_room_member")
        assert method(by_query(message["id"], ".")).status == 401
