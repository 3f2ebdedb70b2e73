"""The GUI completes, after start-up, the tracks an older songsim scanned (ui/backfill.py), and a scan
started meanwhile is not refused."""

from __future__ import annotations

import logging
import shutil

import pytest

from songsim_desktop.core.service import SongsimService
from ui.conftest import wait_idle


def make_old(svc) -> list[int]:
    """What an older songsim left: vectors, but no section vectors and no tempo or key."""
    ids = sorted(t.id for t in svc.tracks())
    with svc.library.transaction() as conn:
        for table in ("sections", "descriptors", "undescribed"):
            conn.execute(f"DELETE FROM {table}")
    svc.features.delete(ids[::2])
    return ids


@pytest.fixture
def old_service(scanned_template, isolated_data_dir):
    shutil.copytree(scanned_template, isolated_data_dir, dirs_exist_ok=True)
    svc = SongsimService()
    make_old(svc)
    yield svc
    svc.close()


def messages_of(window, level=logging.WARNING) -> list[str]:
    seen: list[str] = []
    window.ctx.message.connect(lambda text, lvl: seen.append(text) if lvl >= level else None)
    return seen


def test_the_tracks_of_an_older_scan_are_completed_after_start_up(qtbot, old_service, make_window):
    assert old_service.status()["to_complete"] == len(old_service.tracks())
    window = make_window(old_service)  # waits for the start-up work, the backfill included
    wait_idle(qtbot, window)
    assert old_service.status()["to_complete"] == 0
    rows = window.ctx.tracks_model.rows
    assert rows and all(r.key for r in rows)  # the Key column is filled without a rescan
    assert "completed tracks scanned by an older songsim" in window.log_view.toPlainText()


def test_a_scan_started_while_the_backfill_runs_goes_first(qtbot, scanned_service, make_window):
    window = make_window(scanned_service)
    errors = messages_of(window)
    make_old(scanned_service)
    runner = window.ctx.backfill
    runner.retry_timer.setInterval(50)  # not a minute: the test waits for the retry
    runner.start()
    scan = window.library_tab.start_scan(None)  # whichever takes the writer lock first, the scan is not refused
    with qtbot.waitSignal(window.library_tab.scanFinished, timeout=120000) as finished:
        pass
    assert scan is not None and finished.args[0] is not None and not finished.args[0].failed
    qtbot.waitUntil(lambda: scanned_service.status()["to_complete"] == 0 and not runner.running
                    and not runner.retry_timer.isActive(), timeout=120000)
    wait_idle(qtbot, window)
    assert errors == []
