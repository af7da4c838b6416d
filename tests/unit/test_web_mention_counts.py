"""The browser client's ``@`` counts seeded from the server's (docs/WEB.md, "Mentions":
``unread_counts.mentions`` of ``GET /users/me`` at every connection, then live ones),
run under Node as app.js has it (:mod:`tests.unit.appjs`), with the page around
``loadUnread`` and ``markRead`` stood in for."""

from __future__ import annotations

from typing import Any

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: The page: ``rest`` answers each case's ``me`` (a ``during`` in the case is a live
#: mention arriving while the request is on its way), ``ask`` answers mark_read.
PAGE = """
const document = { hidden: false };
let state, during;
async function rest(method, path, body, token) {
  for (const [key, id] of during) {
    state.mentions.set(key, (state.mentions.get(key) ?? new Set()).add(id));
  }
  return state.answer;
}
async function ask() { return { success: true, unread_count: 0, mention_count: 0 }; }
const showError = (error) => { throw error; };
const notificationsRead = () => {};
const renderLists = () => {};
"""

MAIN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    state = { token: "t", connection: { ready: true }, unread: new Map(),
      mentions: new Map(Object.entries(c.live ?? {}).map(([k, ids]) => [k, new Set(ids)])),
      mentionSeeds: new Map(), answer: c.me };
    during = c.during ?? [];
    await loadUnread();
    const seen = {};
    for (const key of new Set([...state.mentions.keys(), ...state.mentionSeeds.keys()])) {
      seen[key] = mentionCount(key);
    }
    if (c.read) {
      const conv = { key: c.read, target: { type: "room", room_id: "x" },
        messages: [{ id: "m", created_at: "2026-12-07T00:00:00Z" }] };
      await markRead(conv);
      seen.after_read = mentionCount(c.read);
    }
    out.push(seen);
  }
  return out;
}"""

NAMES = ["mentionCount", "forgetMentions", "seedMentions", "loadUnread", "newestShown", "markRead"]


def run(cases: list[dict[str, Any]]) -> list[dict[str, int]]:
    return appjs.run(NAMES, MAIN, cases, prelude=PAGE)


def me(by_room: dict, by_dm: dict, mentions: dict | None) -> dict:
    counts: dict[str, Any] = {"total": 0, "by_room": by_room, "by_dm": by_dm}
    if mentions is not None:
        counts["mentions"] = {"total": 0, **mentions}
    return {"user": {}, "unread_counts": counts}


def test_the_server_s_counts_take_over_from_the_live_ones_known_when_asked() -> None:
    """Found by reloading the page: a mention seen live, and every one sent while the
    page was closed, had no ``@`` after it (the server counted none). Now its counts
    are the badges; the live mentions known when they were asked for are among them
    (not counted twice), one arriving while the answer is on its way is added."""
    answer = me(
        {"a": 5, "b": 1},
        {"u": 2},
        {"by_room": {"a": 2}, "by_dm": {"u": 1}},
    )
    plain, arriving = run(
        [
            {"me": answer, "live": {"room:a": ["m1"]}},
            {"me": answer, "live": {"room:a": ["m1"]}, "during": [["room:a", "m9"]]},
        ]
    )
    assert plain == {"room:a": 2, "dm:u": 1}
    assert arriving == {"room:a": 3, "dm:u": 1}


def test_a_server_counting_no_mentions_leaves_the_live_ones() -> None:
    """Lair Chat, or a lairchat before this count: the page counts live mentions as
    before, dropping those of a conversation read meanwhile."""
    (out,) = run([{"me": me({"a": 2}, {}, None), "live": {"room:a": ["m1"], "room:b": ["m2"]}}])
    assert out == {"room:a": 1}


def test_reading_a_conversation_clears_its_seeded_mentions() -> None:
    answer = me({"a": 4}, {}, {"by_room": {"a": 3}, "by_dm": {}})
    (out,) = run([{"me": answer, "live": {}, "during": [["room:a", "m5"]], "read": "room:a"}])
    assert out == {"room:a": 4, "after_read": 0}


def test_what_is_no_count_is_ignored() -> None:
    answer = me(
        {"a": 1, "b": 1, "c": 1, "d": 1},
        {},
        {"by_room": {"a": -1, "b": "2", "c": 1.5, "d": 0}, "by_dm": None},
    )
    assert run([{"me": answer}]) == [{}]
