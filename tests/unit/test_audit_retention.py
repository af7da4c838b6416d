"""Admin audit log entries older than LAIR_AUDIT_RETENTION_DAYS leave the database, in
the always-on hourly sweep (lairchat.core.retention), on its own timer (a task.Clock
here); with no retention (0) they stay for good."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from twisted.internet import task

from lairchat.config import ConfigError, Options, load_config
from lairchat.core import passwords, retention
from lairchat.core.audit import record
from lairchat.core.deferreds import result
from lairchat.testing import make_core
from lairchat.transports.http.testing import CHEAP_HASHER

DAY = 86400


@pytest.fixture
def clock() -> task.Clock:
    clock = task.Clock()
    clock.advance(1_700_000_000)
    return clock


@pytest.fixture
def core(clock: task.Clock, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    return make_core(clock=clock)


def entries(core: Any) -> list[str]:
    return [e.subject_name for e in result(core.store.audit_entries(100))]


def sweep(core: Any, clock: task.Clock, days: int | None) -> None:
    sweeper = retention.ExpiredSessionsService(core.store, clock, audit_days=days, first=0, batch=2)
    sweeper.startService()
    try:
        for _ in range(10):
            clock.advance(retention.PAUSE)
    finally:
        sweeper.stopService()


def made(core: Any, clock: task.Clock, ages: dict[str, int]) -> None:
    user = result(core.auth.register("target", "t@example.com", "password123")).user
    for name, age in ages.items():
        entry = record(None, "user.unban", user, clock.seconds() - age * DAY)
        result(core.store.add_audit(replace(entry, subject_name=name)))


def test_the_sweep_deletes_entries_older_than_the_retention(core, clock) -> None:
    made(core, clock, {"a": 400, "b": 366, "c": 364, "d": 1, "e": 500})
    sweep(core, clock, 365)
    assert entries(core) == ["d", "c"]


def test_without_retention_they_stay(core, clock) -> None:
    made(core, clock, {"a": 4000, "b": 1})
    sweep(core, clock, None)
    assert entries(core) == ["b", "a"]


def test_the_setting(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default database's secret file lands here
    assert load({}).audit_retention_days == 365
    assert load({"LAIR_AUDIT_RETENTION_DAYS": "0"}).audit_retention_days is None
    assert load({"LAIR_AUDIT_RETENTION_DAYS": "30"}).audit_retention_days == 30
    with pytest.raises(ConfigError) as bad:
        load({"LAIR_AUDIT_RETENTION_DAYS": "-1"})
    assert str(bad.value).startswith("LAIR_AUDIT_RETENTION_DAYS: must be")
    assert "or 0 to keep the audit log forever" in str(bad.value)


def load(environ: dict[str, str]) -> Any:
    options = Options()
    options.parseOptions([])
    return load_config(options, environ)
