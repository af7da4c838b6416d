"""Blocking clients of a running server's TCP and WebSocket protocols, for tests.

They talk to a real process (see :class:`lairchat.testing.ServerProcess`) over plain
sockets: every wait is a socket read bounded by the socket's timeout, so a test needs
no reactor and never sleeps. Both sides of each protocol are written here from its
specification (length-prefixed JSON, X25519 + AES-256-GCM, RFC 6455), not with the
server's own code, so that a bug there cannot hide itself from the tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import os
import socket
import ssl
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Self

import orjson
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lairchat.testing import frame, split_frames

#: Longest a client waits for any one read.
READ_TIMEOUT = 10.0
#: Every event a server pushes unasked (PROTOCOL.md, "Server events"), for tests that
#: check what a client was sent.
EVENT_TYPES = frozenset(
    {
        "message_received",
        "message_edited",
        "message_deleted",
        "user_joined_room",
        "user_left_room",
        "member_role_changed",
        "room_updated",
        "room_deleted",
        "user_online",
        "user_offline",
        "user_typing",
        "invitation_received",
        "server_notice",
    }
)
#: lairchat's own events, pushed only to clients that ask (docs/protocols/TCP.md).
LAIRCHAT_EVENT_TYPES = frozenset(
    {
        "room_created",
        "invitation_revoked",
        "messages_read",
        "reaction_added",
        "reaction_removed",
        "message_pinned",
        "message_unpinned",
        "system_role_changed",
        "invite_code_created",
        "invite_code_used",
        "invite_code_revoked",
    }
)
WS_MAGIC = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA

Address = int | tuple[str, int] | str
Message = dict[str, Any]


def rest(
    server: Any, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """One REST call to the server at ``server.url`` (a ServerProcess): its status and
    decoded JSON answer (``{}`` for an empty one), error answers included. Never
    through a proxy, whatever the environment says: the server is on loopback."""
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(f"{server.url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=READ_TIMEOUT) as response:
            return response.status, orjson.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, orjson.loads(e.read() or b"{}")


class ServerClosed(ConnectionError):
    """The server closed the connection (EOF, a reset, or a WebSocket close frame)."""


class Refused(ConnectionError):
    """The server answered the WebSocket upgrade with another status than 101."""

    def __init__(self, status: int):
        hint = " (is /ws mounted in service.py?)" if status == 404 else ""
        super().__init__(f"HTTP {status}{hint}")
        self.status = status


def open_socket(
    address: Address,
    source: str | None = None,
    tls: ssl.SSLContext | None = None,
    timeout: float = READ_TIMEOUT,
) -> socket.socket:
    """A connected socket: ``address`` is a loopback port, a ``(host, port)`` pair or
    the path of a Unix socket; ``source`` binds the local end first (to be seen as
    that address), ``tls`` wraps it (the development certificate names localhost)."""
    if isinstance(address, int):
        address = ("127.0.0.1", address)
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        if source is not None:
            sock.bind((source, 0))
        sock.connect(address)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
    except BaseException:
        sock.close()
        raise
    return sock


def closed_at_once(port: int, wait: float = READ_TIMEOUT, source: str | None = None) -> bool:
    """Connect to a loopback ``port`` (from ``source``, see :func:`open_socket`); True
    if the server closes the connection cleanly without sending a byte (a connection
    cap; a reset raises ConnectionResetError), False if it sends something (TCP's
    server_hello) or is still silent after ``wait`` seconds (HTTP speaks second)."""
    with open_socket(port, source, timeout=wait) as sock:
        try:
            return sock.recv(1) == b""
        except TimeoutError:
            return False


class _MessageStream:
    """Waiting, request/response matching and reading to the end, over any stream of
    JSON messages: a subclass reads one (:meth:`_read`) and sends one (:meth:`send`).

    Messages read while waiting for another stay in :attr:`backlog`, in order, and
    :meth:`recv` returns them first."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.sock.settimeout(timeout)
        #: Bytes read but not yet parsed.
        self.buffer = b""
        self.backlog: list[Message] = []
        self._ids = itertools.count(1)

    def send(self, message: Message) -> None:
        raise NotImplementedError

    def _read(self) -> Message:
        raise NotImplementedError

    def _fill(self, n: int) -> None:
        """Read until :attr:`buffer` holds ``n`` bytes."""
        while len(self.buffer) < n:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError) as e:
                raise ServerClosed(str(e)) from None
            if not chunk:
                raise ServerClosed("EOF")
            self.buffer += chunk

    def _take(self, n: int) -> bytes:
        self._fill(n)
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self) -> Message:
        """The next message, from the backlog first."""
        if self.backlog:
            return self.backlog.pop(0)
        return self._read()

    def wait_for(self, match: Callable[[Message], bool], keep_others: bool = True) -> Message:
        """Read until a message matches; the others stay in the backlog (or are dropped)."""
        for i, message in enumerate(self.backlog):
            if match(message):
                del self.backlog[i]
                return message
        pending, self.backlog = self.backlog, []
        skipped = []
        try:
            while True:
                message = self._read()
                if match(message):
                    return message
                skipped.append(message)
        finally:
            self.backlog = (pending + skipped) if keep_others else []

    def event(self, kind: str, **fields: Any) -> Message:
        """The next message of ``kind`` whose top-level fields equal ``fields``."""
        return self.wait_for(
            lambda m: m["type"] == kind and all(m.get(k) == v for k, v in fields.items())
        )

    def barrier(self) -> list[Message]:
        """Ping and wait for the pong; return every other message received until then.

        The server writes to one connection in order, so anything it sent this
        connection before it handled the ping is in the returned list."""
        self.send({"type": "ping"})
        messages, self.backlog = self.backlog, []
        while (message := self._read())["type"] != "pong":
            messages.append(message)
        return messages

    def expect_closed(self) -> list[Message]:
        """Read until the server closes; return the messages that came first."""
        messages, self.backlog = self.backlog, []
        with contextlib.suppress(ServerClosed):
            while True:
                messages.append(self._read())
        return messages

    def request(self, kind: str, **fields: Any) -> Message:
        """Send a command with a fresh ``request_id``; wait for its response."""
        request_id = f"{kind}-{next(self._ids)}"
        self.send({"type": kind, "request_id": request_id, **fields})
        return self.wait_for(
            lambda m: m["type"] == f"{kind}_response" and m.get("request_id") == request_id
        )

    def ok(self, kind: str, **fields: Any) -> Message:
        """:meth:`request`, checked to have succeeded."""
        response = self.request(kind, **fields)
        assert response["success"] is True, response
        return response

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TCPClient(_MessageStream):
    """A client of the TCP protocol over a connected socket (plain or TLS):
    length-prefixed JSON, optionally encrypted with X25519 + AES-256-GCM.

    ``server_hello`` is read and checked on construction. :attr:`token`,
    :attr:`user_id`, :attr:`username` and :attr:`session_id` are for whoever
    authenticates the connection to fill in."""

    def __init__(self, sock: socket.socket, timeout: float = READ_TIMEOUT) -> None:
        super().__init__(sock, timeout)
        self.aead: AESGCM | None = None
        #: Payloads of whole frames read but not yet returned (:attr:`buffer` never
        #: holds a whole frame): raw, since only the reader knows when to decrypt.
        self._payloads: list[bytes] = []
        self.token = self.user_id = self.username = self.session_id = ""
        self.server_hello = self._read()
        assert self.server_hello["type"] == "server_hello", self.server_hello

    @classmethod
    def connect(
        cls,
        address: Address,
        source: str | None = None,
        tls: ssl.SSLContext | None = None,
        timeout: float = READ_TIMEOUT,
    ) -> Self:
        """A new connection to ``address`` (see :func:`open_socket`)."""
        return cls(open_socket(address, source, tls, timeout), timeout)

    # -- bytes ----------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_payload(self, payload: bytes) -> None:
        """One frame; encrypted (a fresh 12-byte nonce, then the ciphertext) once the
        key exchange is done."""
        if self.aead is not None:
            nonce = os.urandom(12)
            payload = nonce + self.aead.encrypt(nonce, payload, None)
        self.send_raw(frame(payload))

    def send(self, message: Message) -> None:
        self.send_payload(orjson.dumps(message))

    def recv_payload(self) -> bytes:
        """The next frame's payload as sent (encrypted, if encryption is on)."""
        while not self._payloads:
            self._fill(len(self.buffer) + 1)
            self._payloads, self.buffer = split_frames(self.buffer)
        return self._payloads.pop(0)

    def _read(self) -> Message:
        payload = self.recv_payload()
        if self.aead is not None:
            payload = self.aead.decrypt(payload[:12], payload[12:], None)
        return orjson.loads(payload)

    # -- the handshake ----------------------------------------------------------------

    def hello(
        self, encrypted: bool = False, client_name: str = "pytest", extended: bool = False
    ) -> None:
        """``client_hello``; with ``encrypted``, the key exchange too, after which
        both directions are encrypted. This is the original's TUI client's handshake
        (``TcpClient::handshake_with_encryption``) with ``client_name`` its own.
        ``extended``: ask for lairchat's own events too (LAIRCHAT_EVENT_TYPES)."""
        features = (["encryption"] if encrypted else []) + (["lairchat-events"] if extended else [])
        hello = {"type": "client_hello", "version": "1.0", "client_name": client_name}
        self.send({**hello, "features": features})
        if not encrypted:
            return
        private = X25519PrivateKey.generate()
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.send({"type": "key_exchange", "public_key": base64.b64encode(public).decode()})
        reply = self._read()  # in plaintext, unlike everything after it
        assert reply["type"] == "key_exchange_response", reply
        # Standard base64 with padding, as the client decodes it.
        peer_key = base64.b64decode(reply["public_key"], validate=True)
        peer = X25519PublicKey.from_public_bytes(peer_key)
        # The AES-256-GCM key is the raw X25519 shared secret (no KDF).
        self.aead = AESGCM(private.exchange(peer))


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame (masked, as RFC 6455 requires of clients)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class WSClient(_MessageStream):
    """The client side of RFC 6455 on ``path``: masked frames out, unmasked frames
    in, no extensions. The upgrade's answer is checked (:class:`Refused` if it is not
    101, and ``Sec-WebSocket-Accept``)."""

    def __init__(
        self,
        port: int,
        path: str = "/ws",
        host: str = "127.0.0.1",
        source: str | None = None,
        headers: dict[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        timeout: float = READ_TIMEOUT,
        early: bytes = b"",
    ) -> None:
        """``early``: bytes sent in the same write as the upgrade request, before its
        answer (frames from :func:`masked_frame`), as an impatient client would."""
        super().__init__(open_socket((host, port), source, tls, timeout), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        fields = {
            "Host": f"{host}:{port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
            **(headers or {}),
        }
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.sock.sendall((request + "\r\n").encode("latin-1") + early)
        while b"\r\n\r\n" not in self.buffer:
            self._fill(len(self.buffer) + 1)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if status != 101:
            self.close()
            raise Refused(status)
        reply = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
        }
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_MAGIC).digest()).decode()
        assert reply["sec-websocket-accept"] == accept

    def send_frame(self, opcode: int, payload: bytes) -> None:
        """One final frame, masked as a client must."""
        self.sock.sendall(masked_frame(opcode, payload))

    def send(self, message: Message) -> None:
        self.send_frame(TEXT, orjson.dumps(message))

    def recv_frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload."""
        b0, b1 = self._take(2)
        assert not b1 & 0x80, "server frames are never masked"
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._take(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._take(8))
        return b0 & 0x0F, self._take(n)

    def _read(self) -> Message:
        """The next text message; a close frame is :class:`ServerClosed` (the server
        sends only text, never pings)."""
        opcode, payload = self.recv_frame()
        if opcode == CLOSE:
            raise ServerClosed("close frame")
        assert opcode == TEXT, (opcode, payload)
        return orjson.loads(payload)

    def close_cleanly(self) -> None:
        """Close frame, the server's close frame, then its end of the socket: once this
        returns, the server has finished with the connection."""
        self.send_frame(CLOSE, struct.pack("!H", 1000))
        while self.recv_frame()[0] != CLOSE:
            pass
        self._close_at_eof()

    def close_cleanly_after_server_close(self) -> None:
        """Answer the server's close frame, then see the server end the socket."""
        self.send_frame(CLOSE, struct.pack("!H", 1000))
        self._close_at_eof()

    def _close_at_eof(self) -> None:
        while self.sock.recv(4096):
            pass
        self.sock.close()
