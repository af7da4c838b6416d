"""The audit log in the browser client's *Administration* panel (docs/WEB.md,
"Administration"), run under Node as app.js has them (:mod:`tests.unit.appjs`), the
page around them stood in for: an entry as one sentence (every action of the contract,
the operator's command line, an action this page does not know, names and details
kept apart as text), and its pages (``GET /admin/audit``, newest first, *Older* with
``before``), an answer overtaken by a later ask dropped, a server without the route
said to keep none, and other refusals in the server's words."""

from __future__ import annotations

from typing import Any

import pytest

from lairchat.core.audit import record
from lairchat.domain.audit import ACTIONS
from lairchat.domain.types import User
from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: The page around the audit code: names shown as ``[name]`` (set apart) or
#: ``<text>`` (isolated), times as ``@time``; ``rest`` records each request and
#: answers the case's ``answers`` in turn (``throw``: raised as ``rest`` raises;
#: ``hold``: answered only when ``release()`` is called); renderAudit records what it
#: would draw, and gives the list one child per entry, recording the focus.
PAGE = """
class ServerError extends Error {
  constructor(error) { super(error.message); Object.assign(this, error); }
}
const flat = (parts) =>
  [parts].flat().map((p) => (typeof p === "string" ? p : p.text)).join("");
const named = (text) => ({ text: `[${text}]` });
const nameOf = (text) => ({ text: `<${text}>` });
const whenText = (iso) => `@${iso}`;
let state, administration, elements, requests, answers, log, focused, release;
function $(id) {
  elements[id] ??= { id, text: "", children: [] };
  return elements[id];
}
const replaceText = (node, text) => { node.text = flat(text); };
const signOut = (code) => log.push(["signOut", code]);
const say = (text) => log.push(["say", text]);
function renderAudit() {
  const { audit, auditMore, auditMissing } = administration;
  log.push(["render", audit && audit.map((e) => e.id), auditMore, auditMissing]);
  $("admin-audit-list").children = (audit ?? []).map((e) => ({ focus() { focused = e.id; } }));
}
function rest(method, path, body, token) {
  requests.push([method, path, token]);
  const answer = answers.shift() ?? {};
  if (answer.hold) return new Promise((resolve) => (release = () => resolve(answer.hold)));
  return answer.throw ? Promise.reject(new ServerError(answer.throw)) : Promise.resolve(answer);
}
function page(c) {
  state = { token: "t" };
  administration = adminView();
  [elements, requests, answers, log, focused] = [{}, [], [...(c.answers ?? [])], [], null];
}
const seen = () => ({
  requests, log, focused,
  error: $("admin-error").text,
  status: $("admin-audit-status").text,
});
"""

NAMES = [
    "ENDED",
    "describe",
    "showRefusal",
    "adminRefused",
    "routeMissing",
    "adminView",
    "AUDIT_PAGE",
    "NO_AUDIT",
    "lacksRoute",
    "AUDIT_ACTIONS",
    "auditText",
    "loadAudit",
]


def run(main: str, cases: Any) -> Any:
    return appjs.run(NAMES, main, cases, prelude=PAGE)


def said(entries: list[dict[str, Any]]) -> list[str]:
    return run("(entries) => entries.map((entry) => flat(auditText(entry)))", entries)


ADMIN = {"user_id": "u-admin", "username": "root"}
ALICE = {"type": "user", "id": "u-alice", "name": "alice"}


def entry(action: str, details: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "id": f"e-{action}",
        "at": "T1",
        "actor": ADMIN,
        "action": action,
        "subject": ALICE,
        "details": details,
        **more,
    }


def test_every_action_of_the_contract_as_a_sentence() -> None:
    room = {"type": "room", "id": "r1", "name": "general"}
    assert said(
        [
            entry("user.ban", {"reason": "spam", "until": "T2"}),
            entry("user.ban", {"reason": None, "until": None}),
            entry("user.unban", {}),
            entry("user.delete", {}),
            entry("user.set_role", {"role": "admin"}),
            entry("user.create", {"role": "user"}, actor={"operator": True}),
            entry("user.reset_password", {}, actor={"operator": True}),
            entry("user.reset_2fa", {}, actor={"operator": True}),
            entry("user.reset_2fa", {"pending_setup": True}, actor={"operator": True}),
            entry("room.delete", {}, subject=room),
        ]
    ) == [
        "@T1: [root] banned [alice] until @T2, reason “<spam>”",
        "@T1: [root] banned [alice] for good",
        "@T1: [root] unbanned [alice]",
        "@T1: [root] deleted the account [alice]",
        "@T1: [root] set the role of [alice] to <admin>",
        "@T1: The operator (command line) created the account [alice], role <user>",
        "@T1: The operator (command line) reset the password of [alice]",
        "@T1: The operator (command line) reset the two-factor sign-in of [alice]",
        "@T1: The operator (command line) reset the two-factor sign-in of [alice]"
        " (a setup never turned on, cleared)",
        "@T1: [root] deleted the room [general]",
    ]


def test_every_action_the_server_records_has_a_label() -> None:
    """The server's list of actions (lairchat.domain.audit.ACTIONS) against the page's
    labels: an action added to one and not the other fails here (``user.reset_2fa``
    had none, and showed as ``user.reset_2fa user``)."""
    labels = run("() => AUDIT_ACTIONS", None)
    assert set(labels) == set(ACTIONS)
    assert all(isinstance(label, str) and label for label in labels.values())
    # ... and the server writes no action outside that list.
    user = User("u1", "alice", "a@e.com", "user", 0, 0)
    with pytest.raises(ValueError, match="user.reset_everything"):
        record(None, "user.reset_everything", user, 0)


def test_what_the_page_does_not_know_is_shown_as_the_server_says_it() -> None:
    """An action added later, details past the known ones, and an entry missing parts
    (a name, the actor, the subject): said as text, nothing dropped and nothing
    thrown."""
    assert said(
        [
            entry("room.rename", {"from": "a", "to": "b. root deleted the room x"}),
            entry("user.ban", {"until": None, "count": 3, "ids": ["x"]}),
            {"id": "e", "at": "T1", "action": "user.unban", "actor": None, "subject": None},
            entry("user.delete", {}, actor={"user_id": "u9"}, subject={"id": "u-gone"}),
        ]
    ) == [
        "@T1: [root] room.rename user [alice], from: <a>, to: <b. root deleted the room x>",
        '@T1: [root] banned [alice] for good, count: <3>, ids: <["x"]>',
        "@T1: [?] unbanned [?]",
        "@T1: [u9] deleted the account [u-gone]",
    ]


#: Each case: the page opened (its newest page asked for), then ``then``'s steps:
#: ``older`` (*Older* pressed), ``refresh``, ``release`` (a held answer given),
#: ``token`` (signed in as someone else meanwhile), ``wait`` (every ask so far answered).
LOAD = """async (cases) => {
  const out = [];
  for (const c of cases) {
    page(c);
    const pending = [loadAudit(false)];
    for (const step of c.then ?? []) {
      if (step === "older") pending.push(loadAudit(true));
      if (step === "refresh") pending.push(loadAudit(false));
      if (step === "release") release();
      if (step === "token") state.token = "other";
      if (step === "wait") await Promise.all(pending);
      await Promise.resolve();
    }
    await Promise.all(pending);
    out.push({ ...seen(), view: administration });
  }
  return out;
}"""


def page(ids: list[str], more: bool) -> dict[str, Any]:
    return {"entries": [{"id": id} for id in ids], "has_more": more}


def test_the_newest_page_then_older_ones_added_below() -> None:
    """``before`` is the oldest entry shown (encoded: an id is text all the same); the
    first entry added is focused, to read on from; *Older* goes once the server says
    there is no more, or answers no entry."""
    cases = [
        {
            "answers": [page(["e3", "e2/&x"], True), page(["e1"], False)],
            "then": ["wait", "older"],
        },
        {"answers": [page(["e2"], True), page([], True)], "then": ["wait", "older"]},
    ]
    first, empty = run(LOAD, cases)
    assert first["requests"] == [
        ["GET", "/admin/audit?limit=20", "t"],
        ["GET", "/admin/audit?limit=20&before=e2%2F%26x", "t"],
    ]
    assert first["log"][-1] == ["render", ["e3", "e2/&x", "e1"], False, False]
    assert first["focused"] == "e1"
    assert first["status"] == "" and first["error"] == ""
    assert empty["log"][-1] == ["render", ["e2"], False, False]


def test_odd_entries_are_left_out() -> None:
    answer = {"entries": [None, "e9", {"id": 7}, {"id": "e1"}], "has_more": "yes"}
    (out,) = run(LOAD, [{"answers": [answer]}])
    assert out["log"] == [["render", ["e1"], False, False]]


def test_older_while_a_page_is_on_its_way_asks_nothing() -> None:
    """Pressed twice, or while the first page is still coming: one request, one page
    (the same page twice would repeat every entry of it)."""
    cases = [
        {"answers": [{"hold": page(["e2"], True)}], "then": ["older", "release"]},
        {
            "answers": [page(["e3"], True), {"hold": page(["e2"], True)}],
            "then": ["wait", "older", "older", "release"],
        },
    ]
    held, twice = run(LOAD, cases)
    assert len(held["requests"]) == 1
    assert held["log"] == [["render", ["e2"], True, False]]
    assert len(twice["requests"]) == 2
    assert twice["log"][-1] == ["render", ["e3", "e2"], True, False]


def test_an_answer_overtaken_by_a_later_ask_is_dropped() -> None:
    """*Refresh* while the newest page is still coming: the later answer is shown, the
    earlier one, arriving last, changes nothing; signed in as someone else meanwhile,
    nothing is shown either."""
    cases = [
        {
            "answers": [{"hold": page(["old"], True)}, page(["new"], False)],
            "then": ["refresh", "release"],
        },
        {"answers": [{"hold": page(["e1"], True)}], "then": ["token", "release"]},
    ]
    overtaken, other = run(LOAD, cases)
    assert len(overtaken["requests"]) == 2
    assert overtaken["log"] == [["render", ["new"], False, False]]
    assert other["log"] == [] and other["view"]["audit"] is None


def test_a_server_without_the_route_keeps_no_audit_log() -> None:
    """The original's bare 404 or 405 and an older lairchat's ``not_found``: the list
    says so (nothing in the alert line); a server upgraded since is believed again."""
    cases = [
        {"answers": [{"throw": {"code": code, "message": "x"}}]}
        for code in ["http_404", "http_405", "not_found"]
    ]
    cases.append(
        {
            "answers": [{"throw": {"code": "not_found", "message": "x"}}, page(["e1"], False)],
            "then": ["refresh"],
        }
    )
    *missing, upgraded = run(LOAD, cases)
    for out in missing:
        assert out["log"] == [["render", [], False, True]]
        assert out["error"] == "" and out["status"] == ""
    assert upgraded["log"][-1] == ["render", ["e1"], False, False]
    assert run("() => NO_AUDIT", None) == "This server keeps no audit log."


def test_other_refusals_in_the_servers_words() -> None:
    """A role taken away since sign-in: the alert line says so and the list stays as it
    was; a session gone signs the page out."""
    cases = [
        {"answers": [{"throw": {"code": "permission_denied", "message": "Permission denied"}}]},
        {"answers": [{"throw": {"code": "session_expired", "message": "Session expired"}}]},
    ]
    denied, ended = run(LOAD, cases)
    assert denied["error"] == "Audit log not read: Permission denied"
    assert denied["log"] == [] and denied["view"]["audit"] is None
    assert denied["view"]["auditLoading"] is False  # *Older* and *Refresh* work again
    assert ended["log"] == [["signOut", "session_expired"]]


def test_older_from_an_entry_pruned_meanwhile_starts_from_the_newest() -> None:
    """The hourly sweep deleted the oldest entry shown: the server refuses its id as
    ``before`` (400 ``validation_failed``, HTTP.md); the page says so and shows the
    newest page again rather than a refusal."""
    pruned = {"throw": {"code": "validation_failed", "message": "Validation failed: before"}}
    cases = [{"answers": [page(["e3", "e2"], True), pruned, page(["e4", "e3"], True)]}]
    cases[0]["then"] = ["wait", "older"]
    (out,) = run(LOAD, cases)
    assert [r[1] for r in out["requests"]] == [
        "/admin/audit?limit=20",
        "/admin/audit?limit=20&before=e2",
        "/admin/audit?limit=20",
    ]
    assert out["log"][1:] == [
        ["say", "The oldest entries shown are no longer kept: the newest again."],
        ["render", ["e4", "e3"], True, False],
    ]
    assert out["error"] == ""
