"""``--ca-file`` and ``--insecure``: one :class:`Trust` for every transport, read at
start, refused there with one line when it cannot be honoured; and the reasons the
client gives when a server's certificate is refused.

That the trust really verifies (right CA, other CA, other host name, over REST, TCP+TLS
and WSS) is shown against a live server in tests/integration/test_client_ca_file.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from OpenSSL import SSL
from service_identity import VerificationError
from service_identity.exceptions import DNSMismatch, IPAddressMismatch
from service_identity.hazmat import DNS_ID, IPAddress_ID

from lairchat.client.config import parse_args
from lairchat.client.net.errors import UNTRUSTED, network_code
from lairchat.client.net.tls import SYSTEM_TRUST, Trust
from lairchat.client.testing import write_private_ca

UNVERIFIED = SSL.Error([("SSL routines", "", "certificate verify failed")])


def test_the_ca_file_is_read_at_start_into_the_trust(tmp_path: Path) -> None:
    ca = str(write_private_ca(tmp_path).ca)
    config = parse_args(["--tls", "--ca-file", ca])
    assert (config.trust.ca_file, config.trust.insecure) == (ca, False)
    assert config.trust.roots is not None
    assert config.trust != SYSTEM_TRUST
    # another address typed on the login screen keeps it
    assert config.with_server("localhost:9000").trust is config.trust
    ws = parse_args(["--websocket", "--http-url", "https://chat.example", "--ca-file", ca])
    assert ws.with_address("wss://other.example/ws").trust is ws.trust


def unusable_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name → (the --ca-file, what the client says about it)."""
    pki = write_private_ca(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.pem"
    return {
        "missing": (missing, f"cannot read {missing}: No such file or directory"),
        "directory": (tmp_path, f"cannot read {tmp_path}: Is a directory"),
        "not PEM": (garbage, f"{garbage} holds no PEM certificate"),
        "empty": (empty, f"{empty} holds no PEM certificate"),
        "a key, not a certificate": (pki.key, f"{pki.key} holds no PEM certificate"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "directory", "not PEM", "empty", "a key, not a certificate"]
)
def test_an_unusable_ca_file_stops_the_start_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    path, said = unusable_files(tmp_path)[case]
    with pytest.raises(SystemExit) as exited:
        parse_args(["--tls", "--ca-file", str(path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"lairchat-client: error: --ca-file: {said}"
    assert "Traceback" not in err


@pytest.mark.parametrize("order", ["ca-file first", "insecure first"])
def test_ca_file_with_insecure_is_refused_as_contradictory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], order: str
) -> None:
    ca = ["--ca-file", str(write_private_ca(tmp_path).ca)]
    argv = [*ca, "--insecure"] if order == "ca-file first" else ["--insecure", *ca]
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "lairchat-client: error: --ca-file and --insecure contradict each other: "
        "verify the server against that CA, or verify nothing"
    )


def test_an_unverifiable_certificate_names_the_cas_that_were_trusted() -> None:
    assert SYSTEM_TRUST.reason(UNVERIFIED) == UNTRUSTED
    assert "--ca-file" in UNTRUSTED and "--insecure" in UNTRUSTED
    private = Trust(ca_file="/etc/lairchat/ca.pem")
    assert private.reason(UNVERIFIED) == (
        "the server's TLS certificate cannot be verified against the CAs in /etc/lairchat/ca.pem"
    )


def test_a_certificate_for_another_host_says_which_host() -> None:
    """service-identity's verdict (Twisted raises it for a wrong host name) is a TLS
    failure with a sentence, not ``network_error`` with the exception's repr."""
    by_name = VerificationError(errors=[DNSMismatch(mismatched_id=DNS_ID("chat.example"))])
    by_address = VerificationError(
        errors=[IPAddressMismatch(mismatched_id=IPAddress_ID("127.0.0.1"))]
    )
    trust = Trust(ca_file="ca.pem")
    assert trust.reason(by_name) == "the server's TLS certificate is not valid for chat.example"
    assert trust.reason(by_address) == "the server's TLS certificate is not valid for 127.0.0.1"
    assert network_code(by_name) == network_code(by_address) == "tls_error"
