"""Message reactions in the browser client (docs/WEB.md, "Reactions"), run under Node as
app.js has them (:mod:`tests.unit.appjs`), the page around them stood in for: the
``reactions`` of history answers and what is no reaction in them, the live
``reaction_added`` / ``reaction_removed`` events and our own changes counted once
(also beyond the 50 reactors listed), the requests (``PUT``/``DELETE``, the emoji
percent-encoded in NFC), refusals in the server's words and a server without
reactions, an emoji typed checked as the server checks it, and the buttons' labels
and titles."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import unquote

from lairchat.domain.errors import LairError
from lairchat.domain.reactions import check_emoji
from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: The page around the reaction code: held conversations, a ``rest`` that records
#: each request and answers the case's ``answer`` (``throw``: raised as ``rest``
#: raises a ServerError), and the redraws, banners and picker text it asks for.
PAGE = """
class TextEncoder {
  encode(text) {
    let length = 0;
    for (const c of text) {
      const cp = c.codePointAt(0);
      length += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }
    return { length };
  }
}
class ServerError extends Error {
  constructor(error) { super(error.message); Object.assign(this, error); }
}
let state, requests, answer, log;
const names = new Map([["u-alice", "alice"], ["u-bob", "bob"]]);
const userName = (id) => (id === state.me.id ? "me" : names.get(id));
const lookUpUser = (id) => log.push(["lookup", id]);
const renderReactions = (message) => log.push(["render", message.id]);
const showError = (text) => log.push(["error", text]);
const replaceText = (node, text) => log.push(["picker says", text]);
const closePicker = () => log.push(["closed"]);
const picker = {
  input: { value: "" },
  querySelector(selector) { return selector === "input" ? this.input : {}; },
};
async function ask(type, fields) {
  requests.push([type, fields]);
  return answer.throw ? { success: false, error: answer.throw } : { success: true };
}
async function rest(method, path, body, token) {
  requests.push([method, path, body, token]);
  if (answer.throw) throw new ServerError(answer.throw);
  return { success: true };
}
function page(c) {
  state = {
    me: { id: "u-me" },
    token: "t",
    reacting: c.reacting ?? null,
    conversations: new Map(
      Object.entries(c.conversations ?? {}).map(([key, messages]) => [
        key, { key, messages, ids: new Set(messages.map((m) => m.id)) },
      ]),
    ),
  };
  [requests, answer, log] = [[], c.answer ?? {}, []];
}
const held = () =>
  Object.fromEntries(
    [...state.conversations.values()].flatMap((conv) =>
      conv.messages.map((m) => [m.id, m.reactions ?? null]),
    ),
  );
"""

NAMES = [
    "FLAG",
    "HIDDEN",
    "FLAGS",
    "REACTION_BANNED",
    "REACTION_MAX_BYTES",
    "NO_REACTIONS",
    "UNSAFE",
    "utf8Length",
    "mark",
    "safePieces",
    "plainText",
    "describe",
    "routeMissing",
    "lacksRoute",
    "DOT_SEGMENT",
    "pathOf",
    "reactionsOf",
    "withReaction",
    "heldMessage",
    "reactedWith",
    "reactionChanged",
    "reactionProblem",
    "react",
    "toggleReaction",
    "reactionLabel",
    "reactorsText",
    "pickReaction",
    "pickTyped",
    "pickerKeys",
    "handleEvent",
]


def run(main: str, cases: Any) -> Any:
    return appjs.run(NAMES, main, cases, prelude=PAGE)


def reaction(
    emoji: str, *ids: str, count: int | None = None, me: bool | None = None
) -> dict[str, Any]:
    """As the server gives it: ``me`` is whether we (``u-me``) reacted, listed or not."""
    return {
        "emoji": emoji,
        "count": len(ids) if count is None else count,
        "user_ids": list(ids),
        "me": "u-me" in ids if me is None else me,
    }


def test_one_check_says_whether_a_later_route_is_missing() -> None:
    """``lacksRoute``, the one check behind reactions, pins, the export and the audit
    log (they were four copies): the original's bare 404 and 405 and an older
    lairchat's ``not_found`` are a missing route; the API's own refusals (a message or
    room not found, 401, 403, 429, a 500) are not, and are shown as the server says."""
    codes = ["http_404", "http_405", "not_found"]
    kept = ["message_not_found", "room_not_found", "http_401", "http_403", "http_429"]
    kept += ["http_500", "http_4040", "xhttp_404", "rate_limited", "", None]
    out = run(
        "(codes) => codes.map((code) => lacksRoute(code === null ? {} : { code }))", codes + kept
    )
    assert out == [True] * len(codes) + [False] * len(kept)


def test_history_reactions_are_kept_and_odd_ones_left_out() -> None:
    """What the server gave, in its order; a server without reactions (no field, or
    not a list) has none; entries that are no reaction are dropped, a count below the
    ids listed raised to them."""
    main = "(cases) => { page({}); return cases.map((message) => reactionsOf(message)); }"
    good = [reaction("👍", "a", "b"), reaction("🎉", "c", count=70, me=True)]
    odd = [
        None,
        "👍",
        {"emoji": "", "count": 1, "user_ids": []},
        {"emoji": "😮", "count": "2", "user_ids": []},
        {"emoji": "😢", "count": 0, "user_ids": []},
        {"emoji": "😂", "count": 1, "user_ids": ["a", 7, None, "b"]},
        {"emoji": "❤️", "count": 3},
    ]
    out = run(main, [{"reactions": good}, {}, {"reactions": "x"}, {"reactions": odd}, None])
    assert out[0] == good
    assert out[1] == out[2] == out[4] == []
    assert out[3] == [reaction("😂", "a", "b"), reaction("❤️", count=3)]


APPLY = """(cases) => { page({}); return cases.map((c) =>
  withReaction(c.reactions, c.emoji, c.user, c.added, c.sure)); }"""


def test_a_change_is_counted_once_wherever_it_comes_from() -> None:
    """Added: a new emoji goes last; one more reactor; someone listed already (our own
    change, confirmed, then its event) changes nothing. Removed: one fewer, the emoji
    gone at none; someone not listed changes nothing. Beyond the 50 listed, only an
    event (the server sends one only for a change) counts someone not listed."""
    both = [reaction("👍", "a"), reaction("🎉", "b", "c")]
    many = [reaction("👍", *(f"u{n}" for n in range(50)), count=60)]
    cases = [
        {"reactions": both, "emoji": "😮", "user": "a", "added": True},
        {"reactions": both, "emoji": "👍", "user": "b", "added": True},
        {"reactions": both, "emoji": "👍", "user": "a", "added": True, "sure": True},
        {"reactions": both, "emoji": "🎉", "user": "b", "added": False},
        {"reactions": both, "emoji": "👍", "user": "a", "added": False, "sure": True},
        {"reactions": both, "emoji": "👍", "user": "z", "added": False, "sure": True},
        {"reactions": both, "emoji": "😮", "user": "a", "added": False, "sure": True},
        {"reactions": many, "emoji": "👍", "user": "me", "added": True, "sure": False},
        {"reactions": many, "emoji": "👍", "user": "x", "added": True, "sure": True},
        {"reactions": many, "emoji": "👍", "user": "me", "added": False, "sure": False},
        {"reactions": many, "emoji": "👍", "user": "x", "added": False, "sure": True},
        {"reactions": many, "emoji": "👍", "user": "u3", "added": False, "sure": False},
    ]
    out = run(APPLY, cases)
    assert out[0] == [*both, reaction("😮", "a")]
    assert out[1] == [reaction("👍", "a", "b"), both[1]]
    assert out[2] == both
    assert out[3] == [both[0], reaction("🎉", "c")]
    assert out[4] == [both[1]]
    assert out[5] == out[6] == both
    assert out[7] == many  # maybe counted already among the 10 not listed: the event says
    assert out[8][0]["count"] == 61 and out[8][0]["user_ids"][-1] == "x"
    assert out[9] == many
    assert out[10][0]["count"] == 59 and len(out[10][0]["user_ids"]) == 50
    assert out[11][0]["count"] == 59 and "u3" not in out[11][0]["user_ids"]


def test_ours_is_what_the_server_says_past_the_50_listed() -> None:
    """Found with a message 50 others reacted to first: our id is not among the
    ``user_ids`` listed, so our own reaction showed not pressed, and a click added it
    again. ``me`` decides, in the history's reactions and in our own changes (ours
    counted once whether the answer or its event comes first); a lairchat that sends
    no ``me`` has ours found among the ids, as before."""
    fans = [f"u{n}" for n in range(50)]
    ours = reaction("👍", *fans, count=51, me=True)
    main = """(cases) => {
      page({});
      return cases.map((c) =>
        c.apply
          ? withReaction(c.reactions, c.emoji, c.user, c.added, c.sure)
          : reactionsOf({ reactions: c.reactions }));
    }"""
    old_server = {"emoji": "🎉", "count": 2, "user_ids": ["u-bob", "u-me"]}
    shown, legacy, back, again, confirmed, theirs = run(
        main,
        [
            {"reactions": [ours]},
            {"reactions": [old_server]},
            {"apply": True, "reactions": [ours], "emoji": "👍", "user": "u-me", "added": False},
            {
                "apply": True,
                "reactions": [{**ours, "me": False, "count": 50}],
                "emoji": "👍",
                "user": "u-me",
                "added": True,
            },
            {"apply": True, "reactions": [ours], "emoji": "👍", "user": "u-me", "added": True},
            {"apply": True, "reactions": [ours], "emoji": "👍", "user": "u-x", "added": True},
        ],
    )
    assert shown == [ours]
    assert legacy == [{**old_server, "me": True}]
    assert back == [{**ours, "count": 50, "me": False}]
    assert again[0]["count"] == 51 and again[0]["me"] is True
    assert confirmed == [ours]  # the event after the answer: counted once
    assert theirs == [ours]  # maybe among the 51 already: only an event says
    pressed = """(cases) => {
      page({ conversations: { "room:r": [{ id: "m", reactions: cases[0] }] } });
      return [
        reactedWith(heldMessage("m"), "👍"),
        reactorsText({ count: 53, user_ids: ["u-alice", "u-bob"], me: true }),
      ];
    }"""
    assert run(pressed, [[ours]]) == [True, "you, alice, bob and 50 others"]


EVENTS = """(cases) => cases.map((c) => {
  page(c);
  for (const event of c.events) handleEvent(event);
  return { held: held(), log };
})"""


def test_live_events_change_the_held_message_and_its_line() -> None:
    """``reaction_added`` and ``reaction_removed`` find the message wherever it is held
    (a DM's target names its recipient, not the conversation: the id decides), and
    redraw its line; one for a message not held, or with no emoji, changes nothing."""
    room = [{"id": "m1", "reactions": [reaction("👍", "u-alice")]}, {"id": "m2"}]
    dm = [{"id": "m3", "reactions": []}]
    events = [
        {"type": "reaction_added", "message_id": "m1", "user_id": "u-bob", "emoji": "👍"},
        {"type": "reaction_added", "message_id": "m2", "user_id": "u-me", "emoji": "🎉"},
        {"type": "reaction_removed", "message_id": "m1", "user_id": "u-alice", "emoji": "👍"},
        {"type": "reaction_added", "message_id": "m3", "user_id": "u-bob", "emoji": "❤️"},
        {"type": "reaction_added", "message_id": "m9", "user_id": "u-bob", "emoji": "👍"},
        {"type": "reaction_added", "message_id": "m1", "user_id": "u-bob", "emoji": None},
        {"type": "reaction_added", "message_id": "m1", "user_id": "u-bob", "emoji": "👍"},
    ]
    target = {"type": "dm", "recipient": "u-me"}
    for event in events:
        event["target"] = target
    (out,) = run(EVENTS, [{"conversations": {"room:r": room, "dm:u-bob": dm}, "events": events}])
    assert out["held"] == {
        "m1": [reaction("👍", "u-bob")],
        "m2": [reaction("🎉", "u-me")],
        "m3": [reaction("❤️", "u-bob")],
    }
    rendered = [entry[1] for entry in out["log"] if entry[0] == "render"]
    assert rendered == ["m1", "m2", "m1", "m3", "m1"]


TOGGLE = """async (cases) => {
  const out = [];
  for (const c of cases) {
    page(c);
    if (c.typed !== undefined) {
      picker.input.value = c.typed;
      pickTyped({ preventDefault() {} });
      await new Promise((resolve) => setTimeout(resolve, 0));
    } else if (c.pick) {
      await pickReaction(c.pick);
    } else {
      await toggleReaction(c.id, c.emoji);
    }
    out.push({ requests, held: held(), log });
  }
  return out;
}"""

ROOM = {"room:r": [{"id": "m 1/..", "reactions": [reaction("👍", "u-alice", "u-me")]}]}


def test_a_reaction_clicked_is_taken_back_or_added() -> None:
    """Ours: ``DELETE``; not ours: ``PUT``, the id and the emoji each one encoded path
    segment (a ``/`` or ``..`` in an id changes no route); the change shown once the
    server has it."""
    taken_back, added = run(
        TOGGLE,
        [
            {"conversations": ROOM, "id": "m 1/..", "emoji": "👍"},
            {"conversations": ROOM, "id": "m 1/..", "emoji": "🎉"},
        ],
    )
    (method, path, body, token) = taken_back["requests"][0]
    assert (method, body, token) == ("DELETE", None, "t")
    assert path == "/messages/m%201%2F../reactions/%F0%9F%91%8D"
    assert taken_back["held"]["m 1/.."] == [reaction("👍", "u-alice")]
    assert added["requests"][0][0] == "PUT"
    assert unquote(added["requests"][0][1].rsplit("/", 1)[1]) == "🎉"
    assert added["held"]["m 1/.."][-1] == reaction("🎉", "u-me")
    assert taken_back["log"][-1] == added["log"][-1] == ["render", "m 1/.."]


def test_refusals_are_said_in_the_servers_words_and_no_route_as_no_reactions() -> None:
    """A refusal changes nothing shown: said in the banner for a reaction's button, in
    the picker (which stays open) for one picked; the original's 404 without the API's
    envelope, and an older lairchat's ``not_found`` for a path it does not serve, are
    ``This server has no reactions.``, not ``HTTP 404`` or ``Not found``."""
    missing = {"code": "http_404", "message": "HTTP 404"}
    older = {"code": "not_found", "message": "Not found"}
    refused = {"code": "validation_failed", "message": "Validation failed: emoji: too many"}
    gone = {"code": "message_not_found", "message": "Message not found"}
    clicked, no_route, older_lairchat, picked, too_many = run(
        TOGGLE,
        [
            {"conversations": ROOM, "id": "m 1/..", "emoji": "🎉", "answer": {"throw": gone}},
            {
                "conversations": ROOM,
                "reacting": "m 1/..",
                "pick": "😮",
                "answer": {"throw": missing},
            },
            {
                "conversations": ROOM,
                "reacting": "m 1/..",
                "pick": "😮",
                "answer": {"throw": older},
            },
            {"conversations": ROOM, "reacting": "m 1/..", "pick": "😮"},
            {
                "conversations": ROOM,
                "reacting": "m 1/..",
                "pick": "😮",
                "answer": {"throw": refused},
            },
        ],
    )
    assert clicked["log"] == [["error", "Reaction not changed: Message not found"]]
    assert clicked["held"] == {"m 1/..": ROOM["room:r"][0]["reactions"]}
    assert no_route["log"] == [["picker says", "This server has no reactions."]]
    assert older_lairchat["log"] == no_route["log"]
    assert too_many["log"] == [["picker says", refused["message"]]]
    assert picked["log"] == [["render", "m 1/.."], ["closed"]]


def test_an_emoji_typed_is_checked_before_it_is_sent() -> None:
    """Typed in the picker: trimmed and made NFC, then checked as the server checks it
    (lairchat/domain/reactions.py); what it refuses is said at once and not sent."""
    cases = [
        {"conversations": ROOM, "reacting": "m 1/..", "typed": typed}
        for typed in ["  +1 ", "e\u0301", "", "a b", "x\u200by", "a/b", "🎉" * 9]
    ]
    plus, decomposed, empty, space, hidden, slash, long = run(TOGGLE, cases)
    assert [r[0:2] for r in plus["requests"]] == [["PUT", "/messages/m%201%2F../reactions/%2B1"]]
    assert decomposed["requests"][0][1].endswith("/reactions/%C3%A9")  # NFC: é
    assert empty["log"] == [["picker says", "Type an emoji to react with."]]
    invisible = "A reaction cannot hold spaces, “/” or invisible characters."
    for case in (space, hidden, slash):
        assert case["log"] == [["picker says", invisible]] and case["requests"] == []
    assert long["log"] == [["picker says", "That is too long for a reaction (32 bytes at most)."]]


#: Emoji the server takes, and ones it refuses (lairchat/domain/reactions.py).
TAKEN = ["👍", "❤️", "❤︎", "👩‍💻", "👨‍👩‍👧‍👦", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "🇫🇷", "+1", "👍🏽", "ok"]
REFUSED = [
    "",
    " ",
    "a b",
    "\u00a0",
    "\t",
    "\u200b",
    "\u200c",
    "\u202e",
    "\u2028",
    "\u3164",
    "\u115f",
    "\u034f",
    "\ufeff",
    "\U000e0041",
    "/",
    "\x00",
    "\x85",
    "👨‍👩‍👧‍👦" * 2,  # 50 bytes
]


def server_takes(emoji: str) -> bool:
    try:
        check_emoji(emoji)
    except LairError:
        return False
    return True


def test_the_pages_check_takes_what_the_server_takes() -> None:
    """The corpus is the server's (lairchat/domain/reactions.py), and the page agrees."""
    expected = [True] * len(TAKEN) + [False] * len(REFUSED)
    assert [server_takes(e) for e in TAKEN + REFUSED] == expected
    problems = run("(cases) => cases.map((e) => reactionProblem(e))", TAKEN + REFUSED)
    assert problems[: len(TAKEN)] == [None] * len(TAKEN)
    assert all(problems[len(TAKEN) :]), list(zip(REFUSED, problems[len(TAKEN) :], strict=True))


def test_the_pages_check_agrees_with_the_server_on_every_code_point() -> None:
    """Each code point alone, made NFC as both make it: the page refuses exactly what
    ``check_emoji`` refuses. Code points the server's Python does not know (Node's
    Unicode may be newer) and the two private-use planes are left out."""
    chars = [chr(c) for c in range(0xF0000) if unicodedata.category(chr(c)) != "Cn"]
    page = run("(cases) => cases.map((c) => reactionProblem(c.normalize('NFC')) === null)", chars)
    server = [server_takes(c) for c in chars]
    differ = [f"U+{ord(c):04X}" for c, p, s in zip(chars, page, server, strict=True) if p != s]
    assert differ == []


def test_labels_and_titles_say_what_a_click_does_and_who_reacted() -> None:
    """A screen reader hears what the button does and the count; the title names who
    reacted (``you`` for us, names the page knows, the rest as unnamed and counted);
    an invisible character in an emoji is shown marked, not hidden."""
    main = """(cases) => {
      page({});
      return [
        reactionLabel("👍", 2, false),
        reactionLabel("👍", 2, true),
        reactionLabel("x\\u202e", 1, false),
        reactorsText({ count: 1, user_ids: ["u-me"] }),
        reactorsText({ count: 2, user_ids: ["u-alice", "u-me"] }),
        reactorsText({ count: 3, user_ids: ["u-alice", "u-carol", "u-bob"] }),
        reactorsText({ count: 53, user_ids: ["u-alice", "u-bob"] }),
        reactorsText({ count: 2, user_ids: ["u-bob"] }),
      ];
    }"""
    assert run(main, []) == [
        "React with 👍 (2)",
        "Remove your 👍 reaction (2)",
        "React with xU+202E (1)",
        "you",
        "alice and you",
        "alice, someone and bob",
        "alice, bob and 51 others",
        "bob and 1 other",
    ]


KEYS = """(cases) => cases.map((c) => {
  page({});
  const focused = [];
  const buttons = ["👍", "❤️", "😂"].map((emoji) => ({ emoji, focus: () => focused.push(emoji) }));
  picker.querySelectorAll = () => buttons;
  const event = {
    key: c.key, altKey: Boolean(c.alt), ctrlKey: false, metaKey: false,
    target: buttons[c.on] ?? {}, stopped: false, prevented: false,
    stopPropagation() { this.stopped = true; },
    preventDefault() { this.prevented = true; },
  };
  pickerKeys(event);
  return { stopped: event.stopped, prevented: event.prevented, focused, log };
})"""


def test_the_pickers_keys_stay_in_it_but_the_pages_own() -> None:
    """Esc closes it; Left and Right move between its emoji (round); ``E`` there edits
    nothing (the message list does not hear it); Alt+Up still switches conversations."""
    esc, right, left, letter, alt = run(
        KEYS,
        [
            {"key": "Escape", "on": 0},
            {"key": "ArrowRight", "on": 2},
            {"key": "ArrowLeft", "on": 1},
            {"key": "e", "on": 0},
            {"key": "ArrowUp", "alt": True, "on": 0},
        ],
    )
    assert esc["log"] == [["closed"]] and esc["prevented"]
    assert (right["focused"], left["focused"]) == (["👍"], ["👍"])
    assert letter["stopped"] and not letter["prevented"] and letter["focused"] == []
    assert not alt["stopped"] and not alt["prevented"]


def test_a_reaction_of_dots_goes_over_the_real_time_connection() -> None:
    """``.`` and ``..`` are dot segments a browser resolves in a URL (``…/reactions/..``
    left as ``/messages/{id}/``): they go as ``add_reaction`` / ``remove_reaction``,
    refusals in the server's words as ever; ``...`` is no dot segment, a path as usual."""
    dots = {"room:r": [{"id": "m", "reactions": [reaction("..", "u-me")]}]}
    gone = {"code": "message_not_found", "message": "Message not found"}
    back, joined, three, refused = run(
        TOGGLE,
        [
            {"conversations": dots, "id": "m", "emoji": ".."},
            {"conversations": dots, "id": "m", "emoji": "."},
            {"conversations": dots, "id": "m", "emoji": "..."},
            {"conversations": dots, "id": "m", "emoji": ".", "answer": {"throw": gone}},
        ],
    )
    assert back["requests"] == [["remove_reaction", {"message_id": "m", "emoji": ".."}]]
    assert back["held"]["m"] == []
    assert joined["requests"] == [["add_reaction", {"message_id": "m", "emoji": "."}]]
    assert three["requests"][0][:2] == ["PUT", "/messages/m/reactions/..."]
    assert refused["log"] == [["error", "Reaction not changed: Message not found"]]
