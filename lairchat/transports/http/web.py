"""The browser chat client (docs/WEB.md): the files of ``lairchat/web`` on the HTTP port.

``/`` is ``index.html``; its script, style sheet and icon are ``/app/<name>``. The files
are read once, through :mod:`importlib.resources` (so an installed wheel serves what it
ships), and answered from memory with their ETag. Every answer carries a strict
Content-Security-Policy: scripts, styles and images from this origin only, no inline
script, no ``eval``, no framing, no string turned into markup by the DOM (Trusted
Types: ``innerHTML`` and its kind throw), and connections only to this host
(``/api/v1`` over ``fetch``, ``/ws`` over ``ws:``/``wss:``). The files carry none of
the API's CORS headers: no other origin may read them. Any other path under ``/app``, and any
method but GET and HEAD, is the API's usual error envelope.

``mount(root)`` puts both on the port's root resource
(:class:`~lairchat.transports.http.root.ApiRoot`); ``LAIR_WEB_CLIENT=off`` leaves
them out, and ``/`` is then a 404 as before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from lairchat.transports.http.errors import error_body, method_not_allowed, not_found
from lairchat.transports.http.responses import remove_cors_headers

#: The package holding the files.
PACKAGE = "lairchat.web"
#: The prefix of everything but the page itself.
PREFIX = b"app"
INDEX = "index.html"

#: Every file served, with its type. Nothing else in the package is reachable.
CONTENT_TYPES: Mapping[str, bytes] = {
    INDEX: b"text/html; charset=utf-8",
    "app.js": b"text/javascript; charset=utf-8",
    "app.css": b"text/css; charset=utf-8",
    "icon.svg": b"image/svg+xml",
}

#: A Host header that can go into the policy as it is: a name or an address and a
#: port. Anything else (a browser never sends it) gets the policy without it.
_HOST = re.compile(rb"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")

_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self';"
    b" connect-src 'self'%s; object-src 'none'; base-uri 'none'; form-action 'none';"
    b" frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"
)

#: The same on every answer of the client (the policy is added per request).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"X-Content-Type-Options", b"nosniff"),
    (b"Referrer-Policy", b"no-referrer"),
    (b"X-Frame-Options", b"DENY"),
    (b"Cross-Origin-Opener-Policy", b"same-origin"),
    # Revalidate every time (the ETag makes that a 304): a new version of the
    # server never leaves an old script in a browser's cache.
    (b"Cache-Control", b"no-cache"),
)


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: bytes
    etag: bytes


def load_assets(package: str = PACKAGE) -> dict[str, Asset]:
    """The client's files, read from the installed package."""
    files = resources.files(package)
    assets = {}
    for name, content_type in CONTENT_TYPES.items():
        body = files.joinpath(name).read_bytes()
        etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode("ascii") + b'"'
        assets[name] = Asset(body, content_type, etag)
    return assets


def content_security_policy(host: bytes | None) -> bytes:
    """The policy for a page fetched with ``Host: host``. ``connect-src 'self'``
    alone does not cover ``ws:``/``wss:`` in every browser: the host is named for
    both schemes (a page over https can only use ``wss:`` anyway)."""
    sockets = b""
    if host and _HOST.fullmatch(host):
        sockets = b" ws://%s wss://%s" % (host, host)
    return _POLICY % sockets


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if if_none_match is None:
        return False
    tags = [tag.strip() for tag in if_none_match.split(b",")]
    return b"*" in tags or etag in tags or b"W/" + etag in tags


def _error(request: Any, error: Any) -> bytes:
    """The API's error envelope; for HEAD its length only (a body returned for HEAD is
    dropped by Twisted, which logs a warning each time: a scanner could fill the log)."""
    body = error_body(request, error)
    if request.method != b"HEAD":
        return body
    request.setHeader(b"Content-Length", str(len(body)).encode("ascii"))
    return b""


class WebClient(Resource):
    """A leaf: ``/`` when ``index`` (nothing may follow), else ``/app/<name>``."""

    isLeaf = True

    def __init__(self, assets: Mapping[str, Asset], index: bool):
        super().__init__()
        self.assets = assets
        self.index = index

    def _name(self, request: Any) -> str | None:
        if self.index:
            return INDEX if request.postpath == [] else None
        if len(request.postpath) != 1:
            return None
        name = request.postpath[0].decode("latin-1")
        return name if name in self.assets and name != INDEX else None

    def render(self, request: Any) -> Any:
        name = self._name(request)
        if name is None:
            return _error(request, not_found())
        request.lair_route = "/" if self.index else "/app/" + name
        if request.method not in (b"GET", b"HEAD"):
            return _error(request, method_not_allowed(["GET", "HEAD"]))
        asset = self.assets[name]
        # The API's CORS headers (set on every request before routing) are for the
        # API: the page and its files are for this origin only.
        remove_cors_headers(request)
        for header, value in SECURITY_HEADERS:
            request.setHeader(header, value)
        request.setHeader(
            b"Content-Security-Policy", content_security_policy(request.getHeader(b"host"))
        )
        request.setHeader(b"ETag", asset.etag)
        if _matches(request.getHeader(b"if-none-match"), asset.etag):
            # Written here: Twisted would add "Content-Length: 0", which a 304 must
            # not say (RFC 9110 8.6).
            request.setResponseCode(304)
            request.write(b"")
            request.finish()
            return NOT_DONE_YET
        request.setResponseCode(200)
        request.setHeader(b"Content-Type", asset.content_type)
        request.setHeader(b"Content-Length", str(len(asset.body)).encode("ascii"))
        # HEAD: the length of the body, and no body (Twisted would log one it drops).
        return b"" if request.method == b"HEAD" else asset.body


def mount(root: Resource, assets: Mapping[str, Asset] | None = None) -> None:
    """Serve the client on ``root``: the page at ``/``, its files under ``/app/``."""
    if assets is None:
        assets = load_assets()
    root.putChild(b"", WebClient(assets, index=True))
    root.putChild(PREFIX, WebClient(assets, index=False))
