"""One handler per authenticated client message type (PROTOCOL.md §7.2).

A handler parses ids, calls one core service and shapes the ``*_response``; every
business rule lives in the services. Handlers return a Deferred (or None for
``typing``, which has no response). ``request_id`` is echoed in every response
(the original echoed it in three; clients correlate more easily this way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.python.failure import Failure

from lairchat.core.hub import MAX_SENDER_PAUSE
from lairchat.core.ratelimit import user_key
from lairchat.domain.errors import LairError
from lairchat.domain.ids import parse_uuid
from lairchat.domain.types import Target
from lairchat.realtime import codec

if TYPE_CHECKING:
    from lairchat.realtime.session import Session

Handler = Callable[..., Any]
#: name -> (handler, response type, fields a failed response still carries, whether it
#: finishes by itself: ``handler(session, message, finish)`` instead of returning its
#: outcome).
HANDLERS: dict[str, tuple[Handler, str, dict[str, Any] | None, bool]] = {}

#: Commands that also count against the messaging tier (as HTTP /messages does).
MESSAGING = frozenset({"send_message", "edit_message", "delete_message", "get_messages"})

#: Commands that work with a revoked or expired session, as in the original
#: (``logout`` always succeeds and closes, PROTOCOL.md §7.2).
SESSIONLESS = frozenset({"get_current_user", "get_user", "list_users", "get_room", "logout"})


def command(
    name: str, on_failure: dict[str, Any] | None = None, finishes: bool = False
) -> Callable[[Handler], Handler]:
    """Register a handler; ``on_failure`` lists fields a failed response still carries.
    A handler that ``finishes`` is given ``finish`` (see Session.command_reply) and
    calls it with its fields or a failure, rather than returning a Deferred: the hot
    path's form, with no Deferred per command."""

    def register(fn: Handler) -> Handler:
        HANDLERS[name] = (fn, f"{name}_response", on_failure, finishes)
        return fn

    return register


def dispatch(session: Session, message: dict[str, Any]) -> None:
    kind = message["type"]
    if kind == "typing":  # no response; silently dropped when not allowed
        if refusal(session, kind) is None:
            session.core.typing.typing(session.user, message["target"])
        return
    handler, response, on_failure, finishes = HANDLERS[kind]
    error = refusal(session, kind, kind == "list_rooms" and not message["filter"]["joined_only"])
    if finishes and error is None:
        finish = session.command_reply(response, message["request_id"], on_failure)
        try:
            handler(session, message, finish)
        except Exception:
            finish(Failure())
        return
    call = (lambda: defer.fail(error)) if error else (lambda: handler(session, message))
    session.run_command(response, message["request_id"], call, on_failure)


def refusal(session: Session, kind: str, public_listing: bool = False) -> LairError | None:
    """Why a command is refused before its handler runs, if it is: the rate limit
    (every command but ``logout``, which always succeeds, PROTOCOL.md §7.2: a
    rate-limited client can still leave), then the session, for commands that
    need one."""
    error = None
    if kind != "logout" and session.core.limiter.enabled:
        error = rate_limit(session, "messaging" if kind in MESSAGING else "general")
    if error is None and kind not in SESSIONLESS and not public_listing:
        error = session.session_error()
    return error


def rate_limit(session: Session, tier: str) -> LairError | None:
    """Count a command against the user's general tier (and ``tier``); the refusal, if
    any. Only called while the limiter is enabled."""
    limiter = session.core.limiter
    for name in dict.fromkeys(("general", tier)):
        decision = limiter.hit(name, user_key(session.user_id))
        if not decision.allowed:
            return LairError(
                "rate_limited",
                details={"retry_after": decision.retry_after, "limit": decision.limit},
            )
    return None


def _id(value: Any, what: str, code: str = "validation_failed") -> str:
    """Parse a command's id field; a malformed one is the original's adapter error."""
    parsed = parse_uuid(value)
    if parsed is None:
        raise LairError(code, f"Invalid {what} ID")
    return parsed


# -- session --------------------------------------------------------------------------


@command("logout")
def logout(session: Session, message: dict[str, Any]) -> dict[str, Any]:
    """Always succeeds: once the response is written, the session is deleted and every
    connection that used it (this one included) is closed."""
    sid = session.session_id

    def revoke() -> None:
        session.close("logged out")
        session.core.auth.logout(sid).addErrback(lambda f: session.log.failure("logout failed", f))

    session.after_replies(revoke)
    return {}


@command("get_current_user")
def get_current_user(session: Session, message: dict[str, Any]) -> defer.Deferred:
    """The account as it is now: the original answered the copy taken at
    authentication, so a role or an email changed since (by an admin, over HTTP)
    stayed unseen until the client reconnected. It still never fails: should the
    account not be read, that copy is the answer."""
    d = session.core.users.get(session.user.id)
    return d.addCallbacks(
        lambda user: {"user": user.to_wire()}, lambda _: {"user": session.user.to_wire()}
    )


# -- messages -------------------------------------------------------------------------


@command("send_message", finishes=True)
def send_message(session: Session, m: dict[str, Any], finish: Callable[[Any], None]) -> None:
    target = m["target"]
    # The event is caused by this command: its slot says which (Session._answered_cause).
    session.core.messages.submit(session.user, target, m["content"], _sent, finish, cause=finish)
    if target.kind == "room":
        _throttle(session, target.id)


def send_run(session: Session, run: list[tuple[Any, Target, str]]) -> None:
    """A run of ``send_message`` frames to rooms (request_id, target, content) from
    one read, handled as one (Session.frames_received): each refused, checked,
    stored and answered as :func:`dispatch` and :func:`send_message` would, in
    order, with one response slot, one commit callback and one back-pressure check
    per room for the run."""
    finish = session.run_reply("send_message_response", [request_id for request_id, _, _ in run])
    refused: list[LairError | None] = []
    if session.core.limiter.enabled or session.session_error() is not None:
        refused = [refusal(session, "send_message") for _ in run]
    sends = [(target, content) for _, target, content in run]
    if refused:
        sends = [send for send, error in zip(sends, refused, strict=True) if error is None]

    def sent(outcomes: list[Any]) -> None:
        if refused:  # each refused frame's Failure in its place
            stored = iter(outcomes)
            outcomes = [next(stored) if error is None else Failure(error) for error in refused]
        finish([_fields(outcome) for outcome in outcomes])

    # The events are caused by the run: its slot says which (Session._answered_cause).
    try:
        session.core.messages.submit_run(session.user, sends, sent, cause=finish)
    except Exception:  # as dispatch answers a handler that raised: internal_error each
        sent([Failure()] * len(sends))
    for room_id in {target.id for target, _ in sends}:
        _throttle(session, room_id)


def _throttle(session: Session, room_id: str) -> None:
    """Back-pressure: a congested room stops reading its sender (see Hub.congested)."""
    hub = session.core.hub
    if hub.throttle(room_id, session):
        session.clock.callLater(MAX_SENDER_PAUSE, hub.release, session)


def _fields(outcome: Any) -> Any:
    """A sent message's response fields, or its Failure as it is."""
    return outcome if isinstance(outcome, Failure) else {"message": outcome.to_wire()}


def _sent(outcome: Any, finish: Callable[[Any], None]) -> None:
    finish(_fields(outcome))


@command("edit_message")
def edit_message(session: Session, m: dict[str, Any]) -> defer.Deferred:
    message_id = _id(m["message_id"], "message", "invalid_id")
    d = session.core.messages.edit(session.user, message_id, m["content"])
    return d.addCallback(lambda message: {"message": message.to_wire()})


@command("delete_message")
def delete_message(session: Session, m: dict[str, Any]) -> defer.Deferred:
    message_id = _id(m["message_id"], "message", "invalid_id")
    return session.core.messages.delete(session.user, message_id).addCallback(lambda _: {})


#: Bytes of messages one ``get_messages_response`` may carry: a frame's worth, less
#: room for the rest of the response (its request_id is at most 256 characters) and
#: for encryption.
HISTORY_BUDGET = codec.MAX_FRAME - 8192


@command("get_messages", on_failure={"has_more": False})
def get_messages(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.messages.history(
        session.user, m["target"], m["limit"], m.get("before"), m.get("after")
    )
    return d.addCallback(lambda page: page.within(HISTORY_BUDGET).to_wire())


#: ``search_messages``' fields, in the order MessageService.search takes them.
_SEARCH_FIELDS = ("query", "target", "limit", "before", "author", "since", "until")


@command("search_messages", on_failure={"has_more": False, "next_before": None})
def search_messages(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.messages.search(session.user, *[m[name] for name in _SEARCH_FIELDS])
    return d.addCallback(lambda page: page.within(HISTORY_BUDGET).to_wire())


@command("mark_read")
def mark_read(session: Session, m: dict[str, Any]) -> defer.Deferred:
    return session.core.messages.mark_read(session.user, m["target"], m.get("up_to"))


@command("add_reaction")
def add_reaction(session: Session, m: dict[str, Any]) -> defer.Deferred:
    """A malformed ``message_id`` is ``message_not_found``, as over REST (the path's
    id): no ``invalid_id`` here, as for ``mark_read``'s ``up_to``."""
    d = session.core.reactions.add(session.user, parse_uuid(m["message_id"]), m["emoji"])
    return d.addCallback(lambda _: {})


@command("remove_reaction")
def remove_reaction(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.reactions.remove(session.user, parse_uuid(m["message_id"]), m["emoji"])
    return d.addCallback(lambda _: {})


@command("pin_message")
def pin_message(session: Session, m: dict[str, Any]) -> defer.Deferred:
    """A malformed ``message_id`` is ``message_not_found``, as ``add_reaction``'s."""
    d = session.core.pins.pin(session.user, parse_uuid(m["message_id"]))
    return d.addCallback(lambda _: {})


@command("unpin_message")
def unpin_message(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.pins.unpin(session.user, parse_uuid(m["message_id"]))
    return d.addCallback(lambda _: {})


@command("get_pins")
def get_pins(session: Session, m: dict[str, Any]) -> defer.Deferred:
    """A malformed ``room_id`` is ``room_not_found``, as over REST (the path's id).
    The answer fits a frame (as ``get_messages``'): cut from its oldest pins, with
    ``has_more`` then true (REST's answer has them all)."""
    d = session.core.pins.of_room(session.user, parse_uuid(m["room_id"]))

    def shaped(pins: Any) -> dict[str, Any]:
        cut = pins.within(HISTORY_BUDGET)
        return {**cut.to_wire(), "has_more": cut.page.has_more}

    return d.addCallback(shaped)


# -- rooms ----------------------------------------------------------------------------


@command("create_room")
def create_room(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.rooms.create(session.user, m["name"], m.get("description"), m.get("settings"))
    return d.addCallback(lambda room: {"room": room.to_wire()})


@command("get_room", on_failure={"member_count": 0})
def get_room(session: Session, m: dict[str, Any]) -> defer.Deferred:
    room_id = _id(m["room_id"], "room")

    def shaped(view: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"room": view.room.to_wire()}
        if view.membership is not None:
            out["membership"] = view.membership.to_wire()
        out["member_count"] = view.member_count
        return out

    def renamed(failure: Any) -> Any:
        failure.trap(LairError)
        if failure.value.code == "room_not_found":
            raise LairError("not_found", "Room not found")
        return failure

    return session.core.rooms.get(session.user, room_id).addCallbacks(shaped, renamed)


@command("list_rooms", on_failure={"has_more": False, "total_count": 0})
def list_rooms(session: Session, m: dict[str, Any]) -> defer.Deferred:
    rooms = session.core.rooms
    if m["filter"]["joined_only"]:
        # As the original: the first 50 of the caller's rooms, no paging.
        d = rooms.list_joined(session.user, None, 0)
        d.addCallback(lambda page: setattr(page, "has_more", False) or page)
    else:
        d = rooms.list_public(session.user, m["limit"], m["offset"], m["filter"].get("search"))
    return d.addCallback(lambda page: page.to_wire())


@command("join_room")
def join_room(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.rooms.join(session.user, _id(m["room_id"], "room"))
    return d.addCallback(lambda pair: {"room": pair[0].to_wire(), "membership": pair[1].to_wire()})


@command("leave_room")
def leave_room(session: Session, m: dict[str, Any]) -> defer.Deferred:
    return session.core.rooms.leave(session.user, _id(m["room_id"], "room")).addCallback(
        lambda _: {}
    )


# -- invitations ----------------------------------------------------------------------


@command("invite_to_room")
def invite_to_room(session: Session, m: dict[str, Any]) -> defer.Deferred:
    room_id, user_id = _id(m["room_id"], "room"), _id(m["user_id"], "user")
    d = session.core.invitations.create(session.user, room_id, user_id, moderators_only=False)
    return d.addCallback(lambda invitation: {"invitation": invitation.to_wire()})


@command("accept_invitation")
def accept_invitation(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.invitations.accept(session.user, _id(m["invitation_id"], "invitation"))
    return d.addCallback(lambda pair: {"membership": pair[0].to_wire()})


@command("decline_invitation")
def decline_invitation(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.invitations.decline(session.user, _id(m["invitation_id"], "invitation"))
    return d.addCallback(lambda _: {})


@command("revoke_invitation")
def revoke_invitation(session: Session, m: dict[str, Any]) -> defer.Deferred:
    """Our command (TCP.md §6), as HTTP's ``DELETE /api/v1/invitations/{id}``."""
    d = session.core.invitations.revoke(session.user, _id(m["invitation_id"], "invitation"))
    return d.addCallback(lambda _: {})


@command("list_invitations")
def list_invitations(session: Session, m: dict[str, Any]) -> defer.Deferred:
    # The original's shape: no has_more here (GET /invitations has one).
    d = session.core.invitations.pending(session.user)
    return d.addCallback(lambda page: {"invitations": [i.to_wire() for i in page[0]]})


# -- users ----------------------------------------------------------------------------


@command("get_user")
def get_user(session: Session, m: dict[str, Any]) -> defer.Deferred:
    user_id = _id(m["user_id"], "user")

    def renamed(failure: Any) -> Any:
        failure.trap(LairError)
        if failure.value.code == "user_not_found":
            raise LairError("not_found", "User not found")
        return failure

    d = session.core.users.get(user_id)
    return d.addCallbacks(lambda user: {"user": user.wire_for(session.user_id)}, renamed)


@command("list_users", on_failure={"has_more": False, "total_count": 0})
def list_users(session: Session, m: dict[str, Any]) -> defer.Deferred:
    hub = session.core.hub

    def shaped(listing: Any) -> dict[str, Any]:
        users, more = listing
        return {
            "users": [u.wire_for(session.user_id) for u in users],
            "online_user_ids": hub.online_user_ids(),
            "has_more": more,
            "total_count": len(users),
        }

    d = session.core.users.list(m["limit"], m["offset"], m["filter"].get("search"))
    return d.addCallback(shaped)


# -- invite codes (our extension, TCP.md "Invite codes") -------------------------------


@command("create_invite_code")
def create_invite_code(session: Session, m: dict[str, Any]) -> defer.Deferred:
    """A malformed ``room_id`` is ``room_not_found``, as over REST (the path's id)."""
    d = session.core.invite_codes.create(
        session.user, parse_uuid(m["room_id"]), m["max_uses"], m["expires_in_hours"]
    )
    return d.addCallback(lambda code: {"invite_code": code.to_wire()})


@command("list_invite_codes")
def list_invite_codes(session: Session, m: dict[str, Any]) -> defer.Deferred:
    d = session.core.invite_codes.of_room(session.user, parse_uuid(m["room_id"]))
    return d.addCallback(lambda codes: {"invite_codes": [code.to_wire() for code in codes]})


@command("revoke_invite_code")
def revoke_invite_code(session: Session, m: dict[str, Any]) -> defer.Deferred:
    """A malformed ``code_id`` is ``invite_code_not_found``, as over REST."""
    d = session.core.invite_codes.revoke(
        session.user, parse_uuid(m["room_id"]), parse_uuid(m["code_id"])
    )
    return d.addCallback(lambda _: {})


@command("join_by_invite_code")
def join_by_invite_code(session: Session, m: dict[str, Any]) -> defer.Deferred:
    """Answered as ``join_room``: the room and the new membership."""
    d = session.core.invite_codes.join(session.user, m["code"])
    return d.addCallback(lambda pair: {"room": pair[0].to_wire(), "membership": pair[1].to_wire()})
