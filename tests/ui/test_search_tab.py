"""Search tab: drop a file -> ranked results; spectrograms; audition and A/B with FakeOutput; export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from songsim_desktop.core import synth
from songsim_desktop.core.search import similarity_percent
from songsim_desktop.ui import actions
from songsim_desktop.ui.player import FakeOutput, SoundDeviceOutput
from ui.conftest import FAMILIES, wait_idle


def drop_urls(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    return event


@pytest.fixture
def searched(qtbot, scanned_service, make_window, tmp_path):
    """A window whose reference (a new bell-drone track, outside the library) has been searched."""
    window = make_window(scanned_service)
    reference = synth.write_track(tmp_path / "my reference.flac", FAMILIES[2], 7.0, seed=4242)
    event = drop_urls(window, [reference])
    assert event.isAccepted()
    wait_idle(qtbot, window)
    return window, reference


def test_dropping_a_file_gives_ranked_results(searched):
    window, reference = searched
    tab = window.search_tab
    assert window.tabs.currentWidget() is tab
    assert "my reference" in tab.reference_title.text()
    rows = tab.results_model.rows
    assert len(rows) == 2 * len(FAMILIES)  # k = 25 > library size: every track, ranked
    distances = [m.distance for m in rows]
    assert distances == sorted(distances)
    typical = window.ctx.service.index().typical_distances()
    for i, m in enumerate(rows):
        assert tab.results_model.data(tab.results_model.index(i, 0)) == str(i + 1)
        assert m.similarity == pytest.approx(similarity_percent(m.distance, typical))
        assert tab.results_model.data(tab.results_model.index(i, 4)) == f"{m.similarity:.0f} %"
    assert "8 similar tracks" in tab.reference_detail.text()
    # The reference's spectrogram was computed by a worker and drawn above the results.
    assert tab.reference_view.has_data
    assert window.ctx.player.has_audio and window.ctx.player.label == "reference"


def test_selecting_a_result_draws_its_spectrogram(qtbot, searched):
    window, _ = searched
    tab = window.search_tab
    tab.auto_box.setChecked(False)
    assert tab.audition.auto_preview is False
    tab.select_result(0)
    qtbot.waitUntil(lambda: tab.result_view.has_data, timeout=30000)
    view = tab.result_view
    image = view.image.get_array()
    assert image.shape[0] == 64 and image.shape[1] > 200  # 64 mel bands x ~7 s of frames
    assert np.ptp(image) > 20  # real dB contrast, not a blank picture
    assert view.axes.get_xlabel() == "time (s)" and "Hz" in view.axes.get_ylabel()
    assert view.axes.get_xlim()[1] == pytest.approx(7.0, abs=0.1)
    labels = [t.get_text() for t in view.axes.get_yticklabels()]
    assert "1k" in labels and "100" in labels
    assert view.colorbar is not None and view.colorbar.ax.get_ylabel() == "dB"
    # Clicking the plot asks to seek there.
    window.resize(1200, 900)
    window.show()
    view.canvas.draw()
    x, y = view.axes.transData.transform((3.0, 30))  # display pixels, origin at the bottom left
    ratio = view.canvas.device_pixel_ratio
    click = QPoint(int(round(x / ratio)), int(round(view.canvas.height() - y / ratio)))
    with qtbot.waitSignal(view.seekRequested) as seek:
        qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=click)
    assert seek.args[0] == pytest.approx(3.0, abs=0.1)


def test_audition_ab_from_the_reference_position(qtbot, searched):
    window, _ = searched
    tab, player = window.search_tab, window.ctx.player
    out: FakeOutput = player.output
    tab.audition.play_pause()
    assert player.state == "playing" and tab.play_button.text() == "Pause"
    out.pull(int(1.5 * player._rate))  # 1.5 s of the reference
    qtbot.waitUntil(lambda: tab.reference_view.playhead_s is not None and tab.reference_view.playhead_s > 1.4)
    assert tab.audition.anchor_s == pytest.approx(1.5, abs=0.05)
    # Down in the list: with auto-preview the result plays from the reference's position.
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: player.label == "result", timeout=30000)
    assert player.state == "playing" and player.position_s == pytest.approx(1.5, abs=0.05)
    first_result = tab.audition.previews["result"].path
    out.pull(int(0.5 * player._rate))
    # T (anywhere) and Tab (in the results) toggle back to the reference at the same position.
    window.toggle_action.trigger()
    assert player.label == "reference" and player.position_s == pytest.approx(2.0, abs=0.05)
    qtbot.keyClick(tab.table, Qt.Key.Key_Tab)
    assert player.label == "result" and player.position_s == pytest.approx(2.0, abs=0.05)
    # The next result starts from the reference's position again (the anchor), not the result's.
    tab.move_result(1)
    qtbot.waitUntil(lambda: tab.audition.previews["result"].path != first_result, timeout=30000)
    assert player.position_s == pytest.approx(2.0, abs=0.05)
    # Space pauses, stop rewinds, L loops.
    window.play_action.trigger()
    assert player.state == "paused"
    window.loop_action.trigger()
    assert player.loop and window.ctx.settings.loop
    player.stop()
    assert player.state == "stopped" and player.position_s == 0.0


def test_export_copy_reveal_and_drag_out(qtbot, searched, tmp_path, monkeypatch):
    window, _ = searched
    tab = window.search_tab
    out = tab.export_m3u(str(tmp_path / "similar.m3u"))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 1 + 2 * len(tab.results_model.rows)
    assert lines[2] == tab.results_model.rows[0].path
    assert lines[1].startswith("#EXTINF:7,")  # duration from the library
    tab.select_result(1)
    tab.copy_selected_paths()
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == tab.results_model.rows[1].path
    mime = tab.results_proxy.mimeData([tab.results_proxy.index(1, 0)])
    assert [u.toLocalFile() for u in mime.urls()] == [tab.results_model.rows[1].path]
    opened = []
    monkeypatch.setattr(actions.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    tab.reveal_selected()
    assert opened == [str(Path(tab.results_model.rows[1].path).parent)]


def test_find_similar_on_a_library_track(qtbot, scanned_service, make_window):
    window = make_window(scanned_service)
    lib = window.library_tab
    lib.table.selectRow(0)
    track = lib.selected_tracks()[0]
    lib.find_similar_selected()
    wait_idle(qtbot, window)
    tab = window.search_tab
    assert window.tabs.currentWidget() is tab
    ids = [m.track_id for m in tab.results_model.rows]
    assert len(ids) == 2 * len(FAMILIES) - 1 and track.id not in ids


def test_bad_reference_reaches_the_status_line_not_a_dialog(qtbot, scanned_service, make_window, tmp_path):
    window = make_window(scanned_service)
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF" + b"\0" * 100)
    window.handle_drop([QUrl.fromLocalFile(str(bad))])
    wait_idle(qtbot, window)
    assert window.status_label.text().startswith("error: ")
    assert "corrupt.wav" in window.status_label.text()
    assert window.search_tab.results_model.rowCount() == 0


def test_without_portaudio_the_app_runs_with_audition_disabled(qtbot, scanned_service, make_window, no_portaudio,
                                                               tmp_path):
    window = make_window(scanned_service, output=SoundDeviceOutput())
    tab = window.search_tab
    assert not window.ctx.player.available
    assert "sudo apt-get install libportaudio2" in window.status_label.text()
    assert "sudo apt-get install libportaudio2" in tab.audition_label.text()
    assert not tab.play_button.isEnabled() and not tab.ab_button.isEnabled()
    # Search and spectrograms still work; Space just repeats why audition is off.
    reference = synth.write_track(tmp_path / "ref.wav", FAMILIES[0], 7.0, seed=5)
    window.handle_drop([QUrl.fromLocalFile(str(reference))])
    wait_idle(qtbot, window)
    assert tab.results_model.rowCount() == 2 * len(FAMILIES) and tab.reference_view.has_data
    window.play_action.trigger()
    assert window.ctx.player.state == "stopped"
    assert "libportaudio2" in window.status_label.text()
    assert window.status_label.text().startswith("warning: ")


def test_a_new_search_puts_the_new_reference_in_the_player(qtbot, searched, tmp_path):
    window, _ = searched
    tab, player = window.search_tab, window.ctx.player
    tab.select_result(0)
    qtbot.waitUntil(lambda: player.label == "result", timeout=30000)
    other = synth.write_track(tmp_path / "second reference.wav", FAMILIES[1], 7.0, seed=77)
    tab.query_file(str(other))
    wait_idle(qtbot, window)
    assert player.label == "reference" and player.state != "playing"
    assert tab.audition.previews["reference"].path == str(other)
    assert tab.result_view.has_data is False  # the old result's picture is gone
