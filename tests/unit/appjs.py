"""Run declarations of the browser client (``lairchat/web/app.js``) under Node, as the
page has them: each is read out of the file by its name (not copied into a test) and
evaluated alone in a fresh context with whatever stand-ins a test gives for the rest
of the page. Tests using it are skipped where Node is not installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="needs Node.js to run app.js's code")

APP_JS = Path(__file__).resolve().parents[2] / "lairchat" / "web" / "app.js"


def declaration(source: str, name: str) -> str:
    """The top-level ``const name = ...;`` (or ``let``), ``[async] function[*] name(...)
    {...}`` or ``class name {...}`` of ``source`` (a const ends at the first line ending in ``;``,
    a function or class at its closing brace in the first column)."""
    found = re.search(
        rf"^(?:const|let) {name} =[\s\S]*?;\n|^(?:async )?function\*? {name}\([\s\S]*?\n}}\n"
        rf"|^class {name} [\s\S]*?\n}}\n",
        source,
        re.MULTILINE,
    )
    if found is None:
        raise LookupError(f"app.js declares no {name}")
    return found.group(0)


def run(names: list[str], main: str, cases: Any, prelude: str = "") -> Any:
    """``main`` (a JavaScript expression of a function, maybe async, of ``cases``) run
    after ``prelude`` and app.js's declarations ``names``; its result, through JSON."""
    assert NODE is not None
    source = APP_JS.read_text(encoding="utf-8")
    code = "\n".join(
        [prelude, *(declaration(source, name) for name in names), f"globalThis.main = ({main});"]
    )
    script = (
        'const vm = require("vm"), fs = require("fs");\n'
        "const context = vm.createContext({console, setTimeout, clearTimeout});\n"
        f"vm.runInContext({json.dumps(code)}, context);\n"
        'const cases = JSON.parse(fs.readFileSync(0, "utf8"));\n'
        "Promise.resolve(context.main(cases)).then((out) =>"
        " process.stdout.write(JSON.stringify(out)));\n"
    )
    done = subprocess.run(
        [NODE, "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)
