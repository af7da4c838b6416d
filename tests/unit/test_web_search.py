"""Message search in the browser client (docs/WEB.md, "Message search"), run under Node
as app.js has it (:mod:`tests.unit.appjs`): the requests a search sends, what it keeps
of the answers, what it says (to the panel and to screen readers), a server without
search; and the match the page marks, which must be where the terminal client marks it
(one rule, lairchat/client/search.py), checked on one corpus."""

from __future__ import annotations

from typing import Any

import pytest

from lairchat.client.search import excerpt, match_span
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
    state.search = { query: c.query, key: c.key, messages: [], hasMore: false, nextBefore: null };
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
    names = ["NO_SEARCH", "routeMissing", "announceSearch", "searchPage"]
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
