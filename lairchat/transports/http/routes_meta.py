"""Unauthenticated service endpoints: liveness, readiness, the API description."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

import lairchat
from lairchat.transports.http.openapi import openapi_document
from lairchat.transports.http.routing import Answer, RouteGroup, route

#: Seconds /ready waits for the database before calling it unavailable.
READY_TIMEOUT = 5.0


class MetaRoutes(RouteGroup):
    log = Logger()

    @route("GET", "/health")
    async def health(self, request: Any) -> dict:
        return {"status": "healthy", "version": lairchat.__version__}

    @route("GET", "/ready")
    async def ready(self, request: Any) -> dict | Answer:
        """Really ask the database (the original answers a constant)."""
        ping = defer.maybeDeferred(self.core.store.ping)
        ping.addTimeout(READY_TIMEOUT, self.core.clock)
        try:
            ok = await ping
        except Exception:
            self.log.failure("readiness probe: database unavailable")
            ok = False
        if not ok:
            return Answer(503, {"ready": False, "database": "unavailable"})
        return {"ready": True, "database": "connected"}

    @route("GET", "/openapi.json")
    async def openapi(self, request: Any) -> dict:
        return openapi_document()

    @route("GET", "/api/v1/openapi.json")
    async def openapi_v1(self, request: Any) -> dict:
        return openapi_document()
