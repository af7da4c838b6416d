"""Server configuration: command line, then environment, then defaults.

`Options` is what `twistd lairchat --help` shows.  `load_config` turns the parsed
options plus the environment into one validated, frozen `Config`; every mistake
becomes a `ConfigError` whose text is a single line naming the setting, so that
`twistd` can print it without a traceback.

The environment variables keep the original server's names; the ones the original
does not have are ours (docs/deployment.md lists them all).  Unlike the original, an unparseable
value is an error, never silently replaced by the default.

This module is imported by the twistd plugin just to list options: keep it to the
standard library and `twisted.python`.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import grp
import ipaddress
import math
import os
import pwd
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from twisted.python import usage

from lairchat.transports.proxies import FORWARDED_HEADERS

__all__ = ["Config", "ConfigError", "Options", "load_config", "load_or_create_jwt_secret"]

MEMORY_DATABASE = ":memory:"
DEFAULT_DATABASE_URL = "sqlite:lair-chat.db"
JWT_SECRET_SUFFIX = ".jwt-secret"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Config:
    """Everything the server needs to start, already validated."""

    tcp_port: int = 8080
    http_port: int = 8082
    # A Twisted server endpoint description ("tcp:8080:interface=127.0.0.1",
    # "systemd:domain=INET:index=0", ...).  When set it replaces port + interface.
    tcp_endpoint: str | None = None
    http_endpoint: str | None = None
    interface: str = "0.0.0.0"
    # A file path, or ":memory:".
    database_path: str = "lair-chat.db"
    # Seconds a database statement waits for a lock another process holds (SQLite's
    # busy timeout); the message writer is given up on after twice this.
    database_busy_timeout: float = 30.0
    # Seconds a login or registration may expect to wait for a password-hashing
    # thread; past that it is refused with 429 rate_limited (lairchat.core.passwords).
    password_wait: float = 5.0
    # Messages older than this many days are deleted (lairchat.core.retention);
    # None: kept forever.
    message_retention_days: int | None = None
    # Admin audit log entries older than this many days are deleted (lairchat.core.
    # retention); None: kept forever.
    audit_retention_days: int | None = 365
    # Always filled in by load_config; kept out of repr so it never lands in a log.
    jwt_secret: str = field(default="", repr=False)
    # One of LOG_LEVELS ("warn" is accepted and stored as "warning").
    log_level: str = "info"
    # One of LOG_FORMATS.
    log_format: str = "text"
    rate_limits: bool = True
    # The browser client at / (lairchat/web, docs/WEB.md).
    web_client: bool = True
    handshake_timeout: float = 30.0
    auth_timeout: float = 60.0
    idle_timeout: float = 90.0
    # 0 = unlimited.
    tcp_max_connections: int = 10000
    http_max_connections: int = 20000
    # From one peer address (trusted proxies excepted); 0 = no limit.
    tcp_max_connections_per_address: int = 0
    http_max_connections_per_address: int = 0
    tls_enabled: bool = False
    tcp_tls: bool = False
    tls_cert_path: str | None = None
    tls_key_path: str | None = None
    # Seconds between two looks at the TLS files for a renewal (lairchat.tlsreload).
    tls_reload_interval: float = 60.0
    encryption_required: bool = False
    ws_allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    # The one header a trusted proxy names the client in (FORWARDED_HEADERS); None:
    # X-Forwarded-For, else X-Real-IP.
    forwarded_header: str | None = None
    # The first administrator, created or promoted at start (lairchat.bootstrap).
    admin_username: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    admin_email: str | None = None
    # Where each setting given came from: "--database-url" or "LAIR_DATABASE_URL".
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def source(self, name: str) -> str:
        """What an error about setting ``name`` (a field) should name: the option or
        the variable its value came from; for a default, its variable."""
        return _source(self.sources, name)


class ConfigError(Exception):
    """A setting is wrong.  str() is one line that starts with the setting's name."""


class _Invalid(ValueError):
    """Raised by a parser: what the value must be.  load_config adds name and value."""

    def __init__(self, expected: str, *, show_value: bool = True) -> None:
        super().__init__(expected)
        self.expected = expected
        self.show_value = show_value


# -- parsers: raw text -> value, or _Invalid ----------------------------------------

_DIGITS = re.compile(r"[0-9]+")


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        text = raw.strip()
        if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
            raise _Invalid(f"must be an integer from {low} to {high}")
        return int(text)

    return parse


_port = _integer(0, 65535)
_max_connections = _integer(0, 2**32 - 1)


def _timeout(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise _Invalid("must be a positive number of seconds")
    return value


#: The longest busy timeout, in seconds: SQLite takes milliseconds in a C int, and a
#: write that waits an hour for a lock is a fault to report, not to wait out.
MAX_BUSY_TIMEOUT = 3600


def _seconds(low: float, high: float = math.inf) -> Callable[[str], float]:
    """A parser of a finite number of seconds from ``low`` to ``high``: for settings
    where too small a value costs the server (a check looping on a core) or too large a
    value hides a fault."""
    bounds = f"from {low:g} to {high:g}" if math.isfinite(high) else f"of at least {low:g}"

    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise _Invalid(f"must be a number of seconds {bounds}")
        return value

    return parse


_busy_timeout = _seconds(0.001, MAX_BUSY_TIMEOUT)
#: A password check expected to wait longer than an hour is one no client waits for.
_password_wait = _seconds(0.01, 3600)
#: The shortest LAIR_TLS_RELOAD_INTERVAL: each check stats two files, and a renewal
#: a second late is still prompt; a tiny interval would keep a core busy.
MIN_TLS_RELOAD_INTERVAL = 1.0
_tls_reload_interval = _seconds(MIN_TLS_RELOAD_INTERVAL)


#: The longest retention, in days (a century): a bound, not a recommendation.
MAX_RETENTION_DAYS = 36500
#: Days messages are kept (also ``lairchat db prune --older-than``).
retention_days = _integer(1, MAX_RETENTION_DAYS)


def _message_retention(raw: str) -> int | None:
    if raw.strip().lower() in ("0", "off"):
        return None
    try:
        return retention_days(raw)
    except _Invalid as e:
        raise _Invalid(f"{e.expected}, or 0 or off to keep messages forever") from None


def _audit_retention(raw: str) -> int | None:
    if raw.strip() == "0":
        return None
    try:
        return retention_days(raw)
    except _Invalid as e:
        raise _Invalid(f"{e.expected}, or 0 to keep the audit log forever") from None


def _log_level(raw: str) -> str:
    level = raw.strip().lower()
    if level == "warn":
        level = "warning"
    if level not in LOG_LEVELS:
        raise _Invalid("must be one of debug, info, warn, warning, error, critical")
    return level


def _log_format(raw: str) -> str:
    fmt = raw.strip().lower()
    if fmt not in LOG_FORMATS:
        raise _Invalid("must be one of " + ", ".join(LOG_FORMATS))
    return fmt


_TRUE = ("1", "true", "on", "yes")
_FALSE = ("0", "false", "off", "no")


def _forwarded_header(raw: str) -> str:
    header = raw.strip().lower()
    if header not in FORWARDED_HEADERS:
        raise _Invalid("must be one of " + ", ".join(FORWARDED_HEADERS))
    return header


def _switch(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Invalid("must be on or off (also true/false, yes/no, 1/0)")


def _original_tls_flag(raw: str) -> bool:
    """LAIR_TLS_ENABLED as the original reads it, "true" in any case or "1", and off for
    the usual ways of saying off, so that existing deployments behave the same. The
    original read every other value as off too: "yes", "on" or a typo served plaintext
    to an operator who asked for TLS. Those stop the start instead."""
    text = raw.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", "off", "no", ""):
        return False
    raise _Invalid("must be true or false (as in Lair Chat, where anything else meant off)")


def _text(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise _Invalid("must not be empty")
    return text


#: Shortest JWT secret accepted, in bytes: anyone holding one token can test guesses
#: offline, and a short key falls to that (HS256 wants at least 256 bits).
MIN_SECRET_BYTES = 32


def _password(raw: str) -> str:
    # Exactly as given (no stripping); the account rules check it when it is used.
    if not raw:
        raise _Invalid("must not be empty", show_value=False)
    return raw


def _secret(raw: str) -> str:
    # The HMAC key is the string's bytes, exactly as given (no stripping).
    if len(raw.encode("utf-8")) < MIN_SECRET_BYTES:
        raise _Invalid(
            f"must be at least {MIN_SECRET_BYTES} bytes; leave it unset and lairchat "
            "generates and keeps a strong one",
            show_value=False,
        )
    return raw


def _interface(raw: str) -> str:
    text = raw.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise _Invalid("must be an IPv4 or IPv6 address such as 0.0.0.0 or ::") from None
    return text


def _endpoint(raw: str) -> str:
    text = _text(raw)
    # Imported here: twisted.internet.endpoints is heavier than this module should be
    # to import.  Parsing builds an endpoint object but neither listens nor touches
    # the reactor.
    from twisted.internet.endpoints import serverFromString

    try:
        serverFromString(None, text)
    except (IndexError, KeyError) as e:
        if text.startswith(("systemd:", "haproxy:systemd:")):
            # The index or name of a socket systemd did not pass (LISTEN_FDS/FDNAMES).
            raise _Invalid(
                f"systemd passed no such socket for {text!r} ({_systemd_passed()});"
                " is the service started through its .socket unit?",
                show_value=False,
            ) from None
        raise _Invalid(
            f"must be a Twisted server endpoint such as tcp:8080:interface=127.0.0.1 ({e})"
        ) from None
    except Exception as e:
        raise _Invalid(
            f"must be a Twisted server endpoint such as tcp:8080:interface=127.0.0.1 ({e})"
        ) from None
    return text


def _systemd_passed() -> str:
    """How many sockets systemd passed this process, as Twisted's ``systemd:``
    endpoint sees them (read once, when Twisted's endpoints are imported, which takes
    LISTEN_FDS out of the environment). It used to say ``IndexError: list index out
    of range`` whether none or fewer had been passed; and Twisted ignores LISTEN_FDS
    without LISTEN_FDNAMES, which systemd (227 and newer) always sets, but
    ``systemd-socket-activate`` only with ``--fdname``: that looked like none."""
    from twisted.internet import endpoints

    # Twisted's own record of them; private, so read with care.
    passed = getattr(getattr(endpoints, "_SystemdParser", None), "_sddaemon", None)
    count = f" {len(passed.inheritedDescriptors())}" if passed is not None else ""
    return (
        f"it passed{count or ' none that Twisted sees'}; Twisted takes them from LISTEN_FDS"
        " and LISTEN_FDNAMES, which systemd-socket-activate sets only with --fdname"
    )


def _comma_list(item: Callable[[str], str]) -> Callable[[str], tuple[str, ...]]:
    def parse(raw: str) -> tuple[str, ...]:
        return tuple(item(part.strip()) for part in raw.split(",") if part.strip())

    return parse


def _origin(text: str) -> str:
    if any(c.isspace() for c in text):
        raise _Invalid(
            f"{text!r} is not an origin such as https://chat.example.com", show_value=False
        )
    return text


def _proxy(text: str) -> str:
    if text == "unix":  # a proxy on the server's Unix socket (proxies.UNIX_PEER)
        return text
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _Invalid(
            f"{text!r} is not an IP address or network such as 10.0.0.0/8, or unix",
            show_value=False,
        ) from None
    return text


# Accepted for compatibility with the original's URLs; they change nothing here.
_IGNORED_URL_PARAMETERS = {
    ("mode", "rwc"),
    ("mode", "rw"),
    ("cache", "shared"),
    ("cache", "private"),
}


def _database_url(raw: str) -> str:
    """`sqlite:PATH`, `sqlite://PATH`, `sqlite:PATH?mode=rwc`, `sqlite::memory:` -> path.

    Follows sqlx, which the original uses: the path is percent-decoded, and
    `sqlite:///abs/file.db` is an absolute path.  Only the query parameters `mode`
    (rwc, rw or memory) and `cache` (ignored) are understood.
    """
    url = raw.strip()
    scheme, colon, _ = url.partition(":")
    if not colon or scheme.lower() != "sqlite":
        # Show only the scheme: other database URLs often carry a password.
        shown = f"a {scheme!r} URL" if colon and "/" not in scheme else "no URL scheme"
        raise _Invalid(
            f"must be an sqlite: URL such as sqlite:lair-chat.db, got {shown}", show_value=False
        )
    rest = url[len("sqlite:") :]
    if rest.startswith("//"):
        rest = rest[2:]
    location, _, query = rest.partition("?")
    path = MEMORY_DATABASE if location == MEMORY_DATABASE else unquote(location)
    for key, value in parse_qsl(query, keep_blank_values=True):
        if (key, value) == ("mode", "memory"):
            path = MEMORY_DATABASE
        elif (key, value) not in _IGNORED_URL_PARAMETERS:
            raise _Invalid(f"unsupported query parameter {key}={value}")
    if not path:
        raise _Invalid("has no database path (use sqlite:lair-chat.db or sqlite::memory:)")
    return path


# -- the settings table ---------------------------------------------------------------


@dataclass(frozen=True)
class _Setting:
    field: str
    option: str | None  # long option name, without the dashes; None: environment only
    env: str | None
    parse: Callable[[str], Any]
    doc: str
    flag: bool = False  # a --switch that can only turn the setting on
    env_parse: Callable[[str], Any] | None = None  # when the variable's rule differs


_SETTINGS: tuple[_Setting, ...] = (
    _Setting("tcp_port", "tcp-port", "LAIR_TCP_PORT", _port,
             "TCP port of the binary protocol (0 = any free port). [default: 8080]"),
    _Setting("http_port", "http-port", "LAIR_HTTP_PORT", _port,
             "HTTP port of the REST API and /ws (0 = any free port). [default: 8082]"),
    _Setting("tcp_endpoint", "tcp-endpoint", "LAIR_TCP_ENDPOINT", _endpoint,
             "Twisted endpoint for the binary protocol; replaces --tcp-port and --interface."),
    _Setting("http_endpoint", "http-endpoint", "LAIR_HTTP_ENDPOINT", _endpoint,
             "Twisted endpoint for HTTP; replaces --http-port and --interface."),
    _Setting("interface", "interface", "LAIR_BIND_ADDRESS", _interface,
             "Address both listeners bind to. [default: 0.0.0.0]"),
    _Setting("database_path", "database-url", "LAIR_DATABASE_URL", _database_url,
             "SQLite database: sqlite:PATH or sqlite::memory:. [default: sqlite:lair-chat.db]"),
    _Setting("database_busy_timeout", "database-busy-timeout", "LAIR_DATABASE_BUSY_TIMEOUT",
             _busy_timeout,
             "Seconds a database write waits for a lock held by another process (e.g."
             " `lairchat admin`) before it fails; a message writer that does not answer"
             " for twice this is restarted. [default: 30]"),
    _Setting("password_wait", "password-wait", "LAIR_PASSWORD_WAIT", _password_wait,
             "Seconds a login or registration may expect to wait for a password-hashing"
             " thread; past that it is refused (429 rate_limited, Retry-After) instead of"
             " queued. [default: 5]"),
    _Setting("message_retention_days", "message-retention-days",
             "LAIR_MESSAGE_RETENTION_DAYS", _message_retention,
             "Delete room and direct messages older than this many days (checked hourly);"
             " 0 or off keeps them forever. [default: off]"),
    _Setting("audit_retention_days", "audit-retention-days",
             "LAIR_AUDIT_RETENTION_DAYS", _audit_retention,
             "Delete admin audit log entries older than this many days (checked hourly);"
             " 0 keeps them forever. [default: 365]"),
    _Setting("jwt_secret", "jwt-secret", "LAIR_JWT_SECRET", _secret,
             "HMAC key for session tokens. [default: generated once, kept in"
             " <database>.jwt-secret]"),
    _Setting("log_level", "log-level", "LAIR_LOG_LEVEL", _log_level,
             "debug, info, warning, error or critical. [default: info]"),
    _Setting("log_format", "log-format", "LAIR_LOG_FORMAT", _log_format,
             "text or json. [default: text]"),
    _Setting("rate_limits", "rate-limits", "LAIR_RATE_LIMITS", _switch,
             "on or off. [default: on]"),
    _Setting("web_client", "web-client", "LAIR_WEB_CLIENT", _switch,
             "Serve the browser chat client at / on the HTTP port: on or off. [default: on]"),
    _Setting("handshake_timeout", "handshake-timeout", "LAIR_HANDSHAKE_TIMEOUT", _timeout,
             "Seconds a new connection may take to say hello. [default: 30]"),
    _Setting("auth_timeout", "auth-timeout", "LAIR_AUTH_TIMEOUT", _timeout,
             "Seconds a connection may take to log in. [default: 60]"),
    _Setting("idle_timeout", "idle-timeout", "LAIR_IDLE_TIMEOUT", _timeout,
             "Seconds of silence before a connection is closed. [default: 90]"),
    _Setting("tcp_max_connections", "tcp-max-connections", "LAIR_TCP_MAX_CONNECTIONS",
             _max_connections, "Most open TCP connections (0 = unlimited). [default: 10000]"),
    _Setting("http_max_connections", "http-max-connections", "LAIR_HTTP_MAX_CONNECTIONS",
             _max_connections, "Most open connections on the HTTP port, WebSocket "
             "included (0 = unlimited). [default: 20000]"),
    _Setting("tcp_max_connections_per_address", "tcp-max-connections-per-address",
             "LAIR_TCP_MAX_CONNECTIONS_PER_ADDRESS", _max_connections,
             "Most open TCP connections from one address; trusted proxies are not limited"
             " (0 = unlimited). [default: 0]"),
    _Setting("http_max_connections_per_address", "http-max-connections-per-address",
             "LAIR_HTTP_MAX_CONNECTIONS_PER_ADDRESS", _max_connections,
             "Most open connections to the HTTP port from one address; trusted proxies are"
             " not limited (0 = unlimited). [default: 0]"),
    _Setting("tls_enabled", "tls-enabled", "LAIR_TLS_ENABLED", _switch,
             "Serve HTTPS/wss on the HTTP port (needs --tls-cert and --tls-key).",
             flag=True, env_parse=_original_tls_flag),
    _Setting("tcp_tls", "tcp-tls", "LAIR_TCP_TLS", _switch,
             "Also wrap the TCP real-time port in TLS (same certificate and key).",
             flag=True),
    _Setting("tls_cert_path", "tls-cert", "LAIR_TLS_CERT_PATH", _text,
             "PEM certificate chain for TLS."),
    _Setting("tls_key_path", "tls-key", "LAIR_TLS_KEY_PATH", _text,
             "PEM private key for TLS."),
    _Setting("tls_reload_interval", "tls-reload-interval", "LAIR_TLS_RELOAD_INTERVAL",
             _tls_reload_interval,
             "Seconds between two checks of the TLS files, at least 1: a renewed"
             " certificate and key are served to new connections without a restart."
             " [default: 60]"),
    _Setting("encryption_required", "encryption-required", "LAIR_ENCRYPTION_REQUIRED", _switch,
             "Announce encryption_required and refuse TCP clients that do not encrypt.", flag=True),
    _Setting("ws_allowed_origins", "ws-allowed-origins", "LAIR_WS_ALLOWED_ORIGINS",
             _comma_list(_origin),
             "Comma-separated browser Origins allowed to open /ws; * allows any. Requests"
             " without an Origin (non-browser clients) are always allowed."
             " [default: the server's own origin]"),
    _Setting("trusted_proxies", "trusted-proxies", "LAIR_TRUSTED_PROXIES",
             _comma_list(_proxy),
             "Comma-separated proxy addresses/networks whose X-Forwarded-For (or"
             " X-Real-IP) is believed; unix: a proxy on the Unix socket."),
    _Setting("forwarded_header", "forwarded-header", "LAIR_FORWARDED_HEADER",
             _forwarded_header,
             "The one header trusted proxies name the client in: x-forwarded-for, or"
             " x-real-ip for a proxy that sets X-Real-IP and passes X-Forwarded-For"
             " through. [default: X-Forwarded-For, else X-Real-IP]"),
    # Environment only: a password on the command line is visible to every local user.
    _Setting("admin_username", None, "LAIR_ADMIN_USERNAME", _text,
             "Create (or promote) this admin account at start."),
    _Setting("admin_password", None, "LAIR_ADMIN_PASSWORD", _password,
             "Password of a newly created LAIR_ADMIN_USERNAME."),
    _Setting("admin_email", None, "LAIR_ADMIN_EMAIL", _text,
             "Email of a newly created LAIR_ADMIN_USERNAME. [default: <name>@lairchat.invalid]"),
)  # fmt: skip
_BY_FIELD = {s.field: s for s in _SETTINGS}


def _env_note(setting: _Setting) -> str:
    return f" [env: {setting.env}]" if setting.env else ""


class Options(usage.Options):
    """`twistd lairchat` options.  Every value is None (or 0 for a flag) unless given."""

    synopsis = "[options]"
    longdesc = (
        "Run the Lair Chat server.  Each option falls back to the environment variable "
        "shown beside it, then to its default.  Read from the environment only: "
        + "  ".join(f"{s.env}: {s.doc}" for s in _SETTINGS if s.env and not s.option)
        + "  See docs/deployment.md."
    )
    optFlags = [[s.option, None, s.doc + _env_note(s)] for s in _SETTINGS if s.option and s.flag]
    optParameters = [
        [s.option, None, None, s.doc + _env_note(s)] for s in _SETTINGS if s.option and not s.flag
    ]

    def opt_version(self) -> None:  # noqa: N802 (Twisted's name)
        """Print lairchat's version and exit (twistd's own --version, before the
        plugin's name, prints Twisted's)."""
        from lairchat import __version__

        print(f"lairchat {__version__}")
        raise SystemExit(0)


# -- loading ----------------------------------------------------------------------------


def load_config(
    options: Mapping[str, Any], environ: Mapping[str, str], workdir: str | None = None
) -> Config:
    """Build the Config: command line beats environment beats default.

    A relative database path is made absolute in ``workdir`` (twistd's ``--rundir``:
    twistd changes to it only after the service is made, so the start would open
    one file and the message writer and pools, started later, another).

    `options` is an `Options` (or any mapping with the same keys, missing keys meaning
    "not given").  An environment variable that is set but empty counts as unset.
    Creates the JWT secret file when no secret is configured (see
    `load_or_create_jwt_secret`).  Raises ConfigError.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in _SETTINGS:
        given = _given(setting, options, environ)
        if given is not None:
            sources[setting.field] = given[0]
            values[setting.field] = _parse_given(setting, *given)
    if "database_path" not in values:
        values["database_path"] = _database_url(DEFAULT_DATABASE_URL)
    if workdir is not None and values["database_path"] != MEMORY_DATABASE:
        values["database_path"] = os.path.join(os.path.abspath(workdir), values["database_path"])

    _check_tls(values)
    _check_admin(values)
    _check_database_path(values["database_path"], _source(sources, "database_path"))
    if "jwt_secret" not in values:
        values["jwt_secret"] = load_or_create_jwt_secret(values["database_path"])
    return Config(**values, sources=sources)


def _given(
    setting: _Setting, options: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[str, str] | None:
    """``(source, text)`` of a setting given on the command line (``--option``) or
    else in the environment (its variable; set but blank counts as unset), or None.
    A flag's option can only say "on": off (0) is not given."""
    value = options.get(setting.option) if setting.option else None
    if value or (value is not None and not setting.flag):
        return f"--{setting.option}", str(value)
    if setting.env and environ.get(setting.env, "").strip():
        return setting.env, environ[setting.env]
    return None


def _parse_given(setting: _Setting, source: str, raw: str) -> Any:
    """The value of a setting as given: its variable may have a rule of its own."""
    return _parse(setting, source, raw, setting.env_parse if source == setting.env else None)


def _parse(
    setting: _Setting,
    source: str,
    raw: str,
    parse: Callable[[str], Any] | None = None,
) -> Any:
    try:
        return (parse or setting.parse)(raw)
    except _Invalid as e:
        if e.show_value:
            raise ConfigError(_one_line(f"{source}: {e.expected}, got {raw!r}")) from None
        raise ConfigError(_one_line(f"{source}: {e.expected}")) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _source(sources: Mapping[str, str], field: str) -> str:
    """What an error about a setting names: where its value came from (the option or
    the variable), or for a default its variable (the option if it has none)."""
    if field in sources:
        return sources[field]
    setting = _BY_FIELD[field]
    return setting.env or f"--{setting.option}"


#: LAIR_ variables that are not server settings: ``lairchat admin``'s password.
_OTHER_VARIABLES = frozenset({"LAIR_NEW_PASSWORD"})


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per ``LAIR_`` variable that no setting reads, with the setting it
    is likely a misspelling of. Found following docs/deployment.md: a typo in
    ``/etc/lairchat/lairchat.env`` (``LAIR_HTTP_PORTS=9082``) was silently ignored,
    and the server served on the default port. A warning, not an error: the
    variable may be meant for something else that shares the prefix."""
    known = {s.env for s in _SETTINGS if s.env} | _OTHER_VARIABLES
    warnings = []
    for name in sorted(environ):
        if not name.startswith("LAIR_") or name in known:
            continue
        near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f" (did you mean {near[0]}?)" if near else ""
        warnings.append(f"{name} is not a lairchat setting and is ignored{hint}")
    return warnings


#: How often clients ping a quiet connection: Lair Chat's TUI and ours, every 30 s
#: (PROTOCOL.md §4). The server never pings, so its idle timeout must outlast this.
CLIENT_PING_INTERVAL = 30.0


#: Below these (seconds), :func:`doubtful_settings` warns: a connection's hello and
#: its login can take that long when nothing is wrong.
MIN_HANDSHAKE_TIMEOUT = 5.0
MIN_AUTH_TIMEOUT = 10.0


def doubtful_settings(config: Config) -> list[str]:
    """Warnings for values that are valid but will surprise: an idle timeout no longer
    than the clients' ping interval drops every connection whose user reads without
    typing (found reading the standing notes: any positive value was taken silently).
    A warning, not an error: a deployment whose clients ping more often may mean it."""
    warnings = []
    if config.idle_timeout <= CLIENT_PING_INTERVAL:
        warnings.append(
            f"{config.source('idle_timeout')}={config.idle_timeout:g}: clients ping every "
            f"{CLIENT_PING_INTERVAL:g} s, so connections of users who only read will be "
            "dropped and reconnect; the default is 90"
        )
    # The other two timers were also taken at any positive value (standing notes).
    if config.handshake_timeout < MIN_HANDSHAKE_TIMEOUT:
        warnings.append(
            f"{config.source('handshake_timeout')}={config.handshake_timeout:g}: a client "
            "on a slow or distant link (the TLS handshake, then the key exchange, each a "
            "round trip or more) may be closed before its hello; the default is 30"
        )
    if config.auth_timeout < MIN_AUTH_TIMEOUT:
        warnings.append(
            f"{config.source('auth_timeout')}={config.auth_timeout:g}: a client that "
            "connects before its user has typed a password (or a password check queued "
            "behind others) may be closed before it logs in; the default is 60"
        )
    return warnings


def _check_tls(values: Mapping[str, Any]) -> None:
    # The files themselves are checked where TLS is set up.
    if not (values.get("tls_enabled") or values.get("tcp_tls")):
        return
    for key, env, option in (
        ("tls_cert_path", "LAIR_TLS_CERT_PATH", "--tls-cert"),
        ("tls_key_path", "LAIR_TLS_KEY_PATH", "--tls-key"),
    ):
        if not values.get(key):
            raise ConfigError(f"{env}: required when TLS is enabled (or pass {option})")


def _check_admin(values: Mapping[str, Any]) -> None:
    if values.get("admin_username") and not values.get("admin_password"):
        raise ConfigError("LAIR_ADMIN_PASSWORD: required with LAIR_ADMIN_USERNAME")
    if values.get("admin_password") and not values.get("admin_username"):
        raise ConfigError("LAIR_ADMIN_USERNAME: required with LAIR_ADMIN_PASSWORD")
    if values.get("admin_email") and not values.get("admin_username"):
        raise ConfigError("LAIR_ADMIN_USERNAME: required with LAIR_ADMIN_EMAIL")


def _check_database_path(path: str, source: str) -> None:
    if path == MEMORY_DATABASE:
        return
    if os.path.isdir(path):
        raise ConfigError(f"{source}: {path!r} is a directory, not a database file")
    directory = os.path.dirname(path) or "."
    blocked = unreachable(path)
    if blocked is not None:
        raise ConfigError(f"{source}: cannot reach {path!r}: {blocked}")
    if not os.path.isdir(directory):
        raise ConfigError(f"{source}: directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(f"{source}: directory {directory!r} is not writable")
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(
            f"{source}: database file {path!r} is not readable and writable by"
            f" {running_user()} ({owner_and_mode(path)}): run the server as its owner,"
            " or chown the database and the files beside it to the server's user"
        )


# -- whose files: what an operator who ran a command as the wrong user is told ----------


def running_user() -> str:
    """The name of the user this process runs as (its number if it has no name)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def owner_and_mode(path: str) -> str:
    """``owned by lairchat:lairchat, mode 0750``: who can fix a permission problem, and
    what it is. The service's files belong to its user (contrib/systemd), and a
    command run as another user (root, an operator's login) meets them."""
    st = os.stat(path)
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"owned by {user}:{group}, mode {stat.S_IMODE(st.st_mode):04o}"


def unreachable(path: str) -> str | None:
    """Why this process cannot even look for ``path`` (a directory on the way it may
    not enter), or None. Without it, a database in the service's own directory
    (``/var/lib/lairchat``, mode 0750), looked for by another user, was reported as
    missing: ``os.path.exists`` answers False for a file it may not see, and the
    operator went looking for a wrong path rather than for the wrong user."""
    # From the root down: the first that bars the way.
    for directory in reversed(Path(os.path.abspath(path)).parents):
        if os.path.isdir(directory) and not os.access(directory, os.X_OK):
            return (
                f"{running_user()} may not enter {directory} ({owner_and_mode(directory)});"
                " run this as the server's user"
            )
    return None


# -- the JWT secret ---------------------------------------------------------------------


def _new_secret() -> str:
    return secrets.token_urlsafe(48)  # 384 random bits


def load_or_create_jwt_secret(database_path: str) -> str:
    """The token-signing secret kept beside the database, created on first use.

    The original makes a new secret at every start, which logs everybody out on a
    restart.  We keep ours in `<database_path>.jwt-secret` (mode 0600), written
    atomically so that a crash or a second server starting at the same moment can
    never leave a partial or a different secret.  An in-memory database gets a fresh
    secret each time: nothing it stores survives a restart either.
    """
    if database_path == MEMORY_DATABASE:
        return _new_secret()
    path = database_path + JWT_SECRET_SUFFIX
    try:
        existing = _read_secret(path)
        if existing is not None:
            return existing
        return _create_secret(path)
    except OSError as e:
        reason = e.strerror or str(e)
        if isinstance(e, PermissionError) and e.filename is not None:
            # Made by a start as another user (root trying the server out by hand):
            # who owns it is what the operator needs to know.
            with contextlib.suppress(OSError):
                reason += f" for {running_user()} ({e.filename} is {owner_and_mode(e.filename)})"
        raise ConfigError(
            f"LAIR_JWT_SECRET: not set, and the secret file {path!r} cannot be used: {reason}"
        ) from None


#: Permission bits a secret file must not have: readable or writable by others, or
#: writable by its group. Who reads the key signs tokens for any account (an admin's
#: included); who writes it chooses the key. Its group may read it (root:lairchat 0640).
_UNSAFE_SECRET_MODE = 0o026


def _read_secret(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & _UNSAFE_SECRET_MODE:
                raise ConfigError(
                    f"LAIR_JWT_SECRET: not set, and the secret file {path!r} is open to other"
                    f" users (mode {mode:04o}): whoever reads it can sign session tokens for"
                    " any account; chmod 600 it (and log everybody out, by deleting it, if"
                    " it may have been read)"
                )
            secret = f.read().strip()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        secret = ""
    if not secret:
        raise ConfigError(
            f"LAIR_JWT_SECRET: not set, and the secret file {path!r} is empty or not text;"
            " delete it to make a new one"
        )
    return secret


def _create_secret(path: str) -> str:
    secret = _new_secret()
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(
        directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask said
            os.write(fd, (secret + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # link() publishes the complete file and, unlike rename(), never replaces
            # a secret another process published first.
            os.link(temporary, path)
        except FileExistsError:
            winner = _read_secret(path)
            if winner is None:  # vanished again: give up rather than loop
                raise OSError(errno.ENOENT, "it disappeared while being created") from None
            return winner
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            os.replace(temporary, path)  # a filesystem without hard links
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_directory(directory)
    return secret


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def database_path(environ: Mapping[str, str], url: str | None = None) -> str:
    """The database path named by ``url`` (``--database-url``), else by
    ``LAIR_DATABASE_URL``, else the default: for operator tools. A ConfigError names
    where the bad value came from, as the server's does."""
    setting = _BY_FIELD["database_path"]
    given = _given(setting, {setting.option: url}, environ)
    return _database_url(DEFAULT_DATABASE_URL) if given is None else _parse_given(setting, *given)
