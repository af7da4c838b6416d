"""``--ca-file`` end to end: the client's network layer against a server whose
certificate a private CA signed.

The server is real (``twistd -n lairchat`` with HTTPS, WSS and TLS on its TCP port);
its certificate, for ``localhost`` only, is signed by a throwaway CA
(:func:`lairchat.client.testing.write_private_ca`). The client's own pieces run on the
test's reactor (pytest-twisted): :class:`HttpApi` for REST, and a :class:`Link` over
the TCP and the WebSocket opener, as the interface uses them. With the trust
``--ca-file`` builds:

- naming that CA, a user registers over REST and gets online over TCP+TLS and WSS;
  the same with the self-signed certificate of ``lairchat certs dev`` as its own CA;
- naming another CA, each of REST, TCP+TLS and WSS fails at once and says the
  certificate cannot be verified against the CAs in that file;
- naming the right CA but connecting to ``127.0.0.1``, which the certificate does not
  name, each fails and says the certificate is not valid for ``127.0.0.1``.

Every wait has a deadline, so a client that hangs fails the test instead of stalling it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred

from lairchat.client.net.errors import ServerError
from lairchat.client.net.http import HttpApi
from lairchat.client.net.link import Link, Opener
from lairchat.client.net.tcp import tcp_opener
from lairchat.client.net.tls import Trust, load_trust
from lairchat.client.net.ws import ws_opener
from lairchat.client.testing import PrivateCA, write_private_ca
from lairchat.testing import ServerNotReady, ServerProcess
from lairchat.tls import write_dev_certificate

#: Seconds any one connection may take, success or failure.
WAIT = 10.0
REALTIME = ["tcp+tls", "wss"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return write_private_ca(tmp_path_factory.mktemp("private-ca"))


def tls_server(workdir: Path, cert: Path, key: Path) -> Iterator[ServerProcess]:
    """The body of a module-scoped fixture: a server with TLS on both ports."""
    try:
        srv = ServerProcess(
            workdir,
            LAIR_TLS_ENABLED="true",
            LAIR_TCP_TLS="true",
            LAIR_TLS_CERT_PATH=str(cert),
            LAIR_TLS_KEY_PATH=str(key),
        )
    except ServerNotReady as e:
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pki: PrivateCA) -> Iterator[ServerProcess]:
    yield from tls_server(tmp_path_factory.mktemp("ca-file-server"), pki.cert, pki.key)


@pytest.fixture(scope="module")
def dev_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_dev_certificate(str(tmp_path_factory.mktemp("dev-certificate")))


@pytest.fixture(scope="module")
def dev_server(
    tmp_path_factory: pytest.TempPathFactory, dev_certificate: tuple[Path, Path]
) -> Iterator[ServerProcess]:
    yield from tls_server(tmp_path_factory.mktemp("dev-cert-server"), *dev_certificate)


def rest(server: ServerProcess, host: str, trust: Trust) -> HttpApi:
    return HttpApi(f"https://{host}:{server.http_port}", reactor, trust=trust, timeout=WAIT)


def opener(transport: str, server: ServerProcess, host: str, trust: Trust) -> Opener:
    """What the interface would open with ``--tls`` or ``--websocket`` and this trust."""
    if transport == "wss":
        return ws_opener(reactor, f"wss://{host}:{server.http_port}/ws", trust=trust, timeout=WAIT)
    return tcp_opener(reactor, host, server.tcp_port, tls=True, trust=trust, timeout=WAIT)


class FirstOutcome:
    """A link listener whose ``outcome`` fires when the link is online (with the
    user) or fails (with the :class:`ServerError`)."""

    def __init__(self) -> None:
        self.outcome: Deferred = Deferred()

    def link_state(self, state: str, detail: str) -> None:
        pass

    def link_ready(self, user: dict[str, Any], encrypted: bool, reconnected: bool) -> None:
        self.outcome.callback(user)

    def link_failed(self, error: ServerError) -> None:
        self.outcome.errback(error)

    def link_event(self, event: dict[str, Any]) -> None:
        pass


async def link_outcome(link_opener: Opener, token: str) -> dict[str, Any]:
    """Start a link; the authenticated user, or the link's error raised."""
    listener = FirstOutcome()
    link = Link(reactor, link_opener, token, listener)
    link.start()
    try:
        return await listener.outcome.addTimeout(WAIT, reactor)
    finally:
        link.stop()


async def refusal(transport: str, server: ServerProcess, host: str, trust: Trust) -> ServerError:
    """What the client reports when ``transport`` cannot be used with ``trust``."""
    api = rest(server, host, trust)
    try:
        if transport == "rest":
            await api.call("GET", "/health", auth=False)
        else:
            await link_outcome(opener(transport, server, host, trust), "no-token-needed")
    except ServerError as error:
        return error
    finally:
        await api.close()
    raise AssertionError(f"{transport} to {host} worked with {trust}")


async def online(transport: str, server: ServerProcess, host: str, trust: Trust) -> None:
    """Register over REST, then get online over ``transport``, all with ``trust``."""
    api = rest(server, host, trust)
    name = f"ca_{uuid.uuid4().hex[:8]}"
    try:
        await api.register(name, f"{name}@example.com", "password123")
    finally:
        await api.close()
    user = await link_outcome(opener(transport, server, host, trust), str(api.token))
    assert user["username"] == name


@pytest.mark.parametrize("transport", REALTIME)
@pytest_twisted.ensureDeferred
async def test_the_private_ca_is_trusted_on_every_transport(
    server: ServerProcess, pki: PrivateCA, transport: str
) -> None:
    await online(transport, server, "localhost", load_trust(ca_file=str(pki.ca)))


@pytest.mark.parametrize("transport", REALTIME)
@pytest_twisted.ensureDeferred
async def test_a_development_certificate_is_its_own_ca(
    dev_server: ServerProcess, dev_certificate: tuple[Path, Path], transport: str
) -> None:
    """``lairchat certs dev`` then ``--ca-file certs/dev-cert.pem``: no --insecure."""
    trust = load_trust(ca_file=str(dev_certificate[0]))
    await online(transport, dev_server, "127.0.0.1", trust)


@pytest.mark.parametrize("transport", ["rest", *REALTIME])
@pytest.mark.parametrize("case", ["other CA", "other host name"])
@pytest_twisted.ensureDeferred
async def test_a_certificate_the_trust_does_not_cover_is_refused_clearly(
    server: ServerProcess, pki: PrivateCA, transport: str, case: str
) -> None:
    if case == "other CA":
        host, ca = "localhost", pki.other_ca
        reason = f"the server's TLS certificate cannot be verified against the CAs in {ca}"
    else:
        host, ca = "127.0.0.1", pki.ca
        reason = "the server's TLS certificate is not valid for 127.0.0.1"
    error = await refusal(transport, server, host, load_trust(ca_file=str(ca)))
    if transport == "rest":
        where = f"https://{host}:{server.http_port}"
        assert (error.code, error.message) == (
            "tls_error",
            f"Cannot talk to the server at {where} ({reason})",
        )
    else:
        assert (error.code, error.message) == ("unreachable", reason)


def test_the_certificate_names_localhost_only(pki: PrivateCA) -> None:
    """What the host-name case above rests on."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(Path(pki.cert).read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in names] == ["localhost"]
