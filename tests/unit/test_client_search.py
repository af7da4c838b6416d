"""Message search in the terminal client (``/search``, docs/CLIENT.md "Search"): the
command, the REST request, the results box and its paging, the match's mark, and a
server without search. The API is the fake of ``lairchat.client.testing`` answering as
docs/HTTP.md "Message search" says the server does."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lairchat.client import commands as c
from lairchat.client.net.errors import ServerError
from lairchat.client.search import (
    NO_SEARCH,
    ROW,
    day_after,
    day_start,
    excerpt,
    match_span,
    unsupported,
)
from lairchat.client.testing import message, render_text, room
from lairchat.client.ui.overlays import SearchOverlay
from tests.unit.test_client_app import BOB, ME, ROOM, World
from tests.unit.test_client_net import Response, api, run

SIZE = (110, 24)


def page(messages: list[dict[str, Any]], next_before: str | None = None) -> dict[str, Any]:
    return {"messages": messages, "has_more": next_before is not None, "next_before": next_before}


@pytest.fixture
def world() -> World:
    w = World()
    w.api.joined_list = [{"room": room(ROOM, "general"), "member_count": 2, "is_member": True}]
    w.login()
    return w


def press(world: World, *keys: str) -> None:
    for key in keys:
        world.app.ui.keypress(SIZE, key)


def search(world: World, command: str) -> SearchOverlay:
    press(world, "esc", "i", *command, "enter")
    box = world.app.ui.overlay
    assert isinstance(box, SearchOverlay)
    return box


def screen(world: World) -> str:
    return "\n".join(render_text(world.app.ui, *SIZE))


# -- the command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "action"),
    [
        ("/search hello there", c.Search("hello there")),
        ("/find  hello ", c.Search("hello")),
        ("/search * hello", c.Search("hello", everywhere=True)),
        ("/search *ptr", c.Search("*ptr")),
        ("/search", c.CommandError("Usage: /search [*] TEXT")),
        ("/search *", c.CommandError("Usage: /search [*] TEXT")),
        # Filters, anywhere among the words; the text keeps its own white space.
        ("/search from:bob hello  there", c.Search("hello  there", author="bob")),
        ("/search hello from:@bob there", c.Search("hello there", author="bob")),
        ("/search * from:bob", c.Search("", everywhere=True, author="bob")),
        (
            "/search since:2026-01-05 until:2026-01-05 x",
            c.Search("x", since=date(2026, 1, 5), until=date(2026, 1, 5)),
        ),
        ("/search from: x", c.CommandError("from: wants a user name, from:NAME")),
        ("/search since:yesterday x", c.CommandError("since: wants a date, since:YYYY-MM-DD")),
        ("/search until:2026-02-30", c.CommandError("until: wants a date, until:YYYY-MM-DD")),
        (
            "/search since:2026-01-05 until:2026-01-04",
            c.CommandError("until: is the last day searched, not before since:"),
        ),
        ("/search fromage:x", c.Search("fromage:x")),  # not a filter word
    ],
)
def test_the_command_says_what_and_where(typed: str, action: Any) -> None:
    assert c.parse_input(typed) == action


def test_days_are_the_readers_sent_as_rfc_3339() -> None:
    """``since:DAY`` is that day's start where the reader is; ``until:DAY`` the last
    day searched, so the server (exclusive) is sent the next day's start."""
    paris = ZoneInfo("Europe/Paris")
    assert day_start(date(2026, 1, 5), paris) == "2026-01-05T00:00:00+01:00"
    assert day_after(date(2026, 3, 28), paris) == "2026-03-29T00:00:00+01:00"
    assert day_after(date(2026, 3, 29), paris) == "2026-03-30T00:00:00+02:00"
    assert day_start(date(2026, 1, 5)).startswith("2026-01-05T00:00:00")


def test_the_request_names_the_conversation_or_none() -> None:
    body = b'{"messages":[{"id":"m1"}],"has_more":true,"next_before":"m1"}'
    http, client = api(Response(200, body))
    found = run(http.search_messages("Hi", "dm", "u2", before="m9"))
    assert found["next_before"] == "m1"
    assert client.requests[0][1].endswith("/api/v1/messages/search")
    assert client.requests[0][2]["params"] == {
        "q": "Hi",
        "target_type": "direct_message",
        "target_id": "u2",
        "before": "m9",
    }
    http, client = api(Response(200, b'{"messages":[],"has_more":false,"next_before":null}'))
    run(http.search_messages("Hi"))
    assert client.requests[0][2]["params"] == {"q": "Hi"}
    http, client = api(Response(200, b'{"messages":[],"has_more":false,"next_before":null}'))
    run(http.search_messages("", author="u2", since="2026-01-05T00:00:00+01:00", until="u"))
    assert client.requests[0][2]["params"] == {
        "q": "",
        "author": "u2",
        "since": "2026-01-05T00:00:00+01:00",
        "until": "u",
    }


def test_the_originals_answer_is_read_as_no_search() -> None:
    """The original Lair Chat's 404 for an unknown path (empty body, HTTP.md) comes
    out of the REST client as what ``unsupported`` recognises; lairchat's own 404s,
    in the envelope, do not."""
    http, _ = api(Response(404, b""))
    failure = run(http.search_messages("hi"))
    assert unsupported(failure.value.status, failure.value.code)
    body = b'{"error":{"code":"user_not_found","message":"User not found"}}'
    http, _ = api(Response(404, body))
    failure = run(http.search_messages("hi", "dm", "u2"))
    assert not unsupported(failure.value.status, failure.value.code)


# -- results ------------------------------------------------------------------------------


def test_results_show_time_place_author_and_the_marked_line(world: World) -> None:
    """Newest first, as the server sends them; the conversation searched is the one
    shown; the match is the ``match`` style, in the line that holds it."""
    world.app.dispatch(c.JoinRoom("general"))
    world.api.search_pages[("lunch", "room", ROOM, None)] = page(
        [
            message("m2", BOB, "first line\nwho wants LUNCH today", room_id=ROOM),
            message("m1", ME, "lunch?", room_id=ROOM, created_at="2025-01-20T09:30:00Z"),
        ]
    )
    box = search(world, "/search lunch")
    assert world.api.called("search_messages") == [("lunch", "room", ROOM, None)]
    text = screen(world)
    assert "Search “lunch” in #general (2)" in text
    assert "12:00 #general · bob" in text and "2025-01-20 09:30 #general · me" in text
    assert "who wants LUNCH today" in text and "first line" not in text
    assert "(no older match)" in text
    row = box.walker[1].original_widget
    assert ("match", "LUNCH") in [
        (attr, row.text[start : start + run])
        for (attr, run), start in zip(row.attrib, _starts(row.attrib), strict=True)
    ]


def _starts(attrib: list[tuple[Any, int]]) -> list[int]:
    out, at = [], 0
    for _, length in attrib:
        out.append(at)
        at += length
    return out


def test_filters_are_sent_with_the_name_found_and_said_in_the_header(world: World) -> None:
    """``from:bob`` is looked up as ``/dm`` looks up a name, and sent as his id; the
    days as RFC 3339 (``until`` the next day's start); the header says them all."""
    world.app.dispatch(c.JoinRoom("general"))
    since, until = date(2026, 1, 5), date(2026, 1, 6)
    filters = {"author": BOB, "since": day_start(since), "until": day_after(until)}
    world.api.search_pages[("", "room", ROOM, None)] = page(
        [message("m2", BOB, "first line\nsecond", room_id=ROOM)]
    )
    search(world, "/search from:bob since:2026-01-05 until:2026-01-06")
    assert world.api.called("search_messages") == [("", "room", ROOM, None, filters)]
    text = screen(world)
    assert "Search from bob since 2026-01-05 until 2026-01-06 in #general (1)" in text
    assert "first line" in text
    press(world, "esc")
    search(world, "/search * lunch until:2026-01-06")
    assert world.api.called("search_messages")[-1] == (
        "lunch",
        None,
        None,
        None,
        {"until": day_after(until)},
    )
    assert "Search “lunch” until 2026-01-06 everywhere (0)" in screen(world)
    assert "No message holds that" in screen(world)


def test_a_name_no_one_has_is_said_in_the_box_and_nothing_searched(world: World) -> None:
    search(world, "/search from:nobody")
    assert "No user named 'nobody'" in screen(world)
    assert world.api.called("search_messages") == []


def test_text_of_others_in_a_result_is_sanitised(world: World) -> None:
    """A result is text from someone else: its control and bidi characters are marks,
    and a newline cannot add a row (the box's rows are one line each)."""
    world.api.search_pages[("pay", None, None, None)] = page(
        [message("m1", BOB, "\x1b]2;pwned\x07 pay \u202eexe.txt", room_id=ROOM)]
    )
    search(world, "/search * pay")
    text = screen(world)
    assert "␛]2;pwned␇ pay U+202Eexe.txt" in text
    assert "\x1b" not in text and "\u202e" not in text


def test_everywhere_and_home_search_every_conversation(world: World) -> None:
    """``/search * TEXT``, or any search while no conversation is shown."""
    world.api.search_pages[("hi", None, None, None)] = page(
        [message("m1", BOB, "hi", to=ME), message("m0", ME, "hi all", room_id=ROOM)]
    )
    search(world, "/search hi")
    assert world.api.called("search_messages") == [("hi", None, None, None)]
    text = screen(world)
    assert "Search “hi” everywhere (2)" in text
    assert "DM: bob · bob" in text and "#general · me" in text


def test_older_pages_come_only_when_asked(world: World) -> None:
    """A page may hold few matches, even none, with more to scan: the box says so and
    asks for the next (``before=next_before``) only on ``o`` or going past the last
    result, never by itself; the pages add up, newest first."""
    world.api.search_pages[("x", None, None, None)] = page([message("m9", BOB, "x")], "m5")
    world.api.search_pages[("x", None, None, "m5")] = page([], "m2")
    world.api.search_pages[("x", None, None, "m2")] = page([message("m1", BOB, "old x")])
    search(world, "/search * x")
    assert "Search “x” everywhere (1, older messages not searched yet)" in screen(world)
    assert len(world.api.called("search_messages")) == 1
    press(world, "j")  # past the only result
    assert world.api.called("search_messages")[-1] == ("x", None, None, "m5")
    press(world, "o")
    assert world.api.called("search_messages")[-1] == ("x", None, None, "m2")
    assert "(2)" in screen(world) and "old x" in screen(world)
    assert "(no older match)" in screen(world)
    press(world, "o")
    assert len(world.api.called("search_messages")) == 3


def test_a_page_on_its_way_is_not_asked_twice(world: World) -> None:
    from twisted.internet.defer import Deferred

    world.api.search_pages[("x", None, None, None)] = page([message("m9", BOB, "x")], "m5")
    search(world, "/search * x")
    gate: Deferred[None] = Deferred()
    world.api.gates["search_messages"] = gate
    press(world, "o", "o", "j")
    assert "(searching older…)" in screen(world)
    assert len(world.api.called("search_messages")) == 2
    gate.callback(None)
    assert "(searching older…)" not in screen(world)


def test_an_answer_to_a_replaced_search_is_dropped(world: World) -> None:
    from twisted.internet.defer import Deferred

    gate: Deferred[None] = Deferred()
    world.api.gates["search_messages"] = gate
    world.api.search_pages[("old", None, None, None)] = page([message("m1", BOB, "old")])
    world.api.search_pages[("new", None, None, None)] = page([message("m2", BOB, "new")])
    press(world, "i", *"/search * old", "enter", "esc")
    world.app.dispatch(c.Search("new", everywhere=True))
    gate.callback(None)
    assert world.state.search is not None
    assert [m["id"] for m in world.state.search.messages] == ["m2"]


def test_enter_opens_the_result_conversation(world: World) -> None:
    world.api.search_pages[("hi", None, None, None)] = page(
        [message("m2", BOB, "hi", room_id=ROOM), message("m1", BOB, "hi", to=ME)]
    )
    search(world, "/search * hi")
    press(world, "j", "enter")
    assert world.app.ui.overlay is None
    assert world.state.current == ("dm", BOB)
    search(world, "/search * hi")
    press(world, "esc")
    assert world.app.ui.overlay is None and world.state.current == ("dm", BOB)


def test_a_refusal_is_shown_in_the_servers_words(world: World) -> None:
    world.api.fail["search_messages"] = ServerError(
        "validation_failed", "Validation failed: q - must be 1 to 256 characters", status=400
    )
    search(world, "/search * " + "x" * 300)
    assert "Validation failed: q - must be 1 to 256 characters" in screen(world)


def test_a_server_without_search_says_so(world: World) -> None:
    """The original Lair Chat (and a lairchat without search) answers 404 with no
    envelope: the box says the server has none, not "HTTP 404"."""
    world.api.fail["search_messages"] = ServerError("http_404", "HTTP 404 from …", status=404)
    search(world, "/search * hi")
    assert NO_SEARCH in screen(world) and "HTTP 404" not in screen(world)
    assert unsupported(405, "http_405")
    assert not unsupported(404, "user_not_found")


def test_a_lost_session_goes_back_to_the_login(world: World) -> None:
    world.api.fail["search_messages"] = ServerError("session_expired", "", status=401)
    world.app.dispatch(c.Search("hi", everywhere=True))
    assert world.state.screen == "login" and world.app.ui.overlay is None


# -- the match's place ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "query", "span"),
    [
        ("Hello Wörld", " wÖr ", (6, 9)),
        ("Straße", "STRASSE", (0, 6)),
        ("ｆｕｌｌ width", "full", (0, 4)),
        ("cafe\u0301!", "café", (0, 5)),  # decomposed in the text, one character typed
        ("abc", "zz", None),
    ],
)
def test_the_match_is_found_as_the_server_matches(
    content: str, query: str, span: tuple[int, int] | None
) -> None:
    assert match_span(content, query) == span


def test_the_excerpt_is_the_line_with_the_match_cut_before_it() -> None:
    assert excerpt("one\ntwo needle three\nfour", "NEEDLE") == ("two ", "needle", " three")
    before, match, after = excerpt("x" * 100 + "needle", "needle")
    assert before == "…" + "x" * 24 and match == "needle" and after == ""
    assert excerpt("first\nsecond", "nowhere") == ("first", "", "")
    # A search with a filter and no text (/search from:bob): each result's first line.
    assert excerpt("first\nsecond", "") == ("first", "", "")
    assert excerpt("", "") == ("", "", "")


def test_only_what_lairchat_accepts_is_looked_at() -> None:
    """A megabyte from another server: its first CONTENT_MAX characters are folded (a
    match beyond them is not marked) and the row holds at most ROW of them."""
    huge = "x" * 1_000_000 + "needle"
    assert excerpt(huge, "needle") == ("x" * ROW, "", "")
    before, match, after = excerpt("needle" + "y" * 1_000_000, "needle")
    assert (before, match, len(after)) == ("", "needle", ROW - len("needle"))


def test_a_result_line_is_made_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The box is updated at every key and event: each result's text is folded once,
    not again at each ``j``."""
    from lairchat.client.ui import overlays

    made: list[str] = []

    def counting(content: str, query: str) -> tuple[str, str, str]:
        made.append(content)
        return excerpt(content, query)

    monkeypatch.setattr(overlays, "excerpt", counting)
    world.api.search_pages[("x", None, None, None)] = page(
        [message(f"m{n}", BOB, f"x {n}", room_id=ROOM) for n in range(5)]
    )
    search(world, "/search * x")
    press(world, "j", "j", "k")
    assert sorted(made) == [f"x {n}" for n in range(5)]


def test_the_palette_puts_the_command_in_the_field(world: World) -> None:
    """*Search messages* in the palette: ``/search `` in the message field, ready for
    the text (it said "Not available here": the controller took no EnterInsert)."""
    press(world, "ctrl p", *"search mes", "enter")
    assert world.notice() != "Not available here"
    assert world.app.ui.chat.edit.edit_text == "/search "
    world.api.search_pages[("hi", None, None, None)] = page([message("m1", BOB, "hi")])
    press(world, *"hi", "enter")
    assert isinstance(world.app.ui.overlay, SearchOverlay)
