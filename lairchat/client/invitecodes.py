"""What the controller does with room invite codes (``/invite-code``,
``/invite-codes``, ``/revoke-code``, ``/join-code``), over the REST API
(docs/protocols/HTTP.md, "Invite codes").

A mixin of :class:`~lairchat.client.app.App`. As for the room's other moderation,
nothing here decides who may: the server's refusal is shown in its words, and a
server without invite codes is said to be one. The code itself is shown once, in
the room it is for, as the server gives it once; it is never written to the
client's log.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from lairchat.client import commands as c
from lairchat.client.roomadmin import lairchat_route, when_text
from lairchat.client.state import obj
from lairchat.domain.hidden import one_line

if TYPE_CHECKING:
    from lairchat.client.state import ClientState

__all__ = ["InviteCodeMixin", "code_event", "code_line"]

NO_CODES = "use invite codes"


def _limits(code: dict[str, Any]) -> str:
    most = code.get("max_uses")
    uses = code.get("uses", 0)
    used = f"used {uses} of {most}" if isinstance(most, int) else f"used {uses}, no limit"
    return f"{used}, until {when_text(code.get('expires_at'))}"


def code_line(code: dict[str, Any]) -> str:
    """One code of a listing: its prefix and id (what ``/revoke-code`` takes), who
    made it, its uses and when it ends. One line whatever the server sends."""
    who = code.get("created_by_name") or "?"
    return one_line(
        f"{code.get('prefix', '?')}… (id {code.get('id', '?')}) by {who}, {_limits(code)}"
    )


def code_event(state: ClientState, event: dict[str, Any]) -> None:
    """lairchat's own ``invite_code_created``, ``invite_code_used`` and
    ``invite_code_revoked`` (sent to the room's owners and moderators): a line in the
    room's conversation, so what another moderator (or a join) did to the room's
    codes is seen as it happens, not at the next ``/invite-codes``. Never the code:
    the server sends only what a listing shows."""
    room_id = str(event.get("room_id", ""))
    kind = event.get("type")
    if kind == "invite_code_revoked":
        by = state.username_of(str(event.get("revoked_by", "")))
        why = {"kicked": f"removed from the room by {by}", "demoted": f"made a member by {by}"}
        gone = why.get(str(event.get("reason")))
        text = f"Invite code {event.get('code_id', '?')} revoked " + (
            f"(its maker was {gone})" if gone else f"by {by}"
        )
    else:
        code = obj(event.get("invite_code"))
        most, uses = code.get("max_uses"), code.get("uses")
        if kind == "invite_code_created":
            text = "New invite code: " + code_line(code)
        elif isinstance(most, int) and isinstance(uses, int) and uses >= most:
            text = f"Invite code {code.get('prefix', '?')}… used up ({uses} of {most})"
        else:
            text = "Invite code used: " + code_line(code)
    state.system(one_line(text), ("room", room_id))


class InviteCodeMixin:
    """Invite codes; the attributes below come from ``App`` and ``ActionsMixin``."""

    state: ClientState
    api: Any
    spawn: Callable[..., Deferred]
    _current_room: Callable[[], str | None]
    open_conversation: Callable[..., Coroutine[Any, Any, Any]]

    def invite_code_action(self, action: c.InviteCodeAction) -> None:
        match action:
            case c.MakeInviteCode():
                self.spawn(self._make_code(action), "No invite code made")
            case c.ListInviteCodes():
                self.spawn(self._list_codes(), "Could not list the invite codes")
            case c.RevokeInviteCode(code=code):
                self.spawn(self._revoke_code(code), "Invite code not revoked")
            case c.JoinByInviteCode(code=code):
                self.spawn(self._join_by_code(code), "Could not join with that code")

    async def _make_code(self, action: c.MakeInviteCode) -> None:
        room_id = self._current_room()
        if room_id is None:
            return
        request = self.api.create_invite_code(room_id, action.max_uses, action.hours)
        code = obj(await lairchat_route(request, NO_CODES))
        title = self.state.title_of(("room", room_id))
        self.state.system(
            one_line(
                f"Invite code for {title}: {code.get('code', '?')} ({_limits(code)}). "
                "Shown once: anyone with it joins with /join-code"
            ),
            ("room", room_id),
        )

    async def _list_codes(self) -> None:
        room_id = self._current_room()
        if room_id is None:
            return
        codes = await lairchat_route(self.api.invite_codes(room_id), NO_CODES)
        title = self.state.title_of(("room", room_id))
        if not codes:
            self.state.system(f"{title} has no live invite codes (/invite-code)", ("room", room_id))
            return
        self.state.system(f"Invite codes of {title}, newest first:", ("room", room_id))
        for code in codes:
            self.state.system("  " + code_line(obj(code)), ("room", room_id))

    async def _revoke_code(self, wanted: str) -> None:
        """By id, or by a prefix (the listing's, with or without its ``…``) that
        names one live code of the room shown."""
        room_id = self._current_room()
        if room_id is None:
            return
        wanted = wanted.removesuffix("…")
        code_id = wanted
        if len(wanted) < 32:
            listed = await lairchat_route(self.api.invite_codes(room_id), NO_CODES)
            codes = [obj(code) for code in listed]
            found = [code for code in codes if str(code.get("prefix", "")).startswith(wanted)]
            if len(found) != 1:
                many = "more than one code starts" if found else "no live code starts"
                self.state.notify(f"{many} with {wanted!r}: give its id (/invite-codes)", "error")
                return
            code_id = str(found[0].get("id"))
        await lairchat_route(self.api.revoke_invite_code(room_id, code_id), NO_CODES)
        self.state.notify("Invite code revoked", "success")

    async def _join_by_code(self, code: str) -> None:
        data = await lairchat_route(self.api.join_by_invite_code(code), NO_CODES)
        info = self.state.room_joined(data.get("room"), data.get("membership") or {})
        self.state.system(f"You joined #{info.name} with an invite code", ("room", info.id))
        await self.open_conversation(("room", info.id))
