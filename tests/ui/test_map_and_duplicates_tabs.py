"""The Sound map tab (hover, click-to-audition, selection -> tag / M3U / find more) and the Duplicates tab."""

from __future__ import annotations

import numpy as np
import soundfile as sf
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtTest import QTest

from songsim_desktop.core import synth
from songsim_desktop.core.progress import drive


def _map_ready(qtbot, window):
    tab = window.pages["map"]
    with qtbot.waitSignal(window.ctx.tracksChanged, timeout=30000):
        window.ctx.refresh_tracks()
    qtbot.waitUntil(lambda: tab.map is not None and len(tab.view.track_ids) == 8, timeout=30000)
    window.show_tab("map")
    window.resize(1000, 700)
    qtbot.waitExposed(window)
    return tab


def _move_to(view, scene_pos: QPointF) -> None:
    view.plot.scene().sigMouseMoved.emit(scene_pos)


def test_hover_shows_the_title_and_click_auditions(qtbot, scanned_service, make_window):
    window = make_window(scanned_service)
    tab = _map_ready(qtbot, window)
    view = tab.view
    track_id = int(view.track_ids[3])
    with qtbot.waitSignal(view.hovered, timeout=5000) as hovered:
        _move_to(view, view.scene_pos_of(track_id))
    assert hovered.args == [track_id]
    title = tab.ctx.tracks_model.record(tab.ctx.tracks_model.row_of(track_id)).title
    assert view.hover_label.isVisible() and view.hover_label.textItem.toPlainText() == title
    _move_to(view, view.scene_pos_of(track_id) + QPointF(500, 500))
    assert view.hovered_id == -1 and not view.hover_label.isVisible()
    # A real click on the point, through the widget: the audition loads that track and plays it.
    widget_pos = view.plot.mapFromScene(view.scene_pos_of(track_id))
    with qtbot.waitSignal(tab.audition.previewShown, timeout=30000) as shown:
        QTest.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         widget_pos)
    path = tab.ctx.tracks_model.record(tab.ctx.tracks_model.row_of(track_id)).path
    assert shown.args[1].path == path
    assert window.ctx.player.has_audio and window.ctx.player.state == "playing"


def test_selection_is_tagged_exported_and_searched_as_one_reference(qtbot, scanned_service, make_window, tmp_path):
    window = make_window(scanned_service)
    tab = _map_ready(qtbot, window)
    view = tab.view
    x0, y0 = view.xy.min(axis=0)
    x1, y1 = view.xy.max(axis=0)
    assert sorted(view.select_in_rect(QRectF(x0 - 1, y0 - 1, x1 - x0 + 2, y1 - y0 + 2))) == sorted(view.track_ids)
    # A lasso around only the left half of the points.
    mid = float(np.median(view.xy[:, 0]))
    left = view.select_in_polygon(np.array([[x0 - 1, y0 - 1], [mid, y0 - 1], [mid, y1 + 1], [x0 - 1, y1 + 1]]))
    expected = {int(t) for t, (x, _y) in zip(view.track_ids, view.xy) if x < mid}
    assert set(left) == expected and 0 < len(left) < 8
    assert tab.tag_button.isEnabled() and tab.selection_label.text() == f"{len(left)} selected"
    tab.tag_edit.setText("Left Side")
    with qtbot.waitSignal(window.ctx.tracksChanged, timeout=30000):
        worker = tab.tag_selection()
        qtbot.waitUntil(lambda: worker.is_done, timeout=30000)
    tagged = {t.id for t in scanned_service.tracks() if "left side" in t.tags}
    assert tagged == expected
    out = tab.export_m3u(str(tmp_path / "sel.m3u8"))
    assert out.read_text().count("#EXTINF") == len(left)
    assert {u.toLocalFile() for u in tab.drag_button.mime_data().urls()} == set(tab.selected_paths())
    # "Find more like these": the search tab answers with the selection as one reference, none of it returned.
    with qtbot.waitSignal(window.ctx.searchAnswered, timeout=30000) as answered:
        tab.find_more_like_these()
    assert window.current_tab_key() == "search"
    result = answered.args[0]
    assert result.matches and not set(left) & {m.track_id for m in result.matches}
    ring_count = len(view.highlight.data)
    assert ring_count == len(result.matches)


def test_duplicates_tab_groups_planted_copies_and_remembers_not_duplicates(qtbot, empty_service, make_window,
                                                                          tmp_path):
    music = tmp_path / "dups"
    music.mkdir()
    song = synth.render(synth.Family("saw", "swing"), 20.0, 22050, seed=5)
    sf.write(str(music / "song.flac"), song, 22050)
    sf.write(str(music / "song.mp3"), song, 22050)
    sf.write(str(music / "other.wav"), synth.render(synth.Family("saw", "swing"), 20.0, 22050, seed=6), 22050)
    drive(empty_service.scan_job(music, workers=0))
    window = make_window(empty_service)
    tab = window.pages["duplicates"]
    # Wait on `delivered`, not on a `finished` signal connected after the search started: a search
    # over cached fingerprints can finish before such a connection exists.
    search = tab.find_duplicates()
    qtbot.waitUntil(lambda: search.delivered, timeout=60000)
    assert tab.tree.topLevelItemCount() == 1
    group = tab.tree.topLevelItem(0)
    files = [group.child(i).text(0) for i in range(group.childCount())]
    assert sorted(p.rsplit("/", 1)[1] for p in files) == ["song.flac", "song.mp3"]
    keep = [group.child(i).text(0) for i in range(group.childCount()) if group.child(i).text(1) == "keep"]
    assert keep == [str(music / "song.flac")] and "aligned sections match" in group.text(0)
    assert tab.export(str(tmp_path / "d.json")) and (tmp_path / "d.json").exists()
    tab.tree.setCurrentItem(group.child(1))
    assert tab.reveal_button.isEnabled()
    worker = tab.mark_selected_not_duplicates()
    qtbot.waitUntil(lambda: worker.is_done, timeout=30000)
    assert tab.tree.topLevelItemCount() == 0
    search = tab.find_duplicates()
    qtbot.waitUntil(lambda: search.delivered, timeout=60000)
    assert tab.tree.topLevelItemCount() == 0 and tab.report.ignored == 1
