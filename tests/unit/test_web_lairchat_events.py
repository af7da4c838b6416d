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


READ_PAGE = """
let state, changed;
const listsChanged = () => changed++;
"""

READ_MAIN = """(cases) => cases.map((c) => {
  state = {
    me: { id: "me" },
    unread: new Map(Object.entries(c.unread ?? {})),
    mentions: new Map(Object.entries(c.mentions ?? {}).map(([k, ids]) => [k, new Set(ids)])),
    mentionSeeds: new Map(Object.entries(c.seeds ?? {})),
  };
  changed = 0;
  readElsewhere(c.target, c.unread_count, c.mention_count);
  return {
    unread: Object.fromEntries(state.unread),
    mentions: Object.fromEntries(
      [...new Set([...state.mentions.keys(), ...state.mentionSeeds.keys()])].map((k) => [
        k, mentionCount(k),
      ]),
    ),
    changed,
  };
})"""


def test_read_on_another_device_lowers_the_counts_here() -> None:
    """lairchat's messages_read: the server's counts for a conversation read elsewhere
    replace ours when lower; never raised (what came since is counted live)."""
    room = {"type": "room", "room_id": "r"}
    read, partly, dm, higher = appjs.run(
        ["keyOfTarget", "mentionCount", "readElsewhere"],
        READ_MAIN,
        [
            {
                "unread": {"room:r": 5},
                "mentions": {"room:r": ["m1"]},
                "seeds": {"room:r": 2},
                "target": room,
                "unread_count": 0,
                "mention_count": 0,
            },
            {
                "unread": {"room:r": 5},
                "seeds": {"room:r": 2},
                "target": room,
                "unread_count": 2,
                "mention_count": 1,
            },
            {
                "unread": {"dm:bob": 3},
                "target": {"type": "dm", "recipient": "bob"},
                "unread_count": 0,
                "mention_count": 0,
            },
            {"unread": {"room:r": 1}, "target": room, "unread_count": 4, "mention_count": 3},
        ],
        prelude=READ_PAGE,
    )
    assert (read["unread"], read["mentions"]) == ({}, {})
    assert (partly["unread"], partly["mentions"]) == ({"room:r": 2}, {"room:r": 1})
    assert dm["unread"] == {}
    assert (higher["unread"], higher["mentions"]) == ({"room:r": 1}, {})
