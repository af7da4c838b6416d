"""lairchat's own events in the browser client (docs/WEB.md): a revoked invitation
leaves the lists at once, a new public room joins the public rooms; run under Node
as app.js has them (:mod:`tests.unit.appjs`), the page around them stood in for."""

from __future__ import annotations

from typing import Any

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

PAGE = """
let state, shown, rendered;
const named = (text) => text;
const showNotice = (parts) => shown.push(parts.join(""));
const renderInvitations = () => rendered.push("invitations");
const renderInvited = () => rendered.push("invited");
const renderRooms = () => rendered.push("rooms");
"""

MAIN = """(cases) => cases.map((c) => {
  state = {
    invitations: c.invitations ?? [],
    invited: c.invited ?? null,
    rooms: new Map((c.rooms ?? []).map((id) => [id, { id }])),
    publicRooms: new Map((c.public ?? []).map((id) => [id, { room: { id } }])),
  };
  [shown, rendered] = [[], []];
  if (c.revoked) invitationRevoked(c.revoked);
  if (c.created) roomCreated(c.created);
  return {
    invitations: state.invitations.map((inv) => inv.id),
    invited: state.invited?.list.map((inv) => inv.id) ?? null,
    public: [...state.publicRooms.keys()],
    shown,
    rendered,
  };
})"""

HELLO_FEATURES = """(cases) => {
  const sent = [];
  const connection = Object.create(Connection.prototype);
  connection.send = (frame) => sent.push(frame);
  connection.token = "t";
  connection.signIn();
  return sent[0];
}"""


def run(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return appjs.run(["invitationRevoked", "roomCreated"], MAIN, cases, prelude=PAGE)


def test_a_revoked_invitation_leaves_both_lists_and_says_so() -> None:
    invitations = [{"id": "i1", "room_name": "secret"}, {"id": "i2", "room_name": "other"}]
    invited = {"list": [{"id": "i1"}, {"id": "i3"}]}
    (out,) = run([{"invitations": invitations, "invited": invited, "revoked": "i1"}])
    assert out["invitations"] == ["i2"] and out["invited"] == ["i3"]
    assert out["shown"] == ["The invitation to “secret” was withdrawn."]
    assert out["rendered"] == ["invitations", "invited"]


def test_an_invitation_not_held_changes_nothing() -> None:
    (out,) = run([{"invitations": [{"id": "i2", "room_name": "x"}], "revoked": "i9"}])
    assert out == {
        "invitations": ["i2"],
        "invited": None,
        "public": [],
        "shown": [],
        "rendered": [],
    }


def test_a_new_public_room_is_listed_unless_known() -> None:
    fresh, joined, listed = run(
        [
            {"created": {"id": "r-new", "name": "lobby"}},
            {"rooms": ["r-mine"], "created": {"id": "r-mine", "name": "mine"}},
            {"public": ["r-pub"], "created": {"id": "r-pub", "name": "pub"}},
        ]
    )
    assert (fresh["public"], fresh["rendered"]) == (["r-new"], ["rooms"])
    assert (joined["public"], joined["rendered"]) == ([], [])
    assert (listed["public"], listed["rendered"]) == (["r-pub"], [])


def test_the_hello_asks_for_lairchats_own_events() -> None:
    hello = appjs.run(["LAIRCHAT_EVENTS", "Connection"], HELLO_FEATURES, [])
    assert hello["type"] == "client_hello" and hello["features"] == ["lairchat-events"]
