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


# -- invite codes and the system role ----------------------------------------------------

CODES_PAGE = """
let inviteCodes, rendered, followed;
const renderInviteCodes = () => rendered.push(inviteCodes.list?.map((c) => `${c.id}:${c.uses}`));
const roleFollowed = (user) => followed.push(user.role);
"""

CODES_MAIN = """(cases) => cases.map((c) => {
  inviteCodes = { roomId: c.open ?? "r1", list: c.list ?? null };
  [rendered, followed] = [[], []];
  for (const event of c.events) handleEvent(event);
  const list = inviteCodes.list?.map((code) => `${code.id}:${code.uses}`) ?? null;
  return { list, rendered, followed };
})"""


def code(id_: str, uses: int = 0, max_uses: int | None = None) -> dict[str, Any]:
    return {"id": id_, "room_id": "r1", "prefix": id_, "uses": uses, "max_uses": max_uses}


def codes(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return appjs.run(["inviteCodeEvent", "handleEvent"], CODES_MAIN, cases, prelude=CODES_PAGE)


def test_the_open_invite_code_list_follows_the_rooms_events() -> None:
    made = {"type": "invite_code_created", "room_id": "r1", "invite_code": code("c3")}
    used = {"type": "invite_code_used", "room_id": "r1", "invite_code": code("c1", 1, 5)}
    used_up = {"type": "invite_code_used", "room_id": "r1", "invite_code": code("c2", 2, 2)}
    revoked = {"type": "invite_code_revoked", "room_id": "r1", "code_id": "c3", "reason": "kicked"}
    listed = [code("c1", 0, 5), code("c2", 1, 2)]
    out = codes(
        [
            {"list": listed, "events": [made]},
            {"list": listed, "events": [made, made]},  # ours, in the answer and the event
            {"list": listed, "events": [used, used_up]},
            {"list": listed, "events": [made, revoked]},
            {"list": None, "events": [made, used, revoked]},  # not yet answered
            {"list": listed, "open": "r2", "events": [made, used, revoked]},  # another room
        ]
    )
    assert [o["list"] for o in out] == [
        ["c3:0", "c1:0", "c2:1"],
        ["c3:0", "c1:0", "c2:1"],
        ["c1:1"],
        ["c1:0", "c2:1"],
        None,
        ["c1:0", "c2:1"],
    ]
    assert out[4]["rendered"] == [] and out[5]["rendered"] == []


def test_a_role_changed_is_followed_at_once() -> None:
    event = {"type": "system_role_changed", "user": {"id": "u1", "role": "admin"}}
    (out,) = codes([{"events": [event]}])
    assert out["followed"] == ["admin"]
