"""Renewed TLS certificates served without a restart (lairchat.tlsreload).

Driven by ``task.Clock`` with the thread work run at once, on certificate files
written in a temporary folder, certbot's way (new files behind symlinks) and in place.
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.protocols.tls import TLSMemoryBIOFactory

from lairchat import tlsreload
from lairchat.config import ConfigError, Options, load_config
from lairchat.observability.metrics import Metrics
from lairchat.service import makeService
from lairchat.tls import load_pair, write_pem
from lairchat.tlsreload import CHECK_INTERVAL, DAY, ReloadingCertificate

NOW = time.time()


def make_pair(folder: Path, name: str, days: float = 90, started: float = -1) -> tuple[Path, Path]:
    """``<name>-cert.pem`` and ``<name>-key.pem``: a self-signed certificate for
    ``CN=<name>.example`` valid from ``started`` to ``days`` days from NOW."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.example")])
    now = datetime.datetime.fromtimestamp(NOW, datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=started))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    write_pem(cert, key, cert_path, key_path)
    return cert_path, key_path


def link(target: Path, name: Path) -> None:
    """Point the symlink ``name`` at ``target`` at once, as certbot does."""
    temporary = name.with_suffix(".new")
    temporary.symlink_to(target)
    os.replace(temporary, name)


def accept(certificates: ReloadingCertificate) -> Any:
    """A TLS connection accepted now, as a listener's TLSMemoryBIOFactory makes it:
    its OpenSSL connection."""
    factory = TLSMemoryBIOFactory(certificates, False, Factory.forProtocol(Protocol), Clock())
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4433))
    protocol.makeConnection(StringTransport())
    return protocol._tlsConnection


def subject(connection: Any) -> str:
    return connection.get_certificate(as_cryptography=True).subject.rfc4514_string()


def served(certificates: ReloadingCertificate) -> str:
    """The subject a connection accepted now is shown."""
    return subject(accept(certificates))


def at_once(f: Any, *args: Any) -> defer.Deferred:
    return defer.maybeDeferred(f, *args)


class Live:
    """A certbot-like folder: ``live/cert.pem`` and ``live/key.pem`` are symlinks into
    ``archive/``; the service watches them on a clock at NOW."""

    def __init__(self, tmp: Path, first: str = "one", **validity: float) -> None:
        self.archive = tmp / "archive"
        self.live = tmp / "live"
        self.live.mkdir()
        self.cert, self.key = self.live / "cert.pem", self.live / "key.pem"
        self.install(first, **validity)
        self.clock = Clock()
        self.clock.advance(NOW)
        self.service = ReloadingCertificate(
            str(self.cert), str(self.key), self.clock, in_thread=at_once
        )

    def install(self, name: str, **validity: float) -> tuple[Path, Path]:
        cert, key = make_pair(self.archive, name, **validity)
        link(cert, self.cert)
        link(key, self.key)
        return cert, key

    def check(self) -> None:
        self.clock.advance(CHECK_INTERVAL)


def lines(events: list[dict], level: LogLevel) -> list[str]:
    return [formatEvent(e) for e in events if e["log_level"] == level]


@pytest.fixture
def live(tmp_path: Path) -> Any:
    watched = Live(tmp_path)
    watched.service.startService()
    yield watched
    watched.service.stopService()


# -- renewals --------------------------------------------------------------------------


def test_a_renewal_behind_symlinks_is_served_to_new_connections_only(live: Live) -> None:
    before = accept(live.service)
    live.install("two")
    assert served(live.service) == "CN=one.example"  # nothing before the check
    with capturedLogs() as events:
        live.check()
    assert served(live.service) == "CN=two.example"
    # A connection accepted before keeps its certificate (and its context).
    assert subject(before) == "CN=one.example"
    (info,) = lines(events, LogLevel.info)
    assert "now serving CN=two.example (expires " in info and str(live.cert) in info
    assert lines(events, LogLevel.warn) == []
    with capturedLogs() as events:
        for _ in range(3):
            live.check()
    assert events == []  # nothing changed: nothing said


def test_a_renewal_written_in_place_is_served(tmp_path: Path) -> None:
    cert, key = make_pair(tmp_path, "one")
    clock = Clock()
    clock.advance(NOW)
    service = ReloadingCertificate(str(cert), str(key), clock, in_thread=at_once)
    service.startService()
    new_cert, new_key = make_pair(tmp_path / "new", "two")
    inode = cert.stat().st_ino
    cert.write_bytes(new_cert.read_bytes())
    key.write_bytes(new_key.read_bytes())
    # Same inode; the times are pushed on in case the writes fell in one clock tick.
    assert cert.stat().st_ino == inode
    for path in (cert, key):
        bumped = path.stat().st_mtime_ns + 1_000_000_000
        os.utime(path, ns=(bumped, bumped))
    clock.advance(CHECK_INTERVAL)
    assert served(service) == "CN=two.example"
    service.stopService()


def test_unchanged_files_are_not_read_again_and_a_touch_changes_nothing(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args[0])
        return load_pair(*args, **kwargs)

    monkeypatch.setattr(tlsreload, "load_pair", counted)
    pair = live.service.pair
    live.check()
    live.check()
    assert reads == []
    os.utime(live.cert.resolve(), ns=(1, 1))  # same text, new time
    with capturedLogs() as events:
        live.check()
    assert len(reads) == 1 and events == []
    assert live.service.pair is pair


# -- refused pairs: the one in use stays ------------------------------------------------


def test_a_renewal_caught_between_certificate_and_key(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new certificate with the old key: refused, one warning however many
    checks see it, read again at each; the key's arrival makes the pair good."""
    reads: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args[0])
        return load_pair(*args, **kwargs)

    monkeypatch.setattr(tlsreload, "load_pair", counted)
    new_cert, new_key = make_pair(live.archive, "two")
    link(new_cert, live.cert)
    with capturedLogs() as events:
        for _ in range(3):
            live.check()
            assert served(live.service) == "CN=one.example"
    (warning,) = lines(events, LogLevel.warn)
    assert f"LAIR_TLS_KEY_PATH: {live.key} does not match the certificate in" in warning
    assert "still serving CN=one.example (expires " in warning
    assert "trying again every 60 s" in warning
    assert len(reads) == 3  # retried at every check
    assert lines(events, LogLevel.info) == []

    link(new_key, live.key)
    with capturedLogs() as events:
        live.check()
    assert served(live.service) == "CN=two.example"
    assert len(lines(events, LogLevel.info)) == 1 and lines(events, LogLevel.warn) == []


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("missing-cert", "LAIR_TLS_CERT_PATH: cannot read"),
        ("garbage-key", "is not a PEM private key"),
        ("unknown-key", "is not a PEM private key (Unknown key type: 1.2.3.4)"),
        ("garbage-cert", "is not a PEM certificate"),
        ("expired", "expired on"),
        ("not-yet-valid", "is not valid before"),
    ],
)
def test_a_bad_pair_keeps_the_one_in_use(live: Live, damage: str, words: str) -> None:
    if damage == "missing-cert":
        live.cert.unlink()
    elif damage.startswith("garbage"):
        garbage = live.archive / "garbage.pem"
        garbage.write_text("half a file\n")
        link(garbage, live.key if damage == "garbage-key" else live.cert)
    elif damage == "unknown-key":  # PKCS #8 naming an algorithm no library knows
        unknown = live.archive / "unknown.pem"
        unknown.write_text(
            "-----BEGIN PRIVATE KEY-----\nMA4CAQAwBQYDKgMEBAIEAA==\n-----END PRIVATE KEY-----\n"
        )
        link(unknown, live.key)
    elif damage == "expired":
        live.install("old", days=-1, started=-90)
    else:  # made on a machine whose clock is a day ahead
        live.install("early", days=91, started=1)
    with capturedLogs() as events:
        live.check()
        live.check()
    assert served(live.service) == "CN=one.example"
    (warning,) = lines(events, LogLevel.warn)
    assert words in warning and "still serving CN=one.example" in warning

    live.install("three")  # repaired
    live.check()
    assert served(live.service) == "CN=three.example"


def test_a_new_fault_in_the_same_files_is_warned_again(live: Live) -> None:
    """One warning per change: of the files, or of what is wrong with them."""
    live.cert.unlink()
    with capturedLogs() as events:
        live.check()
        live.check()
        garbage = live.archive / "garbage.pem"
        garbage.write_text("not yet\n")
        link(garbage, live.cert)
        live.check()
        live.check()
    warnings = lines(events, LogLevel.warn)
    assert len(warnings) == 2
    assert "cannot read" in warnings[0] and "not a PEM certificate" in warnings[1]


# -- expiry -----------------------------------------------------------------------------


def test_a_certificate_near_its_expiry_is_warned_about_once_a_day(tmp_path: Path) -> None:
    watched = Live(tmp_path, days=10)
    with capturedLogs() as events:
        watched.service.startService()
        for _ in range(int(DAY / CHECK_INTERVAL) - 2):
            watched.check()
    (warning,) = lines(events, LogLevel.warn)
    assert "the certificate in use, CN=one.example" in warning
    assert "expires in 9 day(s)" in warning or "expires in 10 day(s)" in warning
    with capturedLogs() as events:
        watched.clock.advance(2 * CHECK_INTERVAL)
    assert len(lines(events, LogLevel.warn)) == 1  # the next day's
    # The renewal ends the warnings.
    watched.install("two")
    with capturedLogs() as events:
        watched.check()
        watched.clock.advance(DAY)
    assert lines(events, LogLevel.warn) == []
    watched.service.stopService()


def test_an_expired_certificate_at_the_start_is_served_with_a_warning(tmp_path: Path) -> None:
    """At the start there is nothing else to serve: it is served, and said to be expired."""
    watched = Live(tmp_path, days=-1, started=-90)
    with capturedLogs() as events:
        watched.service.startService()
    assert served(watched.service) == "CN=one.example"
    (warning,) = lines(events, LogLevel.warn)
    assert "CN=one.example" in warning and "has expired: clients refuse it" in warning
    watched.service.stopService()


def test_a_far_expiry_is_not_warned_about(live: Live) -> None:
    with capturedLogs() as events:
        live.clock.advance(DAY + CHECK_INTERVAL)
    assert lines(events, LogLevel.warn) == []


# -- the service ---------------------------------------------------------------------------


def test_a_bad_pair_at_the_start_stops_it_naming_the_setting(tmp_path: Path) -> None:
    cert, _ = make_pair(tmp_path, "one")
    _, other_key = make_pair(tmp_path, "two")
    with pytest.raises(ConfigError, match="^--tls-key: .* does not match the certificate"):
        ReloadingCertificate(str(cert), str(other_key), Clock(), key_setting="--tls-key")


def test_stopping_ends_the_checks(live: Live) -> None:
    assert len(live.clock.getDelayedCalls()) == 1
    live.service.stopService()
    assert live.clock.getDelayedCalls() == []
    live.install("two")
    live.check()
    assert served(live.service) == "CN=one.example"
    live.service.startService()  # for the fixture's stop


def test_the_interval_is_a_setting(tmp_path: Path, live: Live) -> None:
    environ = {"LAIR_DATABASE_URL": "sqlite::memory:"}
    assert load_config(Options(), environ).tls_reload_interval == CHECK_INTERVAL
    given = load_config(Options(), {**environ, "LAIR_TLS_RELOAD_INTERVAL": "1"})
    assert given.tls_reload_interval == 1.0
    # Found in review: any positive number was accepted, and 1e-9 keeps a core busy
    # looking at two files. The floor is a second.
    for bad in ("0", "0.999", "1e-9", "inf", "nan", "soon"):
        with pytest.raises(
            ConfigError,
            match="^LAIR_TLS_RELOAD_INTERVAL: must be a number of seconds of at least 1, got",
        ):
            load_config(Options(), {**environ, "LAIR_TLS_RELOAD_INTERVAL": bad})

    clock = Clock()
    clock.advance(NOW)
    fast = ReloadingCertificate(str(live.cert), str(live.key), clock, 0.5, in_thread=at_once)
    fast.startService()
    live.install("two")
    clock.advance(0.5)
    assert served(fast) == "CN=two.example"
    fast.stopService()


def test_the_expiry_in_use_is_a_metric(live: Live) -> None:
    metrics = Metrics()
    metrics.certificate_expiry(live.service.not_after)
    live.install("two", days=30)
    live.check()
    expected = live.service.pair.not_after.timestamp()
    assert expected == pytest.approx(NOW + 30 * DAY, abs=1)
    assert expiry_metric(metrics) == pytest.approx(expected)


def expiry_metric(metrics: Metrics) -> float:
    """The value /metrics shows for the certificate's expiry."""
    name = "lair_chat_tls_certificate_expiry_timestamp_seconds "
    (line,) = [x for x in metrics.exposition().decode().splitlines() if x.startswith(name)]
    return float(line.split()[1])


def test_both_listeners_serve_one_reloading_certificate(tmp_path: Path) -> None:
    """makeService: one certificate service for both ports (one check, one log line
    per renewal), started before the listeners, its expiry in /metrics."""
    cert, key = make_pair(tmp_path, "one")
    environ = {
        "LAIR_DATABASE_URL": "sqlite::memory:",
        "LAIR_TCP_PORT": "0",
        "LAIR_HTTP_PORT": "0",
        "LAIR_TLS_ENABLED": "true",
        "LAIR_TCP_TLS": "true",
        "LAIR_TLS_CERT_PATH": str(cert),
        "LAIR_TLS_KEY_PATH": str(key),
    }
    reactor = MemoryReactorClock()
    top = makeService(load_config(Options(), environ), reactor)
    (certificates,) = [s for s in top if isinstance(s, ReloadingCertificate)]
    assert list(top).index(certificates) < list(top).index(top.listeners[0])
    top.privilegedStartService()
    top.startService()
    try:
        assert [server[2] for server in reactor.sslServers] == [certificates, certificates]
        assert certificates.running
        assert expiry_metric(top.metrics) == pytest.approx(certificates.not_after())
    finally:
        top.stopService()
