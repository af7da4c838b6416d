"""Text fields that show what they hold (lairchat/client/ui/safeedit.py): hidden
characters and controls typed, pasted or put into a field are drawn as the same marks
as the server's text, over the real text, with the cursor where it is in that text."""

from __future__ import annotations

import random

import pytest
import urwid

from lairchat.client import commands as c
from lairchat.client.state import ClientState
from lairchat.client.testing import RecordingController, message, render_text
from lairchat.client.ui import safetext
from lairchat.client.ui.chat import ChatView
from lairchat.client.ui.login import LoginView
from lairchat.client.ui.overlays import PaletteOverlay
from lairchat.client.ui.rooms import RoomsView
from lairchat.client.ui.safeedit import SafeEdit
from lairchat.client.ui.safetext import Shown, reshown, shown_text
from tests.unit.test_client_safetext import ENGLAND, escaped_runs
from tests.unit.test_client_widgets import ME, ROOM, alice_and_bob, typed_into_chat

#: A zero-width space, a right-to-left override, a newline, ESC, a Hangul filler, an
#: accent on the e, and the flag of England (kept whole).
TEXT = f"a\u200bb\u202e\n\x1bce\u0301\u3164 {ENGLAND}!"
SHOWN = f"aU+200BbU+202E\n␛ce\u0301U+3164 {ENGLAND}!"


def test_the_field_shows_marks_and_holds_the_real_text() -> None:
    edit = SafeEdit("> ", TEXT, multiline=True)
    assert edit.edit_text == TEXT
    assert edit.get_text()[0] == f"> {SHOWN}"
    assert escaped_runs(edit, (30,)) == ["U+200B", "U+202E", "␛", "U+3164"]
    one_row = SafeEdit("", "x\ny\u2060")  # not multiline: a newline is a mark too
    assert one_row.get_text()[0] == "x␊yU+2060"
    assert SafeEdit("", "plain").get_text() == ("plain", [])


@pytest.mark.parametrize("cols", [8, 12, 40])
def test_the_cursor_is_drawn_where_it_is_in_the_real_text(cols: int) -> None:
    """At every position of the real text, the cursor is where an ``urwid.Edit``
    holding the shown text puts it at the same place in that text, wrapped or not."""
    edit = SafeEdit("> ", TEXT, multiline=True)
    plain = urwid.Edit("> ", f"{SHOWN}", multiline=True)
    seen = shown_text(TEXT)
    for pos in range(len(TEXT) + 1):
        edit.set_edit_pos(pos)
        if edit.edit_pos != pos:
            continue  # inside a cluster: the accent, the flag's tags
        plain.set_edit_pos(seen.shown_pos(pos))
        assert edit.get_cursor_coords((cols,)) == plain.get_cursor_coords((cols,)), pos
        assert edit.render((cols,), focus=True).text == plain.render((cols,), focus=True).text


def test_the_keys_act_on_the_real_text() -> None:
    """Right and left step over a mark whole, Backspace deletes the character it
    stands for, and Up, Down, Home and End land on an edge of a mark."""
    size = (10,)
    edit = SafeEdit("", "ab\u200bcd", multiline=True)
    edit.set_edit_pos(0)
    for expected in [1, 2, 3, 4]:
        edit.keypress(size, "right")
        assert edit.edit_pos == expected
    assert edit.get_cursor_coords(size) == (9, 0)  # after "abU+200Bc"
    edit.keypress(size, "left")
    edit.keypress(size, "backspace")
    assert (edit.edit_text, edit.edit_pos) == ("abcd", 2)

    edit = SafeEdit("", "\u2066\u2066\u2066xyz\nabcdefghijklmnop", multiline=True)
    edit.set_edit_pos(len(edit.edit_text))
    edit.keypress((40,), "up")  # from column 16 to "U+2066U+2066U+2066xyz"[16:]
    assert edit.edit_pos == 3 and edit.get_cursor_coords((40,)) == (18, 0)
    edit.keypress((40,), "home")
    assert edit.edit_pos == 0
    edit.move_cursor_to_coords((40,), 8, 0)  # in the second mark: its nearer edge
    assert edit.edit_pos == 1
    edit.move_cursor_to_coords((40,), 10, 0)
    assert edit.edit_pos == 2
    edit.keypress((40,), "down")
    assert edit.edit_pos == len("\u2066\u2066\u2066xyz\n") + 10


def test_a_masked_field_shows_its_mask_one_per_character() -> None:
    """The password: hidden characters are stars as any other, so they are seen."""
    edit = SafeEdit("", "pa\u200bss", mask="*")
    assert edit.get_text() == ("*****", [])
    assert edit.get_cursor_coords((20,)) == (5, 0)


def test_wrap_modes_that_scroll_to_the_cursor_are_refused() -> None:
    with pytest.raises(ValueError, match="wrap="):
        SafeEdit("", "x", wrap="clip").render((10,), focus=True)


@pytest.fixture
def state() -> ClientState:
    s = alice_and_bob()
    s.open(("room", ROOM))
    return s


def test_a_pasted_hidden_character_is_seen_in_the_message_and_sent(state: ClientState) -> None:
    ctl = RecordingController()
    size = (100, 12)
    view = typed_into_chat(state, ctl, "pay\u200b\u2060 bob", size)
    lines = render_text(view, *size)
    assert any("│payU+200BU+2060 bob" in line for line in lines)
    assert escaped_runs(view, size) == ["U+200BU+2060"]
    assert view.edit.get_cursor_coords((72,)) == (19, 0)
    view.keypress(size, "enter")
    assert ctl.actions == [c.SendMessage("pay\u200b\u2060 bob")]


def test_edit_of_a_message_with_controls_shows_them(state: ClientState) -> None:
    """``e`` puts the last message into the field: one sent from another client may
    hold controls, which the field shows rather than sends unseen."""
    state.apply_history(("room", ROOM), [message("m1", ME, "ok\x1b[2J\u202e", room_id=ROOM)], False)
    view = ChatView(RecordingController())
    view.update(state)
    view.keypress((100, 12), "e")
    assert view.edit.edit_text == "ok\x1b[2J\u202e"
    assert any("│ok␛[2JU+202E" in line for line in render_text(view, 100, 12))


def test_every_field_shows_marks(state: ClientState) -> None:
    ctl = RecordingController()
    login = LoginView(ctl, "127.0.0.1:8080")
    for key in "al\u200bice":
        login.keypress((80, 20), key)
    assert any("alU+200Bice" in line for line in render_text(login, 80, 20))
    rooms = RoomsView(ctl)
    rooms.update(state)
    for key in "cla\u00adb":
        rooms.keypress((60, 10), key)
    assert "New room name: laU+00ADb" in "\n".join(render_text(rooms, 60, 10))
    palette = PaletteOverlay(ctl)
    palette.keypress((60, 14), "\ufeff")
    assert "> U+FEFF" in "\n".join(render_text(palette, 60, 14))


def test_marks_worked_out_again_from_a_change_are_those_of_the_whole_text() -> None:
    """The field works its marks out again only from where its text changed
    (``reshown``): at every step of random edits (typing, pasting and deleting
    anywhere, in and around hidden characters and the flag's tag sequence) the
    result is what marking the whole text gives."""
    rng = random.Random(6)
    alphabet = ["a", " ", "\n", "\x1b", "\u200b", "\u202e", "e\u0301", ENGLAND, "\U0001f3f4"]
    alphabet += ["\U000e0067", "\U000e007f", "\U000e0062"]
    for newlines in (True, False):
        text = ""
        seen = shown_text(text, newlines)
        for _ in range(400):
            at = rng.randint(0, len(text))
            if text and rng.random() < 0.3:
                end = min(len(text), at + rng.randint(1, 4))
                new = text[:at] + text[end:]
            else:
                piece = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3)))
                new = text[:at] + piece + text[at:]
            seen = reshown(text, seen, new, newlines)
            assert seen == shown_text(new, newlines), repr(new)
            text = new


def test_a_long_paste_marks_each_character_once(
    state: ClientState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paste reaches the field as a key per character, and the field marked its
    whole text again at each: 20,000 characters took seconds (minutes with hidden
    characters among them). Counted as characters scanned, a paste now costs about
    its own length rather than its square."""
    scanned = [0]

    def counting(text: str, newlines: bool = True) -> Shown:
        scanned[0] += len(text)
        return shown_text(text, newlines)

    monkeypatch.setattr(safetext, "shown_text", counting)
    paste = ("word \u200b" * 4000)[:20_000]
    view = typed_into_chat(state, RecordingController(), paste)
    assert view.edit.edit_text == paste
    assert view.edit.shown() == shown_text(paste)
    assert scanned[0] < 3 * len(paste)  # whole-field marking: 200,000,000
