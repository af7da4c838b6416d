"""The two clients' mention rules agree (docs/CLIENT.md "Mentions and the bell",
docs/WEB.md "Mentions": one rule, written once in each client).

The browser's rule is run under Node as the page has it: its declarations are read out
of ``lairchat/web/app.js`` (not copied here) and evaluated on their own
(:mod:`tests.unit.appjs`). The terminal
client's, which the server counts mentions by too, is
``lairchat.domain.mentions``. Both answer the same corpus: a table of the
hard cases (case, ß/ẞ, Turkish ı and İ, Greek sigmas, NFKC compatibility characters,
combining marks, emoji, hidden characters inside a name, ``@`` at either end,
right-to-left text, names that begin others, over-long content), a seeded random
corpus built from those pieces, every code point of the username alphabet, and the
folding of every assigned code point. Node's Unicode may be newer than Python's: only
code points Python knows are compared.
"""

from __future__ import annotations

import collections
import random
import re
import unicodedata
from typing import Any

from lairchat.domain.mentions import fold, mentions
from lairchat.domain.validation import CONTENT_MAX, USERNAME_CHAR
from tests.unit import appjs
from tests.unit.appjs import needs_node

pytestmark = needs_node

#: Each case answered: {"fold": text} -> fold(text), {"char": c} -> whether c is a
#: name's character, {"content", "username"} -> mentions(content, username).
MAIN = """(cases) => {
  const nameChar = new RegExp(`^${NAME}$`, "u");
  return cases.map((c) =>
    "fold" in c ? fold(c.fold) : "char" in c ? nameChar.test(c.char) :
    mentions(c.content, c.username));
}"""


def run_js(cases: list[dict[str, str]]) -> list[Any]:
    """The page's rule on ``cases`` (see MAIN), in one Node process."""
    return appjs.run(["CONTENT_MAX_BYTES", "NAME", "CANDIDATE", "fold", "mentions"], MAIN, cases)


def assigned() -> list[str]:
    """Every code point Python's Unicode assigns, surrogates and private use aside."""
    return [
        chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) not in ("Cn", "Cs", "Co")
    ]


ZW = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

#: (content, username, what both clients must say).
TABLE: list[tuple[str, str, bool]] = [
    ("hi @alice", "alice", True),
    ("@ALICE", "alice", True),
    ("@alice", "ALICE", True),
    ("@aLiCe!", "AlIcE", True),
    ("@straße", "STRASSE", True),
    ("@STRASSE", "straße", True),
    ("@STRAẞE", "strasse", True),
    ("@kiki", "kıkı", False),  # dotless ı folds to itself (str.casefold)
    ("@kıkı", "kiki", False),
    ("@KIKI", "kıkı", False),
    ("@kıkı", "KIKI", False),
    ("@kıkı", "kıkı", True),
    ("@İstanbul", "istanbul", False),  # İ folds to i + combining dot
    ("@i\u0307stanbul", "İstanbul", False),  # U+0307 is no name character: "@i"
    ("@İstanbul", "İstanbul", True),
    ("@İSTANBUL", "i̇stanbul", True),
    ("@ΟΔΥΣΣΕΥΣ", "οδυσσευς", True),  # final sigma
    ("@οδυσσευσ", "ΟΔΥΣΣΕΥΣ", True),
    ("@σοφος", "ςοφος", True),
    ("@ΣΟΦΟΣ!", "σοφοσ", True),
    ("\uff20\uff41\uff4c\uff49\uff43\uff45", "alice", True),  # fullwidth, NFKC
    ("@\u2160\u2161x", "iiix", True),  # Roman numerals: NFKC I, II
    ("@ﬁona", "fiona", True),  # the fi ligature
    ("@fiona", "ﬁona", True),
    ("@ｆｉｏｎａ", "FIONA", True),
    ("@E\u0301mile", "émile", True),  # decomposed
    ("@émile\u0301", "émile", False),  # another combining mark after: longer name
    ("@emile\u0301", "emile", False),
    ("@alice\u0301", "alice", False),
    ("@alice😀", "alice", True),
    ("😀@alice", "alice", True),
    ("@😀alice", "alice", False),
    ("@👩‍💻alice", "alice", False),
    *((f"@al{z}ice", "alice", False) for z in ZW),  # hidden characters split the name
    *((f"@alice{z}", "alice", True) for z in ZW),
    *((f"{z}@alice", "alice", True) for z in ZW),
    ("@", "alice", False),
    ("alice@", "alice", False),
    ("@@alice", "alice", True),
    ("a@alice", "alice", False),
    ("@alice@", "alice", True),
    ("\u202e@alice\u202c", "alice", True),  # bidi override around it
    ("@alice\u202e", "alice", True),
    ("\u202e@ecila", "alice", False),
    ("שלום @alice", "alice", True),
    ("@דני שלום", "דני", True),
    ("مرحبا @علي", "علي", True),
    ("@علي\u064e", "علي", False),  # a harakat is Alphabetic: another name
    ("@al", "alice", False),  # prefixes either way
    ("@alicebob", "alice", False),
    ("@alice @alicebob", "alicebob", True),
    ("@alicebob @alice", "alice", True),
    ("@alice_", "alice", False),
    ("@alice2", "alice", False),
    ("@alice.", "alice", True),
    ("@राहुल", "राहुल", True),
    ("@राहु", "राहुल", False),
    ("@alice\ud800", "alice", True),  # a lone surrogate from a careless server
    ("x" * 5000 + " @alice", "alice", False),  # past the first 4096 characters
    ("x" * (CONTENT_MAX - 7) + " @alice", "alice", True),
    ("x" * (CONTENT_MAX - 6) + " @alice", "alice", False),  # cut to "@alic"
    ("😀" * 3000 + "@alice", "alice", True),  # 3006 characters, 6006 UTF-16 units
    ("😀" * (CONTENT_MAX - 6) + "@alice", "alice", True),
    ("😀" * (CONTENT_MAX - 5) + "@alice", "alice", False),
    ("@alice " * 10_000, "alice", True),
]


def test_the_table_agrees() -> None:
    js = run_js([{"content": content, "username": name} for content, name, _ in TABLE])
    python = [mentions(content, name) for content, name, _ in TABLE]
    expected = [want for *_, want in TABLE]
    assert python == expected
    assert js == expected


def test_a_random_corpus_agrees() -> None:
    """20,000 messages of names, their case and compatibility variants, hidden and
    combining characters, emoji, RTL and punctuation, each against a few names."""
    rng = random.Random(69)
    names = ["alice", "alicebob", "kiki", "kıkı", "straße", "σοφος", "émile", "राहुल", "דני"]
    pieces = [
        "@",
        "@",
        " ",
        "a",
        "_",
        "2",
        ".",
        "-",
        "İ",
        "ı",
        "I",
        "i",
        "ß",
        "ẞ",
        "SS",
        "Σ",
        "ς",
        "σ",
        "\u0301",
        "\u0307",
        "ﬁ",
        "Ⅱ",
        "＠",
        "😀",
        "👩‍💻",
        "\u202e",
        "\u2067",
        "ש",
        *ZW,
    ]

    def variant(name: str) -> str:
        shape = rng.choice([str.upper, str.lower, str.title, str.swapcase, lambda s: s])
        text = shape(name)
        if rng.random() < 0.2:
            text = unicodedata.normalize(rng.choice(["NFD", "NFKD", "NFC"]), text)
        if rng.random() < 0.1:  # fullwidth where there is one
            text = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)
        return text

    cases = []
    for _ in range(20_000):
        parts = [
            rng.choice(pieces) if rng.random() < 0.6 else "@" + variant(rng.choice(names))
            for _ in range(rng.randint(1, 8))
        ]
        cases.append({"content": "".join(parts), "username": rng.choice(names)})
    js = run_js(cases)
    python = [mentions(case["content"], case["username"]) for case in cases]
    differ = [case for case, p, j in zip(cases, python, js, strict=True) if p != j]
    assert differ == []
    assert 1_000 < sum(python) < 19_000  # the corpus holds both kinds


def test_the_username_alphabet_agrees() -> None:
    chars = assigned()
    js = run_js([{"char": ch} for ch in chars])
    name_char = re.compile(USERNAME_CHAR)
    python = [bool(name_char.fullmatch(ch)) for ch in chars]
    differ = [hex(ord(ch)) for ch, p, j in zip(chars, python, js, strict=True) if p != j]
    assert differ == []


def test_folding_agrees_on_every_code_point() -> None:
    """Two spellings fold alike in one client exactly when they do in the other: each
    assigned code point alone, between letters, and after them (the Greek final sigma
    depends on where it stands)."""
    words = [form for ch in assigned() for form in (ch, f"a{ch}a", f"aa{ch}")]
    js = run_js([{"fold": word} for word in words])
    python_to_js: dict[str, set[str]] = collections.defaultdict(set)
    js_to_python: dict[str, set[str]] = collections.defaultdict(set)
    for word, folded in zip(words, js, strict=True):
        python_to_js[fold(word)].add(folded)
        js_to_python[folded].add(fold(word))
    assert {p: j for p, j in python_to_js.items() if len(j) > 1} == {}
    assert {j: p for j, p in js_to_python.items() if len(p) > 1} == {}
