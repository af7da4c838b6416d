"""Serving the browser client (lairchat/transports/http/web.py, docs/WEB.md), in memory.

What the HTTP port answers for ``/`` and ``/app/...``: types, security headers,
caching, 404s and 405s in the API's envelope, the off switch, and the REST API and
service endpoints unchanged beside it. The files themselves are checked for what the
page's policy forbids (inline script, ``innerHTML``, ``eval``, other origins), and a
built copy of the package is checked to carry them. The browser side is
tests/integration/test_web_client_browser.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from twisted.logger import formatEvent, globalLogPublisher

from lairchat.config import load_config
from lairchat.transports.http import web
from lairchat.transports.http.testing import ApiClient

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    "/": "text/html; charset=utf-8",
    "/app/app.js": "text/javascript; charset=utf-8",
    "/app/app.css": "text/css; charset=utf-8",
    "/app/icon.svg": "image/svg+xml",
}


@pytest.fixture
def client() -> ApiClient:
    return ApiClient(config=SimpleNamespace(web_client=True))


def policy(reply) -> dict[str, str]:
    directives = (d.strip() for d in reply.header("content-security-policy").split(";"))
    return dict(d.split(" ", 1) for d in directives)


# -- what is served ---------------------------------------------------------------------


@pytest.mark.parametrize(("path", "content_type"), FILES.items())
def test_files_are_served_with_their_type_and_headers(client, path, content_type):
    reply = client.get(path)
    assert reply.status == 200
    assert reply.header("content-type") == content_type
    assert reply.header("x-content-type-options") == "nosniff"
    assert reply.header("referrer-policy") == "no-referrer"
    assert reply.header("x-frame-options") == "DENY"
    assert reply.header("cache-control") == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{32}"', reply.header("etag"))
    assert "server" not in reply.headers


def test_the_page_is_the_packaged_index(client):
    page = client.get("/").body
    assert page == (ROOT / "lairchat/web/index.html").read_bytes()
    assert b'<script type="module" src="/app/app.js"></script>' in page


def test_content_security_policy_is_strict(client):
    rules = policy(client.get("/", headers={"Host": "chat.example.com:8082"}))
    assert rules == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
        "connect-src": "'self' ws://chat.example.com:8082 wss://chat.example.com:8082",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
        "require-trusted-types-for": "'script'",
        "trusted-types": "'none'",
    }


@pytest.mark.parametrize(
    ("host", "sockets"),
    [
        (b"localhost:8082", b" ws://localhost:8082 wss://localhost:8082"),
        (b"chat.example.com", b" ws://chat.example.com wss://chat.example.com"),
        (b"[::1]:8082", b" ws://[::1]:8082 wss://[::1]:8082"),
        (b"evil; script-src *", b""),
        (b"a b", b""),
        (b"host:8082/path", b""),
        (b"", b""),
        (None, b""),
    ],
)
def test_the_policy_names_only_a_well_formed_host(host, sockets):
    assert b"connect-src 'self'" + sockets + b";" in web.content_security_policy(host)


def test_an_unchanged_file_is_not_sent_again(client):
    etag = client.get("/app/app.js").header("etag")
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        reply = client.get("/app/app.js", headers={"If-None-Match": header})
        assert (reply.status, reply.body) == (304, b""), header
        assert reply.header("etag") == etag
        assert reply.header("content-security-policy")
    assert client.get("/app/app.js", headers={"If-None-Match": '"other"'}).status == 200


def test_head_gives_the_length_without_the_body(client):
    reply = client.request("HEAD", "/app/app.js")
    assert reply.status == 200 and reply.body == b""
    assert reply.header("content-length") == str(len(client.get("/app/app.js").body))


@pytest.mark.parametrize("path", ["/app/nope.js", "/app/app.js/x"])
def test_head_of_a_missing_file_is_a_404_without_a_body_or_warning(client, path):
    logged: list[str] = []

    def observer(event: dict) -> None:
        logged.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    try:
        reply = client.request("HEAD", path)
    finally:
        globalLogPublisher.removeObserver(observer)
    assert (reply.status, reply.body) == (404, b"")
    assert reply.header("content-length") == str(len(client.get(path).body))
    assert not [line for line in logged if "HEAD request" in line], logged


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client, method):
    for path in ("/", "/app/app.js"):
        reply = client.request(method, path)
        assert (reply.status, reply.code) == (405, "method_not_allowed")
        assert reply.header("allow") == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/app",
        "/app/",
        "/app/nope.js",
        "/app/index.html",
        "/app/__init__.py",
        "/app/app.js/x",
        "/app/%2e%2e/config.py",
        "/app//app.js",
        "//",
        "//app/app.js",
        "/index.html",
    ],
)
def test_unknown_paths_are_the_api_404(client, path):
    reply = client.get(path)
    assert reply.status == 404
    assert reply.header("content-type") == "application/json"
    assert reply.error == {"code": "not_found", "message": "Not found"}


# -- the switch, and the API beside it ------------------------------------------------------


def test_off_by_setting_and_for_the_api_alone(tmp_path):
    environ = {"LAIR_DATABASE_URL": "sqlite::memory:"}
    assert load_config({}, environ).web_client is True
    assert load_config({"web-client": "off"}, environ).web_client is False
    off = load_config({}, {**environ, "LAIR_WEB_CLIENT": "off"})
    assert off.web_client is False
    for config in (off, None):
        api = ApiClient(config=config)
        for path in FILES:
            reply = api.get(path)
            assert (reply.status, reply.code) == (404, "not_found"), (config, path)
    assert ApiClient(config=load_config({}, environ)).get("/").status == 200


def test_the_api_is_unchanged_beside_it(client):
    assert client.get("/health").json["status"] == "healthy"
    assert client.get("/openapi.json").json["openapi"].startswith("3.")
    assert "/" not in client.get("/openapi.json").json["paths"]
    assert client.get("/api/v1/rooms").code == "missing_token"
    for path in ("/nope", "/api/v1/nope", "/api/v1/rooms/", "//api/v1/rooms", "/metrics"):
        assert client.get(path).code == "not_found", path
    for path in ("/health", "/api/v1/rooms"):
        reply = client.get(path)
        assert reply.header("content-security-policy") is None
        assert reply.header("content-type") == "application/json"
    alice = client.register("alice")
    assert client.get("/api/v1/users/me", token=alice.token).json["user"]["id"] == alice.id


def test_preflight_and_rate_limit_hooks_see_the_client_too(client):
    reply = client.request("OPTIONS", "/app/app.js")
    assert reply.status == 200 and reply.body == b""


def test_the_files_carry_no_cors_headers_and_the_api_keeps_its_own(client):
    """The page is for its own origin: no `Access-Control-Allow-Origin: *` lets
    another site read it (or its ETag). The API, a 404 beside it included, is unchanged."""
    for path in FILES:
        for method in ("GET", "HEAD"):
            reply = client.request(method, path)
            assert reply.status == 200, (method, path)
            assert not any(h.startswith("access-control-") for h in reply.headers), path
        etag = client.get(path).header("etag")
        cached = client.get(path, headers={"If-None-Match": etag})
        assert cached.status == 304 and cached.header("access-control-allow-origin") is None
    for path in ("/health", "/api/v1/rooms", "/app/missing.js"):
        reply = client.get(path)
        assert reply.header("access-control-allow-origin") == "*", path
        assert "X-RateLimit-Limit" in reply.header("access-control-expose-headers"), path


# -- the files ------------------------------------------------------------------------------


def test_the_files_keep_to_the_policy():
    page = (ROOT / "lairchat/web/index.html").read_text()
    script = (ROOT / "lairchat/web/app.js").read_text()
    # No inline script, style or handler in the page: the policy would refuse them.
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="/app/app.js">']
    assert "<style" not in page and " style=" not in page and not re.search(r"\son\w+=", page)
    # Server text becomes DOM text only; no code from strings (comments aside).
    code = re.sub(r"//[^\n]*", "", script)
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                   "new Function", "setAttribute(\"on"):  # fmt: skip
        assert banned not in code, banned
    # localStorage (every tab, kept after the browser closes) holds the notification
    # setting and nothing else: never a token.
    uses = re.findall(r"localStorage\b[^\n]*", re.sub(r"/\*.*?\*/", "", code, flags=re.S))
    assert uses and all(re.match(r"localStorage\.\w+Item\(NOTIFY_KEY\b", u) for u in uses), uses
    # Nothing from another origin.
    elsewhere = re.compile(r"(https?:)?//[a-z0-9.-]+\.[a-z]")
    for text in (page, script, (ROOT / "lairchat/web/app.css").read_text()):
        assert not elsewhere.search(text.replace("http://www.w3.org", ""))
    # Every form field has its label.
    for field in re.findall(r'<(?:input|textarea)[^>]*\bid="([^"]+)"', page):
        assert f'<label for="{field}"' in page, field


def test_the_assets_are_read_through_importlib_resources(tmp_path):
    """A built copy of the package (setuptools' build_py: what a wheel holds) serves
    the files from where it is installed, not from this checkout."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy(ROOT / name, source)
    for folder in ("lairchat", "twisted"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    built = tmp_path / "built"
    subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
         "--build-lib", str(built)],
        cwd=source, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert sorted(p.name for p in (built / "lairchat/web").iterdir()) == [
        "__init__.py", "app.css", "app.js", "icon.svg", "index.html",
    ]  # fmt: skip
    shutil.rmtree(source)
    probe = (
        "import lairchat.web, importlib.resources as r;"
        "from lairchat.transports.http.web import load_assets;"
        "print(r.files('lairchat.web'));"
        "print(sorted((n, len(a.body)) for n, a in load_assets().items()))"
    )
    env = {**os.environ, "PYTHONPATH": str(built)}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True,
        text=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    assert out[0] == str(built / "lairchat/web")
    sizes = sorted((n, len(a.body)) for n, a in web.load_assets().items())
    assert out[1] == str(sizes)
