"""Two-factor sign-in in the browser client (docs/WEB.md, "Two-factor sign-in"), run
under Node as app.js has it (:mod:`tests.unit.appjs`): the login form asking for the
code and saying a refused one in the server's words; the account's state read from
``GET /users/me``; what the dialog shows in each phase; its three requests (setup,
enable, disable) with the fields emptied as they leave, the secret and the recovery
codes shown, the other sessions' end said; refusals in the server's words; a server
without the routes (the original's bare 404, an older lairchat's ``not_found``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: app.js's pieces the dialog's tests run, as the page has them.
TWO_FACTOR = [
    "CODE_ASKED",
    "CODE_AGAIN",
    "NO_TWO_FACTOR",
    "OTHERS_END",
    "OTHERS_ENDED",
    "CODES_RENEWED",
    "OTPAUTH",
    "describe",
    "routeMissing",
    "lacksRoute",
    "pathOf",
    "twoFactorStatus",
    "twoFactorView",
    "codeKind",
    "renderTwoFactor",
    "twoFactorRefused",
    "sendForm",
    "sendTwoFactor",
    "recoveryText",
    "loginRefusal",
]

#: The page around them: elements that record their text, value, visibility and focus;
#: ``rest`` answers each case's ``answer`` (``throw``: raised as the ServerError ``rest``
#: raises) and records the request with what the fields held as it left.
PAGE = """
const ENDED = { session_expired: 1, session_not_found: 1 };
class ServerError extends Error {
  constructor(error) { super(error.message); Object.assign(this, error); }
}
let elements, focused, requests, log, answer;
const state = { token: "t", me: { username: "me" } };
let twoFactor = { phase: "off" };
let unsavedCodes = null;
const document = { get activeElement() { return elements[focused]; } };
function $(id) {
  elements[id] ??= {
    id, value: "", text: "", open: true, disabled: false, hidden: false, required: false,
    inputMode: "", href: "", dataset: {}, items: [],
    focus() { if (!this.hidden) focused = id; },
    reset() { $("twofactor-password").value = $("twofactor-code").value = ""; },
    close() { this.open = false; },
    replaceChildren(...items) { this.items = items; },
  };
  return elements[id];
}
const el = (tag, className, text) => ({ tag, text });
const replaceText = (node, text) => { node.text = text; };
const showNotice = (text) => log.push(["notice", text]);
const showError = (text) => log.push(["error", text]);
const signOut = (code) => { log.push(["signOut", code]); state.token = null; };
const loadTwoFactor = () => log.push(["asked again"]);
async function rest(method, path, body, token) {
  requests.push([method, path, body, token,
                 [$("twofactor-password").value, $("twofactor-code").value]]);
  if (answer.throw) throw new ServerError(answer.throw);
  return answer;
}
"""

#: Each case: the dialog in ``phase`` (with ``secret``…), the fields typed, the form
#: sent; what was asked, said, shown and focused.
SEND = """async (cases) => {
  const out = [];
  for (const c of cases) {
    [elements, focused, requests, log, answer] = [{}, null, [], [], c.answer ?? {}];
    state.token = "t";
    twoFactor = { phase: c.phase };
    renderTwoFactor();
    $("twofactor-password").value = c.password ?? "";
    $("twofactor-code").value = c.code ?? "";
    await sendTwoFactor({ preventDefault() {} });
    out.push({
      requests, log, focused, phase: twoFactor.phase,
      error: $("twofactor-error").text, state: $("twofactor-state").text,
      key: $("twofactor-key").text, uri: $("twofactor-uri").value,
      link: $("twofactor-link").hidden ? null : $("twofactor-link").href,
      codes: $("twofactor-code-list").items.map((item) => item.text),
      form: !$("twofactor-form").hidden, submit: $("twofactor-submit").text,
      disabled: $("twofactor-submit").disabled,
      fields: [$("twofactor-password").value, $("twofactor-code").value],
    });
  }
  return out;
}"""


def send(**case: Any) -> dict[str, Any]:
    return appjs.run(TWO_FACTOR, SEND, [case], prelude=PAGE)[0]


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/lairchat:me?secret={SECRET}&issuer=lairchat"


def test_setup_sends_the_password_and_shows_the_secret_as_text_and_link() -> None:
    out = send(phase="off", password="hunter22", answer={"secret": SECRET, "otpauth_uri": URI})
    # The password only in the request: its field emptied as it left.
    assert out["requests"] == [
        ["POST", "/users/me/2fa/setup", {"password": "hunter22"}, "t", ["", ""]]
    ]
    assert out["phase"] == "setup" and out["key"] == SECRET and out["uri"] == URI
    assert out["link"] == URI
    assert out["form"] and out["submit"] == "Turn on" and not out["disabled"]
    # Said before it is turned on: the other sessions will end.
    assert "ends your other sessions" in out["state"]
    assert out["focused"] == "twofactor-secret-intro" and out["log"] == []


def test_a_uri_that_is_no_otpauth_uri_is_no_link() -> None:
    out = send(phase="off", password="p", answer={"secret": "S", "otpauth_uri": "javascript:x"})
    assert out["uri"] == "javascript:x" and out["link"] is None


def test_enable_shows_the_recovery_codes_once_and_says_the_other_sessions_ended() -> None:
    codes = [f"aaaa-bbbb-ccc{i}" for i in range(10)]
    out = send(phase="setup", code="492039", answer={"enabled": True, "recovery_codes": codes})
    assert out["requests"] == [["POST", "/users/me/2fa/enable", {"code": "492039"}, "t", ["", ""]]]
    assert out["phase"] == "codes" and out["codes"] == codes and not out["form"]
    ended = "Your other sessions have ended; this one stays signed in."
    assert out["log"] == [["notice", f"Two-factor sign-in is on. {ended}"]]
    assert out["state"] == f"Two-factor sign-in is on. {ended}"
    assert out["focused"] == "twofactor-codes-intro"


def test_disable_sends_the_password_and_a_code() -> None:
    out = send(phase="on", password="hunter22", code="k7dq-3m2a-pz5x", answer={"enabled": False})
    assert out["requests"] == [
        [
            "POST",
            "/users/me/2fa/disable",
            {"password": "hunter22", "code": "k7dq-3m2a-pz5x"},
            "t",
            ["", ""],
        ]
    ]
    assert out["phase"] == "off" and out["submit"] == "Set up"
    assert out["log"] == [
        [
            "notice",
            "Two-factor sign-in is off. Your other sessions have ended; this one stays signed in.",
        ]
    ]
    assert out["focused"] == "twofactor-state"


@pytest.mark.parametrize(
    ("phase", "error", "shown", "first"),
    [
        ("setup", {"code": "invalid_totp", "message": "Invalid two-factor code"},
         "Not turned on: Invalid two-factor code", "twofactor-code"),
        ("off", {"code": "invalid_credentials", "message": "Invalid credentials"},
         "Not set up: Invalid credentials", "twofactor-password"),
        ("on", {"code": "account_locked", "message": "Account locked"},
         "Not turned off: Account locked", "twofactor-password"),
        ("on", {"code": "rate_limited", "message": "x", "details": {"retry_after": 7}},
         "Not turned off: Too many requests: try again in 7 s.", "twofactor-password"),
    ],
)  # fmt: skip
def test_a_refusal_is_said_in_the_servers_words_and_the_form_kept(
    phase: str, error: dict[str, Any], shown: str, first: str
) -> None:
    out = send(phase=phase, password="p", code="123456", answer={"throw": error}, secret=SECRET)
    assert out["error"] == shown and out["phase"] == phase and out["form"]
    assert out["focused"] == first and not out["disabled"]
    assert out["fields"] == ["", ""] and out["log"] == []


def test_a_state_changed_elsewhere_is_asked_again() -> None:
    error = {"code": "totp_already_enabled", "message": "Two-factor sign-in is already on"}
    out = send(phase="off", password="p", answer={"throw": error})
    assert out["error"] == "Not set up: Two-factor sign-in is already on"
    assert out["log"] == [["asked again"]]


@pytest.mark.parametrize(
    "error",
    [
        {"code": "http_404", "message": "HTTP 404"},  # the original: no body
        {"code": "http_405", "message": "HTTP 405"},
        {"code": "not_found", "message": "Not found"},  # an older lairchat
    ],
)
def test_a_server_without_the_routes_says_so(error: dict[str, Any]) -> None:
    out = send(phase="off", password="p", answer={"throw": error})
    assert out["error"] == "This server does not offer two-factor sign-in."
    assert out["phase"] == "missing" and not out["form"]
    assert out["state"] == "This server does not offer two-factor sign-in."
    assert out["focused"] == "twofactor-close"


def test_a_session_gone_signs_the_page_out() -> None:
    out = send(phase="off", password="p", answer={"throw": {"code": "session_expired"}})
    assert out["log"] == [["signOut", "session_expired"]]


def test_the_state_is_read_from_users_me() -> None:
    out = appjs.run(
        ["twoFactorStatus"],
        "(cases) => cases.map(twoFactorStatus)",
        [
            {"user": {}, "two_factor": {"enabled": True, "recovery_codes_left": 9}},
            {"user": {}, "two_factor": {"enabled": False}},
            {"user": {}},  # Lair Chat, an older lairchat: no two_factor
            {"user": {}, "two_factor": {"enabled": "yes"}},
            None,
        ],
    )
    assert out == [
        {"phase": "on", "left": 9},
        {"phase": "off"},
        {"phase": "missing"},
        {"phase": "missing"},
        {"phase": "missing"},
    ]


def test_what_each_phase_shows() -> None:
    names = ["NO_TWO_FACTOR", "OTHERS_END", "OTHERS_ENDED", "twoFactorView"]
    phases = [
        {"phase": "loading"},
        {"phase": "off"},
        {"phase": "setup"},
        {"phase": "codes"},
        {"phase": "on", "left": 1},
        {"phase": "missing"},
    ]
    loading, off, setup, codes, on, missing = appjs.run(
        names, "(cases) => cases.map(twoFactorView)", phases
    )
    assert loading["state"] == "Asking the server…" and not loading["form"]
    assert off["password"] and not off.get("code") and off["submit"] == "Set up"
    assert setup["secret"] and setup["code"] and not setup.get("password")
    assert not setup.get("recovery")  # only the app's code turns it on
    assert codes["codes"] and not codes["form"]
    assert on["password"] and on["code"] and on["recovery"] and on["submit"] == "Turn off"
    assert "1 recovery code left." in on["state"] and "ends your other sessions" in on["state"]
    assert missing["state"] == "This server does not offer two-factor sign-in."
    assert not missing["form"]


def test_the_login_form_asks_for_the_code_and_says_a_wrong_one() -> None:
    required, wrong, password, other, other_asked = appjs.run(
        ["CODE_ASKED", "CODE_AGAIN", "describe", "loginRefusal"],
        "(cases) => cases.map(([error, asked]) => loginRefusal(error, asked))",
        [
            [{"code": "totp_required", "message": "Two-factor code required"}, False],
            [{"code": "invalid_totp", "message": "Invalid two-factor code"}, True],
            [{"code": "invalid_credentials", "message": "Invalid credentials"}, True],
            [{"code": "account_locked", "message": "Account locked"}, False],
            [{"code": "rate_limited", "details": {"retry_after": 3}}, True],
        ],
    )
    assert required == {
        "text": "Two-factor sign-in: type the code your authenticator app shows"
        " (or a recovery code).",
        "ask": True,
        "again": True,
    }
    assert wrong["text"].startswith("Invalid two-factor code. A code is good once")
    assert wrong["ask"] and wrong["again"]
    # A wrong password with the code asked: the code field stays, with its code.
    assert password == {"text": "Invalid credentials", "ask": True, "again": False}
    assert other == {"text": "Account locked", "ask": False, "again": False}
    assert other_asked["text"] == "Too many requests: try again in 3 s." and other_asked["ask"]


def test_the_recovery_codes_file() -> None:
    text = appjs.run(
        ["recoveryText"],
        "([name, host, codes]) => recoveryText(name, host, codes)",
        ["alice", "chat.example.com", ["a-b", "c-d"]],
    )
    assert text == (
        "lairchat recovery codes for alice on chat.example.com\n"
        "Each signs in once instead of a code from your authenticator app.\n\na-b\nc-d\n"
    )


def test_new_recovery_codes_are_asked_with_the_password_and_a_code_and_shown() -> None:
    codes = [f"aaaa-bbbb-ddd{i}" for i in range(10)]
    out = appjs.run(
        TWO_FACTOR,
        SEND.replace(
            "await sendTwoFactor({ preventDefault() {} });",
            "await sendTwoFactor({ preventDefault() {}, submitter: $(c.submitter ?? 'x') });",
        ).replace("out.push({", "out.push({ kept: unsavedCodes, on: state.twoFactorOn,"),
        [
            {
                "phase": "on",
                "submitter": "twofactor-renew",
                "password": "hunter22",
                "code": "492039",
                "answer": {"recovery_codes": codes},
            }
        ],
        prelude=PAGE,
    )[0]
    assert out["requests"] == [
        [
            "POST",
            "/users/me/2fa/recovery-codes",
            {"password": "hunter22", "code": "492039"},
            "t",
            ["", ""],
        ]
    ]
    assert out["phase"] == "codes" and out["codes"] == codes and not out["form"]
    assert out["state"] == "New recovery codes: the ones you had no longer work."
    assert out["log"] == []  # no other session ended: nothing to say but the codes
    assert out["focused"] == "twofactor-codes-intro" and not out["disabled"]
    # Kept until confirmed stored; the page knows it is on.
    assert out["kept"] == {"phase": "codes", "codes": codes, "renewed": True}
    assert out["on"] is True


def test_the_on_phase_offers_new_recovery_codes() -> None:
    on, off = appjs.run(
        ["NO_TWO_FACTOR", "OTHERS_END", "OTHERS_ENDED", "twoFactorView"],
        "(cases) => cases.map(twoFactorView)",
        [{"phase": "on", "left": 2}, {"phase": "off"}],
    )
    assert on["renew"] and "for new recovery codes" in on["state"]
    assert not off.get("renew")


#: The dialog's opening and closing, the page around them stood in for.
DIALOG = """
let elements, focused, log;
const state = { token: "t", me: { username: "me" } };
let twoFactor = { phase: "loading" };
let unsavedCodes = null;
const document = { querySelector: () => null, get activeElement() { return elements[focused]; } };
function $(id) {
  elements[id] ??= {
    id, value: "", text: "", open: false, hidden: false, required: false, dataset: {},
    items: [],
    focus() { focused = id; },
    showModal() { this.open = true; },
    replaceChildren(...items) { this.items = items; },
  };
  return elements[id];
}
const el = (tag, className, text) => ({ tag, text });
const replaceText = (node, text) => { node.text = text; };
const showNotice = (text) => log.push(["notice", text]);
const formDialogClosed = () => log.push(["closed"]);
const loadTwoFactor = () => log.push(["asked"]);
const codeKind = () => {};
"""

DIALOG_NAMES = [
    "NO_TWO_FACTOR",
    "OTHERS_END",
    "OTHERS_ENDED",
    "OTPAUTH",
    "CODES_RENEWED",
    "CODES_KEPT",
    "twoFactorView",
    "renderTwoFactor",
    "openTwoFactorDialog",
    "twoFactorDialogClosed",
    "codesStored",
]


def test_closing_the_dialog_keeps_codes_not_confirmed_stored() -> None:
    """Esc or *Close* over fresh recovery codes lost them for good: now they are kept
    (and it is said) until *I have stored them*, and shown again on opening; a sign-out
    forgets them."""
    steps = appjs.run(
        DIALOG_NAMES,
        """() => {
          [elements, focused, log] = [{}, null, []];
          const seen = () => ({
            phase: twoFactor.phase, codes: $("twofactor-code-list").items.map((i) => i.text),
            log: log.splice(0), focused, kept: unsavedCodes !== null,
          });
          const out = [];
          unsavedCodes = twoFactor = { phase: "codes", codes: ["a-b", "c-d"] };
          twoFactorDialogClosed();  // Esc
          out.push(seen());
          openTwoFactorDialog();
          out.push(seen());
          codesStored();
          out.push(seen());
          twoFactorDialogClosed();
          openTwoFactorDialog();
          out.push(seen());
          unsavedCodes = twoFactor = { phase: "codes", codes: ["e-f"] };
          state.token = null;  // signed out: the dialog closes
          twoFactorDialogClosed();
          out.push(seen());
          return out;
        }""",
        None,
        prelude=DIALOG,
    )
    closed, reopened, stored, fresh, signed_out = steps
    kept = (
        "Your recovery codes are kept on this page until you confirm you stored them:"
        " open Two-factor sign-in again."
    )
    assert closed["log"] == [["closed"], ["notice", kept]] and closed["kept"]
    assert reopened["phase"] == "codes" and reopened["codes"] == ["a-b", "c-d"]
    assert reopened["focused"] == "twofactor-codes-intro" and reopened["log"] == []
    assert stored["phase"] == "loading" and not stored["kept"] and stored["log"] == [["asked"]]
    assert fresh["log"] == [["closed"], ["asked"]] and fresh["codes"] == []
    assert signed_out["log"] == [["closed"]] and not signed_out["kept"]


#: The deletion's and the export's forms around their code field.
CONFIRM = """
let elements;
const state = { twoFactorOn: false };
function $(id) {
  elements[id] ??= { id, value: "", hidden: true, required: false };
  return elements[id];
}
"""


def test_deletion_and_export_ask_for_a_code_when_it_is_on() -> None:
    out = appjs.run(
        ["showCodeField", "confirmBody", "codeAsked"],
        """(names) => names.map((name) => {
          elements = {};
          state.twoFactorOn = false;
          const out = {};
          showCodeField(name, false);
          $(`${name}-password`).value = "pw";
          $(`${name}-code`).value = "stale";
          out.off = confirmBody(name);
          out.other = codeAsked(name, { code: "invalid_credentials" });
          out.stillOff = [$(`${name}-code-box`).hidden, state.twoFactorOn];
          out.asked = codeAsked(name, { code: "totp_required" });
          out.shown = [$(`${name}-code-box`).hidden, $(`${name}-code`).required, state.twoFactorOn];
          $(`${name}-code`).value = "492039";
          out.on = confirmBody(name);
          return out;
        })""",
        ["delete", "export"],
        prelude=CONFIRM,
    )
    for form in out:
        # Off: the password only (an original server never sees `totp`).
        assert form["off"] == {"password": "pw"}
        assert form["other"] is False and form["stillOff"] == [True, False]
        # totp_required: the field shown and required; the code sent as the login's.
        assert form["asked"] is True and form["shown"] == [False, True, True]
        assert form["on"] == {"password": "pw", "totp": "492039"}
