"""Schemathesis against ``/openapi.json`` of a real server: no 5xx, nothing off-schema.

The server is ``twistd -n lairchat`` on loopback ports (rate limits off). Every
operation of the OpenAPI document gets a bounded number of generated requests
(``MAX_EXAMPLES`` per operation, derandomized: the same requests on every run), sent
with the bearer token of ``fuzzer``, whose stored role is ``admin`` so that the admin
endpoints are reached too. Checks, on every answer:

- below 500 (``not_a_server_error``);
- status code, content type, headers and body as the document says;
- requests that break the document's request schema are refused
  (``negative_data_rejection``), and requests without the token too (``ignored_auth``).

Not checked: ``positive_data_acceptance`` (every schema-valid request succeeds). The
field rules count UTF-8 bytes and Unicode character classes (usernames of 3 to 32
bytes of letters, digits and ``_``; content with a non-space character), which JSON
Schema cannot state exactly, so a valid-looking request may rightly get a 400.

Generated path ids rarely name anything, so most of them are replaced by the ids of
fresh resources made for that request (a room ``fuzzer`` owns and ``invitee`` joined,
a message in it, an invitation for ``fuzzer``; ``doomed`` to ban; another session of
``fuzzer`` to end): the success answers are checked against their schemas too.
``POST /api/v1/auth/logout`` gets a session of its own for every request, so that the
shared token stays valid for the others.
"""

from __future__ import annotations

import itertools
import sqlite3
import zlib
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from lairchat.transports.http.openapi import openapi_document

MAX_EXAMPLES = 20
PASSWORD = "fuzz-password-1"
TIMEOUT = 30


class Fuzzed:
    """The live server, its users, and fresh resources on demand."""

    def __init__(self, server: Any):
        self.server = server
        self.url = server.url
        self.session = requests.Session()
        self._names = itertools.count()
        self.token, self.user_id = self.register("fuzzer")
        # The operator's way in: the role lives in the database (`lairchat admin set-role`).
        with sqlite3.connect(server.database, timeout=TIMEOUT) as db:
            db.execute("UPDATE users SET role = 'admin' WHERE username = 'fuzzer'")
        self.invitee_token, self.invitee_id = self.register("invitee")
        # Bans end sessions: the admin endpoints ban and unban someone whose token
        # nothing needs (a ban of a banned user is just renewed).
        _, self.doomed_id = self.register("doomed")

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        reply = self.session.request(
            method, self.url + path, headers=headers, timeout=TIMEOUT, **kw
        )
        assert reply.status_code < 500, reply.text
        return reply

    def register(self, name: str) -> tuple[str, str]:
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        reply = self.call("POST", "/api/v1/auth/register", json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()["token"], reply.json()["user"]["id"]

    def login(self) -> dict[str, Any]:
        """A new session of ``fuzzer``: the login's answer."""
        body = {"identifier": "fuzzer", "password": PASSWORD}
        reply = self.call("POST", "/api/v1/auth/login", json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def room(self, token: str, public: bool = True) -> str:
        body = {"name": f"fuzz {next(self._names)}", "settings": {"public": public}}
        reply = self.call("POST", "/api/v1/rooms", token, json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()["room"]["id"]

    def real_ids(self, path: str) -> dict[str, str]:
        """Ids of fresh resources for the parameters of ``path``."""
        ids: dict[str, str] = {}
        if "{room_id}" in path or "{message_id}" in path:
            room = ids["room_id"] = self.room(self.token)
            self.call("POST", f"/api/v1/rooms/{room}/join", self.invitee_token)
            message = self.call(
                "POST",
                "/api/v1/messages",
                self.token,
                json={"target": {"type": "room", "room_id": room}, "content": "fuzz"},
            )
            ids["message_id"] = message.json()["message"]["id"]
        if "{invitation_id}" in path:
            room = self.room(self.invitee_token, public=False)
            invitation = self.call(
                "POST",
                "/api/v1/invitations",
                self.invitee_token,
                json={"room_id": room, "user_id": self.user_id},
            )
            ids["invitation_id"] = invitation.json()["invitation"]["id"]
        if "{user_id}" in path:
            doomed = path.startswith("/api/v1/admin/users/")
            ids["user_id"] = self.doomed_id if doomed else self.invitee_id
        if "{session_id}" in path:
            # A session of fuzzer's own to end: the shared token stays valid.
            ids["session_id"] = self.login()["session"]["id"]
        if "{emoji}" in path:
            ids["emoji"] = "👍"
        if "{code_id}" in path or "{code}" in path:
            made = (
                self.call(
                    "POST", f"/api/v1/rooms/{ids['room_id']}/invite-codes", self.token, json={}
                )
                if "room_id" in ids
                else self.call(
                    "POST",
                    f"/api/v1/rooms/{self.room(self.token)}/invite-codes",
                    self.token,
                    json={},
                )
            )
            ids["code_id"] = made.json()["invite_code"]["id"]
            ids["code"] = made.json()["invite_code"]["code"]
        return ids


@pytest.fixture(scope="module")
def fuzzed(start_server: Any) -> Fuzzed:
    return Fuzzed(start_server())


# The document is loaded in process so that pytest can list one test per operation;
# the server's own /openapi.json is checked to be the same document.
schema = schemathesis.openapi.from_dict(openapi_document())
# Unknown query parameters and fields are ignored, on purpose: the original ignores
# them and its clients send some (e.g. `public_only`), so "an unexpected parameter
# was accepted" is not a failure here. Every other kind of invalid input still is.
schema.config.generation.update(allow_extra_parameters=False)


def test_the_server_serves_this_document(fuzzed: Fuzzed) -> None:
    for path in ("/openapi.json", "/api/v1/openapi.json"):
        served = fuzzed.call("GET", path)
        assert served.status_code == 200
        assert served.json() == orjson.loads(orjson.dumps(openapi_document()))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_document(case: Any, fuzzed: Fuzzed) -> None:
    token = fuzzed.token
    if case.path == "/api/v1/auth/logout":
        token = fuzzed.login()["token"]
    generated = case.path_parameters or {}
    # Three times in four (decided by the generated values: deterministic), real ids.
    if generated and zlib.crc32(orjson.dumps(generated, option=orjson.OPT_SORT_KEYS)) % 4:
        real = fuzzed.real_ids(case.path)
        case.path_parameters = {name: real[name] for name in generated}
    response = case.call_and_validate(
        base_url=fuzzed.url,
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
        timeout=TIMEOUT,
    )
    assert response.status_code < 500, response.text
