"""Unauthenticated service endpoints: liveness, readiness, the API description."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

import lairchat
from lairchat.domain.errors import already_logged
from lairchat.transports.http.openapi import openapi_document
from lairchat.transports.http.routing import Answer, RouteGroup, route

#: Seconds /ready waits for the database before calling it unavailable.
READY_TIMEOUT = 5.0


async def database_ready(store: Any, clock: Any, timeout: float, log: Logger) -> bool:
    """Whether the database answers ``store.ping()`` truly within ``timeout`` seconds.
    A failure is logged, but not again when its cause already was (a storage fault);
    a timeout in one line (it says all there is, and a probe comes every few seconds)."""
    ping = defer.maybeDeferred(store.ping)
    ping.addTimeout(timeout, clock)
    try:
        return bool(await ping)
    except defer.TimeoutError:
        log.warn("readiness probe: the database did not answer within {timeout} s", timeout=timeout)
        return False
    except Exception as e:
        if not already_logged(e):
            log.failure("readiness probe: database unavailable")
        return False


class MetaRoutes(RouteGroup):
    log = Logger()

    @route("GET", "/health")
    async def health(self, request: Any) -> dict:
        return {"status": "healthy", "version": lairchat.__version__}

    @route("GET", "/ready")
    async def ready(self, request: Any) -> dict | Answer:
        """Really ask the database (the original answers a constant)."""
        if not await database_ready(self.core.store, self.core.clock, READY_TIMEOUT, self.log):
            return Answer(503, {"ready": False, "database": "unavailable"})
        return {"ready": True, "database": "connected"}

    @route("GET", "/openapi.json")
    async def openapi(self, request: Any) -> dict:
        return openapi_document()

    @route("GET", "/api/v1/openapi.json")
    async def openapi_v1(self, request: Any) -> dict:
        return openapi_document()
