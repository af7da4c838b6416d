"""The login lockout under concurrency and during a lock for every address
(SECURITY.md "Passwords and login"): honest concurrent logins wait rather than being
refused; a burst of guesses still gets no more checks than the threshold; an address
the identifier logged in from still gets in while guessers from everywhere are
locked out."""

from __future__ import annotations

import pytest
from twisted.internet import defer

from lairchat.core import auth
from lairchat.core.auth import (
    LOCKOUT_DURATION,
    LOCKOUT_KNOWN_FOR,
    LOCKOUT_THRESHOLD,
    LOCKOUT_THRESHOLD_ALL,
    LOCKOUT_WAITING_MAX,
)
from tests.unit.test_core_auth import HeldVerify, fail_logins, failure_code

PASSWORD = "password1"
OFFICE = "ip:203.0.113.9"
HOME = "ip:198.51.100.7"
CAFE = "ip:192.0.2.44"


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def alice(w):
    return w.register("alice", "alice@example.com")


@pytest.fixture
def held(w):
    """Password checks held until ``held.release()``: logins that run at once."""
    passwords = w.core.auth.passwords
    held = w.core.auth.passwords = HeldVerify(passwords)
    yield held
    w.core.auth.passwords = passwords


def fired(d: defer.Deferred) -> bool:
    return d.called


# -- concurrent attempts ------------------------------------------------------------


def test_concurrent_honest_logins_from_one_address_all_get_in(w, alice, held):
    """An office behind one NAT address, or a client opening several connections:
    the sixth login sent together with five was refused ``account_locked``, though
    none had failed."""
    logins = [w.core.auth.login("alice", PASSWORD, OFFICE) for _ in range(2 * LOCKOUT_THRESHOLD)]
    assert len(held.held) == LOCKOUT_THRESHOLD  # the rest wait, unrefused
    assert not any(fired(d) for d in logins)
    held.release()
    sessions = {w.ok(d).session.id for d in logins}
    assert len(sessions) == 2 * LOCKOUT_THRESHOLD


def test_concurrent_honest_logins_from_many_addresses_all_get_in(w, alice, held):
    logins = [
        w.core.auth.login("alice", PASSWORD, f"ip:198.51.100.{i}")
        for i in range(LOCKOUT_THRESHOLD_ALL + 5)
    ]
    assert len(held.held) == LOCKOUT_THRESHOLD_ALL
    held.release()
    assert all(w.ok(d).user.id == alice.user.id for d in logins)


def test_a_waiting_login_is_decided_once_the_earlier_ones_end(w, alice, held):
    """Four guesses and a right password pending from one address fill its five;
    two more right ones wait. The right one forgets the address's failures, and the
    waiting ones get in."""
    guesses = [w.core.auth.login("alice", f"guess{i}", OFFICE) for i in range(4)]
    right = [w.core.auth.login("alice", PASSWORD, OFFICE) for _ in range(3)]
    assert len(held.held) == LOCKOUT_THRESHOLD
    held.release()
    assert [failure_code(d) for d in guesses] == ["invalid_credentials"] * 4
    assert len({w.ok(d).session.id for d in right}) == 3


def test_a_burst_of_guesses_gets_only_the_threshold_checked(w, alice, held):
    """What the pending count is for: the waiting guesses are refused, unchecked,
    once the checked ones have failed."""
    guesses = [w.core.auth.login("alice", f"g{i}", OFFICE) for i in range(3 * LOCKOUT_THRESHOLD)]
    held.release()
    codes = [failure_code(d) for d in guesses]
    assert codes[:LOCKOUT_THRESHOLD] == ["invalid_credentials"] * LOCKOUT_THRESHOLD
    assert codes[LOCKOUT_THRESHOLD:] == ["account_locked"] * 2 * LOCKOUT_THRESHOLD
    assert held.held == []  # none of the waiting ones was checked


def test_waiting_attempts_are_bounded(w, alice, held):
    """A flood cannot queue without end: past LOCKOUT_WAITING_MAX waiting on one
    identifier, an attempt is refused at once."""
    login = w.core.auth.login
    admitted = [login("alice", PASSWORD, OFFICE) for _ in range(LOCKOUT_THRESHOLD)]
    waiting = [login("alice", PASSWORD, OFFICE) for _ in range(LOCKOUT_WAITING_MAX)]
    extra = login("alice", PASSWORD, OFFICE)
    assert failure_code(extra) == "account_locked"
    assert not any(fired(d) for d in admitted + waiting)
    held.release()
    assert all(w.ok(d) for d in admitted + waiting)


def test_an_attempt_that_errs_lets_the_waiting_ones_in(w, alice):
    """An attempt that ends in an error counts as nothing, and still makes room."""
    find, broken = w.core.store.find_user_by_login, []

    def held_find(identifier):
        d = defer.Deferred()
        broken.append(d)
        return d

    w.core.store.find_user_by_login = held_find
    erring = [w.core.auth.login("alice", PASSWORD, OFFICE) for _ in range(LOCKOUT_THRESHOLD)]
    w.core.store.find_user_by_login = find
    waiting = w.core.auth.login("alice", PASSWORD, OFFICE)
    assert not fired(waiting)
    for d in broken:
        d.errback(RuntimeError("database gone"))
    for d in erring:
        with pytest.raises(RuntimeError):
            w.ok(d)
    assert w.ok(waiting).user.id == alice.user.id


def test_a_wait_the_client_gives_up_leaves_nothing_counted(w, alice, held):
    """The web server cancels a request's Deferred when its client goes away. A
    cancelled wait was let through later all the same, counted as pending, and never
    settled: five of them kept the address waiting for ever."""
    admitted = [w.core.auth.login("alice", PASSWORD, OFFICE) for _ in range(LOCKOUT_THRESHOLD)]
    given_up = [w.core.auth.login("alice", PASSWORD, OFFICE) for _ in range(LOCKOUT_THRESHOLD)]
    for d in given_up:
        d.cancel()
        assert failure_code_or_cancelled(d) == "cancelled"
    held.release()
    assert all(w.ok(d) for d in admitted)
    later = [w.core.auth.login("alice", PASSWORD, OFFICE) for _ in range(LOCKOUT_THRESHOLD)]
    assert len(held.held) == LOCKOUT_THRESHOLD
    held.release()
    assert all(w.ok(d) for d in later)


def failure_code_or_cancelled(d: defer.Deferred) -> str:
    failures: list = []
    d.addErrback(failures.append)
    return "cancelled" if failures[0].check(defer.CancelledError) else repr(failures[0])


# -- a lock for every address ---------------------------------------------------------


def lock_for_everyone(w, identifier: str = "alice") -> None:
    """LOCKOUT_THRESHOLD_ALL failures spread so that no address meets its own lock."""
    per_address = LOCKOUT_THRESHOLD - 1
    for i in range(LOCKOUT_THRESHOLD_ALL):
        fail_logins(w, identifier, 1, f"ip:203.0.113.{100 + i // per_address}")


class CountedVerify:
    """The password checks, counted."""

    def __init__(self, passwords):
        self.passwords = passwords
        self.checks = 0

    def verify(self, stored, password):
        self.checks += 1
        return self.passwords.verify(stored, password)


def test_an_address_the_user_logged_in_from_still_gets_in_during_a_lock_for_everyone(w, alice):
    """Five addresses failing together locked the name for everyone, its owner too."""
    w.ok(w.core.auth.login("alice", PASSWORD, HOME))
    lock_for_everyone(w)
    assert w.ok(w.core.auth.login("alice", PASSWORD, HOME)).user.id == alice.user.id
    # Guesses from everywhere else stay locked out, unchecked, the right password too.
    counted = w.core.auth.passwords = CountedVerify(w.core.auth.passwords)
    w.fails(w.core.auth.login("alice", PASSWORD, CAFE), "account_locked")
    w.fails(w.core.auth.login("alice", "guess", "ip:203.0.113.100"), "account_locked")
    assert counted.checks == 0
    w.clock.advance(LOCKOUT_DURATION)
    w.ok(w.core.auth.login("alice", PASSWORD, CAFE))


def test_a_known_address_still_meets_its_own_lock(w, alice):
    w.ok(w.core.auth.login("alice", PASSWORD, HOME))
    lock_for_everyone(w)
    fail_logins(w, "alice", LOCKOUT_THRESHOLD, HOME)
    w.fails(w.core.auth.login("alice", PASSWORD, HOME), "account_locked")


def test_a_known_address_counts_for_the_identifier_as_typed_and_for_a_while(w, alice):
    w.ok(w.core.auth.login("alice", PASSWORD, HOME))
    lock_for_everyone(w, "alice@example.com")
    w.fails(w.core.auth.login("alice@example.com", PASSWORD, HOME), "account_locked")
    w.clock.advance(LOCKOUT_KNOWN_FOR)
    lock_for_everyone(w)
    w.fails(w.core.auth.login("alice", PASSWORD, HOME), "account_locked")


def test_known_addresses_are_bounded(w, alice, monkeypatch):
    monkeypatch.setattr(auth, "LOCKOUT_TRACKED_MAX", 3)
    for i in range(5):
        w.ok(w.core.auth.login("alice", PASSWORD, f"ip:198.51.100.{i}"))
    assert len(w.core.auth.lockout._known) == 3
    lock_for_everyone(w)
    w.fails(w.core.auth.login("alice", PASSWORD, "ip:198.51.100.0"), "account_locked")
    w.ok(w.core.auth.login("alice", PASSWORD, "ip:198.51.100.4"))


# -- what the counts are keyed by ------------------------------------------------------


def test_an_identifier_cannot_spell_another_identifiers_address_key(w, alice):
    """The key of ``alice`` from an address was ``alice`` NUL address: failing as
    that identifier, from anywhere, counted toward (and locked) alice from there."""
    w.ok(w.core.auth.login("alice", PASSWORD, HOME))
    spelled = f"alice\0{HOME}"
    for i in range(LOCKOUT_THRESHOLD_ALL):
        fail_logins(w, spelled, 1, f"ip:203.0.113.{i}")
    w.fails(w.core.auth.login(spelled, PASSWORD, CAFE), "account_locked")
    assert w.ok(w.core.auth.login("alice", PASSWORD, HOME)).user.id == alice.user.id


def test_long_identifiers_cost_the_tables_no_more_than_short_ones(w):
    """Each failure kept the identifier as sent, twice (up to a 2 MiB body each):
    bounded in entries, the tables were not bounded in bytes."""
    huge = "x" * 1_000_000
    fail_logins(w, huge, LOCKOUT_THRESHOLD - 1, OFFICE)
    lockout = w.core.auth.lockout
    assert all(len(key) < 100 for key in lockout._failures)
    fail_logins(w, huge, 1, OFFICE)
    assert all(len(key) < 100 for key in lockout._locked_until)
    w.fails(w.core.auth.login(huge.upper(), PASSWORD, OFFICE), "account_locked")


def test_identifiers_are_counted_as_the_lookup_folds_them(w):
    """The lookup folds ASCII letters only, so ``Émile`` and ``émile`` are two
    accounts; their failures were counted together (``str.lower``), and so were
    ``kate`` and ``\\u212aate`` (a Kelvin sign, which lowercases to ``k``)."""
    emile = w.register("émile", "emile@example.com")
    kate = w.register("kate", "kate@example.com")
    fail_logins(w, "Émile", LOCKOUT_THRESHOLD, OFFICE)
    fail_logins(w, "\u212aate", LOCKOUT_THRESHOLD, OFFICE)
    assert w.ok(w.core.auth.login("émile", PASSWORD, OFFICE)).user.id == emile.user.id
    assert w.ok(w.core.auth.login("KATE", PASSWORD, OFFICE)).user.id == kate.user.id
    w.fails(w.core.auth.login("ÉMILE", PASSWORD, OFFICE), "account_locked")
