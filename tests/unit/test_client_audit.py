"""``/admin audit [N]`` in the terminal client (docs/CLIENT.md, "Administering the
server"): the newest entries of the server's audit log as system lines, one an
entry, in the style of ``/admin stats``; a server without the route keeps none."""

from __future__ import annotations

import pytest

from lairchat.client import commands as c
from lairchat.client.roomadmin import audit_line
from lairchat.client.timefmt import format_clock, parse_time
from tests.unit.test_client_app import SIZE, World
from tests.unit.test_client_net import Response, api, run
from tests.unit.test_client_roomadmin import DENIED, NO_ROUTE, lines, typed

AT = "2025-01-21T11:00:00Z"
UNTIL = "2025-01-22T12:00:00Z"
ROOT = {"user_id": "u-root", "username": "root"}
BAN = {
    "id": "e2",
    "at": AT,
    "actor": ROOT,
    "action": "user.ban",
    "subject": {"type": "user", "id": "u-bob", "name": "bob"},
    "details": {"reason": "spam\nlinks \x1b[2J", "until": UNTIL},
}
ROOM_DELETED = {
    "id": "e1",
    "at": AT,
    "actor": {"operator": True},
    "action": "room.delete",
    "subject": {"type": "room", "id": "r1", "name": "general"},
    "details": {},
}


@pytest.fixture
def world() -> World:
    world = World()
    world.login()
    return world


def clock(text: str) -> str:
    return format_clock(parse_time(text))


@pytest.mark.parametrize(
    ("line", "action"),
    [
        ("/admin audit", c.AdminAudit(20)),
        ("/admin AUDIT 5", c.AdminAudit(5)),
        ("/admin audit 200", c.AdminAudit(200)),
        ("/admin audit 0", c.CommandError(c.AUDIT_USAGE)),
        ("/admin audit 201", c.CommandError(c.AUDIT_USAGE)),
        ("/admin audit ten", c.CommandError(c.AUDIT_USAGE)),
        ("/admin audit ３", c.CommandError(c.AUDIT_USAGE)),
    ],
)
def test_the_command(line: str, action: c.Action) -> None:
    assert c.parse_input(line) == action


def test_the_newest_entries_one_line_each(world: World) -> None:
    world.api.audit = [BAN, ROOM_DELETED, {**ROOM_DELETED, "id": "e0"}]
    typed(world, "/admin audit 2")
    assert world.api.called("admin_audit") == [(2,)]
    assert lines(world)[-3:] == [
        "Audit log, newest first; older entries not shown:",
        f'{clock(AT)} root: user.ban bob (reason "spam\\nlinks \\u001b[2J", until {clock(UNTIL)})',
        f"{clock(AT)} operator: room.delete #general",
    ]
    typed(world, "/admin audit")
    assert world.api.called("admin_audit")[-1] == (20,)
    assert lines(world)[-4] == "Audit log, newest first:"


def test_an_empty_log_and_a_permanent_ban(world: World) -> None:
    typed(world, "/admin audit")
    assert lines(world)[-1] == "Audit log: no entries"
    world.api.audit = [{**BAN, "details": {"reason": None, "until": None}}]
    typed(world, "/admin audit")
    assert lines(world)[-1] == f"{clock(AT)} root: user.ban bob (reason null, until for good)"


def test_a_server_without_the_route_keeps_none(world: World) -> None:
    world.api.fail["admin_audit"] = NO_ROUTE
    typed(world, "/admin audit")
    assert lines(world)[-1] == "This server keeps no audit log"


def test_a_refusal_in_the_servers_words(world: World) -> None:
    world.api.fail["admin_audit"] = DENIED
    typed(world, "/admin audit")
    assert world.notice() == "No audit log: Permission denied"


def test_what_a_server_sends_oddly_is_still_one_line() -> None:
    odd = {
        "at": 5,
        "actor": "root",
        "action": "user.renamed",
        "subject": {"type": "user", "id": "u1", "name": "a\nb"},
        "details": {"to": [[[]]], "count": 3},
    }
    line = audit_line(odd)
    assert "\n" not in line
    assert line.endswith("?: user.renamed a␊b (to …, count 3)")


def test_help_and_palette_offer_it(world: World) -> None:
    assert any(line.startswith("/admin audit") for line, *_ in c.COMMANDS)
    for key in ["ctrl p", *"audit log", "enter"]:
        world.app.ui.keypress(SIZE, key)
    assert world.api.called("admin_audit") == [(20,)]


def test_the_request_on_the_wire() -> None:
    http, client = api(Response(200, b'{"entries":[{"id":"e1"}],"has_more":true}'))
    assert run(http.admin_audit(5)) == ([{"id": "e1"}], True)
    method, url, kwargs = client.requests[0]
    assert (method, url, kwargs.get("params")) == (
        "GET",
        "http://chat.test:8082/api/v1/admin/audit",
        {"limit": 5},
    )


def test_a_time_that_cannot_be_read_is_a_question_mark() -> None:
    """An unreadable time (an entry's, a ban's until: a number, a typo) was shown as
    the time now, dating the entry wrongly; the browser client shows "?" too."""
    line = audit_line({"at": 5, "action": "user.ban", "details": {"until": "soon"}})
    assert line == "? ?: user.ban ? (until ?)"
