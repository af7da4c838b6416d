"""Room invite codes in the browser client (docs/WEB.md, "Invite codes"), run under
Node as app.js has them (:mod:`tests.unit.appjs`): the body of a code's making from
the fields typed (left out when empty, the bounds the server's to say), what a live
code's line says, the code found in what was pasted (a code or a join link), the
requests (the room's id and the code each one encoded path segment), the refusals
(the one 404 for every bad code said plainly, the rate limit's wait, a server without
the routes), and the section following the viewer's role."""

from __future__ import annotations

from typing import Any

import pytest

from lairchat.domain import invitecodes
from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

NO_CODES = "This server does not offer invite codes."
REFUSED_SAME = (
    "A code mistyped, expired, used up, revoked or of a deleted room is refused the same way."
)


def bodies(cases: list[list[str]]) -> list[Any]:
    main = "(cases) => cases.map(([uses, hours]) => inviteCodeBody(uses, hours))"
    return appjs.run(["inviteCodeBody"], main, cases)


def test_the_body_leaves_out_what_is_empty_and_sends_the_rest_as_typed() -> None:
    """The server's bounds (1 to 1000 uses, 1 to 720 hours) are its to say, in its
    words: 0 and 5000 are sent as typed."""
    assert bodies([["", ""], [" 1 ", ""], ["", "2"], ["0", "5000"], ["10", " 24 "]]) == [
        {},
        {"max_uses": 1},
        {"expires_in_hours": 2},
        {"max_uses": 0, "expires_in_hours": 5000},
        {"max_uses": 10, "expires_in_hours": 24},
    ]


@pytest.mark.parametrize(
    ("uses", "hours"),
    [("-1", ""), ("2.5", ""), ("ten", ""), ("", "1e3"), ("", "99999999999999999")],
)
def test_a_number_that_is_no_whole_number_is_said_and_not_sent(uses: str, hours: str) -> None:
    assert bodies([[uses, hours]]) == [
        "Uses and hours are whole numbers (empty: no limit, a week)."
    ]


def lines(codes: list[dict[str, Any]]) -> list[Any]:
    prelude = """const whenText = (iso) => `<${iso}>`;
const nameOf = (text) => ({ bdi: text });"""
    return appjs.run(["inviteCodeText"], "(codes) => codes.map(inviteCodeText)", codes, prelude)


def test_a_live_code_s_line() -> None:
    at = "2026-12-14T08:00:00Z"
    base = {"prefix": "Qx3v", "expires_at": at, "created_by_name": "alice"}
    assert lines(
        [
            {**base, "uses": 0, "max_uses": 1},
            {**base, "uses": 1, "max_uses": None},
            {**base, "uses": 3, "max_uses": None, "created_by_name": None},
        ]
    ) == [
        [f"Qx3v…, 0 of 1 uses, expires <{at}>", ", made by ", {"bdi": "alice"}],
        [f"Qx3v…, 1 use, no limit, expires <{at}>", ", made by ", {"bdi": "alice"}],
        [f"Qx3v…, 3 uses, no limit, expires <{at}>"],
    ]


def test_the_code_is_found_in_a_code_or_a_link_pasted() -> None:
    main = "(cases) => cases.map((typed) => codeFrom(typed))"
    names = ["CODE_SHAPE", "codeFrom"]
    code = "Qx3vN0p8l1Zs7d-YwV2a_g"
    assert (
        appjs.run(
            names,
            main,
            [
                code,
                f"  {code}\n",
                f"https://chat.example/#join={code}",
                f"http://127.0.0.1:8082/#join={code} ",
                "",
                "../admin",
                "..",
                "a/b",
                "a b",
                "x?y",
                "https://chat.example/",
                "a" * 65,
            ],
        )
        == [code, code, code, code] + [None] * 8
    )
    link = "(code) => joinLink('https://chat.example', code)"
    assert appjs.run(["joinLink"], link, code) == f"https://chat.example/#join={code}"


def refusals(errors: list[dict[str, Any]]) -> list[str]:
    names = [
        "routeMissing",
        "lacksRoute",
        "describe",
        "NO_INVITE_CODES",
        "CODE_REFUSED",
        "joinRefusal",
    ]
    return appjs.run(names, "(errors) => errors.map(joinRefusal)", errors)


def test_refusals_of_a_join_in_the_server_s_words() -> None:
    assert refusals(
        [
            {"code": "invite_code_not_found", "message": "Invite code not found"},
            {"code": "rate_limited", "message": "x", "details": {"retry_after": 42}},
            {"code": "already_member", "message": "Already a member of this room"},
            {"code": "room_full", "message": "Room is full"},
            {"code": "http_404", "message": "HTTP 404"},  # the original Lair Chat
            {"code": "http_405", "message": "HTTP 405"},
            {"code": "not_found", "message": "Not found"},  # an older lairchat
        ]
    ) == [
        f"Not joined: Invite code not found. {REFUSED_SAME}",
        "Not joined: Too many requests: try again in 42 s.",
        "Not joined: Already a member of this room",
        "Not joined: Room is full",
        f"Not joined: {NO_CODES}",
        f"Not joined: {NO_CODES}",
        f"Not joined: {NO_CODES}",
    ]


#: The page around joinWithCode, makeInviteCode and loadInviteCodes: elements keeping
#: their text, value, focus and whether hidden; ``rest`` answering each case's
#: ``answer`` (``throw``: raised as ``rest`` raises); what else is called, recorded.
PAGE = """
const ENDED = { session_expired: 1 };
class ServerError extends Error {
  constructor(error) { super(error.message); Object.assign(this, error); }
}
let elements, focused, requests, log, answer;
const state = { token: "t", roles: new Map([["r/1?x", "moderator"]]) };
const location = { origin: "https://chat.example" };
const document = { activeElement: null };
function $(id) {
  elements[id] ??= {
    id, value: "", text: "", open: true, disabled: false, hidden: true, listeners: [],
    focus() { focused = id; },
    reset() { log.push(["reset", id]); },
    contains() { return false; },
    replaceChildren(...items) { this.items = items; },
    addEventListener(type, listener) { this.listeners.push(listener); },
    close() { this.open = false; log.push(["closed", id]); this.listeners.forEach((l) => l()); },
  };
  return elements[id];
}
const flat = (parts) => [parts].flat().map((p) => (typeof p === "string" ? p : p.text)).join("");
const replaceText = (node, text) => { node.text = flat(text); };
const named = (text) => ({ text: `[${text}]` });
const showError = (text) => log.push(["error", text]);
const showNotice = (parts) => log.push(["notice", flat(parts)]);
const signOut = (code) => log.push(["signOut", code]);
const entered = (room, membership) => log.push(["entered", room.id, membership.role]);
const moderates = (role) => role === "owner" || role === "moderator";
const fillList = (list, items, empty) => log.push(["listed", items.length || empty]);
const inviteCodeText = (code) => code.prefix;
const el = (tag, className, text) => ({ tag, text, dataset: {}, append() {} });
const actionButton = (label) => ({ label, setAttribute() {} });
function showRefusal(line, error, what) {
  if (Object.hasOwn(ENDED, error.code)) signOut(error.code, error.message);
  else replaceText($(line), `${what}: ${describe(error)}`);
}
async function rest(method, path, body, token) {
  requests.push([method, path, body ?? null, token]);
  const next = Array.isArray(answer) ? answer.shift() : answer;
  if (next.throw) throw new ServerError(next.throw);
  return next;
}
"""

NAMES = [
    "routeMissing",
    "lacksRoute",
    "describe",
    "pathOf",
    "sendForm",
    "NO_INVITE_CODES",
    "CODE_REFUSED",
    "CODE_SHAPE",
    "codeFrom",
    "joinLink",
    "joinRefusal",
    "joinWithCode",
    "inviteCodesView",
    "inviteCodes",
    "inviteCodeBody",
    "renderInviteCodes",
    "loadInviteCodes",
    "makeInviteCode",
]

JOIN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    [elements, focused, requests, log, answer] = [{}, null, [], [], c.answer ?? {}];
    $("join-code-input").value = c.typed;
    await joinWithCode({ preventDefault() {} });
    out.push({
      requests, log, focused, error: $("join-code-error").text,
      typed: $("join-code-input").value, disabled: $("join-code-submit").disabled,
    });
  }
  return out;
}"""


def join(**case: Any) -> dict[str, Any]:
    return appjs.run(NAMES, JOIN, [{"typed": "Qx3vN0p8l1Zs7d-YwV2a_g", **case}], PAGE)[0]


def test_a_join_opens_the_room_once_the_dialog_closed() -> None:
    out = join(answer={"room": {"id": "r1", "name": "secret"}, "membership": {"role": "member"}})
    assert out["requests"] == [["POST", "/invite-codes/Qx3vN0p8l1Zs7d-YwV2a_g/join", None, "t"]]
    assert out["log"] == [
        ["closed", "join-code-dialog"],
        ["entered", "r1", "member"],
        ["notice", "You joined “[secret]” with an invite code."],
    ]


def test_a_link_pasted_sends_its_code_only() -> None:
    out = join(typed=" https://chat.example/#join=abc_-1 ", answer={"throw": {"code": "x"}})
    assert out["requests"][0][1] == "/invite-codes/abc_-1/join"


@pytest.mark.parametrize("typed", ["", "..", "a/b", "x?y", "code with spaces"])
def test_what_is_no_code_is_said_and_not_sent(typed: str) -> None:
    out = join(typed=typed)
    assert out["requests"] == [] and out["log"] == []
    assert out["error"] == "That is no invite code: it is letters, digits, - and _."
    assert out["focused"] == "join-code-input"


def test_a_bad_code_is_refused_plainly_and_kept_to_correct() -> None:
    error = {"code": "invite_code_not_found", "message": "Invite code not found"}
    out = join(typed="wrong", answer={"throw": error})
    assert out["error"] == f"Not joined: Invite code not found. {REFUSED_SAME}"
    assert out["typed"] == "wrong" and not out["disabled"]
    assert out["focused"] == "join-code-input" and out["log"] == []


def test_a_session_gone_signs_the_page_out() -> None:
    out = join(answer={"throw": {"code": "session_expired", "message": "Session expired"}})
    assert out["log"] == [["signOut", "session_expired"]]


SECTION = """async (c) => {
  [elements, focused, requests, log, answer] = [{}, null, [], [], c.answer];
  $("room-dialog").open = true;
  inviteCodes = inviteCodesView("r/1?x");
  if (c.role) state.roles.set("r/1?x", c.role);
  if (c.make) {
    renderInviteCodes(); // as the dialog opened
    $("invite-code-uses").value = c.make[0];
    $("invite-code-hours").value = c.make[1];
    await makeInviteCode({ preventDefault() {} });
  } else {
    await loadInviteCodes();
  }
  const shown = (id) => !$(id).hidden;
  return {
    requests, log, focused, status: $("invite-codes-status").text,
    error: $("invite-codes-error").text, code: $("invite-code-value").value,
    link: $("invite-code-link").value, section: shown("invite-codes"),
    form: shown("invite-code-form"), made: shown("invite-code-made"),
  };
}"""


def section(**case: Any) -> dict[str, Any]:
    return appjs.run(NAMES, SECTION, case, PAGE)


def test_the_live_codes_are_listed_for_a_moderator() -> None:
    out = section(answer={"invite_codes": [{"id": "c1", "prefix": "Qx3v"}]})
    assert out["requests"] == [["GET", "/rooms/r%2F1%3Fx/invite-codes", None, "t"]]
    assert out["log"] == [["listed", 1]]
    assert out["section"] and out["form"] and not out["made"]


def test_a_code_made_is_shown_once_with_its_link_then_the_list_asked_again() -> None:
    made = {"invite_code": {"id": "c1", "prefix": "Qx3v", "code": "Qx3vN0p8l1Zs7d-YwV2a_g"}}
    out = section(make=[" 1 ", "2"], answer=[made, {"invite_codes": [made["invite_code"]]}])
    assert out["requests"] == [
        ["POST", "/rooms/r%2F1%3Fx/invite-codes", {"max_uses": 1, "expires_in_hours": 2}, "t"],
        ["GET", "/rooms/r%2F1%3Fx/invite-codes", None, "t"],
    ]
    assert out["code"] == "Qx3vN0p8l1Zs7d-YwV2a_g"
    assert out["link"] == "https://chat.example/#join=Qx3vN0p8l1Zs7d-YwV2a_g"
    assert out["made"] and out["focused"] == "invite-code-once"
    assert ["reset", "invite-code-form"] in out["log"]


def test_a_refusal_of_a_code_is_in_the_server_s_words() -> None:
    error = {
        "code": "validation_failed",
        "message": "Validation failed: max_uses - must be 1 to 1000",
    }
    out = section(make=["0", ""], answer={"throw": error})
    assert out["error"] == f"No code made: {error['message']}"
    assert not out["made"] and out["form"]


@pytest.mark.parametrize("code", ["http_404", "http_405", "not_found"])
def test_a_server_without_the_routes_says_so(code: str) -> None:
    for case in ({}, {"make": ["", ""]}):
        out = section(answer={"throw": {"code": code, "message": "x"}}, **case)
        assert out["status"] == NO_CODES and out["error"] == ""
        assert out["section"] and not out["form"] and not out["made"]


def test_a_plain_member_gets_no_section_and_asks_nothing() -> None:
    out = section(role="member", answer={})
    assert out["requests"] == [] and not out["section"]


def test_the_page_takes_for_a_code_what_the_server_does() -> None:
    """The page's shape of a code is the server's (lairchat/domain/invitecodes.py):
    no code the server could accept is refused here unsent."""
    shape = appjs.run(["CODE_SHAPE"], "() => CODE_SHAPE.source", None)
    assert shape == f"^{invitecodes._SHAPE.pattern}$"
