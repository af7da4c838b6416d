"""GET /api/v1/messages/search (HTTP.md, "Message search"): the REST adapter of the
core's search; its rules are tested in test_message_search, here what the query
string becomes and which errors answer it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from lairchat.transports.http.ratelimit import tier_of
from lairchat.transports.http.testing import ApiClient

SEARCH = "/api/v1/messages/search"
NOBODY = "00000000-0000-4000-8000-000000000000"


def send(client: ApiClient, account, target: dict, content: str) -> dict:
    reply = client.post(
        "/api/v1/messages", {"target": target, "content": content}, token=account.token
    )
    assert reply.status == 201, reply
    return reply.json["message"]


def test_search_a_room_and_everywhere(client: ApiClient, people, room) -> None:
    member, owner = people["member"], people["owner"]
    in_room = send(client, member, {"type": "room", "room_id": room["id"]}, "Grüße, STRASSE")
    dm = send(client, owner, {"type": "direct_message", "recipient": member.id}, "straße 2")
    send(client, owner, {"type": "dm", "recipient": people["outsider"].id}, "straße 3")
    q = quote(" Straße ")
    reply = client.get(f"{SEARCH}?q={q}", token=member.token)
    assert reply.status == 200
    assert reply.json == {"messages": [dm, in_room], "has_more": False, "next_before": None}
    reply = client.get(
        f"{SEARCH}?q={q}&target_type=room&target_id={room['id']}&limit=1", token=member.token
    )
    assert reply.json == {"messages": [in_room], "has_more": False, "next_before": None}
    reply = client.get(
        f"{SEARCH}?q={q}&target_type=direct_message&target_id={owner.id}&before={dm['id']}",
        token=member.token,
    )
    assert reply.json == {"messages": [], "has_more": False, "next_before": None}


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "validation_failed"),  # no q
        ("q=%20%09", 400, "validation_failed"),
        (f"q={'x' * 257}", 400, "validation_failed"),
        ("q=x&limit=0", 400, "validation_failed"),
        ("q=x&limit=ten", 400, "validation_failed"),
        ("q=x&target_type=room", 400, "validation_failed"),
        (f"q=x&target_id={NOBODY}", 400, "validation_failed"),
        (f"q=x&target_type=channel&target_id={NOBODY}", 400, "validation_failed"),
        ("q=x&before=yesterday", 400, "validation_failed"),
        (f"q=x&before={NOBODY}", 404, "message_not_found"),
        ("q=x&target_type=room&target_id=nope", 404, "room_not_found"),
        ("q=x&target_type=dm&target_id=nope", 404, "user_not_found"),
        (f"q=x&target_type=dm&target_id={NOBODY}", 404, "user_not_found"),
    ],
)
def test_search_errors(client: ApiClient, people, query: str, status: int, code: str) -> None:
    reply = client.get(f"{SEARCH}?{query}", token=people["member"].token)
    assert (reply.status, reply.code) == (status, code)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Validation failed: q - missing required parameter"),
        ("q=%20%09", "Validation failed: q - cannot be empty"),
        (f"q={'x' * 257}", "Validation failed: q - must be at most 256 characters"),
    ],
    ids=["missing", "blank", "too-long"],
)
def test_search_text_errors_name_the_parameter_sent(
    client: ApiClient, people, query: str, message: str
) -> None:
    """The text is ``q`` here (``query`` is the real-time command's field, whose
    errors the core words): a client author looks for the name they sent."""
    reply = client.get(f"{SEARCH}?{query}", token=people["member"].token)
    assert (reply.status, reply.error) == (
        400,
        {"code": "validation_failed", "message": message},
    )


def test_a_room_not_joined_is_not_room_member(client: ApiClient, people, room) -> None:
    path = f"{SEARCH}?q=x&target_type=room&target_id={room['id']}"
    reply = client.get(path, token=people["outsider"].token)
    assert (reply.status, reply.code) == (403, "not_room_member")
    assert client.get(f"{SEARCH}?q=x").status == 401


def test_search_counts_against_the_general_allowance_alone() -> None:
    assert tier_of(b"/api/v1/messages/search") is None
    assert tier_of(b"/api/v1/messages") == "messaging"


def test_filters_by_author_and_dates_with_or_without_q(client: ApiClient, people, room) -> None:
    """``author``, ``since`` and ``until`` (HTTP.md): with any of them ``q`` may be
    absent or empty, "all of bob's messages here"."""
    member, owner = people["member"], people["owner"]
    in_room = {"type": "room", "room_id": room["id"]}
    mine = send(client, member, in_room, "mine")
    theirs = send(client, owner, in_room, "theirs")
    where = f"target_type=room&target_id={room['id']}"
    for q in ("", "&q=", "&q=%20"):
        reply = client.get(f"{SEARCH}?{where}&author={owner.id}{q}", token=member.token)
        assert reply.json == {"messages": [theirs], "has_more": False, "next_before": None}
    reply = client.get(f"{SEARCH}?q=MINE&author={member.id}", token=member.token)
    assert reply.json["messages"] == [mine]
    # The dates as the server writes them; since inclusive, until exclusive.
    since = quote(theirs["created_at"])
    reply = client.get(f"{SEARCH}?{where}&since={since}", token=member.token)
    assert [m["id"] for m in reply.json["messages"]][:1] == [theirs["id"]]
    reply = client.get(f"{SEARCH}?{where}&until=2000-01-01T00:00:00Z", token=member.token)
    assert reply.json == {"messages": [], "has_more": False, "next_before": None}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("author=bob", "author - must be a user id"),
        ("q=x&since=yesterday", "since - must be an RFC 3339 timestamp"),
        ("until=2026-01-01", "until - must be an RFC 3339 timestamp"),
        (
            "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            "until - must be later than since",
        ),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(client: ApiClient, people, query, message):
    reply = client.get(f"{SEARCH}?{query}", token=people["member"].token)
    assert (reply.status, reply.error) == (
        400,
        {"code": "validation_failed", "message": f"Validation failed: {message}"},
    )
