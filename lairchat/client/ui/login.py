"""The login and registration screen (``F1`` switches between them).

The server address is an editable field, as in the original: people often start the
client first and only then decide where to go. It holds the address the real-time
traffic goes to: ``--server`` over TCP, the ``ws(s)://`` URL with ``--websocket``.
``Tab``/``Enter`` move to the next field, ``Enter`` on the password (or on the
two-factor code, once the server asked for one) submits. The
fields take the shell's line-editing keys (``Ctrl+U`` clears what is before the
cursor, see ``editing.py``).
"""

from __future__ import annotations

import urwid

from lairchat.client import commands as c
from lairchat.client.state import ClientState
from lairchat.client.ui.base import Controller
from lairchat.client.ui.editing import line_edit_key
from lairchat.client.ui.safeedit import SafeEdit
from lairchat.client.ui.safetext import SafeLineBox, SafeText

__all__ = ["Field", "LoginView"]

BANNER = "L A I R   C H A T"
LABEL_WIDTH = 12


class Field:
    """A labelled line of a form (the login's, the password form's), ``▸`` marking
    the one with the cursor."""

    def __init__(self, label: str, mask: str | None = None) -> None:
        self.name = label
        self.label = SafeText("  " + label)
        self.edit = SafeEdit("", mask=mask)
        self.attr = urwid.AttrMap(self.edit, "field", "field_focus")
        self.row = urwid.Columns([(LABEL_WIDTH, self.label), self.attr])

    def mark(self, focused: bool) -> None:
        """A visible marker too, for terminals (and screen captures) without colour."""
        self.label.set_text(("author_me", "▸ " + self.name) if focused else "  " + self.name)
        self.attr.set_attr_map({None: "field_focus" if focused else "field"})


#: Characters of a refusal shown in the box: room for the longest of the client's
#: own (a TLS failure naming a --ca-file path), not for a server's essay.
MESSAGE_MAX = 600


class LoginView(urwid.WidgetWrap):
    def __init__(self, controller: Controller, server: str) -> None:
        self.controller = controller
        self.registering = False
        self.server = Field("Server")
        self.server.edit.set_edit_text(server)
        self.username = Field("Username")
        self.email = Field("Email")
        self.password = Field("Password", mask="*")
        #: Shown once the server asked for the second factor (:meth:`ask_code`).
        self.code = Field("Code")
        self.asking_code = False
        self.button = urwid.AttrMap(SafeText("[ Login ]", align="center"), "button")
        self.message = SafeText("", align="center")
        self.hint = SafeText("", align="center")
        self.pile = urwid.Pile([])
        self.box = SafeLineBox(self.pile, title="Login")
        body = urwid.Filler(
            urwid.Padding(self.box, align="center", width=("relative", 60), min_width=44),
            valign="middle",
        )
        super().__init__(body)
        self._focus = 1
        self._error = ""
        self._layout()

    # -- fields ------------------------------------------------------------------------

    def _fields(self) -> list[Field]:
        fields = [self.server, self.username]
        if self.registering:
            fields.append(self.email)
        fields.append(self.password)
        if self.asking_code and not self.registering:
            fields.append(self.code)
        return fields

    def _layout(self) -> None:
        rows: list[urwid.Widget] = [
            SafeText(("banner", BANNER), align="center"),
            urwid.Divider(),
        ]
        rows += [f.row for f in self._fields()]
        rows += [urwid.Divider(), self.button, urwid.Divider(), self.message, self.hint]
        self.pile.contents = [(w, self.pile.options()) for w in rows]
        self.box.set_title("Register - new account" if self.registering else "Login")
        if self.registering:
            keys = "Tab/Enter: next field · F1/Esc: back to Login"
        else:
            keys = "Tab/Enter: next field · F1: Register · Esc: quit"
        self.hint.set_text(("hint", keys))
        self._apply_focus()

    def _apply_focus(self) -> None:
        fields = self._fields()
        self._focus %= len(fields) + 1
        for i, f in enumerate(fields):
            f.mark(i == self._focus)
        on_button = self._focus == len(fields)
        self.button.set_attr_map({None: "button_focus" if on_button else "button"})
        label = "Create account" if self.registering else "Login"
        self.button.original_widget.set_text(f"▸ [ {label} ] ◂" if on_button else f"[ {label} ]")
        target = 2 + (self._focus if not on_button else len(fields) + 1)
        self.pile.focus_position = target
        if not on_button:
            field = fields[self._focus]
            field.row.focus_position = 1
            field.edit.set_edit_pos(len(field.edit.edit_text))

    def focus_field(self, name: str) -> None:
        names = [f.name.lower() for f in self._fields()]
        self._focus = names.index(name) if name in names else len(names)
        self._apply_focus()

    def toggle_register(self) -> None:
        self.registering = not self.registering
        self._focus = 1
        self._layout()

    # -- state -------------------------------------------------------------------------

    def update(self, state: ClientState, activity: str = "") -> None:
        """Show what is going on, or the last error until the user tries again
        (notices fade; a reason for failing to log in should not)."""
        notice = state.latest_notice()
        if notice is not None and notice.level == "error":
            # The box must keep its keys on screen: a long refusal (a foreign
            # server's, or a hostile one's) is cut; the notice line has it too.
            text = notice.text
            self._error = text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"
        if activity:
            self.message.set_text(("notice_info", activity))
        elif self._error:
            self.message.set_text(("notice_error", self._error))
        else:
            self.message.set_text("")

    def clear_password(self) -> None:
        """After a login (and at sign-out): no password, and no code asked."""
        self.password.edit.set_edit_text("")
        self.code.edit.set_edit_text("")
        if self.asking_code:
            self.asking_code = False
            self._layout()

    def ask_code(self) -> None:
        """The server wants the second factor (``totp_required``): a Code field under
        the password, with the cursor in it; Enter there logs in with both."""
        self.asking_code = True
        self.code.edit.set_edit_text("")
        self._layout()
        self.focus_field("code")

    def retry_code(self) -> None:
        """A code refused (wrong, or used already): empty, for the next one."""
        self.code.edit.set_edit_text("")
        self.focus_field("code")

    def retry_password(self) -> None:
        """The server refused the password: empty the field and put the cursor there,
        so that typing it again replaces the rejected one instead of being appended
        to it (a second failure would count toward the server's login lockout)."""
        self.clear_password()
        self.focus_field("password")

    # -- keys ------------------------------------------------------------------------

    def _submit(self) -> None:
        self._error = ""
        server = self.server.edit.edit_text.strip()
        username = self.username.edit.edit_text.strip()
        password = self.password.edit.edit_text
        email = self.email.edit.edit_text.strip()
        code = self.code.edit.edit_text.strip() if self.code in self._fields() else None
        missing = [
            name
            for name, value in (
                ("server", server),
                ("username", username),
                ("email", email if self.registering else "x"),
                ("password", password),
                ("code", "x" if code is None else code),
            )
            if not value
        ]
        if missing:
            self.controller.dispatch(c.CommandError(f"Please fill in: {', '.join(missing)}"))
            self.focus_field(missing[0])
            return
        if self.registering:
            self.controller.dispatch(c.Register(server, username, email, password))
        else:
            self.controller.dispatch(c.Login(server, username, password, code))

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        fields = self._fields()
        on_button = self._focus == len(fields)
        if key == "esc":
            # From the registration form, back to logging in (what Esc does in the
            # client's other forms), not out of the program with the fields typed.
            if self.registering:
                self.toggle_register()
            else:
                self.controller.dispatch(c.Quit())
            return None
        if key in ("f1", "ctrl r"):
            self.toggle_register()
            return None
        if key in ("tab", "down"):
            self._focus += 1
            self._apply_focus()
            return None
        if key in ("shift tab", "up"):
            self._focus -= 1
            self._apply_focus()
            return None
        if key == "enter":
            if on_button or fields[self._focus] is fields[-1]:
                self._submit()
            else:
                self._focus += 1
                self._apply_focus()
            return None
        if on_button:
            if key == " ":
                self._submit()
            return None
        edit = fields[self._focus].edit
        if not line_edit_key(edit, key):
            edit.keypress((40,), key)
        return None
