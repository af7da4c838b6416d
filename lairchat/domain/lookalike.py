"""Look-alike usernames: Unicode's confusable skeletons, and the names they take.

``аdmin`` (Cyrillic а), ``admіn`` (Ukrainian і) and ``ΑDMIN`` (Greek capital alpha)
are other strings than ``admin`` and were other accounts, shown to everyone under a
name they cannot tell from the administrator's. UTS #39 defines when two strings
look alike: their *skeletons* (NFD, default-ignorable characters dropped, each
character replaced by its prototype from ``confusables.txt``, NFD again) are equal.
A name is taken when its skeleton is another user's, compared ignoring case both
ways a user sees case: as written (``Ian`` looks like ``lan``: UTS #39 maps capital
``I`` to ``l``) and with both names case-folded first (``ΑDMIN`` and ``admin``).
Nothing beyond Unicode's table counts: ``0`` and ``O`` do (``0`` → ``O``), ``adm1n``
and ``admin`` do not (``1`` → ``l``, not ``i``).

The table is generated from Unicode's files (:mod:`lairchat.domain.confusables`).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping

from lairchat.domain.confusables import DEFAULT_IGNORABLE, PROTOTYPES
from lairchat.domain.errors import LairError

#: One ``str.translate`` table for steps 2 and 3 of the skeleton: a default-ignorable
#: character is dropped before any mapping applies (UTS #39 removes them first).
_TABLE: dict[int, str | None] = {
    **PROTOTYPES,
    **{c: None for first, last in DEFAULT_IGNORABLE for c in range(first, last + 1)},
}


def skeleton(text: str) -> str:
    """UTS #39's ``skeleton(text)``."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).translate(_TABLE))


def keys(username: str) -> tuple[str, str]:
    """What a name is compared by: the skeleton of its caseless form (NFKC of its case
    fold, as Unicode's NFKC_Casefold, so that ``ａｄｍｉｎ`` from before the NFKC rule
    meets ``admin``), and its skeleton as written; each case-folded after (``0`` →
    ``O``, which must meet ``o``). Two names look alike when either key is the same;
    a key both share is one string (the index holds one per user)."""
    if username.isascii():
        # Most names: ASCII is its own NFD, NFKC and (lowered) case fold, and the
        # prototypes of ASCII letters, digits and ``_`` are ASCII: no normalizing.
        caseless, written = username.lower().translate(_TABLE), username.translate(_TABLE)
        if caseless.isascii() and written.isascii():
            written = written.lower()
            return (written if caseless == written else caseless.lower()), written
    caseless = unicodedata.normalize("NFKC", username.casefold())
    written = skeleton(username).casefold()
    return (written if caseless == username else skeleton(caseless).casefold()), written


def check_unlike(username: str, users: Iterable[tuple[int, str, str]]) -> None:
    """``username_taken`` if one of ``users`` (``(rowid, id, username)``, as
    ``IStore.users_after`` gives them) has a name that looks like ``username``."""
    mine = keys(username)
    for _, _, name in users:
        if any(a == b for a, b in zip(keys(name), mine, strict=True)):
            raise LairError("username_taken")


class LookalikeIndex:
    """Every name taken, by its :func:`keys`: the users' names and those being
    registered.

    A registration :meth:`reserve` s its name synchronously before any database work
    (on the reactor thread, one at a time), so two look-alike names registered at the
    same moment cannot both pass the check before either is inserted; the insert then
    :meth:`settle` s the reservation onto the new user's id, or a refusal
    :meth:`release` s it. Names that already looked alike before this check existed
    all stay, and each keeps their common keys taken."""

    def __init__(self) -> None:
        #: holder (a user id, or a reservation) -> its keys.
        self._keys: dict[Hashable, tuple[str, str]] = {}
        #: For each of the two keys: key -> how many holders have it. Counts, not sets
        #: of holders: the start builds this for every user (docs/SECURITY.md).
        self._counts: tuple[dict[str, int], dict[str, int]] = ({}, {})
        #: The highest rowid of the users table :meth:`learn` has seen: the users
        #: after it may be news (made by another process, ``lairchat admin
        #: create-user`` while the server runs).
        self.since = 0

    def load(self, names: Mapping[str, str]) -> int:
        """Add every ``{user_id: username}``; return how many pairs of different users
        already look alike (a database from before this check, or from Lair Chat)."""
        for user_id, username in names.items():
            self.add(user_id, username)
        return self.pairs()

    def add(self, holder: Hashable, username: str) -> None:
        """Take ``username``'s keys for ``holder`` (nothing if it holds them already:
        the hub teaches every name it sees, and a username never changes)."""
        if holder in self._keys:
            return
        held = self._keys[holder] = keys(username)
        for counts, key in zip(self._counts, held, strict=True):
            counts[key] = counts.get(key, 0) + 1

    def learn(self, users: Iterable[tuple[int, str, str]]) -> None:
        """Add ``users`` (``(rowid, id, username)``, oldest first), and move
        :attr:`since` past them."""
        for rowid, user_id, username in users:
            self.add(user_id, username)
            self.since = max(self.since, rowid)

    def taken(self, username: str) -> bool:
        """Whether a user's name, or one being registered, looks like ``username``."""
        return any(key in counts for counts, key in zip(self._counts, keys(username), strict=True))

    def reserve(self, username: str) -> object:
        """Take ``username``'s keys for a registration and return its reservation;
        ``username_taken`` (the error for a name in use, so clients show "taken") if
        one of them is held."""
        if self.taken(username):
            raise LairError("username_taken")
        reservation = object()
        self.add(reservation, username)
        return reservation

    def alone(self, reservation: object) -> bool:
        """Whether nobody else holds the reservation's keys (a user :meth:`learn`
        added since it was made may)."""
        return all(
            counts[key] == 1
            for counts, key in zip(self._counts, self._keys[reservation], strict=True)
        )

    def release(self, reservation: object) -> None:
        """The registration failed: its name is free again."""
        for counts, key in zip(self._counts, self._keys.pop(reservation), strict=True):
            counts[key] -= 1
            if not counts[key]:
                del counts[key]

    def forget(self, user_id: str, rowid: int) -> None:
        """The user (row ``rowid``) was deleted: their name is free again. SQLite
        gives the next user the rowid of the newest one deleted, so :attr:`since`
        moves back before it, for :meth:`learn` to see such a user."""
        if user_id in self._keys:
            self.release(user_id)
        self.since = min(self.since, rowid - 1)

    def settle(self, reservation: object, user_id: str) -> None:
        """The registration's user exists: its keys are now that user's (held once: if
        another registration's :meth:`learn` added the user meanwhile, the
        reservation's are simply given back)."""
        if user_id in self._keys:
            self.release(reservation)
        else:
            self._keys[user_id] = self._keys.pop(reservation)

    def pairs(self) -> int:
        """How many pairs of holders look alike: those sharing either key, each pair
        once. Counted, not listed: thousands of look-alikes of one name (a flood
        registered before this check) would be millions of pairs."""

        def count(groups: Iterable[int]) -> int:
            return sum(n * (n - 1) // 2 for n in groups if n > 1)

        first, second = self._counts
        both = Counter(self._keys.values()).values()
        return count(first.values()) + count(second.values()) - count(both)
