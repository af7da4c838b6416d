"""Pinned messages in the browser client (docs/WEB.md, "Pinned messages"), run under
Node as app.js has them (:mod:`tests.unit.appjs`), the page around them stood in for:
a room's pins asked for once (``GET /rooms/{id}/pins``) and what is no pin in the
answer, events arriving meanwhile applied to it, ``message_pinned`` /
``message_unpinned`` and a pinned message edited or deleted, pinning and unpinning
(``PUT``/``DELETE /messages/{id}/pin``) shown once the server said yes and counted
once with its event, refusals in the server's words and a server without pins."""

from __future__ import annotations

from typing import Any

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: The page around the pin code: held conversations, a ``rest`` that records each
#: request and answers the case's ``answers`` in turn (``throw``: raised as ``rest``
#: raises a ServerError; ``hold``: answered only when ``release()`` is called), and
#: what it asks to be redrawn or said.
PAGE = """
class ServerError extends Error {
  constructor(error) { super(error.message); Object.assign(this, error); }
}
let state, requests, answers, log, held_back;
const pinsChanged = (roomId) => log.push(["changed", roomId]);
const showError = (text) => log.push(["error", text]);
const showEdited = () => {};
const forgetMessage = () => {};
const say = (parts) => log.push(["said", parts.join("")]);
const nameOf = (text) => text;
const userName = (id) => ({ "u-me": "me", "u-bob": "bob" })[id];
function rest(method, path, body, token) {
  requests.push([method, path, token]);
  const answer = answers.shift() ?? { success: true };
  if (answer.hold) return new Promise((resolve) => (held_back = () => resolve(answer.hold)));
  return answer.throw ? Promise.reject(new ServerError(answer.throw)) : Promise.resolve(answer);
}
function page(c) {
  state = {
    me: { id: "u-me" },
    token: "t",
    active: c.active,
    pinsMissing: false,
    pins: new Map(
      Object.entries(c.pins ?? {}).map(([room, list]) => [room, { list, pending: [] }]),
    ),
    conversations: new Map(
      Object.entries(c.conversations ?? {}).map(([key, messages]) => [
        key, { key, messages, ids: new Set(messages.map((m) => m.id)) },
      ]),
    ),
  };
  [requests, answers, log] = [[], [...(c.answers ?? [])], []];
}
const shown = () => Object.fromEntries(
  [...state.pins].map(([room, held]) => [room, held.list && held.list.map((p) => p.message.id)]),
);
"""

NAMES = [
    "NO_PINS",
    "describe",
    "routeMissing",
    "pathOf",
    "heldMessage",
    "pinOf",
    "pinsOf",
    "isPinned",
    "lacksRoute",
    "loadPins",
    "pinEvent",
    "applyPinEvent",
    "ANNOUNCED_PIN_CHARS",
    "excerpt",
    "announcePin",
    "setPinned",
    "handleEvent",
]


def run(main: str, cases: Any) -> Any:
    return appjs.run(NAMES, main, cases, prelude=PAGE)


def message(id: str, content: str = "text", **more: Any) -> dict[str, Any]:
    return {
        "id": id,
        "author": "u-bob",
        "target": {"type": "room", "room_id": "r1"},
        "content": content,
        "created_at": "2026-12-07T04:00:00Z",
        **more,
    }


def pin(id: str, **more: Any) -> dict[str, Any]:
    return {
        "message": message(id, **more),
        "pinned_by": "u-alice",
        "pinned_at": "2026-12-07T04:10:00Z",
    }


LOAD = """async (cases) => {
  const out = [];
  for (const c of cases) {
    page(c);
    await loadPins("r1");
    await loadPins("r1"); // held: not asked again
    out.push({ requests, log, shown: shown(), missing: state.pinsMissing,
               held: state.pins.get("r1")?.list ?? null });
  }
  return out;
}"""


def test_a_rooms_pins_are_asked_for_once_and_odd_ones_left_out() -> None:
    good = [pin("m2"), pin("m1")]
    odd = [None, "m3", {"message": {"id": 7, "content": "x"}}, {"message": {"id": "m4"}}]
    out = run(LOAD, [{"answers": [{"pins": good}]}, {"answers": [{"pins": [*odd, good[0]]}]}])
    assert out[0]["requests"] == [["GET", "/rooms/r1/pins", "t"]]
    assert out[0]["held"] == good
    assert out[0]["log"] == [["changed", "r1"]]
    assert out[1]["held"] == [good[0]]


def test_a_server_without_pins_is_said_once_and_a_refusal_in_its_words() -> None:
    """The original's bare 404 (``http_404``) and an older lairchat's ``not_found``:
    the server has none (nothing said now; the panel and a pin say so), and it is
    not asked again. Any other refusal is shown, and the room asked again when
    next opened."""
    cases = [
        {"answers": [{"throw": {"code": "http_404", "message": "HTTP 404"}}]},
        {"answers": [{"throw": {"code": "not_found", "message": "Not found"}}]},
        {
            "answers": [
                {"throw": {"code": "not_room_member", "message": "Not a member"}},
                {"pins": []},
            ]
        },
    ]
    out = run(LOAD, cases)
    for missing in out[:2]:
        assert missing["missing"] is True and missing["log"] == [["changed", "r1"]]
        assert len(missing["requests"]) == 1 and missing["shown"] == {}
    refused = out[2]
    assert refused["missing"] is False
    assert refused["log"][0] == ["error", "Pinned messages not listed: Not a member"]
    assert len(refused["requests"]) == 2 and refused["shown"] == {"r1": []}


def test_events_arriving_while_the_pins_are_asked_for_are_applied_to_the_answer() -> None:
    main = """async (c) => {
      page(c);
      const loading = loadPins("r1");
      for (const event of c.events) handleEvent(event);
      const before = shown();
      held_back();
      await loading;
      return { before, after: shown() };
    }"""
    events = [
        {"type": "message_pinned", "room_id": "r1", **pin("m3")},
        {"type": "message_unpinned", "room_id": "r1", "message_id": "m1"},
        {"type": "message_deleted", "message_id": "m2", "target": {"type": "room"}},
    ]
    answer = {"pins": [pin("m2"), pin("m1"), pin("m0")]}
    out = run(main, {"answers": [{"hold": answer}], "events": events})
    assert out == {"before": {"r1": None}, "after": {"r1": ["m3", "m0"]}}


EVENTS = """(cases) => cases.map((c) => {
  page(c);
  for (const event of c.events) handleEvent(event);
  const pins = Object.fromEntries([...state.pins].map(([room, held]) => [room, held.list]));
  return { shown: shown(), log, pins };
})"""


def test_live_events_change_the_pins_held() -> None:
    """Pinned: first (newest pin first); one pinned already moves up with the server's
    date. Unpinned or deleted: gone, wherever held (a deletion names no room). An edit
    changes the pin's text and keeps its reactions. Another room's, or a message not
    pinned, change nothing; nothing is asked for a room not held."""
    reactions = [{"emoji": "👍", "count": 1, "user_ids": ["u-bob"]}]
    pins = {"r1": [pin("m2", reactions=reactions), pin("m1")], "r2": [pin("m9")]}
    edited = message("m2", "new text", edited=True)
    cases = [
        {"pins": pins, "events": [{"type": "message_pinned", "room_id": "r1", **pin("m3")}]},
        {
            "pins": pins,
            "events": [
                {"type": "message_pinned", "room_id": "r1", **pin("m1"), "pinned_at": "later"}
            ],
        },
        {
            "pins": pins,
            "events": [{"type": "message_unpinned", "room_id": "r1", "message_id": "m2"}],
        },
        {"pins": pins, "events": [{"type": "message_deleted", "message_id": "m9"}]},
        {"pins": pins, "events": [{"type": "message_edited", "message": edited}]},
        {
            "pins": pins,
            "events": [
                {"type": "message_unpinned", "room_id": "r2", "message_id": "m2"},
                {"type": "message_unpinned", "room_id": "r1", "message_id": "m7"},
                {"type": "message_deleted", "message_id": "m7"},
                {"type": "message_pinned", "room_id": "r3", **pin("m5")},
                {"type": "message_pinned", "room_id": "r1", "message": {"id": "m6"}},
            ],
        },
    ]
    out = run(EVENTS, cases)
    assert out[0]["shown"]["r1"] == ["m3", "m2", "m1"] and out[0]["log"] == [["changed", "r1"]]
    assert out[1]["shown"]["r1"] == ["m1", "m2"]
    assert out[1]["pins"]["r1"][0]["pinned_at"] == "later"
    assert out[2]["shown"] == {"r1": ["m1"], "r2": ["m9"]}
    assert out[3]["shown"] == {"r1": ["m2", "m1"], "r2": []}
    assert out[3]["log"] == [["changed", "r2"]]
    changed = out[4]["pins"]["r1"][0]
    assert changed["message"]["content"] == "new text" and changed["message"]["edited"] is True
    assert changed["message"]["reactions"] == reactions and changed["pinned_by"] == "u-alice"
    assert out[5]["shown"] == {"r1": ["m2", "m1"], "r2": ["m9"]} and out[5]["log"] == []


def test_someone_elses_pin_in_the_open_room_is_said_once() -> None:
    """Found in the review: someone else's pin or unpin changed *Pinned (n)* and the
    panel silently for a screen reader. Now said by the announcer, once per change (the
    same event again changes nothing and says nothing); ours, a deleted message's pin
    and another room's are not said."""
    long = "x" * 150
    pins = {"r1": [pin("m2", content="read the rules"), pin("m1")], "r2": [pin("m9")]}
    bobs = {"type": "message_pinned", "room_id": "r1", **pin("m3", content=long)}
    bobs["pinned_by"] = "u-bob"
    cases = [
        {"active": "room:r1", "pins": pins, "events": [bobs, bobs]},
        {
            "active": "room:r1",
            "pins": pins,
            "events": [
                {"type": "message_unpinned", "room_id": "r1", "message_id": "m2"},
                {"type": "message_unpinned", "room_id": "r1", "message_id": "m2"},
            ],
        },
        {
            "active": "room:r1",
            "pins": pins,
            "events": [
                {"type": "message_pinned", "room_id": "r1", **pin("m4"), "pinned_by": "u-me"},
                {
                    "type": "message_unpinned",
                    "room_id": "r1",
                    "message_id": "m1",
                    "unpinned_by": "u-me",
                },
                {"type": "message_deleted", "message_id": "m2"},
                {"type": "message_pinned", "room_id": "r2", **pin("m5"), "pinned_by": "u-bob"},
            ],
        },
        {"active": "dm:u-bob", "pins": pins, "events": [bobs]},
    ]
    out = run(EVENTS, cases)
    said = [[entry[1] for entry in case["log"] if entry[0] == "said"] for case in out]
    assert said[0] == [f"bob pinned “{'x' * 100}…”"]
    # Unpinned by someone the event does not name: said all the same, the text from
    # the pin it took off.
    assert said[1] == ["Someone unpinned “read the rules”"]
    assert said[2] == [] and said[3] == []
    # The pins changed all the same where they were held.
    assert out[2]["shown"] == {"r1": ["m4"], "r2": ["m5", "m9"]}


SET = """async (cases) => {
  const out = [];
  for (const c of cases) {
    page(c);
    for (const [id, pinned] of c.calls) await setPinned("r1", id, pinned);
    for (const event of c.events ?? []) handleEvent(event);
    out.push({ requests, log, missing: state.pinsMissing,
               pins: (state.pins.get("r1")?.list ?? []).map((p) => [p.message.id, p.pinned_by]) });
  }
  return out;
}"""


def test_pinning_and_unpinning_are_shown_once_the_server_said_yes() -> None:
    """``PUT`` / ``DELETE /messages/{id}/pin``, the id one encoded segment. Pinned, it
    is first at once (pinned by us) and its event does not count it again; one pinned
    already stays where it is; unpinned, it goes."""
    held = {"room:r1": [message("m1"), message("a/b?")]}
    cases = [
        {
            "pins": {"r1": [pin("m0")]},
            "conversations": held,
            "calls": [["a/b?", True]],
            "events": [{"type": "message_pinned", "room_id": "r1", **pin("a/b?")}],
        },
        {"pins": {"r1": [pin("m0"), pin("m1")]}, "conversations": held, "calls": [["m1", True]]},
        {"pins": {"r1": [pin("m0"), pin("m1")]}, "conversations": held, "calls": [["m0", False]]},
        {"conversations": held, "calls": [["m1", True]]},  # the room's pins not held: asked later
    ]
    out = run(SET, cases)
    assert out[0]["requests"] == [["PUT", "/messages/a%2Fb%3F/pin", "t"]]
    assert out[0]["pins"] == [["a/b?", "u-alice"], ["m0", "u-alice"]]
    assert out[0]["log"] == [["changed", "r1"], ["changed", "r1"]]
    assert out[1]["pins"] == [["m0", "u-alice"], ["m1", "u-alice"]] and out[1]["log"] == []
    assert out[2]["requests"] == [["DELETE", "/messages/m0/pin", "t"]]
    assert out[2]["pins"] == [["m1", "u-alice"]]
    assert out[3]["pins"] == [] and out[3]["log"] == []


def test_our_pin_before_its_event_is_ours() -> None:
    main = """async (c) => {
      page(c);
      await setPinned("r1", "m1", true);
      return state.pins.get("r1").list.map((p) => [p.message.id, p.pinned_by, p.message.content]);
    }"""
    out = run(main, {"pins": {"r1": []}, "conversations": {"room:r1": [message("m1", "hi")]}})
    assert out == [["m1", "u-me", "hi"]]


def test_refusals_are_said_in_the_servers_words_and_no_pins_as_such() -> None:
    limit = {
        "code": "validation_failed",
        "message": "Validation failed: message_id - a room has at most 50 pinned messages",
    }
    cases = [
        {"pins": {"r1": []}, "calls": [["m1", True]], "answers": [{"throw": limit}]},
        {
            "pins": {"r1": []},
            "calls": [["m1", False]],
            "answers": [{"throw": {"code": "permission_denied", "message": "Permission denied"}}],
        },
        {
            "pins": {"r1": []},
            "calls": [["m1", True]],
            "answers": [{"throw": {"code": "http_404", "message": "HTTP 404"}}],
        },
        {
            "pins": {"r1": []},
            "calls": [["m1", False]],
            "answers": [{"throw": {"code": "not_found", "message": "Not found"}}],
        },
        {
            "pins": {"r1": []},
            "calls": [["m1", True]],
            "answers": [{"throw": {"code": "http_405", "message": "HTTP 405"}}],
        },
    ]
    out = run(SET, cases)
    assert [o["log"][0] for o in out] == [
        ["error", f"Not pinned: {limit['message']}"],
        ["error", "Not unpinned: Permission denied"],
        ["error", "Not pinned: This server cannot pin messages."],
        ["error", "Not unpinned: This server cannot pin messages."],
        ["error", "Not pinned: This server cannot pin messages."],
    ]
    assert [o["missing"] for o in out] == [False, False, True, True, True]
    assert all(o["pins"] == [] for o in out)
