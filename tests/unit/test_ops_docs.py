"""README.md, docs/architecture.md and docs/operations.md against the code they list.

Each of these lists drifted while the code changed under it: README's settings table
lacked ``LAIR_TLS_RELOAD_INTERVAL`` a day after the setting came, and named no option
(``--interface`` for ``LAIR_BIND_ADDRESS`` could not be guessed); architecture.md's
module table lacked ``config.py``, ``allocator.py``, ``collector.py`` and the test
helpers. Text only, no server: these run in well under a second.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from twisted.internet.task import Clock

from lairchat import config
from lairchat.observability.metrics import Metrics
from lairchat.transports.caps import Refusals

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()


def table_after(text: str, header: str) -> list[list[str]]:
    """The rows (cells stripped) of the Markdown table whose header line is ``header``."""
    lines = text[text.index(header) :].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def section(text: str, title: str) -> str:
    """From the heading ``title`` to the next heading of the same level."""
    start = text.index(title)
    level = title.split(" ")[0]
    end = text.find(f"\n{level} ", start + len(title))
    return text[start : end if end != -1 else len(text)]


# -- README's settings table --------------------------------------------------------

SETTINGS_ROWS = table_after(README, "| variable | option | default | meaning |")

#: Defaults the table says in words, for the settings whose default is not a value.
DEFAULTS_IN_WORDS = {
    "jwt_secret": "generated once",
    "message_retention_days": "off",
    "ws_allowed_origins": "same-origin",
    "database_path": f"`{config.DEFAULT_DATABASE_URL}`",
}


def test_the_readme_names_every_setting_and_option_once() -> None:
    variables = [v for row in SETTINGS_ROWS for v in re.findall(r"`(LAIR_\w+)`", row[0])]
    options = [o for row in SETTINGS_ROWS for o in re.findall(r"`--([\w-]+)`", row[1])]
    settings = config._SETTINGS
    assert sorted(variables) == sorted(s.env for s in settings if s.env)
    assert sorted(options) == sorted(s.option for s in settings if s.option)
    for row in SETTINGS_ROWS:  # each variable beside its own option
        named = re.findall(r"`(LAIR_\w+)`", row[0])
        given = re.findall(r"`--([\w-]+)`", row[1])
        by_env = {s.env: s for s in settings}
        assert [by_env[v].option for v in named if by_env[v].option] == given, row[0]


def test_the_readme_gives_each_setting_its_default() -> None:
    defaults = config.Config()
    by_env = {s.env: s for s in config._SETTINGS}
    for row in SETTINGS_ROWS:
        named = re.findall(r"`(LAIR_\w+)`", row[0])
        said = [part.strip() for part in row[2].split(" / ")]
        if len(said) == 1:
            said *= len(named)
        assert len(said) == len(named), row[0]
        for variable, text in zip(named, said, strict=True):
            field = by_env[variable].field
            value = getattr(defaults, field)
            if field in DEFAULTS_IN_WORDS:
                assert text == DEFAULTS_IN_WORDS[field], variable
            elif isinstance(value, bool):
                assert text == ("on" if value else "off"), variable
            elif isinstance(value, int | float):
                assert float(text) == value, variable
            elif value in (None, ()):
                assert text == "–", variable
            else:
                assert text == value, variable


def test_ci_installs_the_debian_packages_the_readme_names() -> None:
    named = re.search(r"`apt-get install ([^`]+)`", README)[1].split()
    ci = (ROOT / ".ci" / "run").read_text()
    installed = re.findall(r'^\s*"[\w-]+:([\w-]+)"$', ci, re.M)
    assert sorted(named) == sorted(installed)


# -- architecture.md's module table ---------------------------------------------------


def test_the_architecture_table_names_every_module_and_only_those() -> None:
    rows = table_after(ARCHITECTURE, "| package | holds | knows nothing of |")
    named = {name for row in rows for name in re.findall(r"`([\w/]+(?:\.py|/))`", row[0])}
    package = ROOT / "lairchat"
    top = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    top |= {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").exists()}
    assert top - named == set(), "modules architecture.md does not name"
    assert {n for n in named if not (package / n).exists()} == set(), "named, not there"


# -- operations.md's metrics table ----------------------------------------------------


def test_the_metrics_table_is_what_metrics_serves() -> None:
    metrics = Metrics()
    metrics.certificate_expiry(lambda: 0.0)
    core = SimpleNamespace(
        messages=SimpleNamespace(accepted=0),
        hub=SimpleNamespace(deliveries=0, senders_paused=0),
        auth=SimpleNamespace(passwords=SimpleNamespace(refused=0)),
    )
    metrics.watch(core, {}, {}, {"tcp": Refusals("tcp", Clock())})
    served = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in metrics.registry.collect()
        if not family.name.startswith(("process_", "python_"))
    }
    rows = table_after(section(OPERATIONS, "## Metrics"), "| metric | type |")
    documented = {re.fullmatch(r"`(\w+)`", row[0])[1] for row in rows if "*" not in row[0]}
    assert documented == served


def test_the_client_table_names_every_module_of_the_client() -> None:
    """docs/CLIENT.md, "For developers": its module table lacked ``config.py``,
    ``timefmt.py``, ``__main__.py``, ``net/codec.py``, ``ui/base.py`` and ``ui/theme.py``."""
    text = (ROOT / "docs" / "CLIENT.md").read_text()
    rows = table_after(section(text, "## For developers"), "| module | holds |")
    named = {
        Path(name).name for row in rows for name in re.findall(r"`([\w/]+\.py)`", " ".join(row))
    }
    client = ROOT / "lairchat" / "client"
    modules = {p.name for p in client.rglob("*.py") if p.name != "__init__.py"}
    assert modules - named == set()
