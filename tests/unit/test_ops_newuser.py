"""A new operator's first commands say what to do next (README.md's operator commands)."""

from __future__ import annotations

import shlex

from lairchat import cli
from lairchat.config import Options, load_config
from lairchat.tls import server_context


def test_certs_dev_says_how_to_serve_and_trust_what_it_wrote(tmp_path, capsys, monkeypatch):
    """Found following README.md: ``lairchat certs dev`` said only which files it
    wrote; the settings that serve them were in certs/README.md. The server command
    it prints now is taken at its word: its settings load, and the files they name
    make a TLS context."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["certs", "dev", "--dir", "my certs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "wrote my certs/dev-cert.pem and my certs/dev-key.pem"
        " (self-signed, for localhost and 127.0.0.1)"
    )
    serve = shlex.split(next(line for line in lines if "twistd" in line))
    environ = dict(word.split("=", 1) for word in serve if word.startswith("LAIR_"))
    assert serve[len(environ) :] == ["twistd", "-n", "--pidfile=", "lairchat"]
    config = load_config(Options(), environ)
    assert config.tls_enabled
    server_context(config.tls_cert_path, config.tls_key_path)  # raises if they do not fit
    assert "curl --cacert 'my certs/dev-cert.pem' https://localhost:8082/health" in lines[-1]
