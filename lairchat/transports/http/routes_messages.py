"""Messages: send, history, search, edit, delete, read markers, reactions and pins
(HTTP.md §5.4).

Targets are accepted as the original's code reads them (``direct_message``) and as
its docs and every output spell them (``dm``).
"""

from __future__ import annotations

from typing import Any

from lairchat.domain.search import QueryInvalid
from lairchat.domain.types import Target
from lairchat.transports.http.bodies import Query, TargetInput, json_body
from lairchat.transports.http.errors import bad_request
from lairchat.transports.http.routing import RouteGroup, path_id, route

#: ``target_type`` values of GET /messages, and the target kind each one means.
TARGET_TYPES = {"room": "room", "direct_message": "dm", "dm": "dm"}


def query_target(query: Query) -> Target:
    kind = query.text("target_type")
    raw_id = query.text("target_id")
    if kind not in TARGET_TYPES:
        raise bad_request("target_type", "must be 'room' or 'direct_message'")
    return TargetInput(TARGET_TYPES[kind], raw_id).resolve()


class MessageRoutes(RouteGroup):
    @route("POST", "/api/v1/messages", status=201)
    async def send_message(self, request: Any) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        target, content = body.target("target"), body.text("content")
        resolved = target.resolve()
        user = await self.caller(claims)
        message = await self.core.messages.send(user, resolved, content)
        return {"message": message.to_wire()}

    @route("GET", "/api/v1/messages")
    async def list_messages(self, request: Any) -> dict:
        claims = self.claims(request)
        query = Query(request)
        limit = query.u32("limit")
        before, after = query.opt_text("before"), query.opt_text("after")
        target = query_target(query)
        user = await self.caller(claims)
        page = await self.core.messages.history(user, target, limit, before, after)
        return page.to_wire()

    @route("GET", "/api/v1/messages/search")
    async def search_messages(self, request: Any) -> dict:
        """Message search (HTTP.md, our addition): both target parameters or none
        (everywhere); the rules are the core's, as for the real-time command, whose
        errors name the text ``query``: here it is ``q``, and absent is missing
        (unless a filter, ``author``, ``since`` or ``until``, makes it optional)."""
        claims = self.claims(request)
        query = Query(request)
        limit = query.u32("limit")
        text, before = query.opt_text("q"), query.opt_text("before")
        filters = [query.opt_text(name) for name in ("author", "since", "until")]
        present = [query.opt_text(name) is not None for name in ("target_type", "target_id")]
        if present[0] != present[1]:
            raise bad_request("target_type", "target_type and target_id go together")
        target = query_target(query) if present[0] else None
        user = await self.caller(claims)
        try:
            page = await self.core.messages.search(user, text, target, limit, before, *filters)
        except QueryInvalid as e:
            if text is None:
                raise bad_request("q", "missing required parameter") from None
            raise e.named("q") from None
        return page.to_wire()

    @route("PATCH", "/api/v1/messages/{message_id}")
    async def edit_message(self, request: Any, message_id: str) -> dict:
        claims = self.claims(request)
        content = json_body(request).text("content")
        wanted = path_id(message_id, "message_not_found")
        user = await self.caller(claims)
        message = await self.core.messages.edit(user, wanted, content)
        return {"message": message.to_wire()}

    @route("DELETE", "/api/v1/messages/{message_id}")
    async def delete_message(self, request: Any, message_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(message_id, "message_not_found")
        user = await self.caller(claims)
        await self.core.messages.delete(user, wanted)
        return {"success": True}

    @route("POST", "/api/v1/messages/read")
    async def mark_read(self, request: Any) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        target, up_to = body.target("target"), body.opt_text("up_to")
        resolved = target.resolve()
        user = await self.caller(claims)
        return await self.core.messages.mark_read(user, resolved, up_to)

    @route("PUT", "/api/v1/messages/{message_id}/reactions/{emoji}")
    async def add_reaction(self, request: Any, message_id: str, emoji: str) -> dict:
        """``emoji`` arrives percent-decoded (UTF-8) by the router."""
        return await self._reaction(request, message_id, emoji, added=True)

    @route("DELETE", "/api/v1/messages/{message_id}/reactions/{emoji}")
    async def remove_reaction(self, request: Any, message_id: str, emoji: str) -> dict:
        return await self._reaction(request, message_id, emoji, added=False)

    @route("PUT", "/api/v1/messages/{message_id}/reactions")
    async def add_reaction_by_query(self, request: Any, message_id: str) -> dict:
        """The emoji as ``?emoji=``: ``.`` and ``..`` too, which a path segment
        cannot carry (HTTP clients resolve dot segments away, even percent-encoded)."""
        return await self._reaction(request, message_id, None, added=True)

    @route("DELETE", "/api/v1/messages/{message_id}/reactions")
    async def remove_reaction_by_query(self, request: Any, message_id: str) -> dict:
        return await self._reaction(request, message_id, None, added=False)

    async def _reaction(
        self, request: Any, message_id: str, emoji: str | None, added: bool
    ) -> dict:
        """Add or take back the caller's ``emoji`` (None: the query's ``emoji``)."""
        claims = self.claims(request)
        wanted = path_id(message_id, "message_not_found")
        if emoji is None:
            emoji = Query(request).text("emoji")
        user = await self.caller(claims)
        change = self.core.reactions.add if added else self.core.reactions.remove
        await change(user, wanted, emoji)
        return {"success": True}

    @route("PUT", "/api/v1/messages/{message_id}/pin")
    async def pin_message(self, request: Any, message_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(message_id, "message_not_found")
        user = await self.caller(claims)
        await self.core.pins.pin(user, wanted)
        return {"success": True}

    @route("DELETE", "/api/v1/messages/{message_id}/pin")
    async def unpin_message(self, request: Any, message_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(message_id, "message_not_found")
        user = await self.caller(claims)
        await self.core.pins.unpin(user, wanted)
        return {"success": True}
