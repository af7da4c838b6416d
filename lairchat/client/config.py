"""Command-line options, with the original client's names and defaults.

``--server HOST:PORT`` is the TCP real-time address; the REST base URL defaults to
``http://HOST:PORT+2`` as the original derives it (``https://`` with ``--tls``), and
the WebSocket URL is always derived from the REST URL (``ws(s)://…/ws``).

Options that cannot work together are refused at start rather than ignored: a user
who asked for ``--encrypt`` over WebSocket would otherwise believe the connection
encrypted when only TLS (``wss://``) can do that there. So is a ``--ca-file`` that
cannot be used: read at start, it would otherwise fail only at the login.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from lairchat import __version__
from lairchat.client.net.tls import SYSTEM_TRUST, Trust, load_trust

__all__ = [
    "ClientConfig",
    "derive_http_url",
    "http_url_from_ws",
    "parse_args",
    "parse_server",
    "ws_url_from_http",
]

DEFAULT_SERVER = "127.0.0.1:8080"


@dataclass(frozen=True)
class ClientConfig:
    server: str = DEFAULT_SERVER
    host: str = "127.0.0.1"
    port: int = 8080
    http_url: str = "http://127.0.0.1:8082"
    websocket: bool = False
    #: Which server certificates ``https://``, ``wss://`` and ``--tls`` accept.
    trust: Trust = SYSTEM_TRUST
    encrypt: bool = False
    #: TLS on the TCP connection, and ``https://`` for a derived REST URL.
    tls: bool = False
    log_file: str = ""
    #: Ring the terminal's bell for a mention or a direct message that arrives while
    #: another conversation is shown (``--no-bell``, ``/bell off``): on, as most
    #: terminal chat clients are, since being addressed is what a user must not miss.
    bell: bool = True

    def __post_init__(self) -> None:
        """Refuse what cannot be honoured, so that no option is silently ignored."""
        if self.websocket and self.encrypt:
            raise ValueError("--encrypt is for TCP; over WebSocket use --tls (wss://) instead")
        if self.websocket and self.tls and not self.secure_http:
            raise ValueError("--tls over WebSocket means wss://: give an https:// --http-url")

    @property
    def secure_http(self) -> bool:
        return self.http_url.startswith("https:")

    @property
    def transport_name(self) -> str:
        if self.websocket:
            return "WSS" if self.secure_http else "WS"
        return "TCP+TLS" if self.tls else "TCP"

    @property
    def ws_url(self) -> str:
        return ws_url_from_http(self.http_url)

    @property
    def address(self) -> str:
        """Where the real-time traffic goes: what the login screen shows and edits."""
        return self.ws_url if self.websocket else self.server

    def with_address(self, address: str) -> ClientConfig:
        """The same options aimed at another :attr:`address` (the login screen's
        field): a ``HOST:PORT`` over TCP, a ``ws(s)://`` URL over WebSocket.

        An unchanged address keeps the configured REST URL. Raises ``ValueError``
        for an unusable address."""
        address = address.strip()
        if address == self.address:
            return self
        if not self.websocket:
            return self.with_server(address)
        http_url = http_url_from_ws(address)
        return replace(self, http_url=http_url, tls=http_url.startswith("https:"))

    def with_server(self, server: str) -> ClientConfig:
        """The same options aimed at another TCP ``HOST:PORT``.

        An unchanged address keeps the configured REST URL; a new one gets the URL
        derived from it, since ``--http-url`` named the old server. Raises
        ``ValueError`` for an unusable address."""
        server = server.strip()
        if server == self.server:
            return self
        host, port = parse_server(server)
        http_url = derive_http_url(host, port, self.tls)
        return replace(self, server=server, host=host, port=port, http_url=http_url)


def parse_server(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"expected [ADDRESS]:PORT, got {text!r}")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"expected HOST:PORT, got {text!r}")
    if not host:
        raise ValueError(f"missing host in {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"port must be a number, got {port_text!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {port}")
    return host, port


def derive_http_url(host: str, port: int, tls: bool = False) -> str:
    """The original client's REST URL for a TCP address: port + 2 on the same host."""
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if tls else "http"
    return f"{scheme}://{shown}:{min(port + 2, 65535)}"


def ws_url_from_http(http_url: str) -> str:
    """``http://h:p`` → ``ws://h:p/ws``; ``https`` → ``wss`` (as the original client)."""
    parts = urlsplit(http_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/")
    return f"{scheme}://{parts.netloc}{path}/ws"


def http_url_from_ws(ws_url: str) -> str:
    """The inverse of :func:`ws_url_from_http` (``/ws`` at the end may be left out).

    Raises ``ValueError`` for anything but a ``ws://`` or ``wss://`` URL with a host."""
    parts = urlsplit(ws_url.strip())
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"expected ws://HOST:PORT/ws or wss://HOST:PORT/ws, got {ws_url!r}")
    _ = parts.port  # raises ValueError for a port that is no number in 0-65535
    path = parts.path.rstrip("/").removesuffix("/ws")
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}{path}"


def default_log_file() -> str:
    """``$XDG_STATE_HOME/lairchat/client.log`` (or the temp directory if unwritable)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    for folder in (Path(base) / "lairchat", Path(tempfile.gettempdir()) / "lairchat"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return str(folder / "client.log")
    return os.devnull


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lairchat-client",
        description="Terminal client for lairchat and Lair Chat servers.",
    )
    p.add_argument(
        "-s",
        "--server",
        default=DEFAULT_SERVER,
        metavar="HOST:PORT",
        help="TCP real-time address (default %(default)s)",
    )
    p.add_argument(
        "--http-url",
        metavar="URL",
        help="REST API base URL, http:// or https:// (default: http://HOST:PORT+2)",
    )
    p.add_argument(
        "-w",
        "--websocket",
        action="store_true",
        help="use WebSocket (ws(s)://<http host>/ws) instead of TCP for real-time traffic",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify TLS certificates (self-signed development servers only)",
    )
    p.add_argument(
        "--ca-file",
        metavar="PATH",
        help="verify the server's TLS certificate against the CAs in this PEM file "
        "instead of the system's (a private CA); for https://, wss:// and --tls",
    )
    p.add_argument(
        "--encrypt",
        action="store_true",
        help="encrypt the TCP connection (X25519 key exchange, AES-256-GCM)",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="TLS on the TCP connection (a server with LAIR_TCP_TLS); "
        "the default REST URL becomes https://",
    )
    p.add_argument("--log-file", metavar="PATH", help="where to write the client log")
    p.add_argument(
        "--no-bell",
        dest="bell",
        action="store_false",
        help="do not ring the terminal bell for mentions and direct messages "
        "in conversations not shown (/bell on|off while running)",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def parse_args(argv: list[str] | None = None) -> ClientConfig:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        host, port = parse_server(args.server)
    except ValueError as exc:
        parser.error(f"--server: {exc}")
    if args.http_url:
        http_url = args.http_url.rstrip("/")
        if not http_url.startswith(("http://", "https://")):
            parser.error("--http-url must start with http:// or https://")
    else:
        http_url = derive_http_url(host, port, args.tls)
    try:
        trust = load_trust(insecure=args.insecure, ca_file=args.ca_file)
        return ClientConfig(
            server=args.server.strip(),
            host=host,
            port=port,
            http_url=http_url,
            websocket=args.websocket,
            trust=trust,
            encrypt=args.encrypt,
            tls=args.tls,
            log_file=args.log_file or default_log_file(),
            bell=args.bell,
        )
    except ValueError as exc:
        parser.error(str(exc))
