"""The browser client following its user's role (docs/WEB.md, "Administration"), run
under Node as app.js has them (:mod:`tests.unit.appjs`), the page around them stood
in for: ``get_current_user`` asked (followRole), only the latest answer counting and
none after a sign-out; a promotion offering *Administration*, a demotion taking it
away with its panel and dialogs, each said; and an admin request refused
``permission_denied`` asking the role again (rest)."""

from __future__ import annotations

from typing import Any

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: The page around them: what they do recorded in ``log``; ``ask`` answers each ask
#: with the case's next answer when its release is called (``throw``: rejected);
#: dialogs open as the case says; fetchApi refuses with the case's next answer.
PAGE = """
class ServerError extends Error {
  constructor(error) { super(error.message); Object.assign(this, error); }
}
let state, log, answers, releases, elements, roomDeleting;
function $(id) {
  elements[id] ??= {
    id, open: false,
    close() { this.open = false; log.push(["close", id]); },
    addEventListener(type, f, options) { log.push(["listen", id, type, f.name, options?.once]); },
  };
  return elements[id];
}
const forgetPanel = () => log.push(["forgetPanel", isAdmin()]);
const renderAdmin = () => log.push(["renderAdmin", isAdmin()]);
const keepFocus = () => log.push(["keepFocus"]);
const showNotice = (text) => log.push(["notice", text]);
function ask(type) {
  log.push(["ask", type]);
  const answer = answers.shift();
  return new Promise((resolve, reject) => releases.push(() =>
    answer.throw ? reject(new ServerError(answer.throw)) : resolve(answer)));
}
async function fetchApi(method, path) {
  log.push(["fetch", method, path]);
  throw new ServerError(answers.shift());
}
function page(c) {
  state = { token: "t", me: { id: "u1", username: "bob", role: c.role } };
  [log, answers, releases, elements] = [[], [...(c.answers ?? [])], [], {}];
  roomDeleting = c.roomDeleting ?? null;
  for (const id of c.open ?? []) $(id).open = true;
}
"""

#: Each case: its steps, ``ask`` (followRole called), ``release N`` (the Nth ask
#: answered), ``token`` (signed in as someone else meanwhile).
FOLLOW = """async (cases) => {
  const out = [];
  for (const c of cases) {
    page(c);
    const pending = [];
    for (const step of c.steps) {
      if (step === "ask") pending.push(followRole());
      else if (step === "token") state.token = "other";
      else releases[Number(step.split(" ")[1])]();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await Promise.all(pending);
    out.push({ log, role: state.me.role });
  }
  return out;
}"""


def follow(*cases: dict[str, Any]) -> list[dict[str, Any]]:
    names = ["isAdmin", "roleAsked", "followRole", "roleFollowed"]
    return appjs.run(names, FOLLOW, list(cases), prelude=PAGE)


def me(role: str, user_id: str = "u1") -> dict[str, Any]:
    return {"success": True, "user": {"id": user_id, "username": "bob", "role": role}}


NO_LONGER = "You are no longer an admin of this server: Administration is closed."
NOW = "You are now an admin of this server: Administration is offered."


def test_a_promotion_offers_administration() -> None:
    (out,) = follow({"role": "user", "answers": [me("admin")], "steps": ["ask", "release 0"]})
    assert out["log"] == [["ask", "get_current_user"], ["renderAdmin", True], ["notice", NOW]]
    assert out["role"] == "admin"


def test_a_demotion_takes_the_panel_and_its_dialogs_away() -> None:
    """The open admin dialogs close (the focus kept after their own close handlers),
    a room's *Delete room* opened by its owner, not the panel, stays."""
    admin_room, own_room = follow(
        {
            "role": "admin",
            "answers": [me("user")],
            "open": ["ban-dialog", "room-delete-dialog"],
            "roomDeleting": {"admin": True},
            "steps": ["ask", "release 0"],
        },
        {
            "role": "admin",
            "answers": [me("moderator")],
            "open": ["user-delete-dialog", "room-delete-dialog"],
            "roomDeleting": {"admin": False},
            "steps": ["ask", "release 0"],
        },
    )
    assert admin_room["log"] == [
        ["ask", "get_current_user"],
        ["forgetPanel", False],
        ["listen", "ban-dialog", "close", "keepFocus", True],
        ["close", "ban-dialog"],
        ["listen", "room-delete-dialog", "close", "keepFocus", True],
        ["close", "room-delete-dialog"],
        ["keepFocus"],
        ["notice", NO_LONGER],
    ]
    assert own_room["log"][2:4] == [
        ["listen", "user-delete-dialog", "close", "keepFocus", True],
        ["close", "user-delete-dialog"],
    ]
    assert ["close", "room-delete-dialog"] not in own_room["log"]


def test_only_the_latest_answer_counts() -> None:
    """Asked twice (the window focused, then an admin request refused): the first
    answer, read before the operator's change and come last, changes nothing."""
    (out,) = follow(
        {
            "role": "admin",
            "answers": [me("admin"), me("user")],
            "steps": ["ask", "ask", "release 1", "release 0"],
        }
    )
    assert out["role"] == "user"
    assert out["log"].count(["notice", NO_LONGER]) == 1
    assert out["log"][-1] == ["notice", NO_LONGER]


def test_the_same_role_another_user_a_refusal_or_a_sign_out_change_nothing() -> None:
    outs = follow(
        {"role": "admin", "answers": [me("admin")], "steps": ["ask", "release 0"]},
        {"role": "admin", "answers": [me("user", "u2")], "steps": ["ask", "release 0"]},
        {"role": "admin", "answers": [{"success": False}], "steps": ["ask", "release 0"]},
        {
            "role": "admin",
            "answers": [{"throw": {"code": "offline"}}],
            "steps": ["ask", "release 0"],
        },
        {"role": "admin", "answers": [me("user")], "steps": ["ask", "token", "release 0"]},
    )
    for out in outs:
        assert out["log"] == [["ask", "get_current_user"]]
        assert out["role"] == "admin"


REST = """async (cases) => {
  const out = [];
  for (const c of cases) {
    page(c);
    const followed = [];
    globalThis.followRole = () => followed.push(c.path);
    let code = null;
    try {
      await rest("GET", c.path, undefined, "t");
    } catch (error) {
      code = error.code;
    }
    out.push({ code, followed });
  }
  return out;
}"""


def test_an_admin_request_refused_permission_denied_asks_the_role_again() -> None:
    denied = {"code": "permission_denied", "message": "Permission denied"}
    cases = [
        {"path": "/admin/stats", "answers": [denied]},
        {"path": "/admin/audit?limit=20", "answers": [{"code": "validation_failed"}]},
        {"path": "/rooms/r1", "answers": [denied]},  # a room's: not the system role
    ]
    out = appjs.run(["rest"], REST, cases, prelude=PAGE + "var followRole;")
    assert out == [
        {"code": "permission_denied", "followed": ["/admin/stats"]},
        {"code": "validation_failed", "followed": []},
        {"code": "permission_denied", "followed": []},
    ]
