"""Command-line options, with the original client's names and defaults.

``--server HOST:PORT`` is the TCP real-time address; the REST base URL defaults to
``http://HOST:PORT+2`` as the original derives it, and the WebSocket URL is always
derived from the REST URL (``ws(s)://…/ws``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from lairchat import __version__

__all__ = ["ClientConfig", "derive_http_url", "parse_args", "parse_server"]

DEFAULT_SERVER = "127.0.0.1:8080"


@dataclass(frozen=True)
class ClientConfig:
    server: str = DEFAULT_SERVER
    host: str = "127.0.0.1"
    port: int = 8080
    http_url: str = "http://127.0.0.1:8082"
    websocket: bool = False
    insecure: bool = False
    encrypt: bool = False
    log_file: str = ""

    @property
    def transport_name(self) -> str:
        if self.websocket:
            return "WSS" if self.http_url.startswith("https:") else "WS"
        return "TCP"

    def with_server(self, server: str) -> ClientConfig:
        """The same options aimed at another ``HOST:PORT`` (the login screen's field).

        An unchanged address keeps the configured REST URL; a new one gets the URL
        derived from it, since ``--http-url`` named the old server. Raises
        ``ValueError`` for an unusable address."""
        server = server.strip()
        if server == self.server:
            return self
        host, port = parse_server(server)
        return replace(
            self, server=server, host=host, port=port, http_url=derive_http_url(host, port)
        )


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


def derive_http_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{min(port + 2, 65535)}"


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
        "--encrypt",
        action="store_true",
        help="encrypt the TCP connection (X25519 key exchange, AES-256-GCM)",
    )
    p.add_argument("--log-file", metavar="PATH", help="where to write the client log")
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
        http_url = derive_http_url(host, port)
    return ClientConfig(
        server=args.server.strip(),
        host=host,
        port=port,
        http_url=http_url,
        websocket=args.websocket,
        insecure=args.insecure,
        encrypt=args.encrypt,
        log_file=args.log_file or default_log_file(),
    )
