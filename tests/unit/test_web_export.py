"""*Download my data* in the browser client (docs/WEB.md, "Downloading your data"), run
under Node as app.js has it (:mod:`tests.unit.appjs`), ``fetch`` and the page stood in
for: the request (the password in the body only, the field emptied as it leaves), the
body read chunk by chunk and saved under the server's file name only when it ends
with ``"complete": true``, a body cut short or broken midway saving nothing and said,
refusals in the server's words, a server without the route, the dialog closed
midway stopping the download in silence, a session gone signing out; and the file's
name when the server's is missing or hostile."""

from __future__ import annotations

from typing import Any

import pytest

from lairchat.transports.http.routes_users import safe_name
from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: The page around exportData: elements recording text, value and focus (the export
#: dialog's close running exportDialogClosed, as its listener does); ``fetch``
#: answering the case's ``status``/``error``/``chunks`` (``"BREAK"``: the read fails,
#: as a dropped connection makes it; ``"CLOSE"``: the user closes the dialog there);
#: a Blob and AbortController enough for it; ``saveFile`` and the banners recorded.
PAGE = """
const ENDED = { session_expired: 1, session_not_found: 1 };
let elements, focused, requests, log, answer;
let exporting = null; // app.js's own, a `let`
const state = { token: "t", me: { username: "al.ice" }, twoFactorOn: false };
function $(id) {
  elements[id] ??= {
    id, value: "", text: "", open: true, disabled: false, hidden: true, required: false,
    focus() { focused = id; },
    reset() { $("export-password").value = $("export-code").value = ""; },
    close() { this.open = false; if (id === "export-dialog") exportDialogClosed(); },
  };
  return elements[id];
}
const replaceText = (node, text) => { node.text = text; };
const formDialogClosed = (name, opener) => log.push(["closed", name, opener]);
const showError = (text) => log.push(["error", text]);
const showNotice = (text) => log.push(["notice", text]);
const signOut = (code) => { log.push(["signOut", code]); state.token = null; };
const saveFile = (blob, name) => log.push(["saved", name, blob.parts.join("")]);
class Blob {
  constructor(parts) { this.parts = parts; }
  slice(start) { const all = this.parts.join(""); return new Blob([all.slice(start)]); }
  async text() { return this.parts.join(""); }
}
class AbortController {
  constructor() { this.signal = { aborted: false }; }
  abort() { this.signal.aborted = true; }
}
async function fetch(url, init) {
  requests.push([init.method, url, JSON.parse(init.body), init.headers.Authorization,
                 $("export-password").value]);
  if (init.signal.aborted) throw new Error("AbortError");
  const chunks = [...(answer.chunks ?? [])];
  return {
    ok: answer.status === 200,
    status: answer.status,
    headers: { get: (name) => (name === "Content-Disposition" ? answer.disposition : null) },
    json: async () => { if (!answer.error) throw new SyntaxError("no JSON"); return answer.error; },
    body: { getReader: () => ({ read: async () => {
      if (init.signal.aborted) throw new Error("AbortError");
      if (!chunks.length) return { done: true };
      const chunk = chunks.shift();
      if (chunk === "BREAK") throw new TypeError("network error");
      if (chunk === "CLOSE") { $("export-dialog").close(); throw new Error("AbortError"); }
      return { done: false, value: chunk };
    } }) },
  };
}
"""

MAIN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    [elements, focused, requests, log, answer] = [{}, null, [], [], c];
    state.token = "t";
    $("export-password").value = "hunter22";
    state.twoFactorOn = c.on ?? false;
    $("export-code-box").hidden = !state.twoFactorOn;
    $("export-code").value = c.code ?? "";
    await exportData({ preventDefault() {} });
    out.push({
      requests, log, focused, token: state.token, open: $("export-dialog").open,
      error: $("export-error").text, progress: $("export-progress").text,
      disabled: $("export-submit").disabled, password: $("export-password").value,
      code: [$("export-code-box").hidden, $("export-code").required, state.twoFactorOn],
    });
  }
  return out;
}"""

NAMES = [
    "describe",
    "routeMissing",
    "ServerError",
    "fetchApi",
    "sendForm",
    "NO_EXPORT",
    "lacksRoute",
    "EXPORT_END",
    "EXPORT_TAIL",
    "exportDialogClosed",
    "sizeText",
    "exportFileName",
    "downloadExport",
    "CODE_NEEDED",
    "showCodeField",
    "confirmBody",
    "codeAsked",
    "exportData",
]

NO_EXPORT = "This server cannot export your data."
NAME = "lairchat-export-al.ice-2026-12-07.json"
DISPOSITION = f'attachment; filename="{NAME}"'
#: A whole export, in three chunks as the server streams it.
WHOLE = ['{"format": "lairchat-export", "version": 1, ', '"messages": [], ', '"complete": true}']


def exported(**case: Any) -> dict[str, Any]:
    case = {"status": 200, "disposition": DISPOSITION, **case}
    return appjs.run(NAMES, MAIN, [case], prelude=PAGE)[0]


def test_a_whole_export_is_saved_under_the_servers_name() -> None:
    out = exported(chunks=WHOLE)
    # The password in the request's body only: its field emptied as it left.
    assert out["requests"] == [
        ["POST", "/api/v1/users/me/export", {"password": "hunter22"}, "Bearer t", ""]
    ]
    body = "".join(WHOLE)
    assert out["log"] == [
        ["saved", NAME, body],
        ["closed", "export", "download-data"],
        ["notice", f"Your data is downloaded: {NAME} ({len(body)} bytes)."],
    ]
    assert not out["open"] and out["token"] == "t"
    assert out["progress"] == ""  # emptied with the dialog


def test_without_the_servers_name_one_is_made_here() -> None:
    out = exported(chunks=WHOLE, disposition=None)
    # No name from the server: made the same way here, the username made safe.
    assert out["log"][0][1].startswith("lairchat-export-al.ice-")
    assert out["log"][0][1].endswith(".json")


@pytest.mark.parametrize(
    "chunks",
    [
        WHOLE[:2],  # the server stopped midway: the stream ended without "complete"
        [*WHOLE[:2], "BREAK"],  # the connection dropped midway
        [*WHOLE, "BREAK"],  # dropped at the very end: not known to be whole
        # Cut just after a message whose text ends with the last key's words.
        ['{"messages": [{"content": "\\"complete\\": true}'],
        [],
    ],
)
def test_a_cut_off_export_saves_nothing_and_says_so(chunks: list[str]) -> None:
    out = exported(chunks=chunks)
    assert out["error"] == (
        "Data not downloaded: The export was cut off before its end, so nothing was"
        " saved. Try again."
    )
    assert out["log"] == [] and out["open"] and out["focused"] == "export-password"
    assert not out["disabled"] and out["password"] == ""  # typed again to retry
    # What came is counted as it came.
    received = sum(len(chunk) for chunk in chunks if chunk != "BREAK")
    assert out["progress"] == (f"{received} bytes received" if received else "")


@pytest.mark.parametrize(
    ("status", "error", "shown"),
    [
        (
            401,
            {"code": "invalid_credentials", "message": "Invalid credentials"},
            "Invalid credentials",
        ),
        (403, {"code": "account_locked", "message": "Account locked"}, "Account locked"),
        (
            429,
            {"code": "rate_limited", "message": "x", "details": {"retry_after": 1}},
            "Too many requests: try again in 1 s.",
        ),
        # The original Lair Chat: a bare 404 (405 for another method); an older
        # lairchat: its router's 404 `not_found`.
        (404, None, NO_EXPORT),
        (405, None, NO_EXPORT),
        (404, {"code": "not_found", "message": "Not found"}, NO_EXPORT),
    ],
)
def test_a_refusal_is_shown_in_the_dialog(status: int, error: Any, shown: str) -> None:
    out = exported(status=status, error=error and {"error": error})
    assert out["error"] == f"Data not downloaded: {shown}"
    assert out["log"] == [] and out["open"] and out["token"] == "t"
    assert out["focused"] == "export-password" and not out["disabled"]


def test_closing_the_dialog_midway_stops_the_download_in_silence() -> None:
    out = exported(chunks=[WHOLE[0], "CLOSE", *WHOLE[1:]])
    assert out["log"] == [["closed", "export", "download-data"]]  # no file, no banner
    assert not out["open"] and out["error"] == "Preparing your data…"


def test_a_session_gone_signs_the_page_out() -> None:
    out = exported(status=401, error={"error": {"code": "session_expired", "message": "x"}})
    assert out["log"] == [["signOut", "session_expired"]]


FILE_NAMES = """(cases) => cases.map(([disposition, username]) =>
  exportFileName(disposition, username, new Date("2026-12-07T23:59:59Z")))"""


def test_the_file_name_is_the_servers_only_when_it_is_plain() -> None:
    cases = [
        [DISPOSITION, "al.ice"],
        ['attachment; filename="../../.bashrc"', "bob"],
        ['attachment; filename=".hidden.json"', "bob"],
        ['attachment; filename="a b.json"', "bob"],
        ["attachment", "Émile\u202e"],
        ["attachment", "..x.y"],
        [None, "..."],
        [None, None],
    ]
    assert appjs.run(["exportFileName"], FILE_NAMES, cases) == [
        NAME,
        "lairchat-export-bob-2026-12-07.json",
        "lairchat-export-bob-2026-12-07.json",
        "lairchat-export-bob-2026-12-07.json",
        "lairchat-export-_mile_-2026-12-07.json",
        "lairchat-export-x.y-2026-12-07.json",
        "lairchat-export-user-2026-12-07.json",
        "lairchat-export-user-2026-12-07.json",
    ]


def test_sizes_are_said_in_words() -> None:
    sizes = appjs.run(["sizeText"], "(cases) => cases.map(sizeText)", [812, 1_400, 2_345_678])
    assert sizes == ["812 bytes", "1.4 kilobytes", "2.3 megabytes"]


def test_the_name_made_here_is_the_one_the_server_makes() -> None:
    """One rule in two languages (routes_users.safe_name): an astral character is one
    ``_`` in both, not one per UTF-16 unit."""
    names = ["alice", "al.ice", "..x", "...", "", "Émile\u202e", "a😀b", "a/b\\c", '"q"', "x-_9"]
    made = appjs.run(
        ["exportFileName"],
        '(names) => names.map((n) => exportFileName(null, n, new Date("2026-12-07T12:00:00Z")))',
        names,
    )
    assert made == [f"lairchat-export-{safe_name(n)}-2026-12-07.json" for n in names]


def test_with_two_factor_on_the_code_goes_with_the_password() -> None:
    out = exported(on=True, code="k7dq-3m2a-pz5x", chunks=WHOLE)
    assert out["requests"][0][2] == {"password": "hunter22", "totp": "k7dq-3m2a-pz5x"}
    assert out["log"][0] == ["saved", NAME, "".join(WHOLE)]


def test_a_code_asked_for_shows_the_code_field() -> None:
    error = {"error": {"code": "totp_required", "message": "Two-factor code required"}}
    out = exported(status=401, error=error)
    assert out["requests"][0][2] == {"password": "hunter22"}
    assert out["error"] == (
        "Data not downloaded: Two-factor sign-in is on: type your password again, and a"
        " code from your authenticator app (or a recovery code)."
    )
    assert out["code"] == [False, True, True] and out["focused"] == "export-password"
