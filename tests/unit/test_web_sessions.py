"""What the browser's *Sessions* dialog says of each session (docs/WEB.md), run under
Node as app.js has it (:mod:`tests.unit.appjs`)."""

from __future__ import annotations

from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

PAGE = "const whenText = (t) => `<${t}>`;"
MAIN = "(cases) => cases.map(sessionText)"


def test_each_session_says_when_it_was_last_used_and_from_where() -> None:
    """lairchat lists each session's last use, address and User-Agent (6c1cb1f); the
    page showed only when it signed in and expires."""
    made = {"created_at": "c", "expires_at": "e"}
    full, tcp, original = appjs.run(
        ["sessionText"],
        MAIN,
        [
            {**made, "last_active_at": "u", "ip_address": "203.0.113.9", "user_agent": "Fx"},
            {**made, "last_active_at": "u", "ip_address": "198.51.100.7", "user_agent": None},
            made,  # Lair Chat's listing: none of these
        ],
        prelude=PAGE,
    )
    assert full == "Signed in <c>, last used <u>, expires <e>, from 203.0.113.9 · Fx"
    assert tcp == "Signed in <c>, last used <u>, expires <e>, from 198.51.100.7"
    assert original == "Signed in <c>, expires <e>"
