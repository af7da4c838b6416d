"""Room invitations (HTTP.md §5.5)."""

from __future__ import annotations

from typing import Any

from lairchat.transports.http.bodies import Query, json_body
from lairchat.transports.http.routing import RouteGroup, path_id, route


class InvitationRoutes(RouteGroup):
    @route("POST", "/api/v1/invitations", status=201)
    async def create_invitation(self, request: Any) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        room_id, user_id = body.text("room_id"), body.text("user_id")
        body.opt_text("message")  # accepted, never stored (as in the original)
        room = path_id(room_id, "room_not_found")
        invitee = path_id(user_id, "user_not_found")
        user = await self.caller(claims)
        invitation = await self.core.invitations.create(user, room, invitee, moderators_only=True)
        return {"invitation": invitation.to_wire()}

    @route("GET", "/api/v1/invitations")
    async def list_invitations(self, request: Any) -> dict:
        """The newest 100 by default, as the original's (which had no parameters);
        ``limit`` and ``offset`` (our addition) reach the rest."""
        claims = self.claims(request)
        query = Query(request)
        limit, offset = query.u32("limit"), query.u32("offset") or 0
        user = await self.caller(claims)
        invitations, more = await self.core.invitations.pending(user, limit, offset)
        return {"invitations": [i.to_wire() for i in invitations], "has_more": more}

    @route("GET", "/api/v1/rooms/{room_id}/invitations")
    async def list_room_invitations(self, request: Any, room_id: str) -> dict:
        """Our addition (HTTP.md): what a room's owners and moderators may revoke."""
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        query = Query(request)
        limit, offset = query.u32("limit"), query.u32("offset") or 0
        user = await self.caller(claims)
        invitations, more = await self.core.invitations.of_room(user, wanted, limit, offset)
        return {"invitations": [i.to_wire() for i in invitations], "has_more": more}

    @route("POST", "/api/v1/invitations/{invitation_id}/accept")
    async def accept_invitation(self, request: Any, invitation_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(invitation_id, "invitation_not_found")
        user = await self.caller(claims)
        membership, room = await self.core.invitations.accept(user, wanted)
        return {"membership": membership.to_wire(), "room": room.to_wire()}

    @route("POST", "/api/v1/invitations/{invitation_id}/decline")
    async def decline_invitation(self, request: Any, invitation_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(invitation_id, "invitation_not_found")
        user = await self.caller(claims)
        await self.core.invitations.decline(user, wanted)
        return {"success": True}

    @route("DELETE", "/api/v1/invitations/{invitation_id}")
    async def revoke_invitation(self, request: Any, invitation_id: str) -> dict:
        """Our addition (HTTP.md): the inviter or a room owner/moderator withdraws it."""
        claims = self.claims(request)
        wanted = path_id(invitation_id, "invitation_not_found")
        user = await self.caller(claims)
        await self.core.invitations.revoke(user, wanted)
        return {"success": True}
