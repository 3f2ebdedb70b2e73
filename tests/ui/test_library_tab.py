"""Library tab: scan with progress and cancel, error rows, filtering, first run and the demo library."""

from __future__ import annotations

import functools
import shutil

from PySide6.QtCore import Qt

from songsim_desktop.core import demo_library
from songsim_desktop.ui import library_tab
from ui.conftest import wait_for_worker, wait_idle


def make_folder(music_folder, tmp_path, broken=True):
    folder = tmp_path / "to scan"
    shutil.copytree(music_folder, folder)
    if broken:
        (folder / "broken.mp3").write_bytes(b"this is not audio at all" * 40)
    return folder


def test_scan_shows_progress_fills_the_table_and_reports_errors(qtbot, empty_service, make_window, music_folder,
                                                                 tmp_path):
    window = make_window(empty_service)
    tab = window.library_tab
    assert tab.stack.currentIndex() == 0  # no library yet: the first-run page
    folder = make_folder(music_folder, tmp_path)
    seen = []
    worker_box = {}
    window.ctx.addFolderRequested.emit(str(folder))  # what dropping a folder on the window does
    worker_box["w"] = tab.scan_worker
    tab.scan_worker.signals.progress.connect(seen.append)
    assert tab.stack.currentIndex() == 1 and tab.progress_bar.isVisibleTo(tab) and tab.cancel_button.isVisibleTo(tab)
    with qtbot.waitSignal(tab.scanFinished, timeout=120000) as finished:
        pass
    report = finished.args[0]
    assert report.added == 8 and len(report.failed) == 1
    wait_idle(qtbot, window)
    assert seen and seen[-1].total == 9 and seen[-1].done == 9
    assert not tab.progress_bar.isVisibleTo(tab)  # hidden again when idle
    model = window.ctx.tracks_model
    assert model.rowCount() == 9
    states = {model.record(i).path.rsplit("/", 1)[-1]: model.data(model.index(i, 6)) for i in range(9)}
    assert states["broken.mp3"].startswith("error: ") and "broken.mp3" in states["broken.mp3"]
    assert sum(s == "ok" for s in states.values()) == 8
    assert tab.folder_combo.count() == 1 and window.ctx.service.roots() == [tab.folder_combo.itemText(0)]
    # The failure reached the user: status line and log panel, no dialog.
    assert "1 failed" in window.status_label.text()
    assert "broken.mp3" in window.log_view.toPlainText()
    # Filter as you type, sort by a column.
    qtbot.keyClicks(tab.filter_edit, "bell")
    assert tab.proxy.rowCount() == 2
    tab.filter_edit.clear()
    tab.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    titles = [tab.proxy.index(r, 0).data() for r in range(tab.proxy.rowCount())]
    assert titles == sorted(titles, reverse=True)


def test_rate_and_eta_are_shown_while_scanning(qtbot, empty_service, make_window):
    window = make_window(empty_service)
    from songsim_desktop.core.progress import Progress
    window.library_tab._scan_progress(Progress("scan", 30, 120, rate=12.5, eta_s=75.0))
    assert window.library_tab.progress_label.text() == "scan: 30/120 · 12.5 tracks/s · ETA 1:15"
    assert window.library_tab.progress_bar.value() == 30 and window.library_tab.progress_bar.maximum() == 120


def test_cancel_stops_the_scan_and_keeps_what_was_done(qtbot, empty_service, make_window, music_folder, tmp_path):
    window = make_window(empty_service)
    tab = window.library_tab
    folder = make_folder(music_folder, tmp_path, broken=False)
    worker = tab.start_scan(str(folder))
    worker.signals.progress.connect(lambda _p: tab.cancel_button.click())  # cancel at the first report
    with qtbot.waitSignal(worker.signals.cancelled, timeout=60000):
        pass
    wait_for_worker(qtbot, worker)
    wait_idle(qtbot, window)
    assert "cancelled" in window.status_label.text()
    assert window.ctx.tracks_model.rowCount() < 8
    assert not tab.scanning and tab.rescan_button.isEnabled()


def test_first_run_demo_library_is_generated_and_scanned(qtbot, empty_service, make_window, monkeypatch):
    # A smaller demo (8 tracks of 4 s) keeps the test short; the full plan is checked above.
    monkeypatch.setattr(library_tab, "demo_library_job",
                        functools.partial(demo_library.demo_library_job, per_family=1, seconds=4.0))
    window = make_window(empty_service)
    tab = window.library_tab
    assert tab.stack.currentIndex() == 0 and tab.demo_button.isVisibleTo(tab)
    qtbot.mouseClick(tab.demo_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(tab.scanFinished, timeout=120000) as finished:
        pass
    assert finished.args[0].added == 8
    wait_idle(qtbot, window)
    assert tab.stack.currentIndex() == 1
    assert window.ctx.tracks_model.rowCount() == 8
    demo = demo_library.demo_folder()
    assert [tab.folder_combo.itemText(i) for i in range(tab.folder_combo.count())] == [str(demo)]
    assert len(list(demo.rglob("*.*"))) == 8


def test_removing_a_folder_forgets_its_tracks_but_not_the_files(qtbot, scanned_service, make_window, music_folder):
    window = make_window(scanned_service)
    tab = window.library_tab
    assert tab.stack.currentIndex() == 1 and tab.folder_combo.count() == 1
    files_before = sorted(music_folder.rglob("*.*"))
    tab.remove_current_folder()
    wait_idle(qtbot, window)
    assert window.ctx.tracks_model.rowCount() == 0 and tab.folder_combo.count() == 0
    assert window.ctx.service.roots() == []
    assert tab.stack.currentIndex() == 0  # back to the first-run choices
    assert sorted(music_folder.rglob("*.*")) == files_before


def test_a_folder_added_during_a_scan_is_scanned_next(qtbot, empty_service, make_window, music_folder, tmp_path):
    window = make_window(empty_service)
    tab = window.library_tab
    first, second = tmp_path / "first", tmp_path / "second"
    families = sorted(p for p in music_folder.iterdir() if p.is_dir())
    shutil.copytree(families[0], first / families[0].name)
    shutil.copytree(families[1], second / families[1].name)
    reports = []
    tab.scanFinished.connect(reports.append)
    tab.add_folder(str(first))
    tab.add_folder(str(second))  # while the first scan runs: queued, not refused
    assert "queued" in window.status_label.text()
    qtbot.waitUntil(lambda: len(reports) == 2, timeout=120000)
    wait_idle(qtbot, window)
    assert [r.added for r in reports] == [2, 2]
    assert window.ctx.tracks_model.rowCount() == 4
    assert sorted(tab.folder_combo.itemText(i) for i in range(tab.folder_combo.count())) == \
        sorted([str(first.resolve()), str(second.resolve())])
