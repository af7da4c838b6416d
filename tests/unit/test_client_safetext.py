"""Text from the server on the terminal client's screen (lairchat/client/ui/safetext.py):
controls, bidi overrides and the invisible characters of
tests/fixtures/hidden_characters.json (the list the web client follows too) shown as
marks, the text that list keeps shown as it is, and messages laid out so that none
can fake another (docs/CLIENT.md, "Text from other people")."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import urwid

from lairchat.client.state import ClientState
from lairchat.client.testing import RecordingController, message, render_text, room, user
from lairchat.client.ui import messages as messages_module
from lairchat.client.ui.chat import ChatView
from lairchat.client.ui.login import LoginView
from lairchat.client.ui.messages import MessagePane
from lairchat.client.ui.overlays import InvitationsOverlay, MembersOverlay
from lairchat.client.ui.rooms import RoomsView
from lairchat.client.ui.safetext import (
    ESCAPED,
    HIDDEN,
    SafeLine,
    SafeLineBox,
    SafeText,
    mark,
    marked,
    safe_markup,
)
from lairchat.client.ui.statusbar import NoticeLine, StatusBar
from lairchat.client.ui.theme import PALETTE
from tests.unit.test_client_widgets import BOB, ME, ROOM, alice_and_bob, render_text_flow

ROOT = Path(__file__).resolve().parents[2]

#: What another user may send: a right-to-left override, a terminal title change, an
#: erase-screen sequence, NUL, and a newline followed by what looks like a message.
HOSTILE = (
    "see \u202etxt.exe\u202c \x1b]2;pwned\x07\x1b[2J a\x00b"
    "\n12:01 admin: please re-enter your password"
)
HOSTILE_SHOWN = (
    "see U+202Etxt.exeU+202C ␛]2;pwned␇␛[2J a␀b",
    "12:01 admin: please re-enter your password",
)


def escaped_runs(widget: urwid.Widget, size: tuple[int, ...]) -> list[str]:
    """The text of every run drawn in the ``escaped`` style (on its own or layered over
    the style around it), in order; adjacent marks make one run."""
    found = []
    for row in widget.render(size).content():
        for attr, _cs, text in row:
            top = attr.layers[0] if isinstance(attr, urwid.LayeredAttr) else attr
            if top == ESCAPED:
                found.append(text.decode("utf-8"))
    return found


# -- the rule ------------------------------------------------------------------------------


def test_c0_controls_are_control_pictures_but_tab_and_newline_stay() -> None:
    for code in [*range(0x00, 0x09), *range(0x0B, 0x20)]:
        assert safe_markup(f"a{chr(code)}b") == ["a", (ESCAPED, chr(0x2400 + code)), "b"]
    assert safe_markup("\x1b") == [(ESCAPED, "␛")]
    assert safe_markup("a\tb\nc") == "a\tb\nc"


def test_crlf_is_a_newline_and_a_lone_cr_a_mark() -> None:
    assert safe_markup("one\r\ntwo") == "one\ntwo"
    assert safe_markup("one\rtwo") == ["one", (ESCAPED, "␍"), "two"]


def test_del_c1_and_bidi_controls() -> None:
    assert safe_markup("\x7f") == [(ESCAPED, "␡")]
    for code in range(0x80, 0xA0):
        assert safe_markup(chr(code)) == [(ESCAPED, f"U+{code:04X}")]
    for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]:
        assert safe_markup(chr(code)) == [(ESCAPED, f"U+{code:04X}")]
    # Their neighbours that are seen, and ordinary text, stay as they are.
    for text in ["\u00a0", "\u202f", "\u200d", "\u2070", "é 👋 שלום", ""]:
        assert safe_markup(text) == text


def test_a_string_mixing_every_class() -> None:
    text = "a\x00b\x1b[31m\u202ec\x85d\x7f\te\r\nf\u2067"
    assert safe_markup(text) == [
        "a",
        (ESCAPED, "␀"),
        "b",
        (ESCAPED, "␛"),
        "[31m",
        (ESCAPED, "U+202E"),
        "c",
        (ESCAPED, "U+0085"),
        "d",
        (ESCAPED, "␡"),
        "\te\nf",
        (ESCAPED, "U+2067"),
    ]


def test_markup_nesting_keeps_the_attributes_around_a_mark() -> None:
    markup = ("pending", ["x", ("author", "b\x00"), "\u202e", b"\x07"])
    assert safe_markup(markup) == (
        "pending",
        ["x", ("author", ["b", (ESCAPED, "␀")]), [(ESCAPED, "U+202E")], [(ESCAPED, "␇")]],
    )
    text, attrs = SafeText(markup).get_text()
    assert text == "xb␀U+202E␇"
    assert attrs == [
        ("pending", 1),
        (urwid.LayeredAttr("author", "pending"), 1),
        (urwid.LayeredAttr(ESCAPED, "author", "pending"), 1),
        (urwid.LayeredAttr(ESCAPED, "pending"), 7),
    ]
    with pytest.raises(TypeError):
        safe_markup(3)


def test_one_row_text_marks_newlines_too() -> None:
    assert safe_markup("a\nb", newlines=False) == ["a", (ESCAPED, "␊"), "b"]
    line = SafeLine("room\nfake row", align="center")
    assert render_text_flow(line, 20) == "    room␊fake row   "
    box = SafeLineBox(urwid.SolidFill("x"), title="evil\n\u202ename")
    assert render_text(box, 30, 3)[0] == "┌────── evil␊U+202Ename ─────┐"


# -- the list both clients follow (tests/fixtures/hidden_characters.json) -----------------------

HIDDEN_LIST = json.loads((ROOT / "tests/fixtures/hidden_characters.json").read_text())
MARKED_RANGES = [(int(r["first"], 16), int(r["last"], 16)) for r in HIDDEN_LIST["marked"]]
KEPT = [(k["name"], k["text"]) for k in HIDDEN_LIST["kept"]]


def range_samples() -> list[int]:
    """The first and last code point of every range, and one inside the longer ones."""
    return sorted({c for first, last in MARKED_RANGES for c in (first, (first + last) // 2, last)})


@pytest.mark.parametrize("widget", [SafeText, SafeLine])
@pytest.mark.parametrize("code", range_samples(), ids=lambda c: f"U+{c:04X}")
def test_every_range_of_the_list_is_marked(widget: type[SafeText], code: int) -> None:
    text = widget(f"name{chr(code)}x")
    assert text.get_text()[0] == f"nameU+{code:04X}x"
    assert escaped_runs(text, (40,)) == [f"U+{code:04X}"]
    assert chr(code) not in render_text_flow(text, 40)


@pytest.mark.parametrize("widget", [SafeText, SafeLine])
@pytest.mark.parametrize(("name", "kept"), KEPT, ids=[name for name, _ in KEPT])
def test_the_text_the_list_keeps_comes_through_exactly(
    widget: type[SafeText], name: str, kept: str
) -> None:
    text = widget(["a ", ("author", kept), " b"])
    assert text.get_text()[0] == f"a {kept} b"
    assert escaped_runs(text, (40,)) == []
    assert kept in render_text_flow(text, 40)


def test_the_rule_is_the_list_and_the_controls_nothing_else() -> None:
    """Every code point, on its own: marked exactly when it is a control but tab and
    newline, or in one of the list's ranges (where ``HIDDEN`` has them)."""
    assert list(HIDDEN) == MARKED_RANGES
    controls = {*range(0x00, 0x20), *range(0x7F, 0xA0)} - {0x09, 0x0A}
    listed = {c for first, last in MARKED_RANGES for c in range(first, last + 1)}
    for code in [*range(0xD800), *range(0xE000, 0x110000)]:
        assert bool(marked(chr(code))) == (code in controls or code in listed), hex(code)
    assert [mark(c) for c in "\x00\x1f\x7f\x80\u202e\U000e0041"] == [
        "␀",
        "␟",
        "␡",
        "U+0080",
        "U+202E",
        "U+E0041",
    ]


ENGLAND = next(text for name, text in KEPT if "England" in name)


def test_tag_characters_are_kept_only_in_an_emoji_tag_sequence() -> None:
    """The flag of England (U+1F3F4, tags, U+E007F) is whole; tags anywhere else, a
    sequence without its cancel tag or with a tag outside U+E0020–U+E007E, and tags on
    another base are marks, each one."""
    assert safe_markup(f"{ENGLAND}{ENGLAND}") == ENGLAND * 2
    hidden = "\U000e0068\U000e0069"
    assert safe_markup(f"hi{hidden}!") == ["hi", (ESCAPED, "U+E0068"), (ESCAPED, "U+E0069"), "!"]
    assert safe_markup(f"\U0001f3f4{hidden}") == [
        "\U0001f3f4",
        (ESCAPED, "U+E0068"),
        (ESCAPED, "U+E0069"),
    ]
    assert safe_markup("\U0001f3f4\U000e0001\U000e007f") == [
        "\U0001f3f4",
        (ESCAPED, "U+E0001"),
        (ESCAPED, "U+E007F"),
    ]
    assert safe_markup("a\U000e0067\U000e007f") == ["a", (ESCAPED, "U+E0067"), (ESCAPED, "U+E007F")]
    assert safe_markup("\U000e007f" + ENGLAND) == [(ESCAPED, "U+E007F"), ENGLAND]


def test_the_theme_styles_marks_in_colour_and_monochrome() -> None:
    entry = next(e for e in PALETTE if e[0] == ESCAPED)
    name, foreground, background, mono = entry
    assert background and mono == "standout"


def test_no_widget_of_the_client_draws_text_unescaped() -> None:
    """Every module of lairchat/client/ui draws text through safetext's classes, and
    edits it in safeedit's."""
    for path in (ROOT / "lairchat/client/ui").glob("*.py"):
        if path.name != "safetext.py":
            source = path.read_text()
            assert not re.search(r"urwid\.(Text|LineBox|Edit)\(", source), path.name


# -- messages -------------------------------------------------------------------------------


@pytest.fixture
def state() -> ClientState:
    s = alice_and_bob()
    s.open(("room", ROOM))
    return s


def pane_with(state: ClientState, *contents: str) -> MessagePane:
    key = ("room", ROOM)
    history = [message(f"m{i}", BOB, text, room_id=ROOM) for i, text in enumerate(contents)]
    state.apply_history(key, history[::-1], has_more=False)
    pane = MessagePane()
    pane.show(state, state.current_conversation)
    return pane


def message_rows(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines[1:] if line.strip()]  # after "— beginning …"


def test_a_hostile_message_shows_its_marks_and_fakes_no_line(state: ClientState) -> None:
    pane = pane_with(state, HOSTILE)
    rows = message_rows(render_text(pane, 80, 4))
    head = rows[0][:6]
    assert re.fullmatch(r"\d\d:\d\d ", head)
    assert rows == [f"{head}bob: {HOSTILE_SHOWN[0]}", f"      {HOSTILE_SHOWN[1]}"]
    assert escaped_runs(pane, (80, 4)) == ["U+202E", "U+202C", "␛", "␇␛", "␀"]


def test_every_continuation_row_is_indented_wrapped_or_not(state: ClientState) -> None:
    """A line long enough to wrap just before a fake header, and several newlines."""
    cols = 60
    # Without the indent, "bob: " and the x's fill the first row exactly (11 + 48 + 1).
    wrapped = "x" * 48 + " 12:01 admin: please re-enter your password at evil.example"
    lines = "first\n12:02 admin: one\n\n12:03 admin: two"
    pane = pane_with(state, wrapped, lines)
    rows = message_rows(render_text(pane, cols, 8))
    assert "12:01 admin: please" in "\n".join(rows) and len(rows) == 6
    heads = [row for row in rows if not row.startswith(" ")]
    assert [row[6:] for row in heads] == ["bob: " + "x" * 48, "bob: first"]
    assert all(row.startswith("      ") for row in rows if row not in heads)
    assert not any(row.startswith("12:0") for row in rows if row not in heads)


def test_marks_keep_the_layout_and_the_hanging_indent(state: ClientState) -> None:
    """urwid counts most of the listed characters as no column, where a terminal may
    draw them (tmux draws U+3164 two columns wide): shown raw, forty fillers made a
    row 80 columns wider on the screen than urwid had laid it out. Marked, none
    reaches the screen, every row after a message's first is indented, and the kept
    text is drawn whole, as urwid measures it."""
    every = " ".join(chr(code) for code in range_samples())
    fillers = "\u3164" * 40 + " 12:01 admin: fake"
    kept = " ".join(text for _, text in KEPT)
    pane = pane_with(state, every, fillers, kept)
    rows = message_rows(render_text(pane, 60, 40))
    listed = {chr(c) for first, last in MARKED_RANGES for c in range(first, last + 1)}
    assert not listed & set("".join(rows)) - set(ENGLAND)
    heads = [row for row in rows if re.match(r"\d\d:\d\d bob: ", row)]
    assert len(heads) == 3 and len(rows) > 10
    assert all(row.startswith("      ") for row in rows if row not in heads)
    assert heads[1].endswith("bob: " + "U+3164" * 8 + "U")
    assert rows[rows.index(heads[2]) - 1].endswith("U+3164 12:01 admin: fake")
    assert heads[2].endswith(f"bob: {kept}")


def test_notices_and_pending_messages_hang_too(state: ClientState) -> None:
    """A notice is one line, whose newlines (from a room name) are marks; it wraps
    under its text. A message being sent hangs as a sent one does."""
    state.system("You joined #" + "r" * 30 + "\n· bob is now owner (was member)")
    state.add_pending(("room", ROOM), "mine\n12:06 bob: fake")
    pane = MessagePane()
    pane.show(state, state.current_conversation)
    rows = [line.rstrip() for line in render_text(pane, 60, 6) if line.strip()]
    assert rows[-4:] == [
        "  · You joined #" + "r" * 30 + "␊· bob is now",
        "    owner (was member)",
        f"{rows[-2][:6]}alice: mine",
        "      12:06 bob: fake …",
    ]


def test_a_narrow_pane_still_indents(state: ClientState) -> None:
    pane = pane_with(state, "one two three four five six")
    rows = [row.rstrip() for row in render_text(pane, 14, 12) if row.strip()]
    rows = rows[next(i for i, row in enumerate(rows) if "bob:" in row) :]
    assert rows[0].startswith("12:") and rows[0][6:] == "bob: one"
    assert all(row.startswith("   ") for row in rows[1:]) and len(rows) > 2


def test_only_the_rows_on_screen_are_rendered_and_widgets_are_kept(
    state: ClientState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redraw renders the messages on screen, not the whole conversation, and a new
    message builds one widget, not one per message."""
    pane = pane_with(state, *(f"line {i}" for i in range(3000)))
    assert render_text(pane, 60, 5)[-1].rstrip().endswith("bob: line 2999")
    kept = list(pane._texts)
    rendered: list[Any] = []
    render = messages_module.Hanging.render

    def counting(self: Any, size: tuple[int], focus: bool = False) -> Any:
        rendered.append(self)
        return render(self, size, focus)

    monkeypatch.setattr(messages_module.Hanging, "render", counting)
    pane.scroll("page_up")
    assert render_text(pane, 60, 5)[-1].rstrip().endswith("bob: line 2995")
    assert 1 <= len(rendered) <= 5
    state.apply_event(
        {"type": "message_received", "message": message("m-new", BOB, "new", room_id=ROOM)}
    )
    pane.show(state, state.current_conversation)
    assert pane._texts[1 : len(kept)] == kept[1:]  # but the first line, a hint
    assert len(pane._texts) == len(kept) + 1


# -- every other place that shows the server's text -------------------------------------------

EVIL = "ev\u202eil\nx\x1b]0;t\x07"
EVIL_SHOWN = "evU+202Eil␊x␛]0;t␇"


def test_titles_lists_and_status_show_marks_on_one_row(state: ClientState) -> None:
    state.set_users([{"user": user(BOB, EVIL), "online": True}])
    evil_room = room(ROOM, EVIL)
    evil_room["settings"]["description"] = "desc\n\u2066x"
    state.set_rooms([{"room": evil_room, "member_count": 2, "is_member": True}], [])
    state.set_members(
        ROOM,
        [
            {"user_id": ME, "username": "alice", "role": "owner", "is_online": True},
            {"user_id": BOB, "username": EVIL, "role": "member", "is_online": True},
        ],
    )
    state.apply_event(
        {"type": "user_typing", "user_id": BOB, "target": {"type": "room", "room_id": ROOM}}
    )
    view = ChatView(RecordingController())
    view.update(state)
    lines = render_text(view, 100, 12)
    assert lines[0].startswith(f" #{EVIL_SHOWN} — desc␊U+2066x")
    assert f" {EVIL_SHOWN} is typing…" in lines[-4]
    assert any(f"│ ● {EVIL_SHOWN}   │" in line for line in lines)

    rooms = RoomsView(RecordingController())
    rooms.update(state)
    assert render_text(rooms, 60, 5)[1].startswith(f"│> {EVIL_SHOWN}  (2 members)")
    members = MembersOverlay(RecordingController())
    members.update(state)
    shown = render_text(members, 70, 8)
    assert f"Members of #{EVIL_SHOWN} (2)" in shown[0]
    assert any(f"●  {EVIL_SHOWN}" in line for line in shown)

    state.set_invitations(
        [{"id": "i1", "room_id": "r1", "room_name": EVIL, "inviter_name": "b\x00b"}]
    )
    invitations = InvitationsOverlay(RecordingController())
    invitations.update(state)
    shown = render_text(invitations, 70, 6)
    assert f"│ #{EVIL_SHOWN}" in shown[1] and "from b␀b" in shown[2]

    state.connection.state = "online"
    bar = StatusBar()
    bar.update(state)
    assert f"│ #{EVIL_SHOWN} │" in render_text_flow(bar, 120)
    assert escaped_runs(bar, (120,)) == ["U+202E", "␊", "␛", "␇"]


def test_notices_and_login_errors_show_marks(state: ClientState) -> None:
    state.notify("Could not join: \x1b[2J\u202egone\nfake", "error")
    notice = NoticeLine()
    notice.update(state)
    assert render_text_flow(notice, 60) == f"{' Could not join: ␛[2JU+202Egone␊fake':<60}"
    login = LoginView(RecordingController(), "127.0.0.1:8080")
    login.update(state)
    assert "Could not join: ␛[2JU+202Egone" in "\n".join(render_text(login, 70, 20))
