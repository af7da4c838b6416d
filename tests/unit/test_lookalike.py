"""Look-alike usernames (UTS #39 skeletons): refused as taken on every registration
path, two at once included; pairs from before the check keep working
(lairchat.domain.lookalike, docs/SECURITY.md)."""

from __future__ import annotations

import itertools
import sqlite3
import string
from pathlib import Path

import pytest
from twisted.internet import defer, task
from twisted.logger import globalLogPublisher

from lairchat import cli
from lairchat.bootstrap import BootstrapError, ensure_admin
from lairchat.core import passwords
from lairchat.core.services import Core
from lairchat.domain import lookalike
from lairchat.domain.confusables import CONFUSABLES_VERSION, PROTOTYPES
from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_id
from lairchat.domain.types import User
from lairchat.storage.sqlite import migrate, pool
from lairchat.storage.sqlite.faults import StorageFault
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.testing import TEST_SECRET, make_core, result
from lairchat.transports.http.testing import CHEAP_HASHER
from tools import gen_confusables

PASSWORD = "password1"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)


def register(core: Core, username: str) -> defer.Deferred:
    return core.auth.register(username, f"{new_id()}@example.com", PASSWORD)


def refused(d: defer.Deferred, code: str = "username_taken") -> LairError:
    with pytest.raises(LairError) as info:
        result(d)
    assert info.value.code == code, info.value
    return info.value


def insert_directly(core: Core, username: str) -> User:
    """A user as an older lairchat or Lair Chat stored it: no look-alike check."""
    user = User(new_id(), username, f"{new_id()}@example.com", "user", 1, 1)
    user.password_hash = CHEAP_HASHER.hash(PASSWORD)
    return result(core.store.create_user(user))


# -- the skeleton ---------------------------------------------------------------------


def look_alike(a: str, b: str) -> bool:
    return any(x == y for x, y in zip(lookalike.keys(a), lookalike.keys(b), strict=True))


@pytest.mark.parametrize(
    "other",
    [
        "\u0430dmin",  # Cyrillic а
        "adm\u0456n",  # Ukrainian і
        "\u0391DMIN",  # Greek capital alpha, upper case
        "AdMiN",  # mixed case
        "\uff41\uff44\uff4d\uff49\uff4e",  # fullwidth, from before the NFKC rule
        "admin\u3164",  # a Hangul filler, from before the invisible-character rule
        "adrnin",  # UTS #39: "rn" looks like "m"
    ],
)
def test_these_look_like_admin(other: str) -> None:
    assert look_alike("admin", other)


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("Ian", "lan"),  # capital I -> l, as written
        ("b0b", "bob"),  # 0 -> O, met ignoring case
        ("adm1n", "admln"),  # 1 -> l
        ("\u00e9mile", "e\u0301mile"),  # composed, decomposed
        ("\u00e9mile", "e\u0341mile"),  # acute tone mark -> acute accent
        ("\u00c9mile", "\u00e9mile"),  # non-ASCII case
    ],
)
def test_pairs_unicode_calls_confusable(name: str, other: str) -> None:
    assert look_alike(name, other)


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("admin", "adm1n"),  # 1 looks like l, not i: Unicode's table, no table of ours
        ("alice", "alicia"),
        ("admin", "admins"),
        ("emile", "\u00e9mile"),  # an accent is a difference
        ("\u0440\u0430\u0445\u0443\u043b", "\u0930\u093e\u0939\u0941\u0932"),
    ],
)
def test_merely_similar_names_do_not_look_alike(name: str, other: str) -> None:
    assert not look_alike(name, other)


def test_the_ascii_shortcut_agrees_with_the_full_computation() -> None:
    for c in string.ascii_letters + string.digits + "_":
        name = c * 3 + "Il0Om"
        caseless = lookalike.unicodedata.normalize("NFKC", name.casefold())
        full = (
            lookalike.skeleton(caseless).casefold(),
            lookalike.skeleton(name).casefold(),
        )
        assert lookalike.keys(name) == full, c


def test_the_table_is_unicodes() -> None:
    """Generated from confusables.txt 15.1.0 (6312 mappings; tools/gen_confusables.py):
    a few of its lines, and none of a table of our own."""
    assert CONFUSABLES_VERSION == "15.1.0"
    assert len(PROTOTYPES) == 6312
    assert PROTOTYPES[0x0430] == "a"  # CYRILLIC SMALL LETTER A
    assert PROTOTYPES[0x0030] == "O" and PROTOTYPES[0x0031] == "l"
    assert PROTOTYPES[ord("m")] == "rn"
    assert ord("i") not in PROTOTYPES and ord("o") not in PROTOTYPES


def test_the_generator_reads_unicodes_format() -> None:
    confusables = (
        "\ufeff# confusables.txt\n# Version: 99.0.0\n#\n"
        "0430 ;\t0061 ;\tMA\t# ( а → a ) CYRILLIC SMALL LETTER A → LATIN SMALL LETTER A\t#\n"
        "\n006D ;\t0072 006E ;\tMA\t# ( m → rn )\t#\n"
    ).encode()
    properties = (
        b"# DerivedCoreProperties-99.0.0.txt\n"
        b"00AD          ; Default_Ignorable_Code_Point # Cf       SOFT HYPHEN\n"
        b"115F..1160    ; Default_Ignorable_Code_Point # Lo   [2] HANGUL ...\n"
        b"1161          ; Alphabetic # not this one\n"
        b"1161..1162    ; Default_Ignorable_Code_Point # adjacent: merged\n"
    )
    namespace: dict = {}
    exec(gen_confusables.module(confusables, properties), namespace)
    assert namespace["CONFUSABLES_VERSION"] == "99.0.0"
    assert namespace["PROTOTYPES"] == {0x0430: "a", 0x006D: "rn"}
    assert namespace["DEFAULT_IGNORABLE"] == ((0x00AD, 0x00AD), (0x115F, 0x1162))
    with pytest.raises(ValueError, match="mapped twice"):
        gen_confusables.prototypes(["0430 ;\t0061 ;\tMA\t#", "0430 ;\t0062 ;\tMA\t#"])
    with pytest.raises(ValueError, match="not a mapping"):
        gen_confusables.prototypes(["0430 ;\t0061 ;\tSL\t#"])


# -- registration ---------------------------------------------------------------------


@pytest.fixture
def core() -> Core:
    return make_core()


@pytest.mark.parametrize("other", ["\u0430dmin", "adm\u0456n", "\u0391DMIN", "AdMiN", "ADMIN"])
def test_a_look_alike_of_a_user_is_taken(core: Core, other: str) -> None:
    result(register(core, "admin"))
    error = refused(register(core, other))
    assert (error.status, error.message) == (409, "Username already taken")
    assert [u.username for u in result(core.store.list_users(10, 0, None))] == ["admin"]


def test_fullwidth_is_refused_as_before(core: Core) -> None:
    result(register(core, "admin"))
    refused(register(core, "\uff41\uff44\uff4d\uff49\uff4e"), "username_invalid")


def test_a_name_with_an_accent_spelled_another_way_is_taken(core: Core) -> None:
    """``e`` and a combining acute from Lair Chat (which does not ask for NFKC) is the
    ``é`` a new registration spells in one character."""
    insert_directly(core, "e\u0301mile")
    core.load()
    refused(register(core, "\u00e9mile"))


def test_a_merely_similar_name_registers(core: Core) -> None:
    result(register(core, "admin"))
    for name in ("adm1n", "admins", "alice", "\u00e1dmin"):
        assert result(register(core, name)).user.username == name


def test_the_error_precedence_is_kept(core: Core) -> None:
    """An invalid email or password is still said first, as for a taken name."""
    result(register(core, "admin"))
    refused(core.auth.register("\u0430dmin", "nope", PASSWORD), "email_invalid")
    refused(core.auth.register("\u0430dmin", "a@x.io", "short"), "password_too_weak")


# -- two at once ----------------------------------------------------------------------


class Held:
    """A ``run_blocking`` that holds every password hash until :meth:`finish`: the
    registrations wait there, after their checks and before their inserts."""

    def __init__(self) -> None:
        self.waiting: list[tuple[defer.Deferred, object, tuple]] = []

    def __call__(self, fn, *args) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        self.waiting.append((d, fn, args))
        return d

    def finish(self) -> None:
        waiting, self.waiting = self.waiting, []
        for d, fn, args in waiting:
            d.callback(fn(*args))


def held_on(path: str) -> tuple[Core, Held]:
    """A core on ``path`` whose password hashes wait for :meth:`Held.finish`."""
    hashes = Held()
    clock = task.Clock()
    clock.advance(1_700_000_000)
    store_pool = ImmediatePool(path)
    migrate.migrate(store_pool.connection)
    core = Core.build(SQLiteStore(store_pool, store_pool, path), clock, TEST_SECRET, hashes)
    core.load()
    return core, hashes


@pytest.fixture
def held() -> tuple[Core, Held]:
    return held_on(":memory:")


def test_two_look_alikes_registered_at_once_one_is_refused(held) -> None:
    core, hashes = held
    first = register(core, "admin")
    second = register(core, "\u0430dmin")
    assert len(hashes.waiting) == 1  # the second never got as far as its hash
    refused(second)
    hashes.finish()
    assert result(first).user.username == "admin"
    assert [u.username for u in result(core.store.list_users(10, 0, None))] == ["admin"]


def test_a_refused_insert_frees_the_name(held) -> None:
    """Both pass the checks with the same email; the second insert is refused
    ``email_taken``, and its name may be registered after."""
    core, hashes = held
    first = core.auth.register("alice", "same@example.com", PASSWORD)
    second = core.auth.register("bob", "same@example.com", PASSWORD)
    hashes.finish()
    result(first)
    refused(second, "email_taken")
    third = core.auth.register("b\u043eb", "bob@example.com", PASSWORD)  # Cyrillic о
    hashes.finish()
    assert result(third).user.username == "b\u043eb"


def test_a_refusal_before_the_insert_frees_the_name(core: Core) -> None:
    result(core.auth.register("alice", "same@example.com", PASSWORD))
    refused(core.auth.register("bob", "same@example.com", PASSWORD), "email_taken")
    assert result(register(core, "bob")).user.username == "bob"


def test_an_insert_of_unknown_outcome_keeps_the_name(core: Core, monkeypatch) -> None:
    """A storage fault may come after the commit: the name stays taken rather than
    free for a look-alike of a user who may exist."""
    monkeypatch.setattr(
        core.store, "create_user", lambda *args: defer.fail(StorageFault("disk I/O error"))
    )
    refused(register(core, "admin"), "internal_error")
    monkeypatch.undo()
    refused(register(core, "\u0430dmin"))


# -- names from before ----------------------------------------------------------------


def test_existing_look_alikes_keep_working_and_nobody_joins_them(tmp_path: Path) -> None:
    path = str(tmp_path / "chat.db")
    old = make_core(path)
    for name in ("admin", "\u0430dmin", "adm\u0456n", "paypal"):
        insert_directly(old, name)
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        core = make_core(path)
    finally:
        globalLogPublisher.removeObserver(logged.append)
    [warning] = [e for e in logged if "look alike" in e.get("log_format", "")]
    assert warning["pairs"] == 3 and warning["log_level"].name == "warn"
    for name in ("admin", "\u0430dmin", "adm\u0456n"):
        assert result(core.auth.login(name, PASSWORD)).user.username == name
    refused(register(core, "\u0391DMIN"))
    refused(register(core, "p\u0430ypal"))


def test_a_flood_of_look_alikes_is_counted_not_listed() -> None:
    """4096 spellings of one name (a flood registered before the check) are 8 million
    pairs: counted from four per-key counts, never listed."""
    variants = ("a", "\u0430", "\u0251", "\u237a")  # Latin, Cyrillic, IPA and APL alpha
    names = {f"u{i}": "".join(s) for i, s in enumerate(itertools.product(variants, repeat=6))}
    index = lookalike.LookalikeIndex()
    assert index.load(names) == 4096 * 4095 // 2
    index.load({"x": "aaaaab", "y": "\u0430aaaab", "z": "bbbbbb"})
    assert index.pairs() == 4096 * 4095 // 2 + 1


def test_a_user_another_process_made_takes_their_name(tmp_path: Path) -> None:
    """``lairchat admin create-user`` while the server runs: the server's directory
    was filled at its start, and a look-alike of the new user registered."""
    path = str(tmp_path / "chat.db")
    server = make_core(path)
    result(register(server, "alice"))
    insert_directly(make_core(path), "support")  # another process
    refused(register(server, "\u0455upport"))  # Cyrillic ѕ
    assert server.hub.lookalikes.taken("supp\u043ert")  # learned: Cyrillic о


def test_a_user_another_process_makes_during_the_hash_takes_their_name(
    tmp_path: Path,
) -> None:
    """Made after the registration looked for news and before its insert: the
    insert's own transaction refuses, and the name is free again."""
    path = str(tmp_path / "chat.db")
    server, hashes = held_on(path)
    pending = register(server, "\u0455upport")
    insert_directly(make_core(path), "support")  # another process, meanwhile
    hashes.finish()
    refused(pending)
    assert [u.username for u in result(server.store.list_users(10, 0, None))] == ["support"]
    later = register(server, "helpdesk")  # its look for news learns "support"
    hashes.finish()
    assert result(later).user.username == "helpdesk"
    assert server.hub.lookalikes.pairs() == 0  # no reservation left to pair with it


def test_news_learned_by_another_registration_still_refuses_the_first(
    tmp_path: Path,
) -> None:
    """The other process's user is learned by a second registration while the first
    waits for its hash: the first's insert still checks everything made since its
    own look."""
    path = str(tmp_path / "chat.db")
    server, hashes = held_on(path)
    first = register(server, "\u0455upport")
    insert_directly(make_core(path), "support")
    second = register(server, "helpdesk")
    hashes.finish()
    refused(first)
    assert result(second).user.username == "helpdesk"
    names = sorted(u.username for u in result(server.store.list_users(10, 0, None)))
    assert names == ["helpdesk", "support"]


def test_the_hub_teaches_the_names_it_learns(core: Core) -> None:
    core.hub.set_name(new_id(), "support")
    assert core.hub.lookalikes.taken("\u0455upport")
    assert not core.hub.lookalikes.taken("supports")


# -- the operator's paths ---------------------------------------------------------------


def test_the_admin_bootstrap_refuses_a_look_alike(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    insert_directly(make_core(str(path)), "\u0430dmin")
    conn = pool.connect(str(path))
    try:
        migrate.migrate(conn)
        clock = task.Clock()
        clock.advance(1_700_000_000)
        with pytest.raises(BootstrapError, match="LAIR_ADMIN_USERNAME.*already taken"):
            ensure_admin(conn, clock, "admin", PASSWORD)
        assert [r[0] for r in conn.execute("SELECT username FROM users")] == ["\u0430dmin"]
    finally:
        conn.close()


def test_the_operator_command_refuses_a_look_alike(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("LAIR_NEW_PASSWORD", "password123")
    db = tmp_path / "chat.db"

    def create(name: str, email: str) -> int:
        return cli.main(["--database-url", f"sqlite:{db}", "admin", "create-user", name, email])

    assert create("admin", "a@x.io") == 0
    capsys.readouterr()
    assert create("\u0430dmin", "b@x.io") == 1
    assert "Username already taken" in capsys.readouterr().err
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT username FROM users")] == ["admin"]


def test_a_registration_whose_user_another_learned_first_holds_its_name_once() -> None:
    """Found reading the index for the closing note: a second registration's
    ``users_after`` can learn the new user between its insert and its ``settle``; the
    reservation's keys were then moved onto the user over the learned ones, so the
    name was counted twice and stayed taken after the user was deleted."""
    index = lookalike.LookalikeIndex()
    reservation = index.reserve("alice")
    index.learn([(1, "user-1", "alice")])  # another registration saw the insert
    index.settle(reservation, "user-1")
    assert index.pairs() == 0
    index.forget("user-1", 1)
    assert not index.taken("alice")
