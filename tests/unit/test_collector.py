"""The collector policy of the long-running processes (lairchat.collector)."""

from __future__ import annotations

import gc

from lairchat import collector


def test_settle_heap_freezes_what_lives_and_makes_young_passes_rarer() -> None:
    before = gc.get_threshold()
    try:
        frozen_before = gc.get_freeze_count()
        collector.settle_heap()
        assert gc.get_freeze_count() > frozen_before
        assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, before[1], before[2])
        assert before[0] < collector.YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
