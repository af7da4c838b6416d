"""Two-factor sign-in from the terminal client, end to end (docs/CLIENT.md,
"Two-factor sign-in"): a real ``twistd lairchat`` and the client in tmux
(tests/integration/test_client_tmux.py), driven by its keys. ``/2fa setup`` shows
the secret, ``/2fa enable CODE`` turns it on with a code made from it here (as an
authenticator app makes it) and shows the recovery codes, which Esc does not take
away (``s`` says they are stored); a second terminal's login is asked for the code;
``/2fa codes`` there, with a recovery code, shows ten new ones (the old refused
after); ``/2fa disable``, with one of the new, turns it off and signs the first
terminal out, saying why."""

from __future__ import annotations

import base64
import re
import time
import uuid
from pathlib import Path

from lairchat.domain import totp
from lairchat.testing_clients import rest
from tests.integration import test_client_tmux
from tests.integration.test_client_tmux import PASSWORD, Server, Terminal, tmux_binary, unwrapped

terminals = test_client_tmux.terminals  # the shared fixture


def code(key: bytes, offset: int = 0) -> str:
    return totp.hotp(key, totp.step_at(time.time()) + offset)


#: A recovery code as the client shows it.
RECOVERY = re.compile(r"\b[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}\b")


def codes_shown(terminal: Terminal, text: str) -> list[str]:
    """The ten recovery codes in the box under ``text``, once all are drawn: a screen
    read as the box appears may hold only its first rows (urwid draws from the top)."""
    shown = terminal.wait_for(text)
    deadline = time.monotonic() + 10
    while len(RECOVERY.findall(shown)) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
        shown = terminal.screen()
    return RECOVERY.findall(shown)


def test_set_up_enable_sign_in_with_a_code_and_disable(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    server = Server(tmp_path)
    try:
        name = f"otp_{uuid.uuid4().hex[:6]}"
        account = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert rest(server, "POST", "/api/v1/auth/register", account)[0] == 201
        first = Terminal(
            tmux_binary(), f"lairchat-test-{name}", "a", server.client_args(), tmp_path
        )
        terminals.append(first)
        first.log_in(name)

        first.keys("i")
        first.command("/2fa setup")
        first.wait_for("Two-factor sign-in")
        first.type(PASSWORD)
        first.keys("Enter")
        shown = unwrapped(first.wait_for("Secret: "))
        secret = re.search(r"Secret: ([A-Z2-7]+)", shown).group(1)
        assert "otpauth://totp/lairchat:" in shown.replace("\n", "")
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
        first.keys("q")
        first.command(f"/2fa enable {code(key)}")
        recovery = codes_shown(first, "Two-factor sign-in is on")
        assert len(recovery) == 10, recovery
        # Esc does not lose them: the box stays until s (I have stored them).
        first.keys("Escape")
        kept = first.wait_for("Not closed: store them first, then press s")
        assert RECOVERY.findall(kept) == recovery and "s: I have stored them" in kept
        first.keys("s")
        first.wait_gone("s: I have stored them")
        login = {"identifier": name, "password": PASSWORD}
        answer = rest(server, "POST", "/api/v1/auth/login", login)
        assert (answer[0], answer[1]["error"]["code"]) == (401, "totp_required")

        second = Terminal(
            tmux_binary(), f"lairchat-test-{name}-2", "b", server.client_args(), tmp_path
        )
        terminals.append(second)
        second.wait_for("L A I R   C H A T")
        second.fill_login(name, PASSWORD)
        second.wait_for("Two-factor sign-in: type the code")
        second.type(code(key, 1))  # enable used this step's
        second.keys("Enter")
        second.wait_for(f"Welcome, {name}!")

        # New recovery codes with a recovery code: the old ones stop working.
        second.keys("i")
        second.command("/2fa codes")
        second.wait_for("New recovery codes")
        second.type(PASSWORD)
        second.keys("Enter")
        second.type(recovery[0])
        second.keys("Enter")
        fresh = codes_shown(second, "the ones you had no longer work")
        assert len(fresh) == 10 and not set(fresh) & set(recovery), fresh
        second.keys("s")
        old = rest(server, "POST", "/api/v1/auth/login", {**login, "totp": recovery[1]})
        assert (old[0], old[1]["error"]["code"]) == (401, "invalid_totp")

        second.command("/2fa disable")
        second.wait_for("Turn off two-factor sign-in")
        second.type(PASSWORD)
        second.keys("Enter")
        second.type(fresh[0])
        second.keys("Enter")
        second.wait_for("Two-factor sign-in is off; your other sessions have ended")
        first.wait_for("Session ended: two-factor sign-in was turned off")
        assert rest(server, "POST", "/api/v1/auth/login", login)[0] == 200
    finally:
        server.stop()
