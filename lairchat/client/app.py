"""The controller: user actions in, network calls out, answers into the state.

Everything that waits is a coroutine run with ``ensureDeferred`` on the one reactor
(no threads). Every outcome lands in :class:`~lairchat.client.state.ClientState`, then
the view is redrawn. Failures are turned into notices here, in one place: a refusal
by the server shows its message, a lost session sends the user back to the login
screen, and anything unexpected is logged with its traceback and shown as a short
line — never printed on the terminal.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from lairchat.client import commands as c
from lairchat.client.actions import ActionsMixin
from lairchat.client.bell import BELL_GAP, Bell
from lairchat.client.config import ClientConfig, derive_http_url
from lairchat.client.export import ExportFile
from lairchat.client.invitecodes import InviteCodeMixin
from lairchat.client.net.errors import ServerError, unsupported
from lairchat.client.net.http import HttpApi
from lairchat.client.net.link import Link, Opener
from lairchat.client.roomadmin import RoomAdminMixin
from lairchat.client.state import HOME, ClientState, ConvKey
from lairchat.client.twofactor import TwoFactorMixin
from lairchat.client.ui.overlays import (
    ConfirmDialog,
    DeleteAccountOverlay,
    ExportOverlay,
    FormOverlay,
    HelpOverlay,
    InvitationsOverlay,
    MembersOverlay,
    PasswordOverlay,
    PinsOverlay,
    RoomInvitationsOverlay,
    SearchOverlay,
    SessionsOverlay,
)
from lairchat.client.ui.root import RootView

__all__ = ["App", "default_opener"]

log = logging.getLogger(__name__)

#: Refusals of the password itself: the login screen empties the field for a retry.
PASSWORD_REFUSED = frozenset({"invalid_credentials", "account_locked", "password_too_weak"})
#: What the login screen says when the server asks for the second factor.
CODE_ASKED = "Two-factor sign-in: type the code from your authenticator app (or a recovery code)"
#: What the deletion's and the export's forms say when the server asks for it.
CODE_NEEDED = (
    "two-factor sign-in is on: type your password again, and a code from your"
    " authenticator app (or a recovery code)"
)


def default_opener(reactor: Any, config: ClientConfig) -> Opener:
    """TCP to ``--server`` (TLS with ``--tls``), or WebSocket next to the REST API
    with ``--websocket``."""
    if config.websocket:
        from lairchat.client.net.ws import ws_opener

        return ws_opener(reactor, config.ws_url, trust=config.trust)
    from lairchat.client.net.tcp import tcp_opener

    return tcp_opener(reactor, config.host, config.port, tls=config.tls, trust=config.trust)


class App(ActionsMixin, RoomAdminMixin, InviteCodeMixin, TwoFactorMixin):
    """Wires the network, the state and the view together."""

    def __init__(
        self,
        config: ClientConfig,
        reactor: Any,
        *,
        api_factory: Callable[[ClientConfig], Any] | None = None,
        opener_factory: Callable[[ClientConfig], Opener] | None = None,
        on_exit: Callable[[], None] | None = None,
        clipboard: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.reactor = reactor
        self._api_factory = api_factory or (
            lambda cfg: HttpApi(cfg.http_url, reactor, trust=cfg.trust)
        )
        self._opener_factory = opener_factory or (lambda cfg: default_opener(reactor, cfg))
        self._on_exit = on_exit or (lambda: reactor.stop())
        self._clipboard = clipboard or self._osc52
        self.api = self._api_factory(config)
        self.state = ClientState(clock=reactor.seconds)
        self._set_transport()
        self.link: Link | None = None
        self.ui = RootView(self.state, self, config.address)
        self.loop: Any = None
        self._draw_call: Any = None
        self._typing_sent: dict[ConvKey, float] = {}
        self._loading: set[ConvKey] = set()
        self._fetching_users: set[str] = set()
        #: Authors asked about since the last (re)connection (see ``_learn_authors``).
        self._asked_users: set[str] = set()
        self._busy = False
        self._quitting = False
        #: The room lists being fetched after an event, and whether to again after.
        self._rooms_refresh: Deferred | None = None
        self._rooms_again = False
        self._ticker = LoopingCall(self._tick)
        self._ticker.clock = reactor
        self.bell = Bell(reactor.seconds, self._beep, enabled=config.bell)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, loop: Any = None) -> None:
        """Attach the urwid main loop (None in tests) and start the timers."""
        self.loop = loop
        self._ticker.start(1.0, now=False)
        if loop is not None:
            self.reactor.callLater(0, self._take_ctrl_c)
        self.refresh()

    def _take_ctrl_c(self) -> None:
        """Let Ctrl+C arrive as a key (quit and log out) rather than as SIGINT.

        Called once the screen has started, so urwid restores the terminal's
        setting when it stops."""
        try:
            self.loop.screen.tty_signal_keys(intr="undefined")
        except Exception as exc:  # not a tty, another screen class
            log.info("Ctrl+C stays a signal: %s", exc)

    def _set_transport(self) -> None:
        self.state.connection.transport = self.config.transport_name
        self.state.connection.encrypted = False

    def refresh(self) -> None:
        """Redraw from the state and paint the terminal, once per reactor turn.

        Laying the view out costs time in proportion to the conversation shown, so a
        burst of events read at once (a busy room, a flood of presence or typing) is
        laid out once, after the last of them, not once per event. Without a main
        loop (tests) the view is updated at once."""
        if self.loop is None:
            self._update_view()
        elif self._draw_call is None:
            self._draw_call = self.reactor.callLater(0, self._draw)

    def _update_view(self) -> None:
        """Lay the view out from the state. The conversation shown keeps only its
        newest lines while the reader is at them; scrolled up, it keeps what was
        paged in."""
        if self.ui.chat.pane.at_bottom:
            self.state.trim(self.state.current)
        self.ui.update()

    def _draw(self) -> None:
        self._draw_call = None
        try:
            self._update_view()
            self.loop.draw_screen()
        except Exception:
            log.exception("drawing failed")

    def _osc52(self, text: str) -> None:
        """Copy through the terminal (OSC 52): works over SSH and in tmux, no X needed."""
        if self.loop is None:
            raise RuntimeError("no terminal")
        payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
        self.loop.screen.write(f"\x1b]52;c;{payload}\x07")
        self.loop.screen.flush()

    def _beep(self) -> None:
        """BEL through urwid's screen (its output buffer, then flushed), as OSC 52 is
        sent: printed beside it, it could land inside an escape sequence being
        drawn. BEL moves no cursor, so the screen stays as drawn."""
        if self.loop is None:
            return
        self.loop.screen.write("\a")
        self.loop.screen.flush()

    def _tick(self) -> None:
        changed = self.state.expire()
        if self.state.connection.state == "waiting":
            changed = self._show_retry() or changed
        if changed:
            self.refresh()

    def _show_retry(self) -> bool:
        """``retry 3 in 7 s`` in the status bar, counting down each second rather than
        showing the delay as it was when the connection dropped. True if it changed."""
        if self.link is None:
            return False
        left = self.link.retry_left()
        detail = f"retry {self.link.backoff.attempts} in {left:.0f} s"
        changed = detail != self.state.connection.detail
        self.state.connection.detail = detail
        return changed

    def spawn(self, coro: Coroutine[Any, Any, Any], context: str = "") -> Deferred:
        """Run a coroutine; whatever it raises becomes a notice."""
        d = ensureDeferred(coro)
        d.addErrback(self._failed, context)
        d.addBoth(self._after)
        return d

    def _after(self, result: Any) -> Any:
        self.refresh()
        return result

    def _failed(self, failure: Failure, context: str = "") -> None:
        if failure.check(ServerError):
            self.server_error(failure.value, context)
            return
        log.error(
            "unexpected error%s: %s",
            f" ({context})" if context else "",
            failure.getTraceback(),
        )
        self.state.notify("Internal error (details in the log file)", "error")

    def server_error(self, error: ServerError, context: str = "") -> None:
        if error.session_lost and self.state.me is not None:
            self.session_lost(error)
            return
        prefix = f"{context}: " if context else ""
        self.state.notify(prefix + error.describe(), "error")

    # -- actions --------------------------------------------------------------------------

    def dispatch(self, action: c.Action | c.CommandError | None) -> None:
        try:
            self._dispatch(action)
        except Exception:
            log.exception("action %r failed", action)
            self.state.notify("Internal error (details in the log file)", "error")
        self.refresh()

    def _dispatch(self, action: c.Action | c.CommandError | None) -> None:
        state = self.state
        match action:
            case None:
                pass
            case c.CommandError(message=message):
                state.notify(message, "error")
            case c.Quit(confirm=True):
                self.ui.open_overlay(ConfirmDialog("Quit lairchat?", self.quit))
            case c.Quit():
                self.quit()
            case c.Login() | c.Register():
                self.spawn(self._login(action))
            case c.ShowHelp():
                self.ui.open_overlay(HelpOverlay())
            case c.ClearNotices():
                state.clear_notices()
            case c.Hint(text=text, level=level):
                state.notify(text, level)
            case _ if state.me is None:
                state.notify("Log in first", "error")
            case c.ShowRooms():
                state.screen = "rooms"
                self.spawn(self.refresh_rooms(), "Could not list rooms")
            case c.ShowChat():
                state.screen = "chat"
            case c.ShowInvitations():
                self.ui.open_overlay(InvitationsOverlay(self))
                self.spawn(self.refresh_invitations(), "Could not list invitations")
            case c.RefreshInvitations():
                self.spawn(self.refresh_invitations(), "Could not list invitations")
            case c.AcceptInvitation(invitation_id=inv_id):
                self.spawn(self._accept(inv_id), "Could not accept the invitation")
            case c.DeclineInvitation(invitation_id=inv_id):
                self.spawn(self._decline(inv_id), "Could not decline the invitation")
            case c.ShowMembers():
                if state.current[0] != "room":
                    state.notify("Open a room first (r)", "error")
                else:
                    self.ui.open_overlay(MembersOverlay(self))
                    self.spawn(self.load_members(state.current[1]), "Could not list members")
            case c.ShowRoomInvitations():
                if state.current[0] != "room":
                    state.notify("Open a room first (r)", "error")
                else:
                    state.room_invitations.pop(state.current[1], None)
                    self.ui.open_overlay(RoomInvitationsOverlay(self, state.current[1]))
                    self.list_room_invitations(state.current[1])
            case c.RefreshRoomInvitations(room_id=room_id):
                self.list_room_invitations(room_id)
            case c.RevokeInvitation():
                self.spawn(self._revoke(action), "Could not revoke the invitation")
            case c.ShowSessions():
                state.sessions = None
                self.ui.open_overlay(SessionsOverlay(self))
                self.spawn(self.refresh_sessions(), "Could not list your sessions")
            case c.RefreshSessions():
                self.spawn(self.refresh_sessions(), "Could not list your sessions")
            case c.EndSession():
                self.spawn(self._end_session(action), "Could not end the session")
            case c.ShowPasswordForm():
                self.ui.open_overlay(PasswordOverlay(self))
            case c.ChangePassword():
                self.spawn(self._change_password(action))
            case c.ShowDeleteAccountForm():
                if state.me is not None:
                    self.ui.open_overlay(
                        DeleteAccountOverlay(self, state.me.username, code=state.two_factor_on)
                    )
            case c.DeleteAccount():
                self.spawn(self._delete_account(action))
            case c.ShowExportForm(path=path, overwrite=overwrite):
                self._open_export_form(path, overwrite)
            case c.ExportData():
                self.spawn(self._export(action))
            case c.Reconnect():
                if self.link is not None:
                    self.link.reconnect_now()
            case c.SetBell(on=on):
                if on is not None:
                    self.bell.enabled = on
                state.notify(
                    f"Bell on: it rings for mentions and direct messages elsewhere"
                    f" (at most every {BELL_GAP:g} s)"
                    if self.bell.enabled
                    else "Bell off (/bell on to ring for mentions and direct messages)"
                )
            case c.SendMessage(text=text):
                self._send(text)
            case c.CreateRoom(name=name, private=private):
                self.spawn(self._create(name, private), "Could not create the room")
            case c.JoinRoom(room=room):
                self.spawn(self._join(room), "Could not join")
            case c.LeaveRoom():
                self.spawn(self._leave(), "Could not leave")
            case c.StartDM(username=username):
                self.spawn(self._start_dm(username))
            case c.Invite(username=username):
                self.spawn(self._invite(username), f"Could not invite {username}")
            case c.Kick(username=username):
                self.spawn(self._kick(username), f"Could not remove {username}")
            case c.SetRole(username=username, role=role):
                self.spawn(self._set_role(username, role), f"Could not change {username}'s role")
            case c.EnterInsert(prefill=prefill):  # from the palette
                state.screen = "chat"
                self.ui.chat.enter_insert(prefill)
            case c.Search():
                self._search(action)
                self.ui.open_overlay(SearchOverlay(self))
            case c.SearchOlder():
                self._search_older()
            case c.OpenConversation(key=key):
                self.spawn(self.open_conversation(key))
            case c.CopyLast():
                self._copy_last()
            case c.EditLast(text=text, message_id=message_id):
                self._edit_last(text, message_id)
            case c.DeleteLast():
                self._delete_last()
            case c.React(emoji=emoji, remove=remove):
                self._react(emoji, remove)
            case c.Pin():
                self._pin(action)
            case c.ShowPins():
                if state.current[0] != "room":
                    state.notify("Open a room first (r)", "error")
                else:
                    state.pins.pop(state.current[1], None)
                    self.ui.open_overlay(PinsOverlay(self, state.current[1]))
                    self.list_pins(state.current[1])
            case c.RefreshPins(room_id=room_id):
                self.list_pins(room_id)
            case c.RoomAdminAction():
                self.room_admin(action)
            case c.InviteCodeAction():
                self.invite_code_action(action)
            case c.TwoFactorAction():
                self.two_factor(action)
            case _:
                state.notify("Not available here", "error")

    # -- logging in and out ------------------------------------------------------------

    async def _login(self, action: c.Login | c.Register) -> None:
        if self._busy or self.state.me is not None:
            return
        try:
            config = self.config.with_address(action.server)
        except ValueError as exc:
            self.state.notify(f"Invalid server address: {exc}", "error")
            return
        if config != self.config:
            self.config = config
            self.api.close()
            self.api = self._api_factory(config)
            self._set_transport()
        self._busy = True
        registering = isinstance(action, c.Register)
        self.ui.activity = "Creating account…" if registering else "Logging in…"
        self.state.clear_notices()
        self.refresh()
        try:
            if isinstance(action, c.Register):
                data = await self.api.register(action.username, action.email, action.password)
            else:
                data = await self.api.login(action.username, action.password, action.totp)
        except ServerError as err:
            self._busy = False
            self.ui.activity = ""
            if err.code == "totp_required":
                # The password was right: the login screen asks for the code.
                self.state.notify(CODE_ASKED, "error")
                self.ui.login.ask_code()
                return
            what = "Registration failed" if registering else "Login failed"
            self.state.notify(f"{what}: {err.describe()}{self._hint(err)}", "error")
            if err.code == "invalid_totp":
                self.ui.login.retry_code()
            elif err.code in PASSWORD_REFUSED:
                self.ui.login.retry_password()
            return
        except BaseException:
            self._busy = False
            self.ui.activity = ""
            raise
        token = data.get("token")
        if not isinstance(token, str):
            self._busy = False
            self.ui.activity = ""
            self.state.notify("The server sent no token", "error")
            return
        self.ui.activity = f"Connecting ({self.config.transport_name})…"
        self.refresh()
        self.link = Link(
            self.reactor,
            self._opener_factory(self.config),
            token,
            self,
            encrypt=self.config.encrypt,
        )
        self.link.start()

    async def _change_password(self, action: c.ChangePassword) -> None:
        """``POST /auth/change-password``. The server ends the account's other
        sessions and keeps this one, so the token and the real-time link stay as they
        are."""
        request = self.api.change_password(action.current, action.new)
        if await self._form_request(PasswordOverlay, request, "Password not changed"):
            self.state.notify("Password changed; your other sessions have ended", "success")

    async def _delete_account(self, action: c.DeleteAccount) -> None:
        """``DELETE /users/me``: the account goes, and with it every session, this
        one's too. The server closes this client's link as well (with "Session
        ended: the account was deleted"), which may arrive before the answer and
        sign out first; either way the answer ends on the login screen, saying so,
        the token forgotten (unless someone signed in again meanwhile). A server
        without the route says so."""
        token = self.api.token
        request = self.api.delete_account(action.password, action.code)
        done = await self._form_request(
            DeleteAccountOverlay,
            request,
            "Account not deleted",
            lambda err: (
                self._code_asked(err)
                or (
                    "This server cannot delete accounts"
                    if unsupported(err.status, err.code)
                    else err.describe()
                )
            ),
        )
        if done and self.api.token in (token, None):
            self._signed_out("Your account was deleted", "success")

    def _open_export_form(self, path: str, overwrite: bool) -> None:
        """The password form of ``/export PATH``, unless PATH cannot be written to
        (an existing file without ``/export!``): said at once, before a password."""
        try:
            ExportFile(path, overwrite).check()
        except ServerError as err:
            self.state.notify(f"Export not started: {err.describe()}", "error")
            return
        self.ui.open_overlay(ExportOverlay(self, path, overwrite, self.state.two_factor_on))

    async def _export(self, action: c.ExportData) -> None:
        """``POST /users/me/export``, saved to the file as it arrives (ExportFile),
        then how many bytes and messages; a cut-off export is an error and leaves no
        file. A server without the route says so."""
        target = ExportFile(action.path, action.overwrite)
        done = await self._form_request(
            ExportOverlay,
            self._save_export(action.password, target, action.code),
            "Export failed",
            lambda err: (
                self._code_asked(err)
                or (
                    "This server cannot export your data"
                    if unsupported(err.status, err.code)
                    else err.describe()
                )
            ),
        )
        if done:
            self.state.notify(
                f"Your data is saved in {target.path}: {target.size:,} bytes,"
                f" {target.messages:,} messages",
                "success",
            )

    async def _save_export(self, password: str, target: ExportFile, code: str | None) -> None:
        try:
            target.check()
            await self.api.export_data(password, target.write, code)
            target.finish()
        except BaseException:
            target.abort()
            raise

    def _code_asked(self, err: ServerError) -> str | None:
        """For a refusal of the account's deletion or export: ``totp_required`` (two-
        factor sign-in is on, maybe turned on elsewhere since this client looked) puts
        a Code field in the open form, and says so; None for any other refusal."""
        if err.code != "totp_required":
            return None
        self.state.two_factor_on = True
        form = self.ui.overlay
        if isinstance(form, FormOverlay):
            form.ask_code()
        return CODE_NEEDED

    async def _form_request(
        self,
        form_type: type[FormOverlay],
        request: Coroutine[Any, Any, None],
        failed: str,
        reason: Callable[[ServerError], str] = ServerError.describe,
    ) -> bool:
        """The request a form sent: True once done. A refusal is shown in the form
        (when still open) and as a notice, after ``failed``, in the server's words; a
        lost session goes back to the login screen as everywhere."""
        refusal: str | None = f"{failed}: internal error (details in the log file)"
        try:
            await request
            refusal = None
        except ServerError as err:
            if err.session_lost:
                raise
            refusal = f"{failed}: {reason(err)}"
        finally:
            form = self.ui.overlay
            if isinstance(form, form_type):
                form.answered(refusal)
        if refusal is not None:
            self.state.notify(refusal, "error")
        return refusal is None

    def session_lost(self, error: ServerError) -> None:
        """The token is no good any more: back to the login screen, saying why."""
        self._signed_out(error.describe(), "error")

    def _signed_out(self, text: str, level: str) -> None:
        """Back to the login screen, the link stopped and the token forgotten."""
        if self.link is not None:
            self.link.stop()
            self.link = None
        self.api.token = None
        self._busy = False
        self.ui.activity = ""
        self.ui.close_overlay()
        self.state.reset()
        self._set_transport()
        self.state.notify(text, level)

    async def _end_session(self, action: c.EndSession) -> None:
        """``DELETE /auth/sessions/{id}``: that session's tokens stop working and its
        live connections close. Ending this client's own is a logout: back to the
        login screen (its link is closed by the server too). An id the server no
        longer knows (ended meanwhile) is ``not_found``, in the server's words, and
        the list is fetched again."""
        try:
            await self.api.end_session(action.session_id)
        except ServerError as err:
            if err.code == "not_found":
                self.spawn(self.refresh_sessions(), "Could not list your sessions")
            raise
        if action.current:
            if self.state.me is not None:  # not already signed out by the link
                self._signed_out("You ended this session: logged out", "success")
            return
        self.state.remove_session(action.session_id)
        self.state.notify("Session ended: its device is signed out", "success")

    def quit(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        self.ui.activity = "Logging out…"
        self.refresh()
        if self.link is not None:
            self.link.stop()
        if self._ticker.running:
            self._ticker.stop()
        d = ensureDeferred(self._sign_off(self.state.current))
        d.addTimeout(2.0, self.reactor)
        d.addErrback(lambda f: log.info("logout at exit failed: %s", f.getErrorMessage()))
        d.addBoth(lambda _: self._exit())

    async def _sign_off(self, key: ConvKey) -> None:
        """Mark the shown conversation read, then end the session (in that order:
        the read marker needs the session)."""
        if not self.api.token:
            return
        newest = self._newest_shown(key)
        if newest is not None:
            try:
                await self.api.mark_read(key[0], key[1], newest)
            except Exception as exc:
                log.info("read marker at exit: %s", exc)
        await self.api.logout()

    def _exit(self) -> None:
        try:
            self.api.close()
        finally:
            self._on_exit()

    # -- the link's listener ---------------------------------------------------------

    def link_state(self, state: str, detail: str) -> None:
        self.state.connection.state = state
        self.state.connection.detail = detail
        if state == "waiting" and self.link is not None:
            self._show_retry()
            if self.state.me is not None:
                self.state.notify(f"Connection lost ({detail}); reconnecting…", "warning")
        self.refresh()

    def link_ready(self, user: dict[str, Any], encrypted: bool, reconnected: bool) -> None:
        self.state.connection.encrypted = encrypted
        self._asked_users.clear()
        self._busy = False
        self.ui.activity = ""
        if reconnected:
            self.state.notify("Reconnected", "success")
            self.state.system("Reconnected to the server", subject="connection")
            self.state.mark_stale()
            self.spawn(self._after_reconnect())
        else:
            self.state.logged_in(user)
            self.ui.login.clear_password()
            name = self.state.me.username if self.state.me else "?"
            self.state.system(f"Welcome, {name}! Press r to pick a room, ? for help.", HOME)
            self.spawn(self._after_login())
        self.refresh()

    def link_failed(self, error: ServerError) -> None:
        self.link = None
        self._busy = False
        self.ui.activity = ""
        if self.state.me is not None:
            self.session_lost(error)
        else:
            self._end_unused_session()
            if error.code == "unreachable":
                text = f"Cannot connect to {self.config.address} ({error.describe()})"
            else:
                text = f"Could not sign in: {error.describe()}{self._hint(error)}"
            self.state.notify(text, "error")
        self.refresh()

    def _rooms_changed(self) -> None:
        """An event says our rooms changed (joined elsewhere): list them again, once
        at a time. Each such event fetched the lists (up to 20 requests) at once, so
        a burst of them from the server was a burst of requests back; now one runs,
        and one more after it if more news came meanwhile."""
        if self._rooms_refresh is not None:
            self._rooms_again = True
            return
        self._rooms_again = False
        d = self._rooms_refresh = self.spawn(self.refresh_rooms())

        def done(_: Any) -> None:
            self._rooms_refresh = None
            if self._rooms_again:
                self._rooms_changed()

        d.addBoth(done)

    def _end_unused_session(self) -> None:
        """The login made a session that the real-time link never got to use: end
        it on the server, as quitting does, rather than leave its token valid until
        it expires (one more with every retry)."""
        if not self.api.token:
            return
        d = ensureDeferred(self.api.logout())
        d.addErrback(lambda f: log.info("ending an unused session: %s", f.getErrorMessage()))

    def _hint(self, error: ServerError) -> str:
        """What to try when a plain TCP connection met a silent server (a TLS port
        says nothing until it hears a TLS greeting), or when the REST API was not at
        the address derived from the server's (its port + 2, as the original client
        derives it): the HTTP port given as the server's is the usual slip."""
        config = self.config
        if error.code == "no_greeting" and config.transport_name == "TCP":
            return " (a TLS port? then use --tls)"
        derived = derive_http_url(config.host, config.port, config.tls)
        if (
            error.code == "unreachable"
            and not config.websocket
            and config.port != ClientConfig.port  # the default: a server not running
            and config.http_url == derived
        ):
            return (
                f" (is {config.port} the server's HTTP port? The API is looked for at"
                f" port + 2, {config.port + 2}: give the TCP port, 8080 by default, or"
                " the API's address with --http-url)"
            )
        return ""

    def link_event(self, event: dict[str, Any]) -> None:
        """An event from the server. One that does not have the shape its type says
        is logged and left: raised out of here, it dropped the connection. One that
        calls for attention (a mention or a DM not shown: ``state.alerts`` grew)
        rings the bell; only events do, so history pages never ring."""
        alerts = self.state.alerts
        try:
            followups = self.state.apply_event(event)
            message = event.get("message")
            if event.get("type") == "message_received" and isinstance(message, dict):
                author = str(message.get("author", ""))
                self._learn_authors(self.state.key_for_message(message), {author})
        except Exception:
            log.exception("could not apply event %s", event.get("type"))
            return
        for kind, arg in followups:
            if kind == "rooms":
                self._rooms_changed()
            elif kind == "members":
                self.spawn(self.load_members(arg))
        if self.state.alerts > alerts:
            self.bell.ring()
        self.refresh()
