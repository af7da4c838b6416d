"""What each real-time event does to the client model (PROTOCOL.md §9).

One function per event type, each taking the state and the decoded event. Unknown
types are ignored, so a newer server cannot break the client. A handler may return
follow-ups, things the controller should fetch because the event alone does not
carry them: ``("rooms", "")`` (a room we joined elsewhere), ``("members", room_id)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lairchat.client import pins, reactions
from lairchat.client.model import TYPING_TTL, ConvKey, Member

if TYPE_CHECKING:
    from lairchat.client.state import ClientState

__all__ = ["HANDLERS", "apply_event", "on_room_deleted", "room_changed"]

FollowUp = tuple[str, str]


def apply_event(state: ClientState, event: dict[str, Any]) -> list[FollowUp]:
    handler = HANDLERS.get(str(event.get("type", "")))
    if handler is None:
        return []
    return handler(state, event) or []


def on_message_received(state: ClientState, event: dict[str, Any]) -> None:
    message = event.get("message") or {}
    state.receive_message(message, event.get("author_username"))


def on_message_edited(state: ClientState, event: dict[str, Any]) -> None:
    message = event.get("message") or {}
    state.edit_message(message)
    if isinstance(message, dict):
        pins.edited(state, message)


def on_message_deleted(state: ClientState, event: dict[str, Any]) -> None:
    message_id = str(event.get("message_id", ""))
    state.delete_message(message_id)
    pins.forget(state, message_id)


def on_user_joined_room(state: ClientState, event: dict[str, Any]) -> list[FollowUp]:
    room_id = str(event.get("room_id", ""))
    user = state.add_user(event.get("user") or {})
    membership = event.get("membership") or {}
    role = str(membership.get("role", "member"))
    table = state.members.get(room_id)
    if table is not None and user.id not in table:
        table[user.id] = Member(user.id, user.username, role)
    info = state.rooms.get(room_id)
    if state.is_me(user.id):
        if info is None:
            return [("rooms", "")]
        if not info.is_member:
            info.is_member = True
            info.member_count += 1
        info.role = role
        return []
    if info is not None:
        info.member_count = len(table) if table is not None else info.member_count + 1
    if ("room", room_id) in state.conversations:
        state.system(
            f"{user.username} joined the room", ("room", room_id), subject=f"member:{user.id}"
        )
    return []


def on_user_left_room(state: ClientState, event: dict[str, Any]) -> None:
    room_id = str(event.get("room_id", ""))
    user_id = str(event.get("user_id", ""))
    reason = str(event.get("reason", "left"))
    info = state.rooms.get(room_id)
    name = info.name if info else room_id[:8]
    if state.is_me(user_id):
        state.room_left(room_id)
        if reason == "kicked":
            state.notify(f"You were removed from #{name}", "error")
        elif reason == "left":
            state.notify(f"You left #{name}", "info")
        else:
            state.notify(f"You are no longer in #{name} ({reason})", "warning")
        return
    table = state.members.get(room_id)
    if table is not None:
        table.pop(user_id, None)
    if info is not None:
        info.member_count = len(table) if table is not None else max(0, info.member_count - 1)
    if ("room", room_id) in state.conversations:
        what = "was removed from" if reason == "kicked" else "left"
        state.system(
            f"{state.username_of(user_id)} {what} the room",
            ("room", room_id),
            subject=f"member:{user_id}",
        )


def on_member_role_changed(state: ClientState, event: dict[str, Any]) -> None:
    room_id = str(event.get("room_id", ""))
    user_id = str(event.get("user_id", ""))
    new_role = str(event.get("new_role", "member"))
    username = str(event.get("username") or state.username_of(user_id))
    member = state.members.get(room_id, {}).get(user_id)
    if member is not None:
        member.role = new_role
    if state.is_me(user_id) and room_id in state.rooms:
        state.rooms[room_id].role = new_role
    if ("room", room_id) in state.conversations:
        old = event.get("old_role", "?")
        state.system(f"{username} is now {new_role} (was {old})", ("room", room_id))


def on_room_deleted(state: ClientState, event: dict[str, Any]) -> None:
    room_id = str(event.get("room_id", ""))
    name = str(event.get("room_name") or state.title_of(("room", room_id)).lstrip("#"))
    was_member = room_id in state.rooms and state.rooms[room_id].is_member
    state.room_left(room_id)
    state.rooms.pop(room_id, None)
    state.invitations = [i for i in state.invitations if i.room_id != room_id]
    if was_member:
        state.notify(f"Room #{name} was deleted", "warning")


def on_room_updated(state: ClientState, event: dict[str, Any]) -> None:
    room = event.get("room")
    if isinstance(room, dict) and str(room.get("id", "")) in state.rooms:
        room_changed(state, room, str(event.get("changed_by") or ""))


def room_changed(state: ClientState, room: dict[str, Any], changed_by: str) -> None:
    """A known room's new name, topic and settings, from ``room_updated`` or from the
    answer to our own change (whichever comes first: the second finds nothing new).
    The title bar and the room list show them; the room's conversation, if open,
    says what changed and who changed it, as an IRC client does."""
    room_id = str(room.get("id", ""))
    before = state.rooms.get(room_id)
    old = (before.name, before.description or "", before.is_private) if before else None
    info = state.add_room(room)
    key: ConvKey = ("room", room_id)
    if old is None or key not in state.conversations:
        return
    who = "You" if state.is_me(changed_by) else state.username_of(changed_by or None)
    if info.name != old[0]:
        state.system(f"{who} renamed the room to #{info.name}", key)
    if (info.description or "") != old[1]:
        topic = info.description
        state.system(f"{who} set the topic: {topic}" if topic else f"{who} cleared the topic", key)
    if info.is_private != old[2]:
        kind = "private (invitation only)" if info.is_private else "public"
        state.system(f"{who} made the room {kind}", key)


def on_user_online(state: ClientState, event: dict[str, Any]) -> None:
    _presence(state, event, True)


def on_user_offline(state: ClientState, event: dict[str, Any]) -> None:
    _presence(state, event, False)


def _presence(state: ClientState, event: dict[str, Any], online: bool) -> None:
    user_id = str(event.get("user_id", ""))
    username = str(event.get("username") or state.username_of(user_id))
    state.set_online(user_id, username, online)
    kind, ident = state.current
    relevant = (kind == "dm" and ident == user_id) or (
        kind == "room" and user_id in state.members.get(ident, {})
    )
    if relevant and not state.is_me(user_id):
        presence = "online" if online else "offline"
        state.system(f"{username} is {presence}", subject=f"presence:{user_id}")


def on_user_typing(state: ClientState, event: dict[str, Any]) -> None:
    user_id = str(event.get("user_id", ""))
    if state.is_me(user_id):
        return
    target = event.get("target") or {}
    if target.get("type") == "room":
        key: ConvKey = ("room", str(target.get("room_id", "")))
    else:
        recipient = str(target.get("recipient", ""))
        key = ("dm", user_id if state.is_me(recipient) else recipient)
    # Only for a room or a person the client knows: a server naming rooms or people
    # by the thousand must not make a conversation for each.
    known = state.rooms if key[0] == "room" else state.users
    if key not in state.conversations and key[1] not in known:
        return
    conv = state.conversation(key)
    # Not a change of ``version``: the indicator is drawn under the messages, and a
    # storm of typing events must not lay the whole history out again each time.
    conv.typing[user_id] = state.clock() + TYPING_TTL


def on_invitation_received(state: ClientState, event: dict[str, Any]) -> None:
    inv = state.add_invitation(event.get("invitation") or {})
    state.notify(f"{inv.inviter_name} invited you to #{inv.room_name} (I to view)", "warning")
    waiting = len(state.invitations)
    more = f" ({waiting} waiting)" if waiting > 1 else ""
    state.system(
        f"{inv.inviter_name} invited you to #{inv.room_name} - press I to answer{more}",
        subject=f"invite:{inv.inviter_id}",
    )


def on_invitation_revoked(state: ClientState, event: dict[str, Any]) -> None:
    """lairchat's own event (the client asks for them in its hello): the invitation
    leaves the invitee's list and the room's pending list at once, where Lair Chat's
    way is to find it gone at the next listing."""
    invitation_id = str(event.get("invitation_id", ""))
    mine = next((i for i in state.invitations if i.id == invitation_id), None)
    state.remove_invitation(invitation_id)
    state.remove_room_invitation(invitation_id)
    if mine is not None:
        state.system(f"The invitation to #{mine.room_name} was withdrawn")


def on_messages_read(state: ClientState, event: dict[str, Any]) -> None:
    """lairchat's own event: a conversation read on another device is no longer
    shown as unread here."""
    state.read_elsewhere(event.get("target"), event.get("unread_count"), event.get("mention_count"))


def on_reaction_added(state: ClientState, event: dict[str, Any]) -> None:
    """lairchat's own event: one more of an emoji under a loaded message."""
    reactions.apply_change(state, event, added=True)


def on_reaction_removed(state: ClientState, event: dict[str, Any]) -> None:
    reactions.apply_change(state, event, added=False)


def on_room_created(state: ClientState, event: dict[str, Any]) -> None:
    """lairchat's own event: a new public room joins the room list (``/rooms``) at
    once; one already known (our own, from the answer) is left as it is."""
    room = event.get("room")
    if isinstance(room, dict) and str(room.get("id", "")) not in state.rooms:
        mine = state.is_me(str(event.get("created_by", "")))
        state.add_room(room, member_count=1, is_member=mine, role="owner" if mine else None)


def on_invite_code(state: ClientState, event: dict[str, Any]) -> None:
    """lairchat's own ``invite_code_*`` events (invitecodes.code_event)."""
    # Here, not at the top: lairchat.client.invitecodes imports this module.
    from lairchat.client.invitecodes import code_event

    code_event(state, event)


def on_system_role_changed(state: ClientState, event: dict[str, Any]) -> None:
    """lairchat's own event: the operator gave us another system role
    (``lairchat admin set-role``). The client offers the admin commands to everyone
    (the server decides), so it only says what they now do."""
    role = str((event.get("user") or {}).get("role", ""))
    if role == "admin":
        state.system("You are now an admin of this server: /admin and /ban work for you")
        state.notify("You are now an admin of this server", "success")
    else:
        state.system(f"Your role on this server is now {role}: the admin commands are refused")
        state.notify(f"Your role on this server is now {role}", "warning")


def on_server_notice(state: ClientState, event: dict[str, Any]) -> None:
    severity = str(event.get("severity", "info"))
    text = str(event.get("message", ""))
    state.system(f"[server] {text}")
    state.notify(text, "error" if severity == "critical" else severity)


def on_session_expiring(state: ClientState, event: dict[str, Any]) -> None:
    state.notify("Your session expires soon; log in again to continue", "warning")


def on_error(state: ClientState, event: dict[str, Any]) -> None:
    state.notify(f"Server: {event.get('message') or event.get('code')}", "error")


HANDLERS: dict[str, Callable[[ClientState, dict[str, Any]], Any]] = {
    "message_received": on_message_received,
    "message_edited": on_message_edited,
    "message_deleted": on_message_deleted,
    "user_joined_room": on_user_joined_room,
    "user_left_room": on_user_left_room,
    "member_role_changed": on_member_role_changed,
    "room_deleted": on_room_deleted,
    "room_updated": on_room_updated,
    "user_online": on_user_online,
    "user_offline": on_user_offline,
    "user_typing": on_user_typing,
    "invitation_received": on_invitation_received,
    "invitation_revoked": on_invitation_revoked,
    "messages_read": on_messages_read,
    "message_pinned": pins.on_message_pinned,
    "message_unpinned": pins.on_message_unpinned,
    "reaction_added": on_reaction_added,
    "reaction_removed": on_reaction_removed,
    "room_created": on_room_created,
    "system_role_changed": on_system_role_changed,
    "invite_code_created": on_invite_code,
    "invite_code_used": on_invite_code,
    "invite_code_revoked": on_invite_code,
    "server_notice": on_server_notice,
    "session_expiring": on_session_expiring,
    "error": on_error,
}
