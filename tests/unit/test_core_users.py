"""UserService: profiles, listing with presence and paging, system roles
(DOMAIN.md §2, §3, §13; HTTP.md §5.2, §9)."""

from __future__ import annotations

import pytest

from lairchat.core import paging
from lairchat.domain.ids import new_id
from lairchat.testing import result

T0 = 1_700_000_000


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def alice(w):
    return w.user("alice")


@pytest.mark.parametrize("user_id", [None, "", "not-a-uuid", new_id()])
def test_get_unknown_user(w, alice, user_id):
    w.fails(w.core.users.get(user_id), "user_not_found")


def test_get_user(w, alice):
    assert w.ok(w.core.users.get(alice.id)).username == "alice"


# -- profile --------------------------------------------------------------------------


def test_update_profile_email_lowercased_and_updated_at_bumped(w, alice):
    w.clock.advance(30)
    user = w.ok(w.core.users.update_profile(alice, "New@Example.ORG"))
    assert user.email == "new@example.org"
    assert (user.created_at, user.updated_at) == (T0, T0 + 30)
    assert result(w.core.store.get_user(alice.id)).email == "new@example.org"


def test_update_profile_without_email_only_bumps_updated_at(w, alice):
    w.clock.advance(5)
    user = w.ok(w.core.users.update_profile(alice, None))
    assert (user.email, user.updated_at) == ("alice@example.com", T0 + 5)


def test_update_profile_to_own_email_in_another_case(w, alice):
    assert w.ok(w.core.users.update_profile(alice, "ALICE@example.com")).email == (
        "alice@example.com"
    )


@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("no-at-sign", "email_invalid"),
        ("a@b@c.d", "email_invalid"),
        ("a@localhost", "email_invalid"),
        ("BOB@example.com", "email_taken"),
    ],
)
def test_update_profile_refused(w, alice, email, code):
    w.user("bob")
    w.fails(w.core.users.update_profile(alice, email), code)
    assert result(w.core.store.get_user(alice.id)).email == "alice@example.com"


def test_update_profile_email_rules_come_before_uniqueness(w, alice):
    w.register("bob", "bob@localhost.x")
    error = w.fails(w.core.users.update_profile(alice, "@localhost.x"), "email_invalid")
    assert error.message == "Email invalid: invalid format: local part cannot be empty"


# -- listing --------------------------------------------------------------------------


def test_list_ordered_case_insensitively_with_presence(w):
    users = {name: w.user(name) for name in ("carol", "Bob", "alice")}
    w.connect(users["Bob"])
    page, more = w.ok(w.core.users.list(None, 0))
    assert [u.username for u in page] == ["alice", "Bob", "carol"]
    assert more is False
    wire = w.core.users.listing_to_wire(page, more)
    assert list(wire) == ["users", "has_more", "total_count"]
    assert [(item["user"]["username"], item["online"]) for item in wire["users"]] == [
        ("alice", False),
        ("Bob", True),
        ("carol", False),
    ]
    assert list(wire["users"][0]) == ["user", "online"]
    assert wire["total_count"] == 3  # the page length, not a grand total


@pytest.mark.parametrize(
    ("limit", "offset", "length", "more"),
    [
        (None, 0, 50, True),  # default 50; a full page says "more"
        (2, 0, 2, True),
        (10, 100, 1, False),
        (150, 0, 100, False),  # capped at 100; the original compares with the request
        (100, 0, 100, True),
        (0, 0, 0, True),  # the original's quirk: an empty page with has_more
    ],
)
def test_list_paging(w, limit, offset, length, more):
    for i in range(101):
        w.register(f"user{i:03d}")
    page, has_more = w.ok(w.core.users.list(limit, offset))
    assert (len(page), has_more) == (length, more)
    if length:
        assert page[0].username == f"user{offset:03d}"


def test_list_search_filters_by_substring(w):
    for name in ("alice", "malice", "bob"):
        w.user(name)
    page, _ = w.ok(w.core.users.list(None, 0, "lic"))
    assert [u.username for u in page] == ["alice", "malice"]


@pytest.mark.parametrize(
    ("limit", "cap"), [(None, 50), (0, 0), (1, 1), (100, 100), (101, 100), (10**9, 100), (-5, 0)]
)
def test_paging_cap(limit, cap):
    assert paging.cap(limit) == cap


@pytest.mark.parametrize(
    ("length", "requested", "more"),
    [(50, None, True), (49, None, False), (100, 150, False), (0, 0, True), (3, 3, True)],
)
def test_paging_has_more(length, requested, more):
    assert paging.has_more(length, requested) is more


# -- system roles ---------------------------------------------------------------------


def test_set_role(w, alice):
    assert w.ok(w.core.users.set_role(alice.id, "admin")).role == "admin"
    assert result(w.core.store.get_user(alice.id)).role == "admin"


@pytest.mark.parametrize(
    ("role", "code"), [("root", "validation_failed"), ("Admin", "validation_failed")]
)
def test_set_role_refuses_unknown_roles(w, alice, role, code):
    error = w.fails(w.core.users.set_role(alice.id, role), code)
    assert error.message == "Validation failed: role - must be one of user, moderator, admin"


def test_set_role_unknown_user(w):
    w.fails(w.core.users.set_role(new_id(), "admin"), "user_not_found")
