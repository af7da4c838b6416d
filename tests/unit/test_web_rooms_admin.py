"""Room settings, room deletion and administration in the browser client (docs/WEB.md,
"Room settings", "Administration"), run under Node as app.js has them
(:mod:`tests.unit.appjs`): what a settings form sends (the settings whole, and only
when one of them changed), the ban's body from its presets and the hours typed, the
room's name typed again before a deletion is sent (by its owner's route or the
admin's, the id encoded in the path), refusals in the server's words, and a deletion
handled once whether its answer or its event comes first."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

ROOM = {
    "id": "r1",
    "name": "general",
    "owner": "u1",
    "settings": {"description": "chat", "is_private": False, "max_members": None},
}


def changes(room: dict[str, Any], forms: list[dict[str, Any]]) -> list[Any]:
    main = "(forms) => forms.map((form) => roomChanges(ROOM, form) ?? null)"
    prelude = f"const ROOM = {json.dumps(room)};"
    return appjs.run(["roomChanges"], main, forms, prelude=prelude)


def form(**typed: Any) -> dict[str, Any]:
    """The settings form as it opens for ROOM, with ``typed`` changed."""
    return {"name": "general", "description": "chat", "private": False, "limit": "", **typed}


def test_only_what_changed_is_sent_and_the_settings_whole() -> None:
    """``settings`` replaces every setting (HTTP.md): a change of privacy alone sends
    the member limit as it is, and a change of name alone sends no settings, so that
    another moderator's change to them made meanwhile is not undone."""
    assert changes(
        ROOM,
        [
            form(),
            form(name="  general "),
            form(name=" lounge "),
            form(description=""),
            form(private=True),
            form(limit=" 25 "),
            form(limit="0"),
        ],
    ) == [
        None,
        None,
        {"name": "lounge"},
        {"description": ""},
        {"settings": {"public": False, "max_members": None}},
        {"settings": {"public": True, "max_members": 25}},
        {"settings": {"public": True, "max_members": 0}},
    ]
    limited = {**ROOM, "settings": {"description": None, "is_private": True, "max_members": 9}}
    opened = form(description="", private=True, limit="9")
    assert changes(limited, [opened, {**opened, "private": False}, {**opened, "limit": ""}]) == [
        None,
        {"settings": {"public": True, "max_members": 9}},
        {"settings": {"public": False, "max_members": None}},
    ]


@pytest.mark.parametrize("limit", ["-1", "2.5", "ten", "1e400", "9007199254740993"])
def test_a_limit_that_is_no_whole_number_is_said_and_not_sent(limit: str) -> None:
    assert changes(ROOM, [form(limit=limit)]) == [
        "The member limit is a whole number, 0 or more (empty: no limit)."
    ]


def bans(cases: list[list[str]]) -> list[Any]:
    main = "(cases) => cases.map(([choice, hours, reason]) => banBody(choice, hours, reason))"
    return appjs.run(["banBody"], main, cases)


def test_the_ban_from_its_presets_and_the_hours_typed() -> None:
    assert bans(
        [
            ["24", "", ""],
            ["1", "99", "  spam  "],
            ["permanent", "", "abuse"],
            ["custom", " 2.5 ", ""],
            ["custom", "876001", ""],  # out of the server's bounds: its words say so
        ]
    ) == [
        {"duration_hours": 24},
        {"duration_hours": 1, "reason": "spam"},
        {"duration_hours": None, "reason": "abuse"},
        {"duration_hours": 2.5},
        {"duration_hours": 876001},
    ]


@pytest.mark.parametrize("hours", ["", "  ", "0", "-3", "two", "Infinity", "NaN"])
def test_hours_that_are_no_number_above_zero_are_said(hours: str) -> None:
    assert bans([["custom", hours, "spam"]]) == [
        "Type how many hours the ban lasts (a number above 0)."
    ]


#: The page around deleteRoom: elements recording their text, value and focus; ``rest``
#: answering each case's ``answer`` (``throw``: raised as ``rest`` raises); roomDeleted
#: recorded.
PAGE = """
const ENDED = { session_expired: 1 };
class ServerError extends Error {
  constructor(error) { super(error.message); Object.assign(this, error); }
}
let elements, focused, requests, log, answer, roomDeleting;
const state = { token: "t" };
function $(id) {
  elements[id] ??= {
    id, value: "", text: "", open: true, disabled: false,
    focus() { focused = id; },
    reset() { $("room-delete-name").value = ""; },
    close() { this.open = false; log.push(["closed", id]); },
  };
  return elements[id];
}
const flat = (parts) => [parts].flat().map((p) => (typeof p === "string" ? p : p.text)).join("");
const replaceText = (node, text) => { node.text = flat(text); };
const named = (text) => ({ text: `[${text}]` });
const showError = (text) => log.push(["error", text]);
const signOut = (code) => log.push(["signOut", code]);
const roomDeleted = (id, name) => log.push(["deleted", id, name]);
const adminActed = () => log.push(["adminActed"]);
async function rest(method, path, body, token) {
  requests.push([method, path, body ?? null, token]);
  if (answer.throw) throw new ServerError(answer.throw);
  return answer;
}
"""

MAIN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    [elements, focused, requests, log, answer] = [{}, null, [], [], c.answer ?? {}];
    roomDeleting = { room: c.room, admin: c.admin ?? false, back: () => null };
    $("room-delete-name").value = c.typed;
    await deleteRoom({ preventDefault() {} });
    out.push({
      requests, log, focused, error: $("room-delete-error").text,
      typed: $("room-delete-name").value, disabled: $("room-delete-submit").disabled,
    });
  }
  return out;
}"""

NAMES = ["describe", "pathOf", "typedAgain", "sendForm", "deleteRoom"]


def delete(**case: Any) -> dict[str, Any]:
    case = {"room": {"id": "r/1?x", "name": "général"}, "typed": " général ", **case}
    return appjs.run(NAMES, MAIN, [case], prelude=PAGE)[0]


def test_the_room_is_deleted_once_its_name_is_typed_again() -> None:
    out = delete(answer={"success": True})
    # The id is the server's, but text: a "/" or "?" in it changes no path.
    assert out["requests"] == [["DELETE", "/rooms/r%2F1%3Fx", None, "t"]]
    assert out["log"] == [["closed", "room-delete-dialog"], ["deleted", "r/1?x", "général"]]


def test_an_admin_deletes_it_by_the_admin_route() -> None:
    """Then the panel's counts and audit log are asked again (adminActed): the
    deletion is in the log without *Refresh*; an owner's deletion asks nothing."""
    out = delete(answer={"success": True}, admin=True)
    assert out["requests"] == [["DELETE", "/admin/rooms/r%2F1%3Fx", None, "t"]]
    assert out["log"][-2:] == [["deleted", "r/1?x", "général"], ["adminActed"]]


@pytest.mark.parametrize("typed", ["", "General", "génér", "general"])
def test_another_name_sends_nothing(typed: str) -> None:
    out = delete(typed=typed)
    assert out["requests"] == [] and out["log"] == []
    assert out["error"] == "Type the room's name, [général], to confirm."
    assert out["typed"] == "" and out["focused"] == "room-delete-name"


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ({"code": "permission_denied", "message": "Permission denied"}, "Permission denied"),
        ({"code": "room_not_found", "message": "Room not found"}, "Room not found"),
        (
            {"code": "rate_limited", "message": "x", "details": {"retry_after": 7}},
            "Too many requests: try again in 7 s.",
        ),
    ],
)
def test_a_refusal_is_shown_in_the_dialog(error: dict[str, Any], shown: str) -> None:
    out = delete(answer={"throw": error})
    assert out["error"] == f"Room not deleted: {shown}"
    assert out["log"] == [] and not out["disabled"] and out["focused"] == "room-delete-name"


def test_a_session_gone_signs_the_page_out() -> None:
    out = delete(answer={"throw": {"code": "session_expired", "message": "Session expired"}})
    assert out["log"] == [["signOut", "session_expired"]]


#: The page around roomDeleted: what it closes, forgets, says and asks for, recorded.
GONE = """
let log, roomEditing, roomDeleting, roomsGone = new Set();
let administration = { rooms: [{ room: { id: "r1" } }, { room: { id: "r2" } }] };
const state = { active: "room:r1" };
const dialogs = { "room-dialog": { open: true }, "room-delete-dialog": { open: false } };
const $ = (id) => ({ ...dialogs[id], close() { log.push(["closed", id]); } });
const forgetRoom = (id) => log.push(["forget", id]);
const close = () => { log.push(["close"]); state.active = null; };
const named = (text) => `[${text}]`;
const showNotice = (parts) => log.push(["notice", parts.join("")]);
const loadRooms = () => log.push(["loadRooms"]);
const renderAdminRooms = () =>
  log.push(["admin rooms", administration.rooms.map((it) => it.room.id)]);
"""


def test_a_deletion_is_handled_once_whether_its_answer_or_event_comes_first() -> None:
    main = """() => {
      log = [];
      roomEditing = { id: "r1" };
      roomDeleted("r1", "general");
      roomDeleted("r1", "general");  // the other of the answer and the event
      roomDeleted("r3", "other");  // not open, not edited, not in the admin's list
      return log;
    }"""
    assert appjs.run(["roomDeleted"], main, None, prelude=GONE) == [
        ["forget", "r1"],
        ["close"],
        ["closed", "room-dialog"],
        ["admin rooms", ["r2"]],
        ["notice", "The room “[general]” was deleted."],
        ["loadRooms"],
        ["forget", "r3"],
        ["notice", "The room “[other]” was deleted."],
        ["loadRooms"],
    ]
