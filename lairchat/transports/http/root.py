"""The resource at the top of the HTTP port.

Every request passes here once, before any route: CORS headers, preflight answers,
the rate-limit hook and the body-size check, in the original's middleware order
(HTTP.md §3). Named children (``/ws``, ``/metrics``, mounted with ``putChild``) are
served as they are; every other path goes to the Klein app of the REST API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.logger import Logger
from twisted.web.resource import IResource, Resource

from lairchat.domain.errors import LairError
from lairchat.transports.http.bodies import check_size
from lairchat.transports.http.errors import bad_request, error_body, internal_error, not_found
from lairchat.transports.http.responses import add_api_headers
from lairchat.transports.http.routing import logged_path


class ErrorPage(Resource):
    """Answers any request with one error envelope."""

    isLeaf = True

    def __init__(self, error: LairError):
        super().__init__()
        self.error = error

    def render(self, request: Any) -> bytes:
        return error_body(request, self.error)


class Preflight(Resource):
    """``OPTIONS``: answered here, never routed or rate-limited (HTTP.md §6).

    ``Allow-Headers`` echoes what the browser asks for: the ``*`` wildcard alone
    does not cover ``Authorization`` in browsers."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setResponseCode(200)
        request.setHeader(b"Access-Control-Allow-Methods", b"*")
        asked = request.requestHeaders.getRawHeaders(b"access-control-request-headers")
        request.setHeader(b"Access-Control-Allow-Headers", asked[0] if asked else b"*")
        return b""


def _utf8_url(request: Any) -> bool:
    """Klein needs the path and host as UTF-8 (else it answers in plain text)."""
    try:
        for segment in (*request.postpath, request.getRequestHostname()):
            segment.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class ApiRoot(Resource):
    """``putChild(b"ws", ...)`` mounts a sibling of the API; the rest is ``fallback``."""

    log = Logger()

    def __init__(self, fallback: IResource, admit: Callable[[Any], LairError | None]):
        super().__init__()
        self._fallback = fallback
        self._admit = admit

    def getChildWithDefault(self, path: bytes, request: Any) -> IResource:  # noqa: N802
        try:
            return self._dispatch(path, request)
        except Exception:
            # The path, not the URI: a query string may hold a token (/ws?token=).
            self.log.failure(
                "HTTP request {path!r} failed before routing", path=logged_path(request)
            )
            return ErrorPage(internal_error())

    def _dispatch(self, path: bytes, request: Any) -> IResource:
        # twisted.web names itself and its exact version in `Server`; say nothing.
        request.responseHeaders.removeHeader(b"server")
        add_api_headers(request)
        #: The matched route template, for metrics; set by the API's endpoints.
        request.lair_route = None
        if request.method == b"OPTIONS":
            return Preflight()
        rejection = self._admit(request)
        if rejection is not None:
            return ErrorPage(rejection)
        try:
            check_size(request)
        except LairError as error:
            return ErrorPage(error)
        if path in self.children:
            return self.children[path]
        if not path:  # "/" itself, or a path that starts with "//": nothing is there
            return ErrorPage(not_found())
        request.postpath.insert(0, request.prepath.pop())
        if not _utf8_url(request):
            return ErrorPage(bad_request("url", "not valid UTF-8"))
        return self._fallback

    def render(self, request: Any) -> bytes:
        # Only reached for an empty request path, which HTTP does not allow.
        add_api_headers(request)
        return error_body(request, not_found())
