"""The core: every service over one store, one hub and one clock, built in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet import defer

from lairchat.core.admin import AdminService
from lairchat.core.auth import AuthService
from lairchat.core.deletion import AccountDeletion
from lairchat.core.export import DataExport
from lairchat.core.hub import Hub
from lairchat.core.invitations import InvitationService
from lairchat.core.invitecodes import InviteCodeService
from lairchat.core.messages import MessageService
from lairchat.core.passwords import Passwords, on_threads
from lairchat.core.pins import PinService
from lairchat.core.ratelimit import RateLimiter
from lairchat.core.reactions import ReactionService
from lairchat.core.rooms import RoomService
from lairchat.core.tokens import Tokens
from lairchat.core.twofactor import TwoFactor
from lairchat.core.typing import TypingService
from lairchat.core.users import UserService
from lairchat.storage.interfaces import IStore


@dataclass
class Core:
    store: IStore
    hub: Hub
    clock: object
    auth: AuthService
    two_factor: TwoFactor
    users: UserService
    rooms: RoomService
    messages: MessageService
    reactions: ReactionService
    pins: PinService
    invitations: InvitationService
    invite_codes: InviteCodeService
    typing: TypingService
    admin: AdminService
    deletion: AccountDeletion
    export: DataExport
    limiter: RateLimiter

    @classmethod
    def build(
        cls,
        store: IStore,
        clock,
        jwt_secret: str,
        run_blocking: Callable[..., defer.Deferred] | None = None,
        hub: Hub | None = None,
        limiter: RateLimiter | None = None,
        passwords: Passwords | None = None,
    ) -> Core:
        """``limiter`` defaults to a disabled one: production passes an enabled limiter
        (see :func:`lairchat.service.build_core`), tests opt in. ``passwords`` defaults
        to one hashing through ``run_blocking`` (then required) with the default bound
        on its queue."""
        hub = hub or Hub()
        rooms = RoomService(store, hub, clock)
        users = UserService(store, hub, clock)
        passwords = passwords or Passwords(on_threads(run_blocking))
        auth = AuthService(store, hub, clock, passwords, Tokens(jwt_secret, clock))
        two_factor = TwoFactor(auth)
        auth.second_factor = two_factor.at_login
        deletion = AccountDeletion(store, hub, clock, auth, rooms)
        core = cls(
            store=store,
            hub=hub,
            clock=clock,
            auth=auth,
            two_factor=two_factor,
            users=users,
            rooms=rooms,
            messages=MessageService(store, hub, clock, users, rooms),
            reactions=ReactionService(store, hub, clock, users),
            pins=PinService(store, hub, clock, users, rooms),
            invitations=InvitationService(store, hub, clock, rooms),
            invite_codes=InviteCodeService(store, hub, clock, rooms),
            typing=TypingService(hub, clock, users),
            admin=AdminService(store, hub, clock, rooms, deletion),
            deletion=deletion,
            export=DataExport(store, clock, deletion=deletion, two_factor=two_factor),
            limiter=limiter if limiter is not None else RateLimiter(clock, enabled=False),
        )
        # Read at each use: the core's limiter, whichever it is then (tests put theirs).
        core.invite_codes.limiter_of = lambda: core.limiter
        return core

    @defer.inlineCallbacks
    def load(self):
        """Fill the hub's in-memory indexes from storage (once, at start)."""
        memberships = yield self.store.all_memberships()
        names = yield self.store.user_names()
        self.hub.load(memberships, names)
