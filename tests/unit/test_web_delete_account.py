"""Deleting one's account in the browser client (docs/WEB.md, "Deleting your account"),
run under Node as app.js has it (:mod:`tests.unit.appjs`): the username typed again
before anything is sent, the request, the page signed out with nothing of the account
kept, refusals in the server's words in the dialog, a server without the route, and
the page's own connection closed by the deletion before the answer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: The page around deleteAccount: elements that record their text, value and focus;
#: ``rest`` answers each case's ``answer`` (``throw``: raised as the ServerError ``rest``
#: raises), after running its ``meanwhile`` (the server's close notice signing the page
#: out first); a localStorage holding the notifications setting.
PAGE = """
const ENDED = { session_expired: 1, session_not_found: 1 };
class ServerError extends Error {
  constructor(error) { super(error.message); Object.assign(this, error); }
}
const store = new Map();
const localStorage = {
  getItem: (k) => store.get(k) ?? null,
  setItem: (k, v) => store.set(k, v),
  removeItem: (k) => store.delete(k),
};
let elements, focused, requests, log, answer, meanwhile;
const state = { token: "t", me: { username: "me" }, twoFactorOn: false };
let resumable = { userId: "u1" };
function $(id) {
  elements[id] ??= {
    id, value: "", text: "", open: true, disabled: false, hidden: true, required: false,
    focus() { focused = id; },
    reset() {
      for (const f of ["password", "username", "code"]) $(`delete-${f}`).value = "";
    },
    close() { this.open = false; },
  };
  return elements[id];
}
const replaceText = (node, text) => { node.text = text; };
const showLogin = (reason) => log.push(["login", reason]);
const showError = (text) => log.push(["error", text]);
const signOut = (code, message) => { log.push(["signOut", code]); state.token = null; };
const forget = () => { log.push(["forget"]); state.token = null; };
const renderNotifySetting = () => log.push(["render notify"]);
async function rest(method, path, body, token) {
  requests.push([method, path, body, token, $("delete-password").value]);
  if (meanwhile) signOut("session_not_found", "Session ended: the account was deleted");
  if (answer.throw) throw new ServerError(answer.throw);
  return answer;
}
"""

MAIN = """async (cases) => {
  const out = [];
  for (const c of cases) {
    [elements, focused, requests, log] = [{}, null, [], []];
    [answer, meanwhile] = [c.answer ?? {}, c.meanwhile ?? false];
    state.token = "t";
    resumable = { userId: "u1" };
    store.set(NOTIFY_KEY, "on");
    $("delete-password").value = c.password;
    $("delete-username").value = c.username;
    state.twoFactorOn = c.on ?? false;
    $("delete-code-box").hidden = !state.twoFactorOn;
    $("delete-code").value = c.code ?? "";
    await deleteAccount({ preventDefault() {}, target: $("delete-form") });
    out.push({
      requests, log, focused, resumable,
      error: $("delete-error").text, disabled: $("delete-submit").disabled,
      fields: [$("delete-password").value, $("delete-username").value],
      notify: store.get(NOTIFY_KEY) ?? null, token: state.token,
      code: [$("delete-code-box").hidden, $("delete-code").required, state.twoFactorOn],
    });
  }
  return out;
}"""

NAMES = [
    "NOTIFY_KEY",
    "saveNotifySetting",
    "describe",
    "NO_DELETION",
    "routeMissing",
    "accountDeleted",
    "sendForm",
    "typedAgain",
    "CODE_NEEDED",
    "showCodeField",
    "confirmBody",
    "codeAsked",
    "deleteAccount",
]


def deleted(**case: Any) -> dict[str, Any]:
    case = {"password": "hunter22", "username": "me", **case}
    return appjs.run(NAMES, MAIN, [case], prelude=PAGE)[0]


def test_the_account_is_deleted_and_nothing_of_it_is_kept() -> None:
    out = deleted(answer={"success": True})
    # The password only in the request: the fields were emptied as it left.
    assert out["requests"] == [["DELETE", "/users/me", {"password": "hunter22"}, "t", ""]]
    assert out["log"] == [["forget"], ["render notify"], ["login", "Your account was deleted."]]
    assert out["token"] is None and out["resumable"] is None and out["notify"] is None
    assert out["fields"] == ["", ""]


def test_a_username_that_differs_sends_nothing() -> None:
    out = deleted(username="bob")
    assert out["requests"] == [] and out["log"] == []
    assert out["error"] == "Type your username, me, to confirm."
    assert out["fields"] == ["hunter22", ""] and out["focused"] == "delete-username"
    assert out["notify"] == "on" and out["token"] == "t"


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ({"code": "invalid_credentials", "message": "Invalid credentials"}, "Invalid credentials"),
        ({"code": "account_locked", "message": "Account locked"}, "Account locked"),
        (
            {
                "code": "permission_denied",
                "message": "Permission denied: the last admin cannot be deleted",
            },
            "Permission denied: the last admin cannot be deleted",
        ),
        (
            {"code": "rate_limited", "message": "x", "details": {"retry_after": 12}},
            "Too many requests: try again in 12 s.",
        ),
        # The original Lair Chat: 404 with an empty body (405 for another method).
        ({"code": "http_404", "message": "HTTP 404"}, "This server cannot delete accounts."),
        ({"code": "http_405", "message": "HTTP 405"}, "This server cannot delete accounts."),
    ],
)
def test_a_refusal_is_shown_in_the_dialog(error: dict[str, Any], shown: str) -> None:
    out = deleted(answer={"throw": error})
    assert out["error"] == f"Account not deleted: {shown}"
    assert out["log"] == [] and out["token"] == "t" and out["notify"] == "on"
    assert not out["disabled"] and out["focused"] == "delete-password"
    assert out["fields"] == ["", ""]  # typed again


def test_the_pages_connection_closed_first_still_says_it_was_deleted() -> None:
    """The server closes the account's connections, this page's too, before it
    answers: the close notice signs the page out, then the answer says why."""
    out = deleted(answer={"success": True}, meanwhile=True)
    assert out["log"][0] == ["signOut", "session_not_found"]
    assert out["log"][-1] == ["login", "Your account was deleted."]
    assert out["notify"] is None and out["token"] is None


def test_a_session_gone_signs_the_page_out() -> None:
    out = deleted(answer={"throw": {"code": "session_expired", "message": "Session expired"}})
    assert out["log"] == [["signOut", "session_expired"]]
    assert out["notify"] == "on"


CODE_NEEDED = (
    "Two-factor sign-in is on: type your password again, and a code from your"
    " authenticator app (or a recovery code)."
)


def test_with_two_factor_on_the_code_goes_with_the_password() -> None:
    out = deleted(on=True, code="492039", answer={"success": True})
    body = {"password": "hunter22", "totp": "492039"}
    assert out["requests"] == [["DELETE", "/users/me", body, "t", ""]]
    assert out["log"][-1] == ["login", "Your account was deleted."]


def test_a_code_asked_for_shows_the_code_field() -> None:
    """Turned on elsewhere since the page looked: the server asks (totp_required), and
    the dialog then has the field, required, for the password and a code."""
    error = {"code": "totp_required", "message": "Two-factor code required"}
    out = deleted(answer={"throw": error})
    assert out["requests"][0][2] == {"password": "hunter22"}
    assert out["error"] == f"Account not deleted: {CODE_NEEDED}"
    assert out["code"] == [False, True, True] and out["focused"] == "delete-password"
    wrong = deleted(
        on=True,
        code="1",
        answer={"throw": {"code": "invalid_totp", "message": "Invalid two-factor code"}},
    )
    assert wrong["error"] == "Account not deleted: Invalid two-factor code"
