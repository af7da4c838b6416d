"""Health, readiness, the OpenAPI document (checked against the router) and the
original README's curl walk-through, request for request."""

from __future__ import annotations

from twisted.internet import defer

import lairchat
from lairchat.transports.http.openapi import openapi_document
from lairchat.transports.http.testing import ApiClient

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def test_health(client: ApiClient) -> None:
    reply = client.get("/health")
    assert (reply.status, reply.json) == (
        200,
        {"status": "healthy", "version": lairchat.__version__},
    )


def test_ready_pings_the_database(client: ApiClient, monkeypatch) -> None:
    calls = []
    real = client.core.store.ping

    def ping():
        calls.append(1)
        return real()

    monkeypatch.setattr(client.core.store, "ping", ping)
    reply = client.get("/ready")
    assert (reply.status, reply.json) == (200, {"ready": True, "database": "connected"})
    assert calls == [1]


def test_ready_reports_an_unavailable_database(client: ApiClient, monkeypatch) -> None:
    monkeypatch.setattr(client.core.store, "ping", lambda: defer.fail(OSError("disk gone")))
    reply = client.get("/ready")
    assert (reply.status, reply.json) == (503, {"ready": False, "database": "unavailable"})


def test_ready_times_out_on_a_hung_database(client: ApiClient, monkeypatch) -> None:
    monkeypatch.setattr(client.core.store, "ping", defer.Deferred)
    d = client.stub.get("http://lairchat.test/ready")
    client.core.clock.advance(5)
    client.stub.flush()
    response = d.result
    assert response.code == 503


# -- OpenAPI ------------------------------------------------------------------------------


def routed(client: ApiClient) -> set[tuple[str, str]]:
    """Every (method, OpenAPI path) Klein routes."""
    found = set()
    for rule in client.api.app.url_map.iter_rules():
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods or ():
            if method in METHODS:
                found.add((method, path))
    return found


def documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in item
    }


def test_openapi_matches_the_router(client: ApiClient) -> None:
    assert routed(client) == documented()
    assert len(routed(client)) == 60


def test_openapi_is_served_twice(client: ApiClient) -> None:
    first, second = client.get("/openapi.json"), client.get("/api/v1/openapi.json")
    assert first.status == second.status == 200
    assert first.json == second.json == openapi_document()
    assert first.json["openapi"].startswith("3.0")


def _refs(node, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                out.add(value)
            else:
                _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)
    return out


def test_openapi_references_resolve_and_operations_are_complete() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    for reference in _refs(document, set()):
        assert reference.startswith("#/components/schemas/")
        assert reference.rsplit("/", 1)[1] in schemas
    for name in (
        "User",
        "Room",
        "Membership",
        "Message",
        "MessageTarget",
        "EnrichedInvitation",
        "RoomListItem",
        "Member",
        "Error",
    ):
        assert name in schemas
    operation_ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)
            assert "500" in operation["responses"]
            # lairchat answers every storage failure internal_error, never the
            # original's database_error (HTTP.md).
            assert "database_error" not in operation["responses"]["500"]["description"]
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == set(part[1:-1] for part in path.split("/") if part.startswith("{"))
    assert len(operation_ids) == len(set(operation_ids))


def test_openapi_document_validates() -> None:
    import openapi_spec_validator as validator

    validator.validate(openapi_document())


# -- the original README's walk-through ----------------------------------------------------


def test_readme_curl_walkthrough(client: ApiClient) -> None:
    # curl http://localhost:8082/health
    assert client.get("/health").json["status"] == "healthy"
    # curl -X POST .../api/v1/auth/register -H "Content-Type: application/json" -d '...'
    json_type = {"Content-Type": "application/json"}
    register = client.post(
        "/api/v1/auth/register",
        data=b'{"username":"alice","email":"alice@example.com","password":"Secret123!"}',
        headers=json_type,
    )
    assert register.status == 201
    login = client.post(
        "/api/v1/auth/login",
        data=b'{"identifier":"alice","password":"Secret123!"}',
        headers=json_type,
    )
    assert login.status == 200
    assert list(login.json) == ["user", "session", "token"]
    bearer = {"Authorization": f"Bearer {login.json['token']}"}
    rooms = client.get("/api/v1/rooms", headers=bearer)
    assert (rooms.status, rooms.json) == (200, {"rooms": [], "has_more": False, "total_count": 0})
    created = client.post(
        "/api/v1/rooms",
        data=b'{"name":"General","description":"General chat room"}',
        headers={**json_type, **bearer},
    )
    assert created.status == 201
    room_id = created.json["room"]["id"]
    history = client.get(f"/api/v1/messages?target_type=room&target_id={room_id}", headers=bearer)
    assert (history.status, history.json) == (200, {"messages": [], "has_more": False})


def test_the_bounded_listings_declare_their_paging() -> None:
    """The sessions and a room's invitations page with limit and offset (HTTP.md,
    Pagination); their description of limit is not GET /users' (default 100, not 50)."""
    paths = openapi_document()["paths"]
    for path in ("/api/v1/auth/sessions", "/api/v1/rooms/{room_id}/invitations"):
        query = [p for p in paths[path]["get"]["parameters"] if p["in"] == "query"]
        assert [p["name"] for p in query] == ["limit", "offset"], path
        assert "default 100" in query[0]["description"]
