"""What the user typed, as actions: slash commands and normal-mode keys.

Pure functions from text or key names (urwid's spelling: ``"j"``, ``"esc"``,
``"ctrl c"``) to small immutable action objects, so the whole vocabulary of the client
is tested without a terminal and the controller has one ``match`` to write. The keys
follow the original client: vim-like normal mode, ``i`` to type, ``Esc`` to stop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from lairchat.client.search import split_filters

__all__ = [
    "COMMANDS",
    "Action",
    "CommandError",
    "PALETTE",
    "fuzzy_filter",
    "normal_key",
    "panel_key",
    "parse_input",
]


class Action:
    """Base of every action (a marker for type hints)."""


@dataclass(frozen=True)
class Quit(Action):
    confirm: bool = False


@dataclass(frozen=True)
class ShowHelp(Action):
    pass


@dataclass(frozen=True)
class ShowRooms(Action):
    pass


@dataclass(frozen=True)
class ShowInvitations(Action):
    pass


@dataclass(frozen=True)
class ShowMembers(Action):
    pass


@dataclass(frozen=True)
class Reconnect(Action):
    pass


@dataclass(frozen=True)
class ClearNotices(Action):
    pass


@dataclass(frozen=True)
class EnterInsert(Action):
    prefill: str = ""


@dataclass(frozen=True)
class Hint(Action):
    """A key that does nothing where it was pressed, or not what it usually does: say
    what the user may have meant (a notice of ``level``)."""

    text: str
    level: str = "info"


@dataclass(frozen=True)
class EditPrompt(Action):
    """Edit your last message: the input line holds its text until Enter or Esc."""


@dataclass(frozen=True)
class CopyLast(Action):
    """Copy the newest message of the conversation to the clipboard."""


@dataclass(frozen=True)
class ToggleFocus(Action):
    pass


@dataclass(frozen=True)
class Scroll(Action):
    to: Literal["up", "down", "top", "bottom", "page_up", "page_down"]


@dataclass(frozen=True)
class SendMessage(Action):
    text: str


@dataclass(frozen=True)
class CreateRoom(Action):
    name: str
    private: bool = False


@dataclass(frozen=True)
class JoinRoom(Action):
    room: str


@dataclass(frozen=True)
class LeaveRoom(Action):
    pass


@dataclass(frozen=True)
class StartDM(Action):
    username: str


@dataclass(frozen=True)
class Invite(Action):
    username: str


@dataclass(frozen=True)
class Kick(Action):
    username: str


@dataclass(frozen=True)
class SetRole(Action):
    username: str
    role: Literal["owner", "moderator", "member"]


@dataclass(frozen=True)
class EditLast(Action):
    """Replace a message of yours with ``text``: the one ``message_id`` names (``e``),
    or the newest of the conversation (``/edit``)."""

    text: str
    message_id: str | None = None


@dataclass(frozen=True)
class DeleteLast(Action):
    pass


@dataclass(frozen=True)
class React(Action):
    """``/react EMOJI`` on the conversation's newest message; ``/unreact EMOJI``
    (``remove``) on the newest carrying our EMOJI (lairchat.client.reactions)."""

    emoji: str
    remove: bool = False


@dataclass(frozen=True)
class Pin(Action):
    """``/pin [N]`` (``/unpin [N]``: ``remove``) on the ``n``-th newest message of the
    room shown, 1 the newest (lairchat.client.pins); from the ``/pins`` box, the
    message chosen there (``message_id``)."""

    n: int = 1
    remove: bool = False
    message_id: str | None = None


@dataclass(frozen=True)
class ShowPins(Action):
    """``/pins``: the room's pinned messages, newest pin first."""


@dataclass(frozen=True)
class RefreshPins(Action):
    room_id: str


@dataclass(frozen=True)
class PanelMove(Action):
    step: int


@dataclass(frozen=True)
class PanelOpen(Action):
    """Start a DM with the selected person."""


@dataclass(frozen=True)
class PanelInvite(Action):
    """Invite the selected person to the shown room."""


@dataclass(frozen=True)
class ShowChat(Action):
    """Back from the room list to the conversation."""


@dataclass(frozen=True)
class RefreshInvitations(Action):
    pass


@dataclass(frozen=True)
class AcceptInvitation(Action):
    invitation_id: str


@dataclass(frozen=True)
class DeclineInvitation(Action):
    invitation_id: str


@dataclass(frozen=True)
class ShowRoomInvitations(Action):
    """The room's pending invitations, to revoke one (its owners and moderators)."""


@dataclass(frozen=True)
class RefreshRoomInvitations(Action):
    room_id: str


@dataclass(frozen=True)
class RevokeInvitation(Action):
    invitation_id: str
    #: The room it invites to, whose list is fetched again if it was refused.
    room_id: str


@dataclass(frozen=True)
class ShowSessions(Action):
    """The account's sessions, to end one (``/sessions``)."""


@dataclass(frozen=True)
class RefreshSessions(Action):
    pass


@dataclass(frozen=True)
class EndSession(Action):
    session_id: str
    #: This client's own session: ending it is a logout.
    current: bool = False


@dataclass(frozen=True)
class Login(Action):
    server: str
    username: str
    password: str = field(repr=False)  # an action that fails is logged
    #: The second factor, once the server asked for it (``totp_required``): a code
    #: from the authenticator app, or a recovery code.
    totp: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Register(Action):
    server: str
    username: str
    email: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class ShowPasswordForm(Action):
    """Open the form that changes the password (``/password``)."""


@dataclass(frozen=True)
class ChangePassword(Action):
    """Change the password; the form's fields were emptied when it was made, and the
    strings go with it once the request ends. No password is in its ``repr`` (an
    action that fails is logged with it)."""

    current: str = field(repr=False)
    new: str = field(repr=False)


@dataclass(frozen=True)
class ShowExportForm(Action):
    """``/export PATH``: the form that asks the password before the user's data is
    saved to ``path`` (``/export!``: replacing the file there)."""

    path: str
    overwrite: bool = False


@dataclass(frozen=True)
class ExportData(Action):
    """Save the user's data to ``path`` (``POST /users/me/export``). The password is
    not in the ``repr``."""

    path: str
    overwrite: bool
    password: str = field(repr=False)
    #: With two-factor sign-in on: a code, or a recovery code.
    code: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TwoFactorAction(Action):
    """Two-factor sign-in (``/2fa``): :mod:`lairchat.client.twofactor` handles these."""


@dataclass(frozen=True)
class ShowTwoFactorSetup(TwoFactorAction):
    """``/2fa setup``: the form that asks the password before a new secret is made."""


@dataclass(frozen=True)
class SetUpTwoFactor(TwoFactorAction):
    """Ask for a new secret (``POST /users/me/2fa/setup``); not in the ``repr``."""

    password: str = field(repr=False)


@dataclass(frozen=True)
class EnableTwoFactor(TwoFactorAction):
    """``/2fa enable CODE``: turn it on with the authenticator's current code."""

    code: str


@dataclass(frozen=True)
class CopyTwoFactorUri(TwoFactorAction):
    """``c`` in the box that shows the secret: its ``otpauth://`` URI to the
    clipboard (it holds the secret: not in the ``repr``)."""

    uri: str = field(repr=False)


@dataclass(frozen=True)
class ShowTwoFactorDisable(TwoFactorAction):
    """``/2fa disable``: the form that asks the password and a code."""


@dataclass(frozen=True)
class DisableTwoFactor(TwoFactorAction):
    """Turn it off (``POST /users/me/2fa/disable``); neither is in the ``repr``."""

    password: str = field(repr=False)
    code: str = field(repr=False)


@dataclass(frozen=True)
class ShowNewRecoveryCodes(TwoFactorAction):
    """``/2fa codes``: the form that asks the password and a code for new recovery
    codes."""


@dataclass(frozen=True)
class NewRecoveryCodes(TwoFactorAction):
    """Ten new recovery codes in place of the unused ones (``POST
    /users/me/2fa/recovery-codes``); neither is in the ``repr``."""

    password: str = field(repr=False)
    code: str = field(repr=False)


@dataclass(frozen=True)
class ShowDeleteAccountForm(Action):
    """Open the form that deletes the account (``/delete-account``)."""


@dataclass(frozen=True)
class DeleteAccount(Action):
    """Delete the account, for good (``DELETE /users/me``); the form checked the
    username typed again before. The password is not in the ``repr``."""

    password: str = field(repr=False)
    #: With two-factor sign-in on: a code, or a recovery code.
    code: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SetBell(Action):
    """``/bell on|off``: whether mentions and DMs elsewhere ring the terminal bell;
    ``on`` None asks how it is set."""

    on: bool | None = None


@dataclass(frozen=True)
class Search(Action):
    """``/search TEXT``: the messages holding ``query``, in the conversation shown,
    or (``/search * TEXT``, ``everywhere``) in every one the user can read; only
    ``author``'s (a name, ``from:NAME``) and those of the days ``since`` to ``until``
    (both included) when given, and then ``query`` may be empty."""

    query: str
    everywhere: bool = False
    author: str | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class SearchOlder(Action):
    """The search's next page: older messages, from where the last one stopped."""


@dataclass(frozen=True)
class OpenConversation(Action):
    """Show a conversation (a search result's), ready to type in."""

    key: tuple[str, str]


class InviteCodeAction(Action):
    """Base of the invite code actions (``lairchat/client/invitecodes.py`` carries
    them out)."""


@dataclass(frozen=True)
class MakeInviteCode(InviteCodeAction):
    """``/invite-code [MAX_USES] [HOURS]``: a code for the room shown."""

    max_uses: int | None = None
    hours: int | None = None


@dataclass(frozen=True)
class ListInviteCodes(InviteCodeAction):
    """``/invite-codes``: the room's live codes."""


@dataclass(frozen=True)
class RevokeInviteCode(InviteCodeAction):
    """``/revoke-code ID``: by its id, or the prefix a listing shows."""

    code: str


@dataclass(frozen=True)
class JoinByInviteCode(InviteCodeAction):
    """``/join-code CODE``: join the code's room and open it."""

    code: str


class RoomAdminAction(Action):
    """Base of the room owner's and the admin's actions (``lairchat/client/roomadmin.py``
    carries them out)."""


@dataclass(frozen=True)
class ShowRoomInfo(RoomAdminAction):
    """``/topic`` (``about`` "topic"), ``/private`` or ``/limit`` alone ("settings"):
    the room shown as the server has it now."""

    about: Literal["topic", "settings"]


@dataclass(frozen=True)
class EditRoom(RoomAdminAction):
    """``/topic TEXT`` (``""`` clears it) and ``/rename NAME``: what is None stays."""

    name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class SetRoomSetting(RoomAdminAction):
    """``/private on|off`` (``public``) and ``/limit N|off`` (``max_members``, None
    for no limit): one setting changes, the others are sent as the server has them."""

    key: Literal["public", "max_members"]
    value: bool | int | None


@dataclass(frozen=True)
class ShowDeleteRoomForm(RoomAdminAction):
    """Ask for the room's name typed again before deleting it: the room shown
    (``/delete-room``), or, with ``admin``, the one ``room`` names (``/admin
    delete-room NAME|ID``, through the admin route)."""

    room: str | None = None
    admin: bool = False


@dataclass(frozen=True)
class DeleteRoom(RoomAdminAction):
    """Delete the room, for good; the form checked its name typed again."""

    room_id: str
    name: str
    admin: bool = False


@dataclass(frozen=True)
class AdminStats(RoomAdminAction):
    """``/admin stats``: the server's counts."""


#: How many audit log entries ``/admin audit`` shows unless told, and at most (the
#: server's largest page).
AUDIT_SHOWN = 20
AUDIT_MOST = 200


@dataclass(frozen=True)
class AdminAudit(RoomAdminAction):
    """``/admin audit [N]``: the newest ``count`` entries of the server's audit log."""

    count: int = AUDIT_SHOWN


@dataclass(frozen=True)
class Ban(RoomAdminAction):
    """``/ban USER [DURATION] [REASON]``: ``hours`` None is a permanent ban."""

    username: str
    hours: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Unban(RoomAdminAction):
    username: str


@dataclass(frozen=True)
class ShowDeleteUserForm(RoomAdminAction):
    """``/delete-user USER``: the admin's password (masked) and the name typed again."""

    username: str


@dataclass(frozen=True)
class DeleteUser(RoomAdminAction):
    """Delete another account, for good (``DELETE /admin/users/{id}``), with the
    admin's own password, which is not in the ``repr``."""

    user_id: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class CommandError:
    """Not an action: what to tell the user about a command that cannot run."""

    message: str


#: ``/name`` → (arguments, what it does); the help overlay prints this table.
COMMANDS: list[tuple[str, str, str]] = [
    ("/help", "", "show keys and commands"),
    ("/rooms", "", "open the room list"),
    ("/create", "NAME", "create a room and enter it (--private for invitation only)"),
    ("/join", "NAME|ID", "join a room, or switch to it"),
    ("/leave", "", "leave the room shown"),
    ("/dm", "USER", "talk to USER privately (also /msg, /w)"),
    ("/invite", "USER", "invite USER to the room shown"),
    ("/invites", "", "show invitations to answer"),
    ("/members", "", "show and manage the room's members"),
    ("/pending", "", "the room's pending invitations, to revoke one (owners, moderators)"),
    ("/invite-code", "[USES] [HOURS]", "a code anyone may join the room with (owners, moderators)"),
    ("/invite-codes", "", "the room's live invite codes (owners, moderators)"),
    ("/revoke-code", "ID", "revoke an invite code, by its id or prefix (owners, moderators)"),
    ("/join-code", "CODE", "join a room with an invite code someone gave you"),
    ("/kick", "USER", "remove USER from the room (owners, moderators)"),
    ("/role", "USER ROLE", "make USER owner, moderator or member (owners)"),
    ("/edit", "TEXT", "replace your last message here with TEXT"),
    ("/delete", "", "delete your last message here"),
    ("/react", "EMOJI", "react with EMOJI to the newest message here"),
    ("/unreact", "EMOJI", "take back your EMOJI from the newest message that has it"),
    ("/pin", "[N]", "pin the newest message here, or the Nth newest (owners, moderators)"),
    ("/unpin", "[N]", "unpin the newest message here, or the Nth newest (owners, moderators)"),
    ("/pins", "", "the room's pinned messages, newest pin first"),
    ("/search", "TEXT", "find messages here holding TEXT (/search * TEXT: everywhere)"),
    (
        "/search",
        "from:NAME since:DAY until:DAY",
        "only NAME's, from or to a day (YYYY-MM-DD, included); TEXT then optional",
    ),
    ("/password", "", "change your password (ends your other sessions)"),
    ("/sessions", "", "list where you are signed in, and end a session"),
    ("/delete-account", "", "delete your account and its messages, for good"),
    ("/export", "PATH", "save a copy of your data to the file PATH (/export! PATH: replace it)"),
    ("/2fa setup", "", "start two-factor sign-in: a secret for your authenticator app"),
    ("/2fa enable", "CODE", "turn two-factor sign-in on with the app's code; shows recovery codes"),
    ("/2fa disable", "", "turn two-factor sign-in off (asks the password and a code)"),
    ("/2fa codes", "", "new recovery codes in place of the old (asks the password and a code)"),
    ("/topic", "[TEXT|-]", "show the room's topic, set it to TEXT, or clear it (-)"),
    ("/rename", "NAME", "rename the room shown (owners, moderators)"),
    ("/private", "on|off", "make the room invitation only, or public (owners, moderators)"),
    ("/limit", "N|off", "allow at most N members in the room, or any number"),
    ("/delete-room", "", "delete the room shown, for everyone (owners)"),
    ("/admin stats", "", "the server's counts (admins only)"),
    ("/admin audit", "[N]", f"who did what, newest first (default {AUDIT_SHOWN}; admins only)"),
    ("/ban", "USER [DURATION] [REASON]", "ban USER for 2h, 3d, 1w... or for good (admins only)"),
    ("/unban", "USER", "lift USER's ban (admins only)"),
    ("/delete-user", "USER", "delete USER's account, for good (admins only)"),
    ("/admin delete-room", "NAME|ID", "delete any room (admins only)"),
    ("/reconnect", "", "reconnect to the server now"),
    ("/bell", "on|off", "ring the terminal bell for mentions and DMs elsewhere"),
    ("/quit", "", "leave the client"),
]

_ROLES = {"owner": "owner", "moderator": "moderator", "mod": "moderator", "member": "member"}


def _needs(arg: str, usage: str) -> CommandError | None:
    return None if arg else CommandError(f"Usage: {usage}")


def parse_input(text: str) -> Action | CommandError | None:
    """The input line on Enter: a message, a command, or nothing (blank)."""
    if not text.strip():
        return None
    if not text.startswith("/"):
        return SendMessage(text)
    if text.startswith("//"):
        return SendMessage(text[1:])  # "//shrug" sends "/shrug"
    name, _, rest = text[1:].partition(" ")
    name, arg = name.lower(), rest.strip()
    match name:
        case "quit" | "q" | "exit":
            return Quit()
        case "help" | "h" | "?":
            return ShowHelp()
        case "rooms" | "r":
            return ShowRooms()
        case "create" | "new":
            private = False
            words = arg.split()
            for flag in ("--private", "-p"):
                if flag in words:
                    words.remove(flag)
                    private = True
            name_arg = " ".join(words)
            return _needs(name_arg, "/create [--private] NAME") or CreateRoom(name_arg, private)
        case "join" | "j":
            return _needs(arg, "/join NAME|ID") or JoinRoom(arg.lstrip("#"))
        case "leave" | "part":
            return LeaveRoom()
        case "dm" | "msg" | "whisper" | "w" | "query":
            return _needs(arg, "/dm USER") or StartDM(arg.split()[0].lstrip("@"))
        case "invite":
            return _needs(arg, "/invite USER") or Invite(arg.split()[0].lstrip("@"))
        case "invites" | "invitations":
            return ShowInvitations()
        case "members" | "who":
            return ShowMembers()
        case "pending":
            return ShowRoomInvitations()
        case "invite-code":
            return _invite_code(arg)
        case "invite-codes":
            return ListInviteCodes()
        case "revoke-code":
            return _needs(arg, "/revoke-code ID") or RevokeInviteCode(arg.split()[0])
        case "join-code":
            return _needs(arg, "/join-code CODE") or JoinByInviteCode(arg.split()[0])
        case "kick":
            return _needs(arg, "/kick USER") or Kick(arg.split()[0].lstrip("@"))
        case "role" | "promote" | "demote" | "op" | "deop":
            words = arg.split()
            if name in ("promote", "op") and len(words) == 1:
                words.append("moderator")
            if name in ("demote", "deop") and len(words) == 1:
                words.append("member")
            if len(words) != 2 or words[1].lower() not in _ROLES:
                return CommandError("Usage: /role USER owner|moderator|member")
            return SetRole(words[0].lstrip("@"), _ROLES[words[1].lower()])  # type: ignore[arg-type]
        case "edit":
            return _needs(arg, "/edit TEXT") or EditLast(rest.strip())
        case "delete" | "del":
            return DeleteLast()
        case "react" | "unreact":
            # An emoji holds no space: one word, or the usage.
            usage = f"/{name} EMOJI"
            if len(arg.split()) > 1:
                return CommandError(f"Usage: {usage} (one emoji, no spaces)")
            return _needs(arg, usage) or React(arg, remove=name == "unreact")
        case "pin" | "unpin":
            # N counts back from the newest message shown: 1 (or nothing) is it.
            if not arg:
                return Pin(remove=name == "unpin")
            if not (arg.isascii() and arg.isdigit()) or int(arg) < 1:
                return CommandError(
                    f"Usage: /{name} [N] (N: 1 the newest message, 2 the one before)"
                )
            return Pin(int(arg), remove=name == "unpin")
        case "pins" | "pinned":
            return ShowPins()
        case "search" | "find":
            # "* " (a star, then a space) asks for everywhere; "*ptr" is a query.
            everywhere = arg == "*" or arg.startswith(("* ", "*\t"))
            words = arg[1:].strip() if everywhere else arg
            try:
                query, author, since, until = split_filters(words)
            except ValueError as err:
                return CommandError(str(err))
            if author or since or until:
                return Search(query, everywhere, author, since, until)
            return _needs(query, "/search [*] TEXT") or Search(query, everywhere)
        case "password" | "passwd":
            # Whatever follows is ignored, never sent or kept: the passwords are typed
            # in the form, masked (the line was emptied before this).
            return ShowPasswordForm()
        case "sessions":
            return ShowSessions()
        case "delete-account":
            # As /password: whatever follows is ignored; the form asks for the
            # password (masked) and the username again.
            return ShowDeleteAccountForm()
        case "2fa":
            return _two_factor(arg)
        case "export" | "export!":
            # The whole rest is the path (it may hold spaces); the form then asks
            # for the password, masked.
            usage = "/export PATH (/export! PATH replaces an existing file)"
            return _needs(arg, usage) or ShowExportForm(arg, overwrite=name == "export!")
        case "topic":
            return _topic(arg)
        case "rename":
            return _needs(arg.removeprefix("#"), "/rename NAME") or EditRoom(arg.removeprefix("#"))
        case "private":
            return _private(arg)
        case "limit":
            return _limit(arg)
        case "delete-room":
            # As /delete-account: whatever follows is ignored; the form names the room
            # shown and asks for its name typed again.
            return ShowDeleteRoomForm()
        case "admin":
            return _admin(arg)
        case "ban" | "unban" | "delete-user":
            return _admin(f"{name} {arg}")
        case "reconnect":
            return Reconnect()
        case "bell":
            if arg.lower() not in ("", "on", "off"):
                return CommandError("Usage: /bell on|off")
            return SetBell({"on": True, "off": False}.get(arg.lower()))
        case _:
            return CommandError(f"Unknown command /{name} (see /help)")


#: ``/topic -`` and ``/topic -delete`` (irssi's and WeeChat's spelling) clear it.
TOPIC_CLEAR = ("-", "-delete")
_SWITCH = {"on": True, "off": False}
_NO_LIMIT = ("off", "none")
#: A ban's length: a whole number of hours, days or weeks (the server counts hours).
_DURATION = re.compile(r"(\d+)([a-z]*)", re.IGNORECASE | re.ASCII)
_HOURS = {"h": 1, "d": 24, "w": 24 * 7}
BAN_USAGE = "Usage: /ban USER [DURATION] [REASON], DURATION like 2h, 3d or 1w (none: for good)"
ADMIN_USAGE = (
    "Usage: /admin stats | audit [N] | ban USER [DURATION] [REASON] | unban USER"
    " | delete-user USER | delete-room NAME|ID"
)
AUDIT_USAGE = f"Usage: /admin audit [N], N from 1 to {AUDIT_MOST} (default {AUDIT_SHOWN})"


def _invite_code(arg: str) -> Action | CommandError:
    """``/invite-code [USES] [HOURS]``: numbers, each checked by the server's rule (1
    to 1000 uses, 1 to 720 hours); ``-`` for no use limit, with HOURS after it."""
    usage = CommandError(
        "Usage: /invite-code [USES] [HOURS] (uses 1-1000 or -, hours 1-720; "
        "default: any number of uses, 7 days)"
    )
    words = arg.split()
    if len(words) > 2:
        return usage
    numbers: list[int | None] = []
    for word in words:
        if word == "-":
            numbers.append(None)
        elif word.isascii() and word.isdigit():
            numbers.append(int(word))
        else:
            return usage
    numbers += [None] * (2 - len(numbers))
    return MakeInviteCode(numbers[0], numbers[1])


def _topic(arg: str) -> Action:
    if not arg:
        return ShowRoomInfo("topic")
    return EditRoom(description="" if arg.lower() in TOPIC_CLEAR else arg)


def _private(arg: str) -> Action | CommandError:
    if not arg:
        return ShowRoomInfo("settings")
    if arg.lower() not in _SWITCH:
        return CommandError("Usage: /private on|off")
    return SetRoomSetting("public", not _SWITCH[arg.lower()])


def _limit(arg: str) -> Action | CommandError:
    if not arg:
        return ShowRoomInfo("settings")
    if arg.lower() in _NO_LIMIT:
        return SetRoomSetting("max_members", None)
    if not (arg.isascii() and arg.isdigit()):
        return CommandError("Usage: /limit N|off (N: the most members the room may have)")
    return SetRoomSetting("max_members", int(arg))


def _ban(arg: str) -> Action | CommandError:
    """``USER [DURATION] [REASON]``: a second word made of digits is the duration,
    which must then have a unit (``24`` alone might be meant as hours or days, and
    ``0h`` is no ban at all); anything else starts the reason."""
    who, rest = (arg.split(None, 1) + ["", ""])[:2]
    if not who.lstrip("@"):
        return CommandError(BAN_USAGE)
    first, after = (rest.split(None, 1) + ["", ""])[:2]
    length = _DURATION.fullmatch(first)
    if length is None:
        return Ban(who.lstrip("@"), None, rest.strip() or None)
    count, unit = int(length.group(1)), length.group(2).lower()
    if unit not in _HOURS or count == 0:
        return CommandError(BAN_USAGE)
    return Ban(who.lstrip("@"), count * _HOURS[unit], after.strip() or None)


def _audit(arg: str) -> Action | CommandError:
    if not arg:
        return AdminAudit()
    if not (arg.isascii() and arg.isdigit()) or not 1 <= int(arg) <= AUDIT_MOST:
        return CommandError(AUDIT_USAGE)
    return AdminAudit(int(arg))


def _two_factor(arg: str) -> Action | CommandError:
    """``/2fa setup``, ``/2fa enable CODE``, ``/2fa disable``, ``/2fa codes``. The
    passwords are typed in a form, masked, never on the line; a code is used once, so
    it may be."""
    word, _, rest = arg.partition(" ")
    match word.lower():
        case "setup":
            return ShowTwoFactorSetup()
        case "enable":
            return _needs(rest.strip(), "/2fa enable CODE") or EnableTwoFactor(rest.strip())
        case "disable":
            return ShowTwoFactorDisable()
        case "codes" | "recovery-codes":
            return ShowNewRecoveryCodes()
    return CommandError("Usage: /2fa setup | /2fa enable CODE | /2fa disable | /2fa codes")


def _admin(arg: str) -> Action | CommandError:
    """``/admin SUBCOMMAND ...``; ``/ban``, ``/unban`` and ``/delete-user`` are its
    subcommands typed without ``/admin``."""
    sub, _, rest = arg.strip().partition(" ")
    rest = rest.strip()
    match sub.lower():
        case "stats":
            return AdminStats()
        case "audit":
            return _audit(rest)
        case "ban":
            return _ban(rest)
        case "unban":
            return _needs(rest, "/unban USER") or Unban(rest.split()[0].lstrip("@"))
        case "delete-user":
            user = rest.split()[0].lstrip("@") if rest else ""
            return _needs(user, "/delete-user USER") or ShowDeleteUserForm(user)
        case "delete-room":
            room = rest.removeprefix("#")
            return _needs(room, "/admin delete-room NAME|ID") or ShowDeleteRoomForm(room, True)
        case _:
            return CommandError(ADMIN_USAGE)


#: Normal mode, message pane focused (the original's key map, plus a few aliases).
_NORMAL: dict[str, Action] = {
    "q": Quit(confirm=True),
    "i": EnterInsert(),
    "enter": EnterInsert(),
    "/": EnterInsert("/"),
    "e": EditPrompt(),
    "y": CopyLast(),
    "r": ShowRooms(),
    "R": Reconnect(),
    "?": ShowHelp(),
    "f1": ShowHelp(),
    "I": ShowInvitations(),
    "m": ShowMembers(),
    "tab": ToggleFocus(),
    "j": Scroll("down"),
    "down": Scroll("down"),
    "k": Scroll("up"),
    "up": Scroll("up"),
    "G": Scroll("bottom"),
    "end": Scroll("bottom"),
    "g": Scroll("top"),
    "home": Scroll("top"),
    "page up": Scroll("page_up"),
    "ctrl u": Scroll("page_up"),
    "page down": Scroll("page_down"),
    "ctrl d": Scroll("page_down"),
    "esc": ClearNotices(),
}

#: Normal mode, people panel focused.
_PANEL: dict[str, Action] = {
    "q": Quit(confirm=True),
    "r": ShowRooms(),
    "R": Reconnect(),
    "?": ShowHelp(),
    "f1": ShowHelp(),
    "I": ShowInvitations(),
    "m": ShowMembers(),
    "tab": ToggleFocus(),
    "esc": ToggleFocus(),
    "j": PanelMove(1),
    "down": PanelMove(1),
    "k": PanelMove(-1),
    "up": PanelMove(-1),
    "enter": PanelOpen(),
    "i": PanelInvite(),
}


#: What a letter that no key of normal mode takes says: someone is typing a message
#: without having entered insert mode, and the letters would vanish unexplained.
TYPE_HINT = Hint("Normal mode: press i or Enter to type a message (? lists the keys)")


def normal_key(key: str) -> Action | None:
    """A key pressed in normal mode with the messages focused."""
    action = _NORMAL.get(key)
    if action is None and len(key) == 1 and key.isprintable():
        return TYPE_HINT
    return action


def panel_key(key: str) -> Action | None:
    """A key pressed in normal mode with the people panel focused."""
    return _PANEL.get(key)


#: The command palette (``Ctrl+P``): name, what it does, the action.
PALETTE: list[tuple[str, str, Action]] = [
    ("Rooms", "open the room list", ShowRooms()),
    ("Invitations", "show invitations to answer", ShowInvitations()),
    ("Members", "show and manage the room's members", ShowMembers()),
    ("Help", "keys and commands", ShowHelp()),
    ("Reconnect", "reconnect to the server now", Reconnect()),
    ("Copy last message", "copy the newest message to the clipboard", CopyLast()),
    ("Leave room", "leave the room shown", LeaveRoom()),
    ("Change password", "ends your other sessions everywhere", ShowPasswordForm()),
    ("Sessions", "where you are signed in; end a session", ShowSessions()),
    ("Delete account", "gone for good, with your messages", ShowDeleteAccountForm()),
    ("Export my data", "/export PATH: a copy of your data to a file", EnterInsert("/export ")),
    (
        "Two-factor sign-in",
        "/2fa setup, /2fa enable CODE, /2fa disable, /2fa codes",
        EnterInsert("/2fa "),
    ),
    ("Search messages", "/search TEXT here, /search * TEXT everywhere", EnterInsert("/search ")),
    ("Room invitations", "the room's pending invitations, to revoke", ShowRoomInvitations()),
    ("Pinned messages", "the room's pins; /pin [N], /unpin [N]", ShowPins()),
    ("Room topic", "/topic TEXT sets it, /topic - clears it", EnterInsert("/topic ")),
    ("Rename room", "/rename NAME (owners, moderators)", EnterInsert("/rename ")),
    ("Room settings", "private or public, member limit", ShowRoomInfo("settings")),
    ("Delete room", "the room shown, for everyone (owners)", ShowDeleteRoomForm()),
    ("Server stats", "users, rooms, messages (admins only)", AdminStats()),
    ("Audit log", "who banned or deleted whom, newest first (admins only)", AdminAudit()),
    ("Ban user", "/ban USER [2h|3d|1w] [REASON] (admins only)", EnterInsert("/ban ")),
    ("Unban user", "/unban USER (admins only)", EnterInsert("/unban ")),
    ("Delete user", "/delete-user USER (admins only)", EnterInsert("/delete-user ")),
    ("Quit", "leave the client", Quit(confirm=True)),
]


def _fuzzy_score(query: str, text: str) -> int | None:
    """Lower is better; None if the query's letters are not in ``text`` in order."""
    position, score = -1, 0
    for char in query:
        found = text.find(char, position + 1)
        if found < 0:
            return None
        score += found - position - 1
        position = found
    return score


def fuzzy_filter(
    query: str, entries: list[tuple[str, str, Action]]
) -> list[tuple[str, str, Action]]:
    """The entries whose "name description" contains the query's letters in order,
    best first (fewest skipped characters); all of them for an empty query."""
    wanted = "".join(query.casefold().split())
    if not wanted:
        return list(entries)
    scored = []
    for index, entry in enumerate(entries):
        score = _fuzzy_score(wanted, f"{entry[0]} {entry[1]}".casefold())
        if score is not None:
            scored.append((score, index, entry))
    return [entry for _, _, entry in sorted(scored, key=lambda t: (t[0], t[1]))]
