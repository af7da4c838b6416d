"""What the browser client marks read (docs/WEB.md, "Unread counts"): up to the newest
message it shows, run under Node as app.js has it (:mod:`tests.unit.appjs`), with the
page around it stood in for: the requests it sends, the errors it shows."""

from __future__ import annotations

from typing import Any

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: The page around markRead: a visible tab, a ready connection, and ``ask`` answering
#: from each case's ``answers`` (a ``gone`` in an answer drops that message from the
#: conversation first, as its ``message_deleted`` event arriving meanwhile would).
PAGE = """
const document = { hidden: false };
const state = {
  connection: { ready: true }, unread: new Map(), mentions: new Map(), mentionSeeds: new Map(),
};
let sent, shown, answers, conv;
async function ask(type, fields) {
  sent.push([type, fields]);
  const answer = answers.shift() ?? { success: true, unread_count: 0 };
  if (answer.gone) conv.messages = conv.messages.filter((m) => m.id !== answer.gone);
  return answer;
}
const showError = (error) => shown.push(error.code);
const notificationsRead = () => {};
const renderLists = () => {};
"""

MAIN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    [sent, shown, answers] = [[], [], c.answers ?? []];
    conv = { key: "room:r", target: { type: "room", room_id: "r" }, messages: c.messages };
    await markRead(conv);
    out.push({ up_to: sent.map(([, fields]) => fields.up_to ?? null), shown });
  }
  return out;
}"""

NOT_FOUND = {"success": False, "error": {"code": "message_not_found", "message": "x"}}


def mark(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = ["mentionCount", "forgetMentions", "newestShown", "markRead"]
    return appjs.run(names, MAIN, cases, prelude=PAGE)


def line(id_: str, created_at: str) -> dict[str, str]:
    return {"id": id_, "created_at": created_at}


def test_the_newest_line_is_marked_whatever_its_time_looks_like_as_text() -> None:
    """Found reading newestShown: it took the greatest ``created_at`` compared as text,
    and the server leaves a zero fraction out and writes 3 or 6 digits otherwise, so
    in one second "…:19Z" sorted after "…:19.5Z" and "…:19.123Z" after
    "…:19.123456Z": the older message was marked, the newer one counted unread at the
    next connection although it was shown."""
    t = "2026-12-06T22:52:19"
    cases = [
        {"messages": [line("a", f"{t}Z"), line("b", f"{t}.5Z")]},
        {"messages": [line("a", f"{t}.123Z"), line("b", f"{t}.123456Z")]},
        {"messages": [line("a", f"{t}.1Z"), line("b", f"{t}.2Z")]},
    ]
    assert [out["up_to"] for out in mark(cases)] == [["b"], ["b"], ["b"]]


def test_a_newest_message_gone_is_not_an_error_for_the_reader() -> None:
    """Found asking what a deleted newest message does: a message deleted while the
    mark_read was on its way (a sender deleting at once: nothing the reader did), or
    pruned by retention while the page was open (no event says so), was answered
    message_not_found, which the page showed as an error. Now nothing is shown, and
    the newest message shown since (its deletion's event came first) is asked for."""
    messages = [line("a", "2026-12-06T22:52:18Z"), line("b", "2026-12-06T22:52:19Z")]
    deleted_meanwhile, pruned, refused = mark(
        [
            {"messages": messages, "answers": [{**NOT_FOUND, "gone": "b"}]},
            {"messages": messages, "answers": [NOT_FOUND]},
            {"messages": messages, "answers": [{"success": False, "error": {"code": "x"}}]},
        ]
    )
    assert deleted_meanwhile == {"up_to": ["b", "a"], "shown": []}
    assert pruned == {"up_to": ["b"], "shown": []}
    assert refused == {"up_to": ["b"], "shown": ["x"]}  # other refusals are still told


def test_nothing_shown_marks_nothing() -> None:
    """Without ``up_to`` the server marks its newest message read: a conversation that
    shows nothing yet (its history loading when the tab comes back into view, or
    empty when a first message is on its way) had that message counted read before
    the page showed it."""
    assert mark([{"messages": []}]) == [{"up_to": [], "shown": []}]
