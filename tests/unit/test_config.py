"""lairchat.config: command line beats environment beats defaults; one-line errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest

from lairchat.config import (
    Config,
    ConfigError,
    Options,
    database_path,
    load_config,
    load_or_create_jwt_secret,
)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """The default database (and its secret file) is relative: keep it in tmp_path."""
    monkeypatch.chdir(tmp_path)


def options(*argv: str) -> Options:
    parsed = Options()
    parsed.parseOptions(list(argv))
    return parsed


def load(*argv: str, **environ: str) -> Config:
    return load_config(options(*argv), environ)


def error(*argv: str, **environ: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(*argv, **environ)
    return str(info.value)


# -- defaults, environment, command line ----------------------------------------------


def test_defaults(tmp_path):
    config = load()
    assert config == Config(jwt_secret=config.jwt_secret)
    assert config.tcp_port == 8080
    assert config.http_port == 8082
    assert config.interface == "0.0.0.0"
    assert config.database_path == "lair-chat.db"
    assert config.database_busy_timeout == 30
    assert config.log_level == "info"
    assert config.log_format == "text"
    assert config.rate_limits is True
    assert (config.handshake_timeout, config.auth_timeout, config.idle_timeout) == (30, 60, 90)
    assert config.tcp_max_connections == 10000
    assert config.tls_enabled is False
    assert config.encryption_required is False
    assert config.ws_allowed_origins == ()
    assert config.trusted_proxies == ()
    assert config.message_retention_days is None  # messages are kept forever
    assert config.jwt_secret
    assert (tmp_path / "lair-chat.db.jwt-secret").exists()


def test_options_default_to_not_given():
    parsed = options()
    assert parsed["tcp-port"] is None
    assert not parsed["tls-enabled"]


def test_plain_dict_works_as_options():
    assert load_config({"tcp-port": "1"}, {}).tcp_port == 1


FULL_ENVIRONMENT = {
    "LAIR_TCP_PORT": "9000",
    "LAIR_HTTP_PORT": "9001",
    "LAIR_TCP_ENDPOINT": "tcp:9002:interface=127.0.0.1",
    "LAIR_HTTP_ENDPOINT": "tcp:9003",
    "LAIR_BIND_ADDRESS": "::",
    "LAIR_DATABASE_URL": "sqlite:chat.sqlite?mode=rwc",
    "LAIR_DATABASE_BUSY_TIMEOUT": "0.25",
    "LAIR_JWT_SECRET": "from-env-0123456789abcdef0123456789",
    "LAIR_LOG_LEVEL": "DEBUG",
    "LAIR_LOG_FORMAT": "json",
    "LAIR_RATE_LIMITS": "off",
    "LAIR_HANDSHAKE_TIMEOUT": "1.5",
    "LAIR_AUTH_TIMEOUT": "2",
    "LAIR_IDLE_TIMEOUT": "3",
    "LAIR_TCP_MAX_CONNECTIONS": "0",
    "LAIR_TCP_MAX_CONNECTIONS_PER_ADDRESS": "16",
    "LAIR_HTTP_MAX_CONNECTIONS_PER_ADDRESS": "32",
    "LAIR_TLS_ENABLED": "TRUE",
    "LAIR_TLS_CERT_PATH": "certs/server.pem",
    "LAIR_TLS_KEY_PATH": "certs/server.key",
    "LAIR_ENCRYPTION_REQUIRED": "yes",
    "LAIR_WS_ALLOWED_ORIGINS": "https://a.example, https://b.example:8443,",
    "LAIR_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8, ::1",
    "LAIR_MESSAGE_RETENTION_DAYS": " 30 ",
    "LAIR_PASSWORD_WAIT": "2.5",
}


def test_every_setting_from_the_environment():
    config = load(**FULL_ENVIRONMENT)
    assert config == Config(
        tcp_port=9000,
        http_port=9001,
        tcp_endpoint="tcp:9002:interface=127.0.0.1",
        http_endpoint="tcp:9003",
        interface="::",
        database_path="chat.sqlite",
        database_busy_timeout=0.25,
        jwt_secret="from-env-0123456789abcdef0123456789",
        log_level="debug",
        log_format="json",
        rate_limits=False,
        handshake_timeout=1.5,
        auth_timeout=2.0,
        idle_timeout=3.0,
        tcp_max_connections=0,
        tcp_max_connections_per_address=16,
        http_max_connections_per_address=32,
        tls_enabled=True,
        tls_cert_path="certs/server.pem",
        tls_key_path="certs/server.key",
        encryption_required=True,
        ws_allowed_origins=("https://a.example", "https://b.example:8443"),
        trusted_proxies=("127.0.0.1", "10.0.0.0/8", "::1"),
        message_retention_days=30,
        password_wait=2.5,
    )


def test_command_line_beats_environment():
    argv = [
        "--tcp-port=1",
        "--http-port=2",
        "--tcp-endpoint=tcp:3",
        "--http-endpoint=tcp:4",
        "--interface=127.0.0.1",
        "--database-url=sqlite::memory:",
        "--database-busy-timeout=12",
        "--jwt-secret=from-cli-0123456789abcdef0123456789",
        "--log-level=warn",
        "--log-format=text",
        "--rate-limits=on",
        "--handshake-timeout=4",
        "--auth-timeout=5",
        "--idle-timeout=6",
        "--tcp-max-connections=7",
        "--tcp-max-connections-per-address=8",
        "--tls-cert=cli.pem",
        "--tls-key=cli.key",
        "--ws-allowed-origins=https://c.example",
        "--trusted-proxies=192.168.0.0/16",
        "--message-retention-days=off",
        "--password-wait=0.5",
    ]
    config = load(*argv, **FULL_ENVIRONMENT)
    assert config == Config(
        tcp_port=1,
        http_port=2,
        tcp_endpoint="tcp:3",
        http_endpoint="tcp:4",
        interface="127.0.0.1",
        database_path=":memory:",
        database_busy_timeout=12.0,
        jwt_secret="from-cli-0123456789abcdef0123456789",
        log_level="warning",
        log_format="text",
        rate_limits=True,
        handshake_timeout=4.0,
        auth_timeout=5.0,
        idle_timeout=6.0,
        tcp_max_connections=7,
        tcp_max_connections_per_address=8,
        http_max_connections_per_address=32,  # from the environment
        tls_enabled=True,
        tls_cert_path="cli.pem",
        tls_key_path="cli.key",
        encryption_required=True,
        ws_allowed_origins=("https://c.example",),
        trusted_proxies=("192.168.0.0/16",),
        password_wait=0.5,
    )


def test_flags_switch_on():
    config = load("--tls-enabled", "--tls-cert=c", "--tls-key=k", "--encryption-required")
    assert config.tls_enabled and config.encryption_required


def test_empty_environment_variable_counts_as_unset():
    config = load(LAIR_TCP_PORT="", LAIR_JWT_SECRET="", LAIR_DATABASE_URL="  ")
    assert config.tcp_port == 8080
    assert config.database_path == "lair-chat.db"
    assert config.jwt_secret == load_or_create_jwt_secret("lair-chat.db")


@pytest.mark.parametrize("value", ["0", "65535"])
def test_port_bounds_are_allowed(value):
    assert load(f"--http-port={value}").http_port == int(value)


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("true", True), ("True", True), ("1", True), ("0", False), ("false", False)]
    + [("off", False), ("no", False), ("", False)],
)
def test_tls_enabled_follows_the_original_rule(value, enabled):
    environ = {"LAIR_TLS_ENABLED": value, "LAIR_TLS_CERT_PATH": "c", "LAIR_TLS_KEY_PATH": "k"}
    assert load(**environ).tls_enabled is enabled


@pytest.mark.parametrize("value", ["yes", "on", "enabled", "ture"])
def test_tls_enabled_values_the_original_read_as_off_stop_the_start(value):
    """Lair Chat served plaintext for these; never a silent fall back to plaintext."""
    message = error(LAIR_TLS_ENABLED=value, LAIR_TLS_CERT_PATH="c", LAIR_TLS_KEY_PATH="k")
    assert message.startswith("LAIR_TLS_ENABLED: must be true or false"), message


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("off", False), ("false", False), ("0", False), ("OFF", False), ("on", True), ("1", True)],
)
def test_rate_limits_switch(value, enabled):
    assert load(LAIR_RATE_LIMITS=value).rate_limits is enabled


def test_jwt_secret_is_taken_verbatim():
    secret = " spaced secret, 32 bytes or more "
    assert load(LAIR_JWT_SECRET=secret).jwt_secret == secret


def test_jwt_secret_is_not_in_repr():
    assert "hunter2" not in repr(load("--jwt-secret=hunter2-hunter2-hunter2-hunter2-hunter2"))


# -- database URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:chat.db", "chat.db"),
        ("sqlite://chat.db", "chat.db"),
        ("sqlite:chat.db?mode=rwc", "chat.db"),
        ("sqlite://chat.db?mode=rwc&cache=shared", "chat.db"),
        ("sqlite:data/chat.db", "data/chat.db"),
        ("sqlite:my%20chat.db", "my chat.db"),
        ("sqlite::memory:", ":memory:"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:whatever?mode=memory", ":memory:"),
        ("SQLITE:chat.db", "chat.db"),
    ],
)
def test_database_url_forms(tmp_path, url, path):
    (tmp_path / "data").mkdir()
    assert load(f"--database-url={url}").database_path == path


def test_absolute_database_url(tmp_path):
    database = tmp_path / "abs.db"
    assert load(f"--database-url=sqlite://{database}").database_path == str(database)
    assert load(f"--database-url=sqlite:{database}").database_path == str(database)


def test_memory_database_secret_is_not_written(tmp_path):
    config = load("--database-url=sqlite::memory:")
    assert config.jwt_secret
    assert list(tmp_path.iterdir()) == []
    assert load("--database-url=sqlite::memory:").jwt_secret != config.jwt_secret


# -- errors: one line, naming the setting ---------------------------------------------

ERROR_CASES = [
    # (argv, environ, expected start of the message)
    ([], {"LAIR_HTTP_PORT": "70000"}, "LAIR_HTTP_PORT: must be an integer from 0 to 65535"),
    ([], {"LAIR_TCP_PORT": "-1"}, "LAIR_TCP_PORT: must be an integer"),
    ([], {"LAIR_TCP_PORT": "80_80"}, "LAIR_TCP_PORT: must be an integer"),
    (["--tcp-port=http"], {}, "--tcp-port: must be an integer from 0 to 65535, got 'http'"),
    ([], {"LAIR_TCP_MAX_CONNECTIONS": "lots"}, "LAIR_TCP_MAX_CONNECTIONS: must be an integer"),
    ([], {"LAIR_HANDSHAKE_TIMEOUT": "0"}, "LAIR_HANDSHAKE_TIMEOUT: must be a positive number"),
    ([], {"LAIR_AUTH_TIMEOUT": "-5"}, "LAIR_AUTH_TIMEOUT: must be a positive number"),
    ([], {"LAIR_IDLE_TIMEOUT": "nan"}, "LAIR_IDLE_TIMEOUT: must be a positive number"),
    (["--idle-timeout=inf"], {}, "--idle-timeout: must be a positive number"),
    (
        [],
        {"LAIR_DATABASE_BUSY_TIMEOUT": "0"},
        "LAIR_DATABASE_BUSY_TIMEOUT: must be a number of seconds from 0.001 to 3600, got '0'",
    ),
    (["--database-busy-timeout=3601"], {}, "--database-busy-timeout: must be a number of"),
    ([], {"LAIR_DATABASE_BUSY_TIMEOUT": "nan"}, "LAIR_DATABASE_BUSY_TIMEOUT: must be a number"),
    ([], {"LAIR_DATABASE_BUSY_TIMEOUT": "30s"}, "LAIR_DATABASE_BUSY_TIMEOUT: must be a number"),
    ([], {"LAIR_PASSWORD_WAIT": "0"}, "LAIR_PASSWORD_WAIT: must be a number of seconds from 0.01"),
    (["--password-wait=forever"], {}, "--password-wait: must be a number of seconds"),
    ([], {"LAIR_LOG_LEVEL": "verbose"}, "LAIR_LOG_LEVEL: must be one of debug, info"),
    ([], {"LAIR_LOG_FORMAT": "xml"}, "LAIR_LOG_FORMAT: must be one of text, json"),
    ([], {"LAIR_RATE_LIMITS": "sometimes"}, "LAIR_RATE_LIMITS: must be on or off"),
    ([], {"LAIR_ENCRYPTION_REQUIRED": "maybe"}, "LAIR_ENCRYPTION_REQUIRED: must be on or off"),
    ([], {"LAIR_BIND_ADDRESS": "localhost"}, "LAIR_BIND_ADDRESS: must be an IPv4 or IPv6"),
    ([], {"LAIR_TCP_ENDPOINT": "tpc:8080"}, "LAIR_TCP_ENDPOINT: must be a Twisted server endpoint"),
    (["--http-endpoint=tcp:x"], {}, "--http-endpoint: must be a Twisted server endpoint"),
    ([], {"LAIR_TRUSTED_PROXIES": "10.0.0.1,proxy"}, "LAIR_TRUSTED_PROXIES: 'proxy' is not"),
    ([], {"LAIR_WS_ALLOWED_ORIGINS": "a b"}, "LAIR_WS_ALLOWED_ORIGINS: 'a b' is not an origin"),
    (["--jwt-secret="], {}, "--jwt-secret: must be at least 32 bytes"),
    (["--tls-cert="], {}, "--tls-cert: must not be empty"),
    (["--tls-enabled"], {}, "LAIR_TLS_CERT_PATH: required when TLS is enabled"),
    (["--tls-enabled", "--tls-cert=c"], {}, "LAIR_TLS_KEY_PATH: required when TLS is enabled"),
    (
        [],
        {"LAIR_TLS_ENABLED": "1", "LAIR_TLS_KEY_PATH": "k"},
        "LAIR_TLS_CERT_PATH: required when TLS is enabled",
    ),
    (
        [],
        {"LAIR_DATABASE_URL": "postgres://user:pw@db/chat"},
        "LAIR_DATABASE_URL: must be an sqlite: URL such as sqlite:lair-chat.db, got a 'postgres'",
    ),
    (["--database-url=chat.db"], {}, "--database-url: must be an sqlite: URL"),
    (["--database-url=sqlite:"], {}, "--database-url: has no database path"),
    (["--database-url=sqlite:x.db?mode=ro"], {}, "--database-url: unsupported query parameter"),
    (["--database-url=sqlite:missing/x.db"], {}, "--database-url: directory 'missing'"),
    ([], {"LAIR_DATABASE_URL": "sqlite:missing/x.db"}, "LAIR_DATABASE_URL: directory 'missing'"),
    (["--database-url=sqlite:."], {}, "--database-url: '.' is a directory"),
    (
        [],
        {"LAIR_MESSAGE_RETENTION_DAYS": "30d"},
        "LAIR_MESSAGE_RETENTION_DAYS: must be an integer from 1 to 36500, or 0 or off to keep"
        " messages forever, got '30d'",
    ),
    ([], {"LAIR_MESSAGE_RETENTION_DAYS": "-1"}, "LAIR_MESSAGE_RETENTION_DAYS: must be an integer"),
    (["--message-retention-days=36501"], {}, "--message-retention-days: must be an integer"),
    (["--message-retention-days=1.5"], {}, "--message-retention-days: must be an integer"),
]


@pytest.mark.parametrize(("value", "days"), [("0", None), ("off", None), ("OFF", None), ("1", 1)])
def test_message_retention_is_off_or_days(value, days):
    assert load(LAIR_MESSAGE_RETENTION_DAYS=value).message_retention_days == days
    config = load(f"--message-retention-days={value}", LAIR_MESSAGE_RETENTION_DAYS="7")
    assert config.message_retention_days == days
    assert config.source("message_retention_days") == "--message-retention-days"


@pytest.mark.parametrize(("argv", "environ", "expected"), ERROR_CASES)
def test_errors_are_one_line_naming_the_setting(argv, environ, expected):
    message = error(*argv, **environ)
    assert message.startswith(expected)
    assert "\n" not in message


def test_database_url_error_does_not_echo_a_password():
    assert "pw" not in error(LAIR_DATABASE_URL="postgres://user:pw@db/chat")


def test_jwt_secret_error_does_not_echo_the_value():
    assert "got" not in error("--jwt-secret=")


def test_config_says_where_each_setting_came_from():
    """What the start's later errors (the database, the TLS files, a port) name."""
    config = load(
        "--tcp-port=1",
        "--encryption-required",
        "--database-url=sqlite:chat.db",
        LAIR_TCP_PORT="2",
        LAIR_HTTP_PORT="3",
        LAIR_DATABASE_URL="sqlite:other.db",
    )
    assert config.source("tcp_port") == "--tcp-port"
    assert config.source("encryption_required") == "--encryption-required"
    assert config.source("database_path") == "--database-url"
    assert config.source("http_port") == "LAIR_HTTP_PORT"
    assert config.source("idle_timeout") == "LAIR_IDLE_TIMEOUT"  # a default: its variable
    flag_off = load(LAIR_ENCRYPTION_REQUIRED="on")  # the option's 0 is "not given"
    assert flag_off.source("encryption_required") == "LAIR_ENCRYPTION_REQUIRED"
    assert flag_off.encryption_required


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        ("chat.db", {"LAIR_DATABASE_URL": "sqlite:ok.db"}, "--database-url: must be an sqlite:"),
        ("sqlite:", {}, "--database-url: has no database path"),
        (None, {"LAIR_DATABASE_URL": "chat.db"}, "LAIR_DATABASE_URL: must be an sqlite:"),
    ],
)
def test_operator_tools_name_where_a_bad_database_url_came_from(url, environ, expected):
    """``lairchat --database-url`` blamed LAIR_DATABASE_URL for the option's value."""
    with pytest.raises(ConfigError, match=f"^{expected}"):
        database_path(environ, url)


def test_operator_tools_read_the_database_url_as_the_server_does():
    assert database_path({"LAIR_DATABASE_URL": "sqlite:env.db"}, "sqlite:opt.db") == "opt.db"
    assert database_path({"LAIR_DATABASE_URL": "sqlite:env.db"}) == "env.db"
    assert database_path({"LAIR_DATABASE_URL": "  "}) == "lair-chat.db"  # blank: unset


def test_unwritable_database_directory_is_checked(tmp_path, monkeypatch):
    # Also run as root (where permissions do not bite): the check asks os.access.
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: False if path == "locked" else real_access(path, mode)
    )
    (tmp_path / "locked").mkdir()
    assert error("--database-url=sqlite:locked/x.db") == (
        "--database-url: directory 'locked' is not writable"
    )


# -- the JWT secret file --------------------------------------------------------------


def test_jwt_secret_is_created_once_with_mode_0600_and_reused(tmp_path):
    database = str(tmp_path / "chat.db")
    secret_file = tmp_path / "chat.db.jwt-secret"
    first = load_or_create_jwt_secret(database)
    assert len(first) >= 43  # at least 256 bits, URL-safe base64
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret_file.read_text().strip() == first
    assert load_or_create_jwt_secret(database) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.db.jwt-secret"]


def test_jwt_secret_file_ignores_umask(tmp_path):
    old = os.umask(0)
    try:
        load_or_create_jwt_secret(str(tmp_path / "chat.db"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "chat.db.jwt-secret").stat().st_mode) == 0o600


def test_load_config_reuses_the_secret_file(tmp_path):
    first = load("--database-url=sqlite:chat.db").jwt_secret
    assert load("--database-url=sqlite:chat.db").jwt_secret == first
    assert load("--database-url=sqlite:other.db").jwt_secret != first


def test_configured_secret_writes_no_file(tmp_path):
    load("--database-url=sqlite:chat.db", LAIR_JWT_SECRET="s" * 32)
    assert list(tmp_path.iterdir()) == []


def private_file(path, text):
    """``path`` with ``text``, mode 0600 as lairchat writes its secret file."""
    path.write_text(text)
    path.chmod(0o600)


def test_existing_secret_file_is_read_as_is(tmp_path):
    private_file(tmp_path / "chat.db.jwt-secret", "kept-secret\n")
    assert load_or_create_jwt_secret(str(tmp_path / "chat.db")) == "kept-secret"


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602, 0o620, 0o666])
def test_a_secret_file_open_to_other_users_stops_the_start(tmp_path, mode):
    """It was used as it stood: with a secret file readable by every local user (a
    copy made by hand, a restore from a backup), any of them could sign a token for
    an admin."""
    secret_file = tmp_path / "chat.db.jwt-secret"
    secret_file.write_text("kept-secret\n")
    secret_file.chmod(mode)
    with pytest.raises(ConfigError) as info:
        load_or_create_jwt_secret(str(tmp_path / "chat.db"))
    message = str(info.value)
    assert message.startswith(f"LAIR_JWT_SECRET: not set, and the secret file '{secret_file}'")
    assert f"(mode {mode:04o})" in message and "chmod 600" in message
    assert "kept-secret" not in message and "\n" not in message


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o640])
def test_a_secret_file_private_to_its_owner_or_group_is_used(tmp_path, mode):
    secret_file = tmp_path / "chat.db.jwt-secret"
    private_file(secret_file, "kept-secret\n")
    secret_file.chmod(mode)
    assert load_or_create_jwt_secret(str(tmp_path / "chat.db")) == "kept-secret"


def test_empty_secret_file_is_an_error(tmp_path):
    private_file(tmp_path / "chat.db.jwt-secret", "")
    with pytest.raises(ConfigError, match=r"^LAIR_JWT_SECRET: .* is empty"):
        load_or_create_jwt_secret(str(tmp_path / "chat.db"))


def test_unusable_secret_file_is_a_config_error(tmp_path):
    (tmp_path / "chat.db.jwt-secret").mkdir()
    with pytest.raises(ConfigError, match=r"^LAIR_JWT_SECRET: .* cannot be used"):
        load_or_create_jwt_secret(str(tmp_path / "chat.db"))


def test_secret_published_by_another_process_wins(tmp_path, monkeypatch):
    """Two servers starting at once end up with the same secret."""
    real_link = os.link

    def racing_link(source, destination):
        private_file(tmp_path / "chat.db.jwt-secret", "the-other-one\n")
        return real_link(source, destination)

    monkeypatch.setattr(os, "link", racing_link)
    assert load_or_create_jwt_secret(str(tmp_path / "chat.db")) == "the-other-one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.db.jwt-secret"]


# -- the twistd plugin ----------------------------------------------------------------

TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"


def run_twisted(*argv: str, cwd, environ=None):
    """Run a Twisted command line outside the checkout, so only the install counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAIR_", "PYTHON"))}
    env.update(environ or {})
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plugin_is_listed(tmp_path):
    result = run_twisted("-m", "twisted", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "lairchat" in result.stdout


@pytest.mark.parametrize("runner", [["-m", "twisted"], ["-c", TWISTD, "-n", "--pidfile="]])
def test_configuration_error_exits_2_without_traceback(tmp_path, runner):
    result = run_twisted(*runner, "lairchat", cwd=tmp_path, environ={"LAIR_HTTP_PORT": "70000"})
    assert result.returncode == 2
    assert result.stderr == textwrap.dedent(
        """\
        lairchat: LAIR_HTTP_PORT: must be an integer from 0 to 65535, got '70000'
        """
    )


def test_a_short_jwt_secret_is_refused():
    message = error(LAIR_JWT_SECRET="short")
    assert message.startswith("LAIR_JWT_SECRET: must be at least 32 bytes;")
    assert "short" not in message


def test_help_names_every_setting_and_version_is_lairchats(capsys) -> None:
    """A new user reads --help for the settings: the environment-only ones too."""
    from lairchat import __version__
    from lairchat.config import _SETTINGS, Options

    text = "".join(str(Options()).split())  # Twisted wraps inside a long name
    assert all(s.env in text for s in _SETTINGS if s.env)
    with pytest.raises(SystemExit) as done:
        Options().parseOptions(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"lairchat {__version__}\n"


def test_a_proxy_on_the_unix_socket_may_be_trusted():
    """Behind a proxy on a Unix socket every client is 'unix': trusting it is the
    only way to tell clients apart (rate limits, the login lockout)."""
    assert load(LAIR_TRUSTED_PROXIES="unix,10.0.0.0/8").trusted_proxies == ("unix", "10.0.0.0/8")


def test_the_header_trusted_proxies_name_clients_in():
    assert load().forwarded_header is None
    assert load(LAIR_FORWARDED_HEADER="X-Real-IP").forwarded_header == "x-real-ip"
    assert load("--forwarded-header", "x-forwarded-for").forwarded_header == "x-forwarded-for"
    with pytest.raises(ConfigError, match="^LAIR_FORWARDED_HEADER: .*x-forwarded-for, x-real-ip"):
        load(LAIR_FORWARDED_HEADER="forwarded")


def test_an_idle_timeout_within_the_clients_ping_interval_is_warned_of():
    """Found in the standing notes: any positive idle timeout was taken silently, and
    one of 30 s or less drops every client that only reads (they ping every 30 s)."""
    from lairchat.config import doubtful_settings

    assert doubtful_settings(load()) == []
    assert doubtful_settings(load(LAIR_IDLE_TIMEOUT="31")) == []
    (warning,) = doubtful_settings(load(LAIR_IDLE_TIMEOUT="30"))
    assert warning.startswith("LAIR_IDLE_TIMEOUT=30: clients ping every 30 s")
    (warning,) = doubtful_settings(load("--idle-timeout", "0.5"))
    assert warning.startswith("--idle-timeout=0.5: ")


def test_handshake_and_login_timeouts_too_short_for_real_clients_are_warned_of():
    """Found in the standing notes: like the idle timeout, these took any positive
    value silently; 0.5 s closes a client on a distant link before its hello."""
    from lairchat.config import doubtful_settings

    assert doubtful_settings(load(LAIR_HANDSHAKE_TIMEOUT="5", LAIR_AUTH_TIMEOUT="10")) == []
    (warning,) = doubtful_settings(load(LAIR_HANDSHAKE_TIMEOUT="0.5"))
    assert warning.startswith("LAIR_HANDSHAKE_TIMEOUT=0.5: a client on a slow or distant link")
    (warning,) = doubtful_settings(load("--auth-timeout", "3"))
    assert warning.startswith("--auth-timeout=3: a client that connects before")
