"""docs/protocols/*.md against a running server: what a client author copies from them.

A developer writes a client from TCP.md, WEBSOCKET.md and HTTP.md alone, so their
examples are run as written (the encryption client, the complete TCP session, the
curl walk-through with curl, the browser page in headless Chromium), and their
tables are read back (commands and fields, error codes and messages, the state
matrix, events, limits, the endpoints with their statuses and error order) and
compared with what the server does, its decoder and error catalogue, and its
``/openapi.json``. A doc that drifts from the code fails here.

One server for the module (rate limits off, as in TCP.md's captured session; an
administrator from the environment); the rate-limit example gets its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lairchat.config import Config
from lairchat.core import invitations, paging
from lairchat.domain.errors import CODES
from lairchat.realtime import codec
from lairchat.testing_clients import (
    BINARY,
    CLOSE,
    EVENT_TYPES,
    LAIRCHAT_EVENT_TYPES,
    TEXT,
    ServerClosed,
    TCPClient,
    WSClient,
)
from lairchat.tls import write_dev_certificate
from tests.integration import browser
from tests.integration.conftest import LiveServer
from tests.integration.test_client_ca_file import tls_server
from tests.integration.test_live_state_consistency import lairchat_admin
from tests.integration.test_ws_browser import Pages

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "protocols"
TCP_MD = (DOCS / "TCP.md").read_text()
WS_MD = (DOCS / "WEBSOCKET.md").read_text()
HTTP_MD = (DOCS / "HTTP.md").read_text()

#: Codes only real-time error frames carry (no HTTP status, so not in CODES).
_FRAME_CODE = re.compile(r'error_frame\(\s*"(\w+)"')
#: Codes only real-time commands answer (``_id(value, kind, "invalid_id")``).
_COMMAND_CODE = re.compile(r'_id\([^()]*"(\w+)"\)')
REALTIME = ROOT / "lairchat" / "realtime"
CATALOGUE = ROOT / "lairchat" / "domain" / "errors.py"


ADMIN, ADMIN_PASSWORD = "docs_admin", "docs-admin-Secret-7"


@pytest.fixture(scope="module")
def pages() -> Iterator[Pages]:
    """Where WEBSOCKET.md's browser example is served from (its own origin)."""
    served = Pages()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pages: Pages) -> Iterator[LiveServer]:
    extra = {
        "LAIR_ADMIN_USERNAME": ADMIN,
        "LAIR_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # As WEBSOCKET.md says to start the server for its page on another origin.
        "LAIR_WS_ALLOWED_ORIGINS": f"http://localhost:{pages.port}",
    }
    live = LiveServer(tmp_path_factory.mktemp("protocol-docs"), extra)
    yield live
    live.stop()


# -- reading the docs -------------------------------------------------------------------


def section(text: str, heading: str) -> str:
    """The body of the section whose heading line starts with ``heading``, up to the
    next heading of the same or a higher level (a ``#`` line in a code block is none)."""
    lines = text.splitlines(keepends=True)
    start = level = None
    fenced = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading_level = len(line) - len(line.lstrip("#"))
        if fenced or not heading_level or line[heading_level : heading_level + 1] != " ":
            continue
        if start is None:
            if line[heading_level + 1 :].startswith(heading):
                start, level = i + 1, heading_level
        elif heading_level <= level:
            return "".join(lines[start:i])
    assert start is not None, f"no section {heading!r}"
    return "".join(lines[start:])


def code_blocks(text: str, lang: str) -> list[str]:
    """Every fenced block tagged ``lang``, dedented to its fence's indentation."""
    blocks = []
    for m in re.finditer(rf"^( *)```{lang}\n(.*?)^\1```", text, re.S | re.M):
        blocks.append(re.sub(rf"^{m[1]}", "", m[2], flags=re.M))
    return blocks


def backticked_codes(text: str) -> set[str]:
    """Every `snake_case` word in backticks of ``text``'s table rows' first cell."""
    codes = set()
    for line in text.splitlines():
        cells = line.split("|")
        if len(cells) > 2 and not set(cells[1].strip()) <= set("-"):
            codes |= set(re.findall(r"`([a-z_]+)`", cells[1]))
    return codes


def server_codes() -> set[str]:
    """Every error code the server can put on the wire: the domain table, and the
    codes of the real-time error frames written in the session and of the commands'
    malformed ids."""
    commands = (REALTIME / "commands.py").read_text()
    return set(CODES) | frame_codes() | set(_COMMAND_CODE.findall(commands))


def frame_codes() -> set[str]:
    return set(_FRAME_CODE.findall((REALTIME / "session.py").read_text()))


# -- talking to the server ------------------------------------------------------------


def http(
    server: LiveServer, method: str, path: str, token: str | None = None, **body: Any
) -> tuple[int, Any]:
    """Status and decoded body of one REST request (errors included)."""
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(body).encode() if body or method in ("POST", "PUT", "PATCH") else None,
        method=method,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def login_over_http(server: LiveServer, identifier: str, password: str) -> dict[str, Any]:
    status, answer = http(
        server, "POST", "/api/v1/auth/login", identifier=identifier, password=password
    )
    assert status == 200, answer
    return answer


# -- static: the tables against the code ---------------------------------------------------


def test_every_error_code_in_tcp_md_is_one_the_server_has() -> None:
    documented = backticked_codes(section(TCP_MD, "9. Error codes"))
    assert len(documented) > 30
    assert documented - server_codes() == set()


def test_every_error_frame_the_session_writes_is_in_the_docs() -> None:
    """A client author meets these in ``{"type":"error"}`` frames: each must be named
    in TCP.md's or WEBSOCKET.md's error list (WebSocket-only ones in the latter)."""
    documented = backticked_codes(section(TCP_MD, "9. Error codes")) | set(
        re.findall(r'"code":"(\w+)"', WS_MD)
    )
    documented |= set(re.findall(r"`(\w+)` \"", WS_MD))
    assert frame_codes() - documented == set()


def test_http_md_status_table_agrees_with_the_error_table() -> None:
    """HTTP.md's "status | codes" table: each code has that status in CODES (the
    HTTP-only routing codes are made in transports/http/errors.py)."""
    table = section(HTTP_MD, "Errors")
    http_only = {"not_found", "method_not_allowed"}
    checked = 0
    for status, cell in re.findall(r"^\| (\d{3}) \| (.*) \|$", table, re.M):
        for code in re.findall(r"`([a-z_]+)`", cell):
            checked += 1
            if code in http_only or (code == "validation_failed" and status == "422"):
                continue
            assert code in CODES, code
            assert CODES[code][0] == int(status), (code, status, CODES[code][0])
    assert checked > 40


def test_every_code_in_http_md_status_table_is_one_the_server_sends() -> None:
    """A code only in the catalogue (domain/errors.py) or in the OpenAPI document is
    one a client would wait for in vain: each must be raised somewhere."""
    table = section(HTTP_MD, "Errors").split("Token messages")[0]
    sources = [
        p.read_text()
        for p in (ROOT / "lairchat").rglob("*.py")
        if "client" not in p.parts and p.name != "openapi.py" and p != CATALOGUE
    ]
    codes = [
        c
        for cell in re.findall(r"^\| \d{3} \| (.*) \|$", table, re.M)
        for c in re.findall(r"`([a-z_]+)`", cell)
    ]
    assert len(codes) > 40
    for code in codes:
        assert any(f'"{code}"' in source for source in sources), code


def test_tcp_md_error_messages_are_the_servers() -> None:
    """§9's fixed messages (no ``<detail>`` in them) are written in the server's code:
    a reworded message shows up here as a doc to update."""
    source = "\n".join(p.read_text() for p in (ROOT / "lairchat").rglob("*.py"))
    messages = re.findall(r"^\| `\w+`[^|]*\| (.*?) \|", section(TCP_MD, "9. Error codes"), re.M)
    fixed = [m for cell in messages for m in re.findall(r"`([^`<]+)`", cell)]
    assert len(fixed) > 25
    templates = [  # f"Invalid {what} ID" says "Invalid room ID"
        re.compile(".+".join(map(re.escape, re.split(r"\{[^}]*\}", f))))
        for f in re.findall(r'f"([^"]*\{[^"]*)"', source)
    ]
    for message in fixed:
        literal = f'"{message}"' in source
        assert literal or any(t.fullmatch(message) for t in templates), message


def documented_commands() -> dict[str, dict[str, str]]:
    """Every client message TCP.md describes, with its fields (``request_id`` aside)
    and whether each is required (``R``) or optional (``O``): §3's client_hello
    table, §4's key_exchange, the command tables of §5 and §6."""
    commands = {"key_exchange": {"public_key": "R"}}
    hello = section(TCP_MD, "3. Handshake")
    commands["client_hello"] = dict(re.findall(r"^ *\| `(\w+)` \| ([RO]) ", hello, re.M))
    for heading in ("5. Authentication", "6. Commands"):
        for kind, cell in re.findall(
            r"^\| `(\w+)`[^|]* \| ([^|]*) \|", section(TCP_MD, heading), re.M
        ):
            top = re.sub(r"\{[^}]*\}|\([^)]*\)", "", cell)  # nested fields, remarks
            fields = dict(re.findall(r"`(\w+)` ([RO])\b", top))
            fields.pop("request_id", None)
            commands[kind] = fields
    return commands


#: Settings that change what a TCP client meets on the wire: TCP.md must name each.
TCP_CLIENT_SETTINGS = {
    "LAIR_TCP_TLS": "TLS before server_hello",
    "LAIR_ENCRYPTION_REQUIRED": "encryption_required, hello refused",
    "LAIR_HANDSHAKE_TIMEOUT": "timeout",
    "LAIR_AUTH_TIMEOUT": "timeout",
    "LAIR_IDLE_TIMEOUT": "timeout",
    "LAIR_TCP_MAX_CONNECTIONS": "connection closed at once",
    "LAIR_TCP_MAX_CONNECTIONS_PER_ADDRESS": "connection closed at once",
    "LAIR_RATE_LIMITS": "rate_limited",
}


def test_the_docs_name_only_real_settings_and_tcp_md_every_one_a_client_meets() -> None:
    settings = set(re.findall(r'"(LAIR_\w+)"', (ROOT / "lairchat" / "config.py").read_text()))
    assert set(TCP_CLIENT_SETTINGS) <= settings
    for text in (TCP_MD, WS_MD, HTTP_MD):
        assert set(re.findall(r"LAIR_\w+", text)) <= settings
    assert set(TCP_CLIENT_SETTINGS) - set(re.findall(r"LAIR_\w+", TCP_MD)) == set()


def test_documented_defaults_are_the_servers() -> None:
    """§2's timeout table and the connection caps TCP.md and WEBSOCKET.md give, against
    the defaults of lairchat.config.Config."""
    defaults = Config()
    timeouts = re.findall(r"^\| \w+ \| (\d+) s \| `(LAIR_\w+)` \|$", section(TCP_MD, "2. "), re.M)
    assert len(timeouts) == 4
    for seconds, setting in timeouts:
        assert getattr(defaults, setting.removeprefix("LAIR_").lower()) == int(seconds), setting
    caps = {
        "LAIR_TCP_MAX_CONNECTIONS": defaults.tcp_max_connections,
        "LAIR_HTTP_MAX_CONNECTIONS": defaults.http_max_connections,
    }
    stated = [
        found
        for text in (TCP_MD, WS_MD)
        for found in re.findall(r"`(LAIR_\w+_CONNECTIONS)` \(default ([\d ]+)", text)
    ]
    assert len(stated) == 3
    for setting, default in stated:
        assert caps[setting] == int(default.replace(" ", "")), setting


def test_tcp_md_lists_every_command_with_its_fields() -> None:
    """The server's decoder (codec.SCHEMAS) against TCP.md: the same message types,
    the same fields, and a field is required exactly when the doc says R."""
    documented = documented_commands()
    assert set(documented) == set(codec.SCHEMAS)
    samples = {"target": {"room": str(uuid.uuid4())}}
    for kind, fields in documented.items():
        assert set(fields) == set(codec.SCHEMAS[kind]), kind
        required = {name: samples.get(name, "x") for name, mark in fields.items() if mark == "R"}
        codec.decode(json.dumps({"type": kind, **required}).encode())
        for name in required:
            rest = {k: v for k, v in required.items() if k != name}
            with pytest.raises(codec.InvalidMessage, match=f"missing field `{name}`"):
                codec.decode(json.dumps({"type": kind, **rest}).encode())


def elided(example: str) -> Any:
    """A doc's JSON example with its elisions (``…``, ``{…}``, ``"…"``) read as
    nothing, for parsing; several objects on their own lines are a list."""
    text = re.sub(r"\{…\}", "{}", example)
    text = re.sub(r",\s*…|…\s*,", "", text)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and all(ln.startswith("{") and ln.endswith("}") for ln in lines):
        return [json.loads(ln) for ln in lines]
    return json.loads(text)


def lockout_rule(text: str) -> str:
    """What a doc says the 25 failures from all addresses lock, whitespace folded."""
    return " ".join(re.search(r"25 from all\s+(.*?)[;:] SECURITY\.md", text, re.S)[1].split())


def test_tcp_and_http_md_describe_the_same_lockout() -> None:
    """A TCP client and an HTTP client meet one lockout: TCP.md §5 said 25 failures
    "lock it for everyone", HTTP.md and SECURITY.md that the addresses the account
    logged in from within 30 days still get in. Both now say the latter."""
    tcp = lockout_rule(section(TCP_MD, "5. Authentication"))
    assert tcp == lockout_rule(section(HTTP_MD, "`POST /api/v1/auth/login`"))
    assert "not logged in from within 30 days" in tcp
    assert "within the last 30 days" in (ROOT / "docs" / "SECURITY.md").read_text()


@pytest.mark.parametrize("name", ["TCP.md", "HTTP.md", "WEBSOCKET.md"])
def test_every_json_example_parses(name: str) -> None:
    text = (DOCS / name).read_text()
    for block in code_blocks(text, "json"):
        elided(block)


# -- live: TCP ---------------------------------------------------------------------------


def test_server_hello_is_the_documented_one(server: LiveServer) -> None:
    documented = json.loads(code_blocks(section(TCP_MD, "3. Handshake"), "json")[0])
    with server.connect() as tcp:
        assert tcp.server_hello == documented
    with WSClient(server.http_port) as ws:
        assert ws.recv() == documented


def test_state_matrix_errors_are_the_documented_ones(server: LiveServer) -> None:
    """§2's E0–E4, each from the state the matrix names."""
    table = dict(re.findall(r"^\| (E\d) \| (.*) \|$", TCP_MD, re.M))
    expected = {key: tuple(re.findall(r"`([^`]+)`", row)) for key, row in table.items()}
    assert set(expected) == {"E0", "E1", "E2", "E3", "E4"}

    def error(tcp: TCPClient, message: dict[str, Any]) -> tuple[str, str]:
        tcp.send(message)
        reply = tcp.recv()
        assert reply["type"] == "error" and "request_id" not in reply, reply
        return reply["code"], reply["message"]

    login = {"type": "login", "identifier": "nobody", "password": "password1"}
    kx = {"type": "key_exchange", "public_key": "AAAA"}
    hello = {"type": "client_hello", "version": "1.0"}
    with server.connect() as tcp:
        assert error(tcp, {"type": "list_rooms"}) == expected["E0"]
        assert error(tcp, kx) == expected["E0"]
        tcp.send({**hello, "features": ["encryption"]})
        assert error(tcp, login) == expected["E1"]
        assert error(tcp, hello) == expected["E1"]
    with server.connect() as tcp:
        tcp.send(hello)
        assert error(tcp, hello) == expected["E2"]
        assert error(tcp, kx) == expected["E2"]
        assert error(tcp, {"type": "list_rooms"}) == expected["E2"]
    with server.register("matrix") as tcp:
        assert error(tcp, hello) == expected["E3"]
        assert error(tcp, login) == expected["E3"]
        assert error(tcp, kx) == expected["E4"]


def test_unknown_hello_features_are_ignored_as_tcp_md_says(server: LiveServer) -> None:
    """§3's ``features`` row: only the exact string ``"encryption"`` asks for key
    exchange; other features, and ``"ENCRYPTION"``, leave the connection in plain
    AwaitingAuth, where ``authenticate`` works at once."""
    hello = section(TCP_MD, "3. Handshake")
    assert '`"ENCRYPTION"` too) is ignored' in hello
    with server.register("features") as user:
        token = user.token
    with server.connect() as client:  # server_hello read
        features = ["ENCRYPTION", "compression"]
        client.send({"type": "client_hello", "version": "1.0", "features": features})
        assert client.ok("authenticate", token=token)["user"]["id"] == user.user_id


def test_list_users_search_puts_the_exact_name_first(server: LiveServer) -> None:
    """TCP.md §6: the name searched for comes before names that merely contain it,
    though they sort before it."""
    name = f"zed{uuid.uuid4().hex[:8]}"
    with server.connect() as other:
        other.hello()
        other.ok(
            "register", username=f"a{name}", email=f"a{name}@example.com", password="password123"
        )
    with server.connect() as tcp:
        tcp.hello()
        tcp.ok("register", username=name, email=f"{name}@example.com", password="password123")
        found = tcp.ok("list_users", filter={"search": name.upper()})["users"]
    assert [u["username"] for u in found] == [name, f"a{name}"]
    assert "the user whose name is the search itself comes" in section(TCP_MD, "6. Commands")


def run_pong_example(source: str, name: str) -> dict[str, Any]:
    """Run a doc's Python client, which prints the pong it gets; check that it did
    and return its globals (its socket, ``send``, ``recv``) for more."""
    out = io.StringIO()
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(out):
        exec(compile(source, name, "exec"), namespace)  # noqa: S102
    assert eval(out.getvalue())["type"] == "pong"  # noqa: S307 — the example prints a dict
    return namespace


def test_search_ignores_ascii_case_only_as_the_docs_say(server: LiveServer) -> None:
    """``search`` over HTTP and TCP: ``ωμέγα`` does not find ``Ωμέγα`` (the docs said
    "ignoring case"; like uniqueness, it ignores ASCII case only), while the
    username's own spelling and a changed ASCII case do."""
    for text in (section(HTTP_MD, "`GET /api/v1/users`"), section(TCP_MD, "6. Commands")):
        assert "`ωμέγα` does not find\n`Ωμέγα`" in text or "`ωμέγα` does not find `Ωμέγα`" in text
    with server.register("ΩMEGA") as user:
        name = user.username
        for search, found in ((name, True), (name.replace("M", "m"), True), (name.lower(), False)):
            listed = user.ok("list_users", filter={"search": search})["users"]
            assert (name in [u["username"] for u in listed]) is found, search
            query = urllib.parse.quote(search)
            status, page = http(server, "GET", f"/api/v1/users?search={query}", user.token)
            assert (name in [u["user"]["username"] for u in page["users"]]) is found, search


def test_the_encryption_example_is_a_working_client(server: LiveServer) -> None:
    """§4's Python client, run as written but for the port: it must make a sealed
    connection on which a login and a ping work."""
    source = code_blocks(section(TCP_MD, "4. Encryption"), "python")[0]
    source, count = re.subn(r"PORT = (\"[^\"]*\"), 8080", rf"PORT = \1, {server.tcp_port}", source)
    assert count == 1, "the example names its port as HOST, PORT = …, 8080"
    namespace = run_pong_example(source, "TCP.md §4")
    with server.register("sealed") as other:
        name = other.username
    namespace["send"](
        {"type": "login", "identifier": name, "password": "password123", "request_id": "s1"}
    )
    reply = namespace["recv"]()
    assert (reply["type"], reply["request_id"], reply["success"]) == ("login_response", "s1", True)
    namespace["sock"].close()


def test_the_tls_variant_of_the_encryption_example_works(tmp_path: Path) -> None:
    """§4's "TLS on this port": the example with its socket line replaced by the
    doc's TLS lines, run against a server with ``LAIR_TCP_TLS`` and the certificate
    ``lairchat certs dev`` writes, where the doc says it is (the doc named a
    ``dev-cert.pem`` that command does not write)."""
    text = section(TCP_MD, "4. Encryption")
    client, tls = code_blocks(text, "python")
    opening = "sock = socket.create_connection((HOST, PORT))\n"
    assert client.count(opening) == 1
    cafile = re.search(r'cafile="([^"]+)"', tls)[1]
    cert, key = write_dev_certificate(str(tmp_path / Path(cafile).parent))
    assert cert == tmp_path / cafile
    with contextlib.contextmanager(tls_server)(tmp_path / "server", cert, key) as srv:
        source = client.replace(opening, tls.replace(cafile, str(cert)))
        source = source.replace(", 8080\n", f", {srv.tcp_port}\n")
        namespace = run_pong_example(source, "TCP.md §4 with TLS")
        assert namespace["sock"].version() in ("TLSv1.2", "TLSv1.3")
        namespace["sock"].close()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_javascript_encryption_example_is_a_working_client(
    server: LiveServer, tmp_path: Path
) -> None:
    """§4's Node.js client, run as written but for the port: a second, independent
    AES-GCM and X25519 (Node's OpenSSL bindings, JWK key forms) must make a sealed
    connection that answers its ``ping``, so the byte layout the doc describes is
    the one the server speaks, not just what the Python example happens to do."""
    source = code_blocks(section(TCP_MD, "4. Encryption"), "js")[0]
    source, count = re.subn(r"PORT = 8080;", f"PORT = {server.tcp_port};", source)
    assert count == 1, "the example names its port as PORT = 8080"
    script = tmp_path / "sealed.mjs"
    script.write_text(source)
    run = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert run.returncode == 0, run.stderr
    pong = json.loads(run.stdout)
    assert list(pong) == ["type", "server_time"] and pong["type"] == "pong"


def documented_events() -> dict[str, list[str]]:
    """§8's table: each event's fields, in the order the doc gives them."""
    table = section(TCP_MD, "8. Events").split("### lairchat's own events")[0]
    return {
        event: [re.match(r"\s*`(\w+)`", field)[1] for field in fields.split(";")]
        for event, fields in re.findall(r"^\| `(\w+)` \| ([^|]*) \|", table, re.M)
    }


def test_every_event_carries_the_fields_tcp_md_lists(server: LiveServer) -> None:
    """Each event of §8 but ``server_notice`` (sent only at shutdown), made happen
    and received: its keys are ``type`` then the documented fields, in order."""
    documented = documented_events()
    assert set(documented) == EVENT_TYPES
    seen: dict[str, list[str]] = {}

    def expect(client: TCPClient, kind: str) -> None:
        seen[kind] = list(client.event(kind))[1:]

    owner = server.register("evowner")
    with owner, server.register("evguest") as guest:
        expect(owner, "user_online")
        room = owner.ok("create_room", name=f"events{uuid.uuid4().hex[:8]}")["room"]
        target = {"type": "room", "room_id": room["id"]}
        owner.ok("invite_to_room", room_id=room["id"], user_id=guest.user_id)
        expect(guest, "invitation_received")
        guest.ok("join_room", room_id=room["id"])
        expect(owner, "user_joined_room")
        sent = guest.ok("send_message", target=target, content="one")["message"]
        expect(owner, "message_received")
        guest.ok("edit_message", message_id=sent["id"], content="two")
        expect(owner, "message_edited")
        guest.ok("delete_message", message_id=sent["id"])
        expect(owner, "message_deleted")
        guest.send({"type": "typing", "target": target})
        expect(owner, "user_typing")
        path = f"/api/v1/rooms/{room['id']}"
        assert (
            http(
                server, "PUT", f"{path}/members/{guest.user_id}/role", owner.token, role="moderator"
            )[0]
            == 200
        )
        expect(guest, "member_role_changed")
        # Again, to the same role: still told, old and new alike (§8).
        role = f"{path}/members/{guest.user_id}/role"
        assert http(server, "PUT", role, owner.token, role="moderator")[0] == 200
        same = guest.event("member_role_changed")
        assert same["old_role"] == same["new_role"] == "moderator"
        assert "also one that changes nothing" in section(TCP_MD, "8. Events")
        assert http(server, "PATCH", path, owner.token, description="changed")[0] == 200
        expect(guest, "room_updated")
        guest.ok("leave_room", room_id=room["id"])
        expect(owner, "user_left_room")
        guest.ok("join_room", room_id=room["id"])
        assert http(server, "DELETE", path, owner.token)[0] == 200
        expect(guest, "room_deleted")
        guest.close()
        expect(owner, "user_offline")
    assert seen == {kind: fields for kind, fields in documented.items() if kind != "server_notice"}


def test_lairchat_events_carry_the_fields_tcp_md_lists_to_those_that_asked(
    server: LiveServer,
) -> None:
    """§8's "lairchat's own events": each made happen and received by a connection
    that asked for them, with ``type`` then the documented fields in order; a
    connection that did not ask (as Lair Chat's client) gets none and stays open."""
    own = section(TCP_MD, "8. Events").split("### lairchat's own events")[1]
    documented = {
        event: [re.match(r"\s*`(\w+)`", field)[1] for field in fields.split(";")]
        for event, fields in re.findall(r"^\| `(\w+)` \| ([^|]*) \|", own, re.M)
    }
    assert set(documented) == LAIRCHAT_EVENT_TYPES
    seen: dict[str, list[str]] = {}
    owner, plain = server.register("ownowner"), server.register("ownplain")
    with owner, plain, server.register("ownguest", extended=True) as guest:
        room = owner.ok("create_room", name=f"own{uuid.uuid4().hex[:8]}")["room"]
        seen["room_created"] = list(guest.event("room_created", created_by=owner.user_id))[1:]
        private = owner.ok(
            "create_room", name=f"own{uuid.uuid4().hex[:8]}", settings={"public": False}
        )["room"]
        invitation = owner.ok("invite_to_room", room_id=private["id"], user_id=guest.user_id)
        guest.event("invitation_received")
        owner.ok("revoke_invitation", invitation_id=invitation["invitation"]["id"])
        revoked = guest.event("invitation_revoked", room_id=private["id"])
        seen["invitation_revoked"] = list(revoked)[1:]
        guest.ok("join_room", room_id=room["id"])
        guest.ok("mark_read", target={"type": "room", "room_id": room["id"]})
        seen["messages_read"] = list(guest.event("messages_read"))[1:]
        said = owner.ok("send_message", target={"type": "room", "room_id": room["id"]}, content="x")
        reacted = {"message_id": said["message"]["id"], "emoji": "👍"}
        owner.ok("add_reaction", **reacted)
        seen["reaction_added"] = list(guest.event("reaction_added"))[1:]
        owner.ok("remove_reaction", **reacted)
        seen["reaction_removed"] = list(guest.event("reaction_removed"))[1:]
        owner.ok("pin_message", message_id=reacted["message_id"])
        seen["message_pinned"] = list(guest.event("message_pinned"))[1:]
        owner.ok("unpin_message", message_id=reacted["message_id"])
        seen["message_unpinned"] = list(guest.event("message_unpinned"))[1:]
        role = f"/api/v1/rooms/{room['id']}/members/{guest.user_id}/role"
        assert http(server, "PUT", role, owner.token, role="moderator")[0] == 200
        made = owner.ok("create_invite_code", room_id=room["id"])["invite_code"]
        seen["invite_code_created"] = list(guest.event("invite_code_created"))[1:]
        plain.ok("join_by_invite_code", code=made["code"])
        seen["invite_code_used"] = list(guest.event("invite_code_used"))[1:]
        owner.ok("revoke_invite_code", room_id=room["id"], code_id=made["id"])
        seen["invite_code_revoked"] = list(guest.event("invite_code_revoked"))[1:]
        lairchat_admin(server, "set-role", guest.username, "moderator")
        guest.sock.settimeout(20)  # the server looks every 5 s
        seen["system_role_changed"] = list(guest.event("system_role_changed"))[1:]
        assert room["id"] != private["id"]
        for client in (owner, plain):
            assert not {m["type"] for m in client.barrier()} & LAIRCHAT_EVENT_TYPES
    assert seen == documented


def error_frame_rows() -> set[tuple[str, str]]:
    """(code, message) of each row of §9's error frame table (a cell may list several
    messages, `a` / `b`)."""
    table = section(TCP_MD, "9. Error codes").split("Error objects inside responses")[0]
    rows = set()
    for code, messages in re.findall(r"^\| `(\w+)` \| (.*?) \|", table, re.M):
        rows |= {(code, message) for message in re.findall(r"`([^`]+)`", messages)}
    return rows


def last_frames(client: TCPClient) -> list[tuple[str, str]]:
    """The error frames a connection got before the server closed it."""
    client.sock.settimeout(15)  # a revocation by another process: within 5 s
    return [(f["code"], f["message"]) for f in client.expect_closed() if f["type"] == "error"]


def test_a_dms_events_name_the_recipient_as_tcp_md_says(server: LiveServer) -> None:
    """§8's "Direct messages": every event of a DM the recipient receives carries
    the recipient's own id as ``target.recipient``, so the conversation is found
    by the other party; and HTTP refuses the type-less target TCP takes (HTTP.md)."""
    assert "carry its own id there" in section(TCP_MD, "8. Events")
    assert "type-less" in section(HTTP_MD, "`POST /api/v1/messages`")
    with server.register("dmsender") as sender, server.register("dmreader") as reader:
        target = {"type": "dm", "recipient": reader.user_id}
        sent = sender.ok("send_message", target=target, content="hi")["message"]
        sender.ok("edit_message", message_id=sent["id"], content="hi!")
        sender.ok("delete_message", message_id=sent["id"])
        sender.send({"type": "typing", "target": target})
        received = [reader.event(kind) for kind in ("message_received", "message_edited")]
        deleted, typing = reader.event("message_deleted"), reader.event("user_typing")
        status, refused = http(
            server,
            "POST",
            "/api/v1/messages",
            sender.token,
            target={"room": str(uuid.uuid4())},
            content="x",
        )
    for event in received:
        assert event["message"]["target"] == target and event["message"]["author"] != reader.user_id
    assert deleted["target"] == target and typing["target"] == target
    assert deleted["deleted_by"] == sender.user_id
    assert typing["user_id"] == sender.user_id
    assert (status, refused["error"]["code"]) == (422, "validation_failed")


def test_too_many_pipelined_frames_close_as_tcp_md_says(server: LiveServer) -> None:
    """§6 "Pipelining": 2500 commands in one write, more than may wait, close the
    connection with nothing said (no error frame, no answer) over TCP, and with a
    close frame 1000 and nothing before it over WebSocket; 1000 are all answered."""
    text = section(TCP_MD, "6. Commands")
    assert "with no\nerror frame and none of the answers still owed" in text
    assert "close frame 1000" in text
    frame = json.dumps({"type": "get_current_user"}).encode()
    with server.register("pipeline") as user:
        token = user.token
    with server.login(token) as tcp:
        tcp.sock.sendall((struct.pack("!I", len(frame)) + frame) * 1000)
        answers = [tcp.recv() for _ in range(1000)]
        assert {m["type"] for m in answers} == {"get_current_user_response"}
        tcp.sock.sendall((struct.pack("!I", len(frame)) + frame) * 2500)
        assert tcp.expect_closed() == []
    with WSClient(server.http_port, path=f"/ws?token={token}") as ws:
        assert ws.recv()["type"] == "server_hello"
        assert ws.recv()["success"] is True
        masked = struct.pack("!BB", 0x81, 0x80 | len(frame)) + b"\0\0\0\0" + frame
        ws.sock.sendall(masked * 2500)
        opcode, payload = ws.recv_frame()
        assert (opcode, struct.unpack("!H", payload[:2])[0]) == (CLOSE, 1000)


def test_commands_tcp_md_says_emit_no_event_emit_none(server: LiveServer) -> None:
    """§8's "No event" paragraph: after each command it names, neither the caller,
    nor the caller's other connection, nor the other user hears anything (a ping's
    pong comes first), so a client does not wait for an event that never comes."""
    text = section(TCP_MD, "8. Events").split("**No event**")[1].split("\n\n")[0]
    named = set(re.findall(r"`(\w+)` \(", text)) & set(codec.SCHEMAS)  # each with its remark
    assert named == {"create_room", "decline_invitation", "revoke_invitation", "mark_read"}
    with (
        server.register("quietowner") as owner,
        server.register("quietguest") as guest,
        server.login(owner.token) as elsewhere,
    ):
        watching = (owner, guest, elsewhere)

        def silent() -> None:
            for client in watching:
                assert client.barrier() == [], client.username

        for client in watching:
            client.barrier()  # the guest's user_online
        room = owner.ok("create_room", name=f"quiet{uuid.uuid4().hex[:8]}")["room"]
        silent()
        invitation = owner.ok("invite_to_room", room_id=room["id"], user_id=guest.user_id)
        guest.event("invitation_received")
        guest.ok("decline_invitation", invitation_id=invitation["invitation"]["id"])
        silent()
        invitation = owner.ok("invite_to_room", room_id=room["id"], user_id=guest.user_id)
        guest.event("invitation_received")
        owner.ok("revoke_invitation", invitation_id=invitation["invitation"]["id"])
        silent()
        guest.ok("send_message", target={"type": "dm", "recipient": owner.user_id}, content="x")
        for client in watching:
            client.event("message_received")
        owner.ok("mark_read", target={"type": "dm", "recipient": guest.user_id})
        silent()


def test_a_session_ended_elsewhere_is_told_why_as_tcp_md_says(server: LiveServer) -> None:
    """§6 and §9: a password change on another session, a ban over HTTP and a
    password reset by the operator command (another process) each close the
    connection after the documented error frame."""
    rows = error_frame_rows()
    with server.register("pwchange") as tcp:
        token = login_over_http(server, tcp.username, "password123")["token"]
        status, _ = http(
            server,
            "POST",
            "/api/v1/auth/change-password",
            token,
            current_password="password123",
            new_password="password456",
        )
        assert status == 200
        told = last_frames(tcp)
        assert told == [("session_not_found", "Session ended: the password was changed")]
        assert told[0] in rows
    admin = login_over_http(server, ADMIN, ADMIN_PASSWORD)["token"]
    with server.register("banned") as tcp:
        status, _ = http(server, "POST", f"/api/v1/admin/users/{tcp.user_id}/ban", admin)
        assert status == 200
        told = last_frames(tcp)
        assert told == [("account_banned", "Account banned")] and told[0] in rows
    with server.register("reset") as tcp:
        done = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "lairchat.cli",
                "admin",
                "reset-password",
                tcp.username,
                "--password",
                "password789",
            ],
            env={**server.env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.returncode == 0
        told = last_frames(tcp)
        assert told == [("session_not_found", "Session not found or expired")]
        assert told[0] in rows


def test_a_refused_command_is_answered_as_tcp_md_shows(tmp_path: Path) -> None:
    """§7's example, on a server with rate limits on (their default): the 31st
    ``send_message`` of a minute is refused by the messaging allowance."""
    example = json.loads(code_blocks(section(TCP_MD, "7. Rate limits"), "json")[0])
    limited = LiveServer(tmp_path, {"LAIR_RATE_LIMITS": "on"})
    try:
        with limited.register("limited") as tcp:
            room = tcp.ok("create_room", name="limited")["room"]
            target = {"type": "room", "room_id": room["id"]}
            for n in range(1, 32):
                tcp.send(
                    {
                        "type": "send_message",
                        "target": target,
                        "content": "x",
                        "request_id": f"m{n}",
                    }
                )
            refused = tcp.wait_for(lambda f: f.get("request_id") == example["request_id"])
    finally:
        limited.stop()
    assert 0 <= refused["error"]["details"].pop("retry_after") <= 60
    example["error"]["details"].pop("retry_after")
    assert refused == example


# The complete session of TCP.md §11, replayed.

_LINE = re.compile(r"^(alice|bob)\s+(→|←) (\{.*\})$", re.M)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(Z|\+00:00)")
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def normalised(text: str) -> Any:
    """A frame with what differs run to run (ids, times, tokens) replaced by marks;
    the kind of time (``Z`` or ``+00:00``) is kept."""
    text = _UUID.sub("<id>", text)
    text = _TIME.sub(lambda m: f"<time{m[1]}>", text)
    return json.loads(_JWT.sub("<token>", text))


def test_the_complete_session_replays_as_documented(server: LiveServer) -> None:
    """§11 frame by frame: what alice and bob send is sent (the doc's ids and token
    swapped for live ones), and each frame they receive matches the doc's in type,
    order, keys and every value but ids, times and tokens."""
    lines = _LINE.findall(section(TCP_MD, "11. A complete session"))
    assert len(lines) > 15
    doc_room = re.search(r'"room_id":"([0-9a-f-]{36})"', TCP_MD.split("## 11.")[1])[1]
    suffix = uuid.uuid4().hex[:8]
    names = {"alice": f"alice{suffix}", "bob": f"bob{suffix}"}

    bob = server.connect()
    bob.hello()
    bob.ok(
        "register",
        username=names["bob"],
        email=f"{names['bob']}@example.com",
        password="password123",
    )
    room = bob.ok("create_room", name=f"general{suffix}", description="Anything goes")["room"]
    # Over HTTP, as the doc says: a TCP registration would put alice online first.
    http(
        server,
        "POST",
        "/api/v1/auth/register",
        username=names["alice"],
        email=f"{names['alice']}@example.com",
        password="password123",
    )
    token = login_over_http(server, names["alice"], "password123")["token"]
    alice = server.connect()
    clients = {"alice": alice, "bob": bob}
    ours = set()

    def received(who: str) -> str:
        """The next frame for ``who``, skipping presence of other tests' users."""
        while True:
            frame = clients[who].recv()
            if frame["type"] in ("user_online", "user_offline") and frame["user_id"] not in ours:
                continue
            text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
            for doc_name, live_name in names.items():
                text = text.replace(live_name, doc_name)
            return text.replace(f"general{suffix}", "general")

    for who, direction, text in lines:
        if direction == "→":
            live = _JWT.sub(token, text.replace(doc_room, room["id"]))
            clients[who].send(json.loads(live))
            continue
        if json.loads(text)["type"] == "server_hello":
            got = json.dumps(alice.server_hello, separators=(",", ":"))
        else:
            got = received(who)
        assert normalised(got) == normalised(text), (who, text)
        if json.loads(text)["type"] == "authenticate_response":
            ours |= {json.loads(got)["user"]["id"], room["owner"]}
    with pytest.raises(ServerClosed):
        alice.recv()
    bob.close()


# -- live: HTTP --------------------------------------------------------------------------


def test_the_curl_walkthrough_runs_as_written(server: LiveServer) -> None:
    """HTTP.md's curl session, each command run by bash as printed, with the port,
    the token and the room id filled in as the text says."""
    script = code_blocks(section(HTTP_MD, "A first session with curl"), "bash")[0]
    commands = [c for c in re.split(r"\n(?=curl )", script.replace("\\\n", "")) if "curl" in c]
    commands = [c[c.index("curl") :].split("\n#")[0].strip() for c in commands]
    assert len(commands) == 6
    values: dict[str, str] = {}
    for command in commands:
        command = command.replace("http://localhost:8082", server.url)
        command = command.replace("eyJ...", values.get("token", "eyJ..."))
        command = command.replace("ROOM_ID", values.get("room", "ROOM_ID"))
        run = subprocess.run(  # noqa: S603 — our own doc's commands, on loopback
            ["bash", "-c", command + " -s -w '\\n%{http_code}'"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        body, status = run.stdout.rsplit("\n", 1)
        assert status.startswith("2"), (command, status, body)
        answer = json.loads(body)
        if "token" in answer:
            values["token"] = answer["token"]
        if "room" in answer:
            values["room"] = answer["room"]["id"]
    assert set(values) == {"token", "room"}


def test_pagination_numbers_are_read_as_http_md_says(server: LiveServer) -> None:
    """The forms HTTP.md's Pagination says are read, and those it says are 400, as a
    client puts them in a query string."""
    text = section(HTTP_MD, "Pagination")
    accepted = re.search(r"\(`([^`]+)` is read as (\d+)", text)
    refused = re.search(r"Anything else \(([^)]*)\) is 400", text)
    assert accepted and refused
    token = login_over_http(server, ADMIN, ADMIN_PASSWORD)["token"]
    status, body = http(server, "GET", f"/api/v1/users?limit={accepted[1]}", token)
    assert status == 200 and len(body["users"]) <= int(accepted[2]), body
    queries = {f"limit={v}" for v in re.findall(r"`([^`]+)`", refused[1])}
    queries |= {"limit="} if "empty" in refused[1] else set()
    queries |= {"limit=1&limit=2"} if "given twice" in refused[1] else set()
    assert len(queries) == 5
    for query in queries:
        status, body = http(server, "GET", f"/api/v1/users?{query}", token)
        assert (status, body["error"]["code"]) == (400, "validation_failed"), query


def test_pagination_table_gives_the_servers_page_sizes() -> None:
    """HTTP.md's "default page | largest page" per endpoint, against the constants the
    services page with (an unbounded list is "everything")."""
    rows = {
        path: (default, largest)
        for paths, default, largest in re.findall(
            r"^\| (`GET [^|]*) \| [^|]* \| ([^|]*) \| ([^|]*) \|$",
            section(HTTP_MD, "Pagination"),
            re.M,
        )
        for path in re.findall(r"`GET ([^`]+)`", paths)
    }
    paged = (str(paging.DEFAULT_LIMIT), str(paging.MAX_LIMIT))
    assert rows["/users"] == rows["/rooms"] == rows["/messages"] == paged
    assert rows["/invitations"][0] == f"the newest {invitations.LISTED_MAX}"
    assert rows["/invitations"][1].startswith(f"{invitations.LISTED_MAX} ")
    assert rows["/rooms/{id}/members"] == ("everything", "–")


def endpoint_sections() -> list[tuple[str, str, int | None, str]]:
    """HTTP.md's endpoints: (method, path, documented status, section text)."""
    out = []
    text = section(HTTP_MD, "Endpoints")
    for part in re.split(r"^(?=#### )", text, flags=re.M)[1:]:
        head = part.splitlines()[0]
        status = re.search(r"→ (\d{3})", head)
        body = re.split(r"^#{1,3} ", part, flags=re.M)[0]
        for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`", head):
            out.append((method, path, int(status[1]) if status else None, body))
    return out


@pytest.fixture(scope="module")
def openapi(server: LiveServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=10) as response:  # noqa: S310
        return json.load(response)


def test_openapi_and_http_md_list_the_same_endpoints(openapi: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _, _ in endpoint_sections()}
    served = {
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert documented == served


def test_openapi_answers_each_endpoint_with_http_md_status_and_errors(
    openapi: dict[str, Any],
) -> None:
    """The success status in each heading, and every "NNN `code`" of the section's
    error list, are in the OpenAPI operation's responses (codes are named in their
    descriptions: "Conflict (codes: a, b)")."""
    for method, path, status, body in endpoint_sections():
        responses = openapi["paths"][path][method.lower()]["responses"]
        if status is not None:
            assert str(status) in responses, (method, path, status)
        listed = {
            code: set(re.findall(r"\w+", m[1]))
            for code, r in responses.items()
            if (m := re.search(r"codes: ([^)]*)", r["description"]))
        }
        for error_status, codes in re.findall(r"(\d{3})((?:[ /or]*`\w+`)+)", body):
            for code in re.findall(r"`(\w+)`", codes):
                if code in CODES:
                    assert code in listed.get(error_status, set()), (
                        method,
                        path,
                        error_status,
                        code,
                    )


def documented_objects() -> dict[str, Any]:
    """HTTP.md's "Objects that appear in many answers", by the first word of each
    one's comment (User, Room, ...)."""
    block = code_blocks(section(HTTP_MD, "Conventions"), "jsonc")[0]
    return {
        m[1]: elided(m[2])
        for m in re.finditer(r"^// (\w+)[^\n]*\n(.*?)(?=\n\n|\Z)", block, re.S | re.M)
    }


def test_shared_objects_have_the_keys_http_md_prints(server: LiveServer) -> None:
    """Each object of HTTP.md's list, as the server answers it over HTTP and TCP:
    the same keys in the same order (and Room's settings too)."""
    objects = documented_objects()
    assert set(objects) == {"User", "Room", "Membership", "Message", "Member", "Invitation"}
    with server.register("objowner") as owner, server.register("objguest") as guest:
        room = owner.ok("create_room", name=f"objects{uuid.uuid4().hex[:8]}")["room"]
        invitation = owner.ok("invite_to_room", room_id=room["id"], user_id=guest.user_id)
        membership = guest.ok("join_room", room_id=room["id"])["membership"]
        message = guest.ok("send_message", target={"room": room["id"]}, content="x")["message"]
        status, members = http(server, "GET", f"/api/v1/rooms/{room['id']}/members", owner.token)
        assert status == 200
        live = {
            "User": guest.ok("get_current_user")["user"],
            "Room": room,
            "Membership": membership,
            "Message": message,
            "Member": members["members"][0],
            "Invitation": invitation["invitation"],
        }
    for name, documented in objects.items():
        assert list(live[name]) == list(documented), name
    assert list(live["Room"]["settings"]) == list(objects["Room"]["settings"])


def test_answers_keys_http_md_calls_always_there_are_null_when_unset(server: LiveServer) -> None:
    """HTTP.md's "optional fields" row names the answer keys that are ``null``
    rather than absent when they have no value: each one, made to have none, is
    there and ``null`` (a client written in a typed language needs to know which
    fields are nullable, not just optional)."""
    row = re.search(r"^\| optional fields \|(.*)$", section(HTTP_MD, "Conventions"), re.M)[1]
    listed = set(re.findall(r"`(\w+)`", row.split("no value:")[1].split("(over")[0])) - {"null"}
    admin = login_over_http(server, ADMIN, ADMIN_PASSWORD)["token"]
    with server.register("nullowner") as owner, server.register("nullguest") as guest:
        room = owner.ok("create_room", name=f"nulls{uuid.uuid4().hex[:8]}")["room"]
        invitation = owner.ok("invite_to_room", room_id=room["id"], user_id=guest.user_id)
        status, seen = http(server, "GET", f"/api/v1/rooms/{room['id']}", guest.token)
        assert status == 200
        status, sessions = http(server, "GET", "/api/v1/auth/sessions", owner.token)
        assert status == 200
        status, ban = http(server, "POST", f"/api/v1/admin/users/{guest.user_id}/ban", admin)
        assert status == 200
        found = {
            "last_seen_at": owner.ok("get_current_user")["user"],
            "description": room["settings"],
            "max_members": room["settings"],
            "message": invitation["invitation"],
            "responded_at": invitation["invitation"],
            "membership": seen,
            "user_agent": sessions["sessions"][0],  # made over TCP: none sent
            "expires_at": ban,
        }
    assert listed == set(found)
    for key, holder in found.items():
        assert key in holder and holder[key] is None, key


def command_row(kind: str) -> str:
    """TCP.md §6's table row of one command."""
    return re.search(rf"^\| `{kind}` \|.*$", section(TCP_MD, "6. Commands"), re.M)[0]


def whole_second(stamp: str) -> str:
    return re.sub(r"\.\d+Z$", "Z", stamp)


def test_an_edit_answers_created_at_in_whole_seconds_as_the_docs_say(server: LiveServer) -> None:
    """An edit right after the send: the send's answer has microseconds, the edit's
    answer (TCP and HTTP) the same second without them, as both docs now warn (a
    client that replaced its message by ``created_at`` equality lost it)."""
    assert "whole seconds" in command_row("edit_message")
    assert "whole seconds" in section(HTTP_MD, "`PATCH /api/v1/messages/{message_id}`")
    with server.register("editstamp") as author:
        target = {"type": "dm", "recipient": author.user_id}
        sent = author.ok("send_message", target=target, content="x")["message"]
        edited = author.ok("edit_message", message_id=sent["id"], content="y")["message"]
        status, answer = http(
            server, "POST", "/api/v1/messages", author.token, target=target, content="x"
        )
        assert status == 201
        patch = f"/api/v1/messages/{answer['message']['id']}"
        status, patched = http(server, "PATCH", patch, author.token, content="y")
        assert status == 200
    for fresh, read_back in ((sent, edited), (answer["message"], patched["message"])):
        assert re.search(r"\.\d+Z$", fresh["created_at"]), fresh
        assert read_back["created_at"] == whole_second(fresh["created_at"])


def test_get_room_leaves_membership_out_for_a_non_member_as_tcp_md_says(
    server: LiveServer,
) -> None:
    """TCP.md's ``get_room`` row: a non-member's answer has no ``membership`` key at
    all (Lair Chat's serde omits it), while HTTP's ``GET /rooms/{id}`` says ``null``;
    a client that reads one transport's rule into the other breaks."""
    row = command_row("get_room")
    assert "absent otherwise" in row and "`null`" in row
    with server.register("roomowner") as owner, server.register("roomvisitor") as visitor:
        room = owner.ok("create_room", name=f"visit{uuid.uuid4().hex[:8]}")["room"]
        tcp = visitor.ok("get_room", room_id=room["id"])
        status, rest = http(server, "GET", f"/api/v1/rooms/{room['id']}", visitor.token)
        member = owner.ok("get_room", room_id=room["id"])
    assert list(tcp) == ["type", "request_id", "success", "room", "member_count"]
    assert (status, rest["membership"]) == (200, None)
    assert member["membership"]["role"] == "owner"


def test_a_time_cursor_leaves_out_its_own_second_as_tcp_md_says(server: LiveServer) -> None:
    """§6 ``get_messages``: a time cursor, even a message's own ``created_at`` with
    its microseconds, leaves out that whole second in both directions (so only id
    cursors page exactly), and ``t``/``z`` in lowercase are read as the doc says."""
    assert "cursor's own second is left out, both ways" in section(TCP_MD, "6. Commands")
    with server.register("timecursor") as user:
        target = {"type": "dm", "recipient": user.user_id}
        sent = user.ok("send_message", target=target, content="x")["message"]
        stamp = sent["created_at"]  # with microseconds (unless they happen to be 0)
        lower = whole_second(stamp).replace("T", "t").replace("Z", "z")
        for cursor in ("before", "after"):
            for value in (stamp, whole_second(stamp), lower):
                page = user.ok("get_messages", target=target, **{cursor: value})
                assert sent["id"] not in [m["id"] for m in page["messages"]], (cursor, value)
        assert [m["id"] for m in user.ok("get_messages", target=target)["messages"]] == [sent["id"]]


def test_mark_read_refuses_an_up_to_of_no_message_of_the_conversation(server: LiveServer) -> None:
    """``up_to`` unknown, of another conversation, or malformed: ``message_not_found``
    over TCP (not ``invalid_id``, as edit and delete answer a malformed id) and 404
    over HTTP, as TCP.md's row and HTTP.md's ``/messages/read`` now say."""
    cases = ("unknown", "another conversation's", "malformed")
    for text in (command_row("mark_read"), section(HTTP_MD, "`POST /api/v1/messages/read`")):
        assert all(case in text for case in cases), text
    with server.register("readmark") as reader, server.register("readother") as other:
        mine = {"type": "dm", "recipient": other.user_id}
        elsewhere = reader.ok(
            "send_message", target={"type": "dm", "recipient": reader.user_id}, content="to myself"
        )["message"]["id"]
        for up_to in (str(uuid.uuid4()), elsewhere, "not-an-id"):
            answer = reader.request("mark_read", target=mine, up_to=up_to)
            assert answer["error"]["code"] == "message_not_found", answer
            status, body = http(
                server, "POST", "/api/v1/messages/read", reader.token, target=mine, up_to=up_to
            )
            assert (status, body["error"]["code"]) == (404, "message_not_found")


def test_limit_zero_answers_an_empty_page_as_the_docs_say(server: LiveServer) -> None:
    """``limit`` 0: an empty page; ``has_more`` says whether messages lie that way
    (TCP and HTTP), and is always true for users and rooms (HTTP.md's rule)."""
    assert "`limit=0`" in section(HTTP_MD, "Pagination")
    assert "`limit` 0" in section(TCP_MD, "6. Commands")
    with server.register("limitzero") as user, server.register("limitpeer") as peer:
        quiet = {"type": "dm", "recipient": peer.user_id}
        talked = {"type": "dm", "recipient": user.user_id}
        user.ok("send_message", target=talked, content="x")
        for target, more in ((quiet, False), (talked, True)):
            page = user.ok("get_messages", target=target, limit=0)
            assert (page["messages"], page["has_more"]) == ([], more)
            query = f"target_type=dm&target_id={target['recipient']}&limit=0"
            assert http(server, "GET", f"/api/v1/messages?{query}", user.token) == (
                200,
                {"messages": [], "has_more": more},
            )
        for path, key in (("/api/v1/users?limit=0", "users"), ("/api/v1/rooms?limit=0", "rooms")):
            status, page = http(server, "GET", path, user.token)
            assert (status, page[key], page["has_more"]) == (200, [], True)


def test_a_ping_with_a_request_id_is_answered_by_a_bare_pong(server: LiveServer) -> None:
    """TCP.md's ``ping`` row: a ``request_id`` is ignored, the pong has only its two
    keys (a client matching answers by ``request_id`` must not wait for one)."""
    assert "`pong` carries none" in command_row("ping")
    with server.register("pingid") as client:
        client.send({"type": "ping", "request_id": "p1"})
        pong = client.recv()
    assert list(pong) == ["type", "server_time"] and pong["type"] == "pong"


def test_a_refreshed_token_shares_its_session_as_http_md_says(server: LiveServer) -> None:
    """``POST /auth/refresh``: the old token still works beside the new one, and a
    logout with the new one ends the old one too (HTTP.md)."""
    assert "a logout with either ends both" in section(HTTP_MD, "`POST /api/v1/auth/refresh`")
    with server.register("refresher") as user:
        old = user.token
    status, fresh = http(server, "POST", "/api/v1/auth/refresh", old)
    assert status == 200  # the same string as the old one within the same second
    assert http(server, "GET", "/api/v1/users/me", old)[0] == 200
    assert http(server, "POST", "/api/v1/auth/logout", fresh["token"]) == (200, {"success": True})
    status, refused = http(server, "GET", "/api/v1/users/me", old)
    assert (status, refused["error"]["code"]) == (401, "session_not_found")


def test_http_md_check_order_holds(server: LiveServer) -> None:
    """HTTP.md's "order in which a request is examined", one pair of faults per
    step: the earlier step's error is the answer."""
    text = section(HTTP_MD, "Authentication")
    assert "the token: 401" in text and "ids in the path or body" in text
    token = login_over_http(server, ADMIN, ADMIN_PASSWORD)["token"]
    ended = login_over_http(server, ADMIN, ADMIN_PASSWORD)["token"]
    assert http(server, "POST", "/api/v1/auth/logout", ended)[0] == 200

    def answer(
        method: str,
        path: str,
        token: str,
        body: bytes | None = None,
        kind: str = "application/json",
    ) -> tuple[int, str]:
        request = urllib.request.Request(
            f"{server.url}{path}",
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": kind},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, ""
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)["error"]["code"]

    assert answer("GET", "/api/v1/nope", "bad") == (404, "not_found")  # 1 before 2
    assert answer("DELETE", "/api/v1/users", "bad") == (405, "method_not_allowed")
    assert answer("POST", "/api/v1/rooms", "bad", b"{") == (401, "invalid_token")  # 2 before 4
    assert answer("GET", "/api/v1/rooms?limit=x", ended) == (400, "validation_failed")  # 3 < 6
    assert answer("PATCH", "/api/v1/rooms/zz", token, b"x", "text/plain") == (
        415,
        "unsupported_media_type",
    )  # 4 before 5
    assert answer("PATCH", "/api/v1/rooms/zz", token, b'{"name":5}') == (422, "validation_failed")
    assert answer("GET", "/api/v1/rooms/zz", ended) == (404, "room_not_found")  # 5 before 6
    assert answer("GET", f"/api/v1/users/{uuid.uuid4()}", ended) == (401, "session_not_found")


def test_each_endpoints_errors_come_in_http_md_order(server: LiveServer) -> None:
    """Requests with two faults at once, for the endpoints whose error lists HTTP.md
    gives "in check order": the answer is the fault the doc lists first, and that
    code is in the endpoint's section."""
    sections = {(m, p): body for m, p, _, body in endpoint_sections()}
    suffix = uuid.uuid4().hex[:6]

    def user(name: str) -> tuple[str, str]:
        status, answer = http(
            server,
            "POST",
            "/api/v1/auth/register",
            username=name + suffix,
            email=f"{name}{suffix}@example.com",
            password="password1",
        )
        assert status == 201, answer
        return answer["token"], answer["user"]["id"]

    owner, owner_id = user("own")
    member, member_id = user("mem")
    outsider, outsider_id = user("out")
    nowhere = str(uuid.uuid4())
    private = http(
        server, "POST", "/api/v1/rooms", owner, name=f"p{suffix}", settings={"public": False}
    )[1]["room"]["id"]
    room = http(server, "POST", "/api/v1/rooms", owner, name=f"q{suffix}")[1]["room"]["id"]
    assert http(server, "POST", f"/api/v1/rooms/{room}/join", member)[0] == 200
    said = http(
        server,
        "POST",
        "/api/v1/messages",
        owner,
        target={"type": "room", "room_id": room},
        content="hi",
    )[1]["message"]["id"]
    invited = http(
        server, "POST", "/api/v1/invitations", owner, room_id=private, user_id=outsider_id
    )[1]["invitation"]["id"]
    in_room = {"type": "room", "room_id": room}
    cases: list[tuple[str, str, str, str, dict[str, Any], str]] = [
        # method, documented path, path sent, token, body, expected code
        (
            "POST",
            "/api/v1/rooms/{room_id}/join",
            f"/api/v1/rooms/{private}/join",
            owner,
            {},
            "room_private",
        ),  # before already_member
        (
            "PATCH",
            "/api/v1/rooms/{room_id}",
            f"/api/v1/rooms/{room}",
            outsider,
            {"name": ""},
            "not_room_member",
        ),
        (
            "PATCH",
            "/api/v1/rooms/{room_id}",
            f"/api/v1/rooms/{room}",
            member,
            {"name": ""},
            "permission_denied",
        ),
        (
            "PUT",
            "/api/v1/rooms/{room_id}/members/{user_id}/role",
            f"/api/v1/rooms/{nowhere}/members/{member_id}/role",
            owner,
            {"role": "member"},
            "not_room_member",
        ),
        (
            "PUT",
            "/api/v1/rooms/{room_id}/members/{user_id}/role",
            f"/api/v1/rooms/{room}/members/{outsider_id}/role",
            member,
            {"role": "member"},
            "permission_denied",
        ),
        (
            "DELETE",
            "/api/v1/rooms/{room_id}/members/{user_id}",
            f"/api/v1/rooms/{nowhere}/members/{outsider_id}",
            outsider,
            {},
            "permission_denied",
        ),
        (
            "DELETE",
            "/api/v1/rooms/{room_id}/members/{user_id}",
            f"/api/v1/rooms/{room}/members/{outsider_id}",
            member,
            {},
            "not_room_member",
        ),
        (
            "POST",
            "/api/v1/messages",
            "/api/v1/messages",
            outsider,
            {"target": {"type": "room", "room_id": "zz"}, "content": ""},
            "room_not_found",
        ),
        (
            "POST",
            "/api/v1/messages",
            "/api/v1/messages",
            outsider,
            {"target": in_room, "content": ""},
            "content_invalid",
        ),
        (
            "GET",
            "/api/v1/messages",
            f"/api/v1/messages?target_type=room&target_id={room}&before=zz",
            outsider,
            {},
            "not_room_member",
        ),
        (
            "PATCH",
            "/api/v1/messages/{message_id}",
            f"/api/v1/messages/{said}",
            member,
            {"content": ""},
            "not_message_author",
        ),
        (
            "POST",
            "/api/v1/invitations",
            "/api/v1/invitations",
            outsider,
            {"room_id": "zz", "user_id": "zz"},
            "room_not_found",
        ),
        (
            "POST",
            "/api/v1/invitations",
            "/api/v1/invitations",
            member,
            {"room_id": room, "user_id": nowhere},
            "permission_denied",
        ),
        (
            "POST",
            "/api/v1/invitations",
            "/api/v1/invitations",
            owner,
            {"room_id": room, "user_id": member_id},
            "already_member",
        ),
        (
            "POST",
            "/api/v1/invitations/{invitation_id}/accept",
            f"/api/v1/invitations/{invited}/accept",
            member,
            {},
            "not_invitee",
        ),
        (
            "POST",
            "/api/v1/rooms/{room_id}/leave",
            f"/api/v1/rooms/{room}/leave",
            owner,
            {},
            "last_owner",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            "/api/v1/auth/register",
            "",
            {"username": "a", "email": "bad", "password": "x"},
            "username_invalid",
        ),
        (
            "POST",
            "/api/v1/auth/register",
            "/api/v1/auth/register",
            "",
            {"username": f"own{suffix}", "email": "bad", "password": "password1"},
            "email_invalid",
        ),
    ]
    for method, documented, path, token, body, expected in cases:
        assert expected in sections[(method, documented)], (documented, expected)
        status, answer = http(server, method, path, token or None, **body)
        assert answer["error"]["code"] == expected, (method, path, body, answer)


def test_http_md_length_limits_count_bytes(server: LiveServer) -> None:
    """Each "N bytes" limit HTTP.md gives, at its edge, in two-byte characters: the
    longest allowed passes and one byte more is refused with the documented code."""
    text = section(HTTP_MD, "Endpoints")
    _, longest_name = map(int, re.search(r"Usernames: (\d+)–(\d+) bytes", text).groups())
    shortest_password = int(re.search(r"Passwords: at least (\d+) bytes", text)[1])
    longest_content = int(re.search(r"Content: [^.]*at most (\d+) bytes", text)[1])
    longest_room = int(re.search(r"The name is trimmed, \d+–(\d+) bytes", text)[1])
    longest_description = int(re.search(r"`description` at most (\d+) bytes", text)[1])
    suffix = uuid.uuid4().hex[:8]

    def register(name: str, password: str) -> Any:
        email = f"{uuid.uuid4().hex[:12]}@example.com"
        return http(
            server, "POST", "/api/v1/auth/register", username=name, email=email, password=password
        )

    def fits(limit: int, tail: str = "") -> str:  # ``limit`` bytes, mostly é
        return tail + "é" * ((limit - len(tail)) // 2) + "a" * ((limit - len(tail)) % 2)

    assert register(fits(longest_name, suffix), "é" * (shortest_password // 2))[0] == 201
    refused = register(fits(longest_name + 1, suffix[:7]), "password1")
    assert refused[1]["error"]["code"] == "username_invalid"
    refused = register(f"pw{suffix}", "a" * (shortest_password - 1))
    assert refused[1]["error"]["code"] == "password_too_weak"

    token = login_over_http(server, ADMIN, ADMIN_PASSWORD)["token"]
    status, made = http(
        server,
        "POST",
        "/api/v1/rooms",
        token,
        name=fits(longest_room, suffix),
        description=fits(longest_description),
    )
    assert status == 201, made
    status, refused = http(
        server, "POST", "/api/v1/rooms", token, name=fits(longest_room + 1, suffix)
    )
    assert refused["error"]["code"] == "room_name_invalid"
    status, refused = http(
        server,
        "POST",
        "/api/v1/rooms",
        token,
        name=f"d{suffix}",
        description=fits(longest_description + 1),
    )
    assert refused["error"]["code"] == "validation_failed"
    target = {"type": "room", "room_id": made["room"]["id"]}
    status, _ = http(
        server, "POST", "/api/v1/messages", token, target=target, content=fits(longest_content)
    )
    assert status == 201
    status, refused = http(
        server, "POST", "/api/v1/messages", token, target=target, content=fits(longest_content + 1)
    )
    assert refused["error"]["code"] == "content_invalid"


# -- live: WebSocket ------------------------------------------------------------------------


def test_the_browser_example_page_runs_in_chromium(server: LiveServer, pages: Pages) -> None:
    """WEBSOCKET.md's page as printed, in headless Chromium, served from
    ``http://localhost:PORT`` as the doc says (its server address and account filled
    in): it logs in over HTTP, signs in on /ws, lists its room and says hello."""
    name = f"pagealice{uuid.uuid4().hex[:8]}"
    status, _ = http(
        server,
        "POST",
        "/api/v1/auth/register",
        username=name,
        email=f"{name}@example.com",
        password="correct horse battery",
    )
    assert status == 201
    token = login_over_http(server, name, "correct horse battery")["token"]
    status, _ = http(server, "POST", "/api/v1/rooms", token, name=f"page{uuid.uuid4().hex[:8]}")
    assert status == 201
    html = code_blocks(WS_MD, "html")[0]
    assert html.count('"http://localhost:8082"') == 1 and html.count('identifier: "alice"') == 1
    pages.html = html.replace('"http://localhost:8082"', f'"http://localhost:{server.http_port}"')
    pages.html = pages.html.replace('identifier: "alice"', f'identifier: "{name}"')
    with browser.chromium() as chrome:
        chrome.get(f"http://localhost:{pages.port}/")
        said = f"[{name}] hello from the browser"

        def log(d: Any) -> str:
            return d.find_element("id", "log").text

        try:
            browser.wait_for(chrome, lambda d: said in log(d))
        except Exception:  # the page's own words say what went wrong
            pytest.fail(f"page log: {log(chrome)!r}; console: {browser.console(chrome)}")
        assert log(chrome).startswith(f"signed in as {name}\nroom: ")


def test_websocket_pre_authentication_answers_as_websocket_md_shows(server: LiveServer) -> None:
    """The ``?token=`` section's frames: a good token is answered unasked with
    ``request_id`` null, and a later ``client_hello`` gets the line the doc prints; a
    malformed token gets the doc's failed response, and the connection goes on."""
    text = section(WS_MD, "Pre-authentication with `?token=`")
    printed = [
        json.loads(line[2:]) for line in re.findall(r"^[←→] \{.*\}$", text, re.M) if "…" not in line
    ]
    hello_refused, token_refused = printed[-2], printed[-1]
    assert hello_refused["type"] == "error" and token_refused["success"] is False
    with server.register("preauth") as tcp:
        token, name = tcp.token, tcp.username
    with WSClient(server.http_port, path=f"/ws?token={token}") as ws:
        assert ws.recv()["type"] == "server_hello"
        answer = ws.recv()
        assert answer["type"] == "authenticate_response" and answer["request_id"] is None
        assert answer["success"] and answer["user"]["username"] == name
        ws.send({"type": "client_hello", "version": "1.0"})
        assert ws.recv() == hello_refused
    with WSClient(server.http_port, path="/ws?token=not-a-jwt") as ws:
        assert ws.recv()["type"] == "server_hello"
        assert ws.recv() == token_refused
        ws.send({"type": "client_hello", "version": "1.0"})
        ws.send({"type": "authenticate", "token": token, "request_id": "a1"})
        assert ws.recv()["success"] is True


def test_websocket_token_parameter_is_read_as_the_endpoint_table_says(server: LiveServer) -> None:
    """The Endpoint table's ``query`` row: of two ``token`` parameters the first is
    tried, other parameters are ignored, and ``Token`` is not ``token`` (no
    ``authenticate_response`` at all: the next message answers the client's ping)."""
    row = re.search(r"^\| query \|.*$", section(WS_MD, "Endpoint"), re.M)[0]
    assert "case-sensitive" in row and "the first counts" in row
    with server.register("wsquery") as tcp:
        token = tcp.token
    for query, success in (
        (f"token={token}&token=junk", True),
        (f"token=junk&token={token}", False),
        (f"x=1&token={token}", True),
    ):
        with WSClient(server.http_port, path=f"/ws?{query}") as ws:
            assert ws.recv()["type"] == "server_hello"
            answer = ws.recv()
            assert (answer["type"], answer["success"]) == ("authenticate_response", success), query
    with WSClient(server.http_port, path=f"/ws?Token={token}") as ws:
        assert ws.recv()["type"] == "server_hello"
        ws.send({"type": "ping"})
        assert ws.recv()["type"] == "pong"


def test_tcp_md_only_over_http_names_real_endpoints(openapi: dict[str, Any]) -> None:
    """§6's "Only over HTTP" paragraph sends a real-time client to the REST API for
    what has no command: each endpoint it names is one HTTP.md documents and the
    server serves (its OpenAPI document), so the pointer cannot go stale."""
    text = section(TCP_MD, "6. Commands").split("**Only over HTTP**")[1].split("\n\n")[0]
    named = re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`]+)`", text)
    assert len(named) == 13
    for method, path in named:
        assert f"#### `{method} {path}`" in HTTP_MD, (method, path)
        assert method.lower() in openapi["paths"][path], (method, path)


def test_an_offered_subprotocol_is_not_echoed_as_websocket_md_warns(server: LiveServer) -> None:
    """The Endpoint table's ``subprotocol`` row: the 101 to an upgrade offering
    ``chat`` has no ``Sec-WebSocket-Protocol``, which makes RFC 6455 clients (a
    browser's ``new WebSocket(url, "chat")``, Node's) fail, as the row now warns;
    and Node's client, where installed, does fail."""
    row = re.search(r"^\| subprotocol \|.*$", section(WS_MD, "Endpoint"), re.M)[0]
    assert "never opens" in row and "offer none" in row
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.http_port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
    lines = head.split(b"\r\n\r\n")[0].decode("latin-1").lower().split("\r\n")
    assert " 101 " in lines[0]
    assert not [line for line in lines if line.startswith("sec-websocket-protocol")]
    if shutil.which("node") is None:
        return
    script = (
        f'const ws = new WebSocket("ws://127.0.0.1:{server.http_port}/ws", ["chat"]);'
        'ws.onopen = () => { console.log("open"); process.exit(0); };'
        'ws.onerror = () => { console.log("failed"); process.exit(0); };'
    )
    run = subprocess.run(
        ["node", "--experimental-websocket", "--no-warnings", "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # A node too old for WebSocket, or without this flag, prints neither: no verdict.
    assert run.stdout.strip() != "open", "an offered subprotocol no longer fails the handshake"


def test_websocket_md_differences_from_tcp_hold(server: LiveServer) -> None:
    """The "Differences from the TCP port" rows a client meets: the binary-message
    error as printed, key exchange refused, an encryption hello going straight to
    authentication, and the close codes of a server close, an oversized message and
    invalid UTF-8."""
    table = dict(
        re.findall(
            r"^\| ([^|]+?) \| [^|]* \| ([^|]*) \|$",
            section(WS_MD, "Differences from the TCP port"),
            re.M,
        )
    )
    binary = json.loads(re.search(r"`(\{.*?\})`", table["binary data"])[1])
    not_needed = re.search(r'`(\w+)` "([^"]+)" after', table["encryption"]).groups()

    def close_code(row: str) -> int:
        return int(re.search(r"close frame \(?(?:code )?(\d{4})", table[row])[1])

    def closed_with(ws: WSClient) -> int:
        while True:
            opcode, payload = ws.recv_frame()
            if opcode == CLOSE:
                return struct.unpack("!H", payload[:2])[0]

    with server.register("wsdiff") as tcp:
        token = tcp.token
    with WSClient(server.http_port) as ws:
        assert ws.recv()["type"] == "server_hello"
        ws.send_frame(BINARY, b"\x00")
        assert ws.recv() == binary
        ws.send({"type": "client_hello", "version": "1.0", "features": ["encryption"]})
        ws.send({"type": "authenticate", "token": token})
        assert ws.recv()["success"] is True
        ws.send({"type": "key_exchange", "public_key": "AAAA"})
        reply = ws.recv()
        assert (reply["code"], reply["message"]) == not_needed
        ws.send({"type": "logout"})
        assert ws.recv()["type"] == "logout_response"
        assert closed_with(ws) == close_code("server-side close")
    with WSClient(server.http_port) as ws:
        ws.sock.sendall(struct.pack("!BBQ", 0x81, 0xFF, 1_048_577) + b"mask")
        assert closed_with(ws) == close_code("over the size limit")
    with WSClient(server.http_port) as ws:
        ws.send_frame(TEXT, b'"\xff"')
        assert closed_with(ws) == close_code("invalid UTF-8")
