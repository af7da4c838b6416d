"""Message search in the browser client (docs/WEB.md, "Message search"), run under Node
as app.js has it (:mod:`tests.unit.appjs`): the requests a search sends, what it keeps
of the answers, what it says (to the panel and to screen readers), a server without
search; and the match the page marks, which must be where the terminal client marks it
(one rule, lairchat/client/search.py), checked on one corpus."""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import unquote

import pytest

from lairchat.client.search import day_after, day_start, excerpt, match_span
from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: Text with the cases the rule must agree on: case folding beyond lower case (ß, the
#: Greek final sigma), NFKC (fullwidth letters, ligatures), combining marks typed
#: decomposed, astral characters (an index counted in UTF-16 would drift), the dotless
#: ı, a match on a later line, long text before the match.
CORPUS: list[tuple[str, str]] = [
    ("Hello Wörld", " wÖr "),
    ("Straße und STRASSE", "strasse"),
    ("ΣΊΣΥΦΟΣ climbs", "σίσυφος"),
    ("ｆｕｌｌ width ﬁle", "file"),
    ("cafe\u0301 au lait", "café"),
    ("café au lait", "cafe\u0301"),
    ("😀😀 emoji then needle", "NEEDLE"),
    ("𝔘𝔫𝔦𝔠𝔬𝔡𝔢 text", "unicode"),
    ("kıkı and kiki", "KIKI"),
    ("first line\nsecond has the Needle here\nthird", "needle"),
    ("x" * 60 + "🙂" * 10 + "needle after", "needle"),
    ("no match at all", "absent"),
    ("a\u0301\u0302b", "b"),
    ("🙂" * 5000 + " needle beyond what is looked at", "needle"),
    ("🙂" * 4000 + " needle" + "!" * 500, "needle"),  # the line cut ROW from the match
    ("no newline " * 100, "zzz"),
]


def test_the_page_marks_the_match_where_the_terminal_does() -> None:
    """The two clients mark the same characters: spans in code points, and the same
    three pieces of the line (a difference would mark a neighbour of the match)."""
    main = """(cases) => cases.map(([content, query]) =>
        [matchSpan(content, query), searchExcerpt(content, query)])"""
    names = ["fold", "COMBINING", "CONTENT_MAX_BYTES", "SEARCH_CONTEXT", "SEARCH_ROW"]
    names += ["foldedUnits", "matchSpan", "searchExcerpt"]
    got = appjs.run(names, main, CORPUS)
    want = [[_span(match_span(c, q)), list(excerpt(c, q))] for c, q in CORPUS]
    assert got == want


def _span(span: tuple[int, int] | None) -> list[int] | None:
    return None if span is None else list(span)


#: The page around searchPage: ``rest`` answers from each case's ``answers`` (an
#: object with ``throw`` is raised as the ServerError ``rest`` raises), and records the
#: path; the panel and the announcer record what they were given. Node's ``vm`` has no
#: URLSearchParams: the stand-in encodes as the browser's does for these queries.
PAGE = """
class URLSearchParams {
  constructor(init) { this.pairs = Object.entries(init); }
  set(name, value) { this.pairs.push([name, value]); }
  toString() {
    const encode = (v) => encodeURIComponent(v).replace(/%20/g, "+");
    return this.pairs.map(([k, v]) => `${k}=${encode(v)}`).join("&");
  }
}
const ENDED = { session_expired: 1 };
class ServerError extends Error {
  constructor(error) { super(error.message); this.code = error.code; }
}
const describe = (error) => error.message || error.code;
const state = { search: null, token: "t" };
const conversation = (key) => ({ kind: key.split(":")[0], id: key.split(":")[1] });
let paths, answers, rendered, said, signedOut;
async function rest(method, path) {
  paths.push(path);
  const answer = answers.shift();
  if (answer.throw) throw new ServerError(answer.throw);
  return answer;
}
const renderSearch = () => rendered.push(state.search && {
  busy: state.search.busy, error: state.search.error ?? null,
});
const say = (text) => said.push(text);
const signOut = (code) => signedOut.push(code);
"""

MAIN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    [paths, answers, rendered, said, signedOut] = [[], c.answers, [], [], []];
    state.search = { query: c.query, key: c.key, messages: [], hasMore: false, nextBefore: null,
      author: c.author, since: c.since, until: c.until };
    const search = state.search;
    for (let page = 0; page < c.pages; page++) {
      const asked = searchPage(search);
      if (c.replaced && page === 0) state.search = null;
      await asked;
    }
    out.push({
      paths, said, signedOut, rendered,
      ids: search.messages.map((m) => m.id),
      hasMore: search.hasMore, nextBefore: search.nextBefore, error: search.error ?? null,
    });
  }
  return out;
}"""


def searched(**case: Any) -> dict[str, Any]:
    case = {"key": None, "pages": 1, "query": "hi", **case}
    names = ["NO_SEARCH", "routeMissing", "announceSearch", "dayStart", "searchPage"]
    return appjs.run(names, MAIN, [case], prelude=PAGE)[0]


def msg(id_: str) -> dict[str, Any]:
    return {"id": id_, "target": {"type": "room", "room_id": "r"}, "content": "hi"}


def test_a_conversation_search_names_it_and_pages_on_with_next_before() -> None:
    out = searched(
        key="dm:u2",
        query="a&b c",
        pages=2,
        answers=[
            {"messages": [msg("m9")], "has_more": True, "next_before": "m5"},
            {"messages": [msg("m1")], "has_more": False, "next_before": None},
        ],
    )
    assert out["paths"] == [
        "/messages/search?q=a%26b+c&target_type=direct_message&target_id=u2",
        "/messages/search?q=a%26b+c&target_type=direct_message&target_id=u2&before=m5",
    ]
    assert out["ids"] == ["m9", "m1"] and not out["hasMore"] and out["nextBefore"] is None
    assert out["said"] == [
        "1 message found. Older messages are not searched yet.",
        "1 message found in older messages.",
    ]


def test_everywhere_names_no_conversation_and_an_empty_page_may_have_more() -> None:
    out = searched(
        key=None,
        answers=[{"messages": [], "has_more": True, "next_before": "m5"}],
    )
    assert out["paths"] == ["/messages/search?q=hi"]
    assert out["hasMore"] and out["nextBefore"] == "m5"
    assert out["said"] == ["No messages found. Older messages are not searched yet."]


@pytest.mark.parametrize("code", ["http_404", "http_405"])
def test_a_server_without_search_says_so(code: str) -> None:
    """The original Lair Chat answers an unknown path 404 (405 for another method)
    without the API's envelope: the page says it has no search, not "HTTP 404"."""
    out = searched(answers=[{"throw": {"code": code, "message": "HTTP 404"}}])
    assert out["error"] == out["said"][0] == "This server has no message search."


def test_a_refusal_is_shown_in_the_servers_words() -> None:
    """A 404 with the API's envelope is the server's answer (a DM partner gone), shown
    as it is; a session gone signs the page out."""
    gone = {"code": "user_not_found", "message": "User not found"}
    out = searched(key="dm:u2", answers=[{"throw": gone}])
    assert out["error"] == "User not found" and out["said"] == ["User not found"]
    out = searched(answers=[{"throw": {"code": "session_expired", "message": "x"}}])
    assert out["signedOut"] == ["session_expired"]


def test_an_answer_to_a_search_replaced_meanwhile_is_dropped() -> None:
    out = searched(replaced=True, answers=[{"messages": [msg("m1")], "has_more": False}])
    assert out["said"] == [] and out["rendered"] == [{"busy": True, "error": None}]


def test_only_messages_are_kept_of_an_odd_answer() -> None:
    out = searched(answers=[{"messages": [msg("m1"), None, {"id": 7}], "has_more": "yes"}])
    assert out["ids"] == ["m1"] and not out["hasMore"]


# -- filters ----------------------------------------------------------------------------


def test_filters_are_sent_as_the_server_takes_them() -> None:
    """The author's id, and the days as RFC 3339: ``since`` its first day's start,
    ``until`` the start of the day after its last (the server's is exclusive)."""
    out = searched(
        query="",
        key="room:r1",
        author="u2",
        since="2026-01-05",
        until="2026-01-06",
        answers=[{"messages": [msg("m1")], "has_more": False, "next_before": None}],
    )
    (path,) = out["paths"]
    assert path.startswith("/messages/search?q=&target_type=room&target_id=r1&author=u2&since=")
    sent = dict(pair.split("=") for pair in path.split("?")[1].split("&"))
    assert unquote(sent["since"]) == _instant(date(2026, 1, 5))
    assert unquote(sent["until"]) == _instant(date(2026, 1, 7))
    assert out["ids"] == ["m1"]


def _instant(day: date) -> str:
    """The start of ``day`` where the test runs, as JavaScript's toISOString says it."""
    start = datetime.combine(day, time()).astimezone().astimezone(UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The reader in Paris (Node reads TZ at start; Python once tzset is called)."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    _time.tzset()
    yield
    monkeypatch.undo()
    _time.tzset()


@pytest.mark.usefixtures("paris")
def test_a_day_starts_where_the_reader_is_as_the_terminals_does() -> None:
    """One rule in both clients (lairchat/client/search.py's day_start, day_after):
    the same instants, across a change to summer time."""
    days = ["2026-01-05", "2026-03-28", "2026-03-29", "2026-10-25"]
    got = appjs.run(
        ["dayStart"], "(days) => days.flatMap((d) => [dayStart(d), dayStart(d, 1)])", days
    )
    want = []
    for day in map(date.fromisoformat, days):
        want += [day_start(day), day_after(day)]
    assert [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in got] == [
        datetime.fromisoformat(t) for t in want
    ]
    assert got[:2] == ["2026-01-04T23:00:00.000Z", "2026-01-05T23:00:00.000Z"]
    assert got[4:6] == ["2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z"]


#: The form and the page around searchMessages: the fields' values, the users the
#: page knows, the server's user search (``list_users``) and the page's sayings.
FORM = """
const fields = {};
const $ = (id) => fields[id];
let state, asked, said, rendered, pages;
const findUsers = async (search) => { asked.push(search); return found; };
let found;
const renderSearch = () => rendered.push(state.search && state.search.error);
const say = (text) => said.push(text);
const searchPage = (search) => pages.push(search);
"""

FORM_MAIN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    state = { active: "room:r1", search: null, users: new Map(c.known) };
    [asked, said, rendered, pages, found] = [[], [], [], [], c.found];
    for (const [id, value] of Object.entries(c.fields)) fields[id] = { value };
    await searchMessages({ preventDefault() {} });
    const s = pages[0];
    out.push({
      asked, said,
      error: state.search && state.search.error || null,
      page: s ? { query: s.query, author: s.author, since: s.since, until: s.until,
        authorName: s.authorName, title: searchTitle(s) } : null,
    });
  }
  return out;
}"""


def form(known: list[list[str]] | None = None, found: Any = None, **fields: str) -> Any:
    values = {"search-text": "", "search-scope": "here", "search-from": ""}
    values |= {"search-since": "", "search-until": ""}
    values |= {f"search-{k}": v for k, v in fields.items()}
    case = {"fields": values, "known": known or [], "found": found}
    names = ["searchFilters", "userNamed", "searchTitle", "nameOf", "searchMessages"]
    prelude = FORM + "const el = (tag, cls, text) => ({bdi: text});\n"
    return appjs.run(names, FORM_MAIN, [case], prelude=prelude)[0]


def test_the_form_looks_the_author_up_and_may_have_no_text() -> None:
    out = form(known=[["u2", "Bob"]], **{"from": "@bob", "since": "2026-01-05"})
    assert out["asked"] == [] and out["error"] is None
    assert out["page"] == {
        "query": "",
        "author": "u2",
        "since": "2026-01-05",
        "until": "",
        "authorName": "bob",
        "title": ["Results", " from ", {"bdi": "bob"}, " since 2026-01-05"],
    }
    # Not known here: the server's user search, its user of that very name.
    users = {"users": [{"id": "u3", "username": "carolyn"}, {"id": "u4", "username": "Carol"}]}
    out = form(found=users, text="lunch", **{"from": "carol", "until": "2026-01-31"})
    assert out["asked"] == ["carol"]
    assert out["page"]["author"] == "u4"
    assert out["page"]["title"][:4] == ["Results for “", "lunch", "”", " from "]


def test_a_name_no_one_has_is_said_and_nothing_searched() -> None:
    out = form(found={"users": []}, **{"from": "nobody"})
    assert out["page"] is None
    assert out["error"] == out["said"][0] == "No user named “nobody”."
    # Nothing at all typed or set: nothing asked.
    assert form()["page"] is None and form()["asked"] == []
