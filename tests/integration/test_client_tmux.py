"""The terminal client for real: a lairchat server in a subprocess and two clients in
tmux, driven by keystrokes and read back from the screen (``tmux capture-pane``).

Each run registers two users through the login screen, one creates a room and the
other joins it by name, then they talk; the same over TCP, encrypted TCP and
WebSocket. TLS is shown with a self-signed development certificate (``--insecure``)
and with a private CA (``--ca-file``). A user on a raw TCP connection sends hostile
text, which the real client must show as marks (invisible characters too, and in
its input field) and in its own indented rows. Every
wait is bounded polling of the screen (10 s at most, 0.1 s steps).
tmux is required: CI installs it (``.ci/run``); locally ``apt-get install tmux``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lairchat.client.testing import PrivateCA, write_private_ca
from lairchat.testing import ServerNotReady, ServerProcess
from lairchat.testing_clients import TCPClient
from lairchat.tls import write_dev_certificate

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0
#: The first screen also waits for Python to import Twisted, urwid and Autobahn.
STARTUP = 20.0
STEP = 0.1
PASSWORD = "password123"


def tmux_binary() -> str:
    found = shutil.which("tmux")
    if found is None:
        pytest.fail(
            "tmux is needed for the terminal client tests: apt-get install -y tmux "
            "(CI installs it through .ci/run)",
            pytrace=False,
        )
    return found


class Server(ServerProcess):
    """The shared launcher, with its own database; with ``https``, HTTPS and WSS, with
    ``tcp_tls`` TLS on the TCP port, both with a self-signed development certificate
    (the client accepts it with --insecure), or the certificate ``pki`` signed.
    ``env``: more settings (the ports of a server started again, for one)."""

    def __init__(
        self,
        workdir: Path,
        https: bool = False,
        tcp_tls: bool = False,
        pki: PrivateCA | None = None,
        **env: str,
    ) -> None:
        extra: dict[str, str] = dict(env)
        if https or tcp_tls:
            cert, key = (pki.cert, pki.key) if pki else write_dev_certificate(str(workdir))
            extra.update(LAIR_TLS_CERT_PATH=str(cert), LAIR_TLS_KEY_PATH=str(key))
        if https:
            extra["LAIR_TLS_ENABLED"] = "true"
        if tcp_tls:
            extra["LAIR_TCP_TLS"] = "on"
        try:
            super().__init__(workdir, secret="client-tmux-test-secret-0123456789abcdef", **extra)
        except ServerNotReady as e:
            pytest.fail(str(e), pytrace=False)

    @property
    def http_url(self) -> str:
        return self.url

    def client_args(self, *more: str, host: str = "127.0.0.1") -> list[str]:
        """The options aiming a client at both ports by ``host``, then ``more``."""
        scheme = self.url.partition(":")[0]
        return [
            "--server",
            f"{host}:{self.tcp_port}",
            "--http-url",
            f"{scheme}://{host}:{self.http_port}",
            *more,
        ]


class Terminal:
    """One client running in its own tmux session on a private tmux server."""

    def __init__(self, tmux: str, socket_name: str, name: str, args: list[str], workdir: Path):
        self.tmux = tmux
        self.socket = socket_name
        self.name = name
        self.log_path = workdir / f"{name}.log"
        config = workdir / "tmux.conf"
        config.write_text("set -g remain-on-exit on\nset -g history-limit 100\n")
        command = [sys.executable, "-m", "lairchat.client", *args, "--log-file", str(self.log_path)]
        env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONPATH": str(ROOT)}
        env.pop("TMUX", None)
        self._run(
            "-f",
            str(config),
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            name,
            " ".join(_quote(part) for part in command),
            env=env,
        )
        self.socket_path = self._run("display-message", "-p", "#{socket_path}").strip()

    def _run(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [self.tmux, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=WAIT,
        )
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def keys(self, *keys: str) -> None:
        """Named keys (``Enter``, ``Tab``, ``F1``, ``Escape``), one call each."""
        for key in keys:
            self._run("send-keys", "-t", self.name, key)

    def type(self, text: str) -> None:
        self._run("send-keys", "-t", self.name, "-l", text)

    def paste(self, text: str) -> None:
        """Paste ``text`` as a terminal does, bracketed if the client asked for it."""
        self._run("set-buffer", "--", text)
        self._run("paste-buffer", "-p", "-d", "-t", self.name)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", self.name)

    def title(self) -> str:
        """The pane's title (an OSC 0 or 2 sequence written to the terminal sets it)."""
        return self._run("display-message", "-p", "-t", self.name, "#{pane_title}").strip()

    def width(self) -> int:
        """The pane's width in columns, as tmux made it (not as it was asked for)."""
        return int(self._run("display-message", "-p", "-t", self.name, "#{pane_width}"))

    def dead(self) -> bool:
        return self._run("list-panes", "-t", self.name, "-F", "#{pane_dead}").strip() == "1"

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        """The screen once ``text`` is on it, on one line or wrapped over several."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown or text in unwrapped(shown):
                return shown
            if time.monotonic() > deadline:
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                raise AssertionError(
                    f"{self.name}: {text!r} not on screen after {timeout:.0f} s.\n"
                    f"--- screen ---\n{shown}\n--- client log (tail) ---\n{log[-3000:]}"
                )
            time.sleep(STEP)

    def wait_gone(self, text: str, timeout: float = WAIT) -> str:
        """The screen once ``text`` is no longer on it. urwid draws from the top: a
        line that just appeared may stand above a status bar a draw behind it."""
        deadline = time.monotonic() + timeout
        while (text in (shown := self.screen()) or text in unwrapped(shown)) and (
            time.monotonic() < deadline
        ):
            time.sleep(STEP)
        return shown

    def register(self, username: str) -> None:
        self.wait_for("L A I R   C H A T", STARTUP)
        self.keys("F1")
        self.wait_for("Register - new account")
        self.type(username)
        self.keys("Tab")
        self.type(f"{username}@example.com")
        self.keys("Tab")
        self.type(PASSWORD)
        self.keys("Enter")
        self.wait_for(f"Welcome, {username}!")

    def log_in(self, username: str, password: str = PASSWORD) -> None:
        """From the start screen, signed in as an existing account (as :meth:`register`
        is as a new one)."""
        self.wait_for("L A I R   C H A T", STARTUP)
        self.fill_login(username, password)
        self.wait_for(f"Welcome, {username}!")

    def fill_login(self, username: str, password: str) -> None:
        """Username (focused at start) and password, then Enter."""
        self.type(username)
        self.keys("Tab")
        self.type(password)
        self.keys("Enter")

    def command(self, line: str) -> None:
        """Insert mode, the line, Enter (stays in insert mode)."""
        self.type(line)
        self.keys("Enter")


def unwrapped(shown: str) -> str:
    """The screen's lines joined by single spaces, box borders dropped, so that a
    sentence the login box wrapped reads whole."""
    return " ".join(line.strip(" │") for line in shown.splitlines())


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


def module_server(
    factory: pytest.TempPathFactory,
    name: str,
    https: bool = False,
    tcp_tls: bool = False,
    pki: PrivateCA | None = None,
) -> Iterator[Server]:
    """The body of a module-scoped server fixture: started, yielded, stopped."""
    srv = Server(factory.mktemp(name), https=https, tcp_tls=tcp_tls, pki=pki)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, "client-server")


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[list[Terminal]]:
    """Clients started by the test; their tmux servers are killed at the end (a test
    with a terminal on a second tmux server left that one, and its client, running
    after the suite: seen beside the benchmark)."""
    tmux = tmux_binary()
    started: list[Terminal] = []
    yield started
    for name in dict.fromkeys(t.socket for t in started):
        socket_path = next(t.socket_path for t in started if t.socket == name)
        subprocess.run([tmux, "-L", name, "kill-server"], capture_output=True)
        with contextlib.suppress(OSError):
            os.unlink(socket_path)  # tmux leaves its socket file behind


TRANSPORTS = {
    "tcp": ([], "│ TCP │"),
    "tcp-encrypted": (["--encrypt"], "│ TCP encrypted │"),
    "websocket": (["--websocket"], "│ WS │"),
}


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_two_clients_talk_in_a_room(
    server: Server, terminals: list[Terminal], tmp_path: Path, transport: str
) -> None:
    extra, status = TRANSPORTS[transport]
    tag = uuid.uuid4().hex[:6]
    alice, bob, room = f"alice_{tag}", f"bob_{tag}", f"room_{tag}"
    args = server.client_args(*extra)
    socket_name = f"lairchat-test-{tag}"
    tmux = tmux_binary()
    a = Terminal(tmux, socket_name, "alice", args, tmp_path)
    terminals.append(a)
    b = Terminal(tmux, socket_name, "bob", args, tmp_path)
    terminals.append(b)

    a.register(alice)
    b.register(bob)
    assert status in a.wait_for("● online")

    a.keys("i")
    a.command(f"/create {room}")
    a.wait_for(f"You created the room #{room}")
    b.keys("i")
    b.command(f"/join {room}")
    b.wait_for(f"You joined #{room}")
    a.wait_for(f"{bob} joined the room")

    b.type("typing away")
    a.wait_for(f"{bob} is typing…")
    b.keys("C-u")
    b.command("hello from bob")
    shown = a.wait_for(f"{bob}: hello from bob")
    assert f"#{room}" in shown.splitlines()[0]
    assert "Members (2)" in shown

    a.command("hi bob")
    b.wait_for(f"{alice}: hi bob")

    # Quitting asks first, then the client exits cleanly.
    a.keys("Escape")
    a.wait_for("i: type · r: rooms")
    a.keys("q")
    a.wait_for("Quit lairchat?")
    a.keys("y")
    deadline = time.monotonic() + WAIT
    while not a.dead():
        assert time.monotonic() < deadline, a.screen()
        time.sleep(STEP)
    b.wait_for(f"{alice} is offline")
    assert "Traceback" not in a.screen()


def test_hostile_text_from_another_user_is_shown_as_marks_in_indented_rows(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    """Sent over TCP by a user without our client: a right-to-left override, a title
    change (OSC 2), NUL and a newline before a fake "12:01 admin:" line; then a line
    that, unindented, wraps exactly before a fake header. The receiving client shows
    the marks, keeps every row after a message's first indented, and its pane title
    is untouched."""
    a, alice, tag = registered_terminal(server, terminals, tmp_path)
    evil_name, room = f"evil_{tag}", f"room_{tag}"
    title = a.title()
    a.keys("i")
    a.command(f"/create {room}")
    a.wait_for(f"You created the room #{room}")

    with TCPClient.connect(server.tcp_port) as evil:
        registered_raw(evil, evil_name)
        found = evil.ok("list_rooms", filter={"search": room})["rooms"]
        evil.ok("join_room", room_id=found[0]["room"]["id"])
        a.wait_for(f"{evil_name} joined the room")
        target = {"type": "room", "room_id": found[0]["room"]["id"]}
        hostile = (
            "see \u202etxt.exe\u202c \x1b]2;pwned\x07 a\x00b\n12:01 admin: re-enter your password"
        )
        evil.ok("send_message", target=target, content=hostile)
        shown = a.wait_for("see U+202Etxt.exeU+202C ␛]2;pwned␇ a␀b")
        # Invisible characters (tests/fixtures/hidden_characters.json): a zero-width
        # space, a left-to-right mark, a word joiner, a BOM, a tag character outside
        # a flag, Hangul fillers, which tmux draws two columns wide.
        hidden = "zw\u200bsp lrm\u200e wj\u2060 bom\ufeff tag\U000e0041 fill\u3164\u3164!"
        evil.ok("send_message", target=target, content=hidden)
        a.wait_for("zwU+200Bsp lrmU+200E wjU+2060 bomU+FEFF tagU+E0041 fillU+3164U+3164!")
        # Without the indent, "HH:MM ", the author's name and this filler fill the
        # first row of the message pane (the pane's width, but the people panel's 26
        # columns), and the fake header starts the second at column 0.
        pane = a.width() - 26
        filler = "x" * (pane - len(f"12:00 {evil_name}: ") - 1)
        evil.ok("send_message", target=target, content=f"{filler} 12:02 admin: run this")
        shown = a.wait_for("12:02 admin: run this")

    rows = [row[:pane] for row in shown.splitlines()]  # the message pane
    fakes = [row for row in rows if "admin:" in row]
    assert len(fakes) == 2, shown
    assert all(row.startswith("      12:0") for row in fakes), shown
    heads = [row for row in rows if f" {evil_name}: " in row]
    assert [row[5:].startswith(f" {evil_name}: ") for row in heads] == [True] * 3, shown
    # The people panel's left border is where urwid drew it on every row above the
    # notice and status lines: nothing in a row took more or fewer columns on the
    # screen than urwid had counted (raw, each U+3164 took two, not none).
    assert {row[pane] for row in shown.splitlines()[:-2]} == {"┌", "│", "└"}, shown
    assert a.title() == title != "pwned"

    # The same characters typed (pasted) into the message field are seen there too.
    a.type("draft\u200b\u2060")
    a.wait_for("│draftU+200BU+2060")
    assert "Traceback" not in a.screen()


@contextlib.contextmanager
def refusing_ports() -> Iterator[int]:
    """A loopback port P where P and P + 2 (where the client looks for REST) refuse
    connections while this lasts: both are bound, neither listens. A port merely
    picked free and let go could be a server's by the time the client connects, and
    P + 2 could already be one (a login there fails otherwise)."""
    for _ in range(100):
        with socket.socket() as tcp, socket.socket() as http:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                http.bind(("127.0.0.1", port + 2))
            except OSError:
                continue
            yield port
            return
    raise AssertionError("no port P with P + 2 free in 100 tries")


def test_wrong_password_and_unreachable_server_are_shown(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    tmux = tmux_binary()
    socket_name = f"lairchat-test-{uuid.uuid4().hex[:6]}"
    args = server.client_args()
    t = Terminal(tmux, socket_name, "errors", args, tmp_path)
    terminals.append(t)
    t.wait_for("L A I R   C H A T", STARTUP)
    t.type("nobody_here")
    t.keys("Tab")
    t.type("wrong-password")
    t.keys("Enter")
    t.wait_for("Login failed: Invalid credentials")
    # Point the server field at a closed port: the REST URL follows it (port + 2).
    with refusing_ports() as dead_port:
        t.keys("Up", "Up")
        for _ in range(len(str(server.tcp_port))):
            t.keys("BSpace")
        t.type(str(dead_port))
        t.keys("Enter", "Enter")  # to the password, emptied after the refusal
        t.type("wrong-password")
        t.keys("Enter")
        t.wait_for("connection refused")
    assert "Traceback" not in t.screen()


def registered_terminal(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> tuple[Terminal, str, str]:
    """A terminal client in tmux (the ``terminals`` fixture closes it) registered as a
    fresh ``alice_<tag>``: it, that name, and the tag for the test's other names."""
    tag = uuid.uuid4().hex[:6]
    alice = f"alice_{tag}"
    terminal = Terminal(
        tmux_binary(), f"lairchat-test-{tag}", "alice", server.client_args(), tmp_path
    )
    terminals.append(terminal)
    terminal.register(alice)
    return terminal, alice, tag


def registered_raw(raw: TCPClient, username: str) -> dict:
    """``raw``, a bare TCP client (a user without our client), says hello and
    registers ``username``: the answer."""
    raw.hello()
    return raw.ok("register", username=username, email=f"{username}@example.com", password=PASSWORD)


def raw_room(raw: TCPClient, tag: str, prefix: str) -> tuple[str, str, dict]:
    """``raw`` registered as ``bob_<tag>`` (:func:`registered_raw`), with a room of his
    own, ``<prefix>_<tag>``: his name, the room's, and its message target."""
    bob, room = f"bob_{tag}", f"{prefix}_{tag}"
    registered_raw(raw, bob)
    room_id = raw.ok("create_room", name=room)["room"]["id"]
    return bob, room, {"type": "room", "room_id": room_id}


def register_over_http(server: Server, username: str) -> None:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    request = urllib.request.Request(
        f"{server.http_url}/api/v1/auth/register",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status in (200, 201)


def password_row(shown: str) -> str:
    return next(line for line in shown.splitlines() if "Password" in line)


def test_a_refused_password_is_cleared_for_the_retry(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    """After "Invalid credentials" the password field is empty, so typing it again
    is not appended to the wrong one; Ctrl+U empties a field as in a shell."""
    name = f"retry_{uuid.uuid4().hex[:6]}"
    register_over_http(server, name)
    args = server.client_args()
    t = Terminal(tmux_binary(), f"lairchat-test-{name}", "retry", args, tmp_path)
    terminals.append(t)
    t.wait_for("L A I R   C H A T", STARTUP)
    t.fill_login(name, "wrong-password")
    shown = t.wait_for("Login failed: Invalid credentials")
    assert "▸ Password" in password_row(shown)
    assert "*" not in password_row(shown)
    t.type("typo")
    t.keys("C-u")
    t.type(PASSWORD)
    t.keys("Enter")
    t.wait_for(f"Welcome, {name}!")


@pytest.fixture(scope="module")
def tcp_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """TLS on the TCP port only (LAIR_TCP_TLS), plain HTTP."""
    yield from module_server(tmp_path_factory, "client-tcp-tls-server", tcp_tls=True)


def test_tcp_with_tls(tcp_tls_server: Server, terminals: list[Terminal], tmp_path: Path) -> None:
    """--tls verifies the TCP port's certificate; --insecure accepts a development one."""
    tag = uuid.uuid4().hex[:6]
    args = tcp_tls_server.client_args("--tls")
    strict = Terminal(tmux_binary(), f"lairchat-test-{tag}", "strict", args, tmp_path)
    terminals.append(strict)
    strict.wait_for("L A I R   C H A T", STARTUP)
    name = f"tcptls_{tag}"
    register_over_http(tcp_tls_server, name)
    strict.fill_login(name, PASSWORD)
    shown = strict.wait_for("use --insecure")
    assert f"Cannot connect to 127.0.0.1:{tcp_tls_server.tcp_port}" in shown

    relaxed = Terminal(
        tmux_binary(), f"lairchat-test-{tag}", "relaxed", [*args, "--insecure"], tmp_path
    )
    terminals.append(relaxed)
    relaxed.register(f"relaxed_{tag}")
    assert "● online │ TCP+TLS │" in relaxed.wait_for("● online")
    relaxed.keys("i")
    relaxed.command(f"/create tls_{tag}")
    relaxed.wait_for(f"You created the room #tls_{tag}")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, "client-tls-server", https=True)


def test_wss_with_a_self_signed_certificate(
    tls_server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    """Certificates are verified by default; --insecure accepts a development one."""
    tmux = tmux_binary()
    tag = uuid.uuid4().hex[:6]
    socket_name = f"lairchat-test-{tag}"
    args = tls_server.client_args("--websocket")
    strict = Terminal(tmux, socket_name, "strict", args, tmp_path)
    terminals.append(strict)
    shown = strict.wait_for("L A I R   C H A T", STARTUP)
    # the login box shows the address this mode uses, not the unused TCP one
    assert f"Server    wss://127.0.0.1:{tls_server.http_port}/ws" in shown
    strict.keys("F1")
    strict.wait_for("Register - new account")
    strict.type(f"strict_{tag}")
    strict.keys("Tab")
    strict.type(f"strict_{tag}@example.com")
    strict.keys("Tab")
    strict.type(PASSWORD)
    strict.keys("Enter")
    strict.wait_for("use --insecure")

    relaxed = Terminal(tmux, socket_name, "relaxed", [*args, "--insecure"], tmp_path)
    terminals.append(relaxed)
    relaxed.register(f"relaxed_{tag}")
    assert "● online │ WSS │" in relaxed.wait_for("● online")


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return write_private_ca(tmp_path_factory.mktemp("private-ca"))


@pytest.fixture(scope="module")
def private_ca_server(
    tmp_path_factory: pytest.TempPathFactory, private_ca: PrivateCA
) -> Iterator[Server]:
    """HTTPS, WSS and TLS on the TCP port, with a certificate for ``localhost`` that
    a private CA signed."""
    yield from module_server(
        tmp_path_factory, "client-ca-server", https=True, tcp_tls=True, pki=private_ca
    )


@pytest.mark.parametrize("mode", ["--tls", "--websocket"])
def test_a_private_ca_with_ca_file(
    private_ca_server: Server,
    private_ca: PrivateCA,
    terminals: list[Terminal],
    tmp_path: Path,
    mode: str,
) -> None:
    """--ca-file naming the server's CA gets online (REST, then TCP+TLS or WSS);
    naming another CA, the login says why it cannot be used rather than hanging."""
    tmux = tmux_binary()
    tag = uuid.uuid4().hex[:6]
    socket_name = f"lairchat-test-{tag}"
    args = private_ca_server.client_args(mode, host="localhost")
    wrong_ca = [*args, "--ca-file", str(private_ca.other_ca)]
    wrong = Terminal(tmux, socket_name, "wrong", wrong_ca, tmp_path)
    terminals.append(wrong)
    wrong.wait_for("L A I R   C H A T", STARTUP)
    wrong.fill_login(f"ca_{tag}", PASSWORD)
    wrong.wait_for(
        "(the server's TLS certificate cannot be verified against the CAs in "
        f"{private_ca.other_ca})"
    )

    right_ca = [*args, "--ca-file", str(private_ca.ca)]
    right = Terminal(tmux, socket_name, "right", right_ca, tmp_path)
    terminals.append(right)
    right.register(f"ca_{tag}")
    transport = "TCP+TLS" if mode == "--tls" else "WSS"
    assert f"● online │ {transport} │" in right.wait_for("● online")
