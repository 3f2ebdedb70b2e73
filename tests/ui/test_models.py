"""Table models: incremental merge, error reasons, filter-as-you-type, numeric sort, drag out as files."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from songsim_desktop.core.reports import Match, TrackRow
from songsim_desktop.ui import actions
from songsim_desktop.ui.models import RecordFilterProxy, ResultTableModel, TrackTableModel


def row(i, title, duration, state="ok", error=None, genre=None, tags=()):
    return TrackRow(i, f"/music/{title}.flac", title, "Artist", "Album", genre, duration, "flac", state, error,
                    list(tags))


def test_update_merges_in_place(qtbot):
    model = TrackTableModel()
    model.update([row(1, "a", 10.0), row(2, "b", 20.0)])
    inserted, changed = [], []
    model.rowsInserted.connect(lambda *a: inserted.append(a[1:]))
    model.dataChanged.connect(lambda tl, br: changed.append(tl.row()))
    model.update([row(1, "a", 10.0), replace(row(2, "b", 20.0), tags=["dark"]), row(3, "c", 5.0)])
    assert inserted == [(2, 2)] and changed == [1]  # only the new row inserted, only the changed one redrawn
    assert [model.record(i).id for i in range(3)] == [1, 2, 3]
    model.update([row(3, "c", 5.0)])
    assert model.rowCount() == 1 and model.row_of(3) == 0


def test_error_rows_show_their_reason():
    model = TrackTableModel()
    model.update([row(1, "bad", None, state="error", error="while decoding /music/bad.flac: file is empty")])
    state = model.data(model.index(0, 6))
    assert state == "error: while decoding /music/bad.flac: file is empty"
    assert "file is empty" in model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(0, 6), Qt.ItemDataRole.ForegroundRole) is not None


def test_filter_as_you_type_and_numeric_sort():
    model = TrackTableModel()
    model.update([row(1, "Night drive", 100.0, genre="synthwave"), row(2, "Morning", 9.0, tags=["dark"]),
                  row(3, "Noon", 61.0)])
    proxy = RecordFilterProxy(model)
    proxy.sort(3, Qt.SortOrder.AscendingOrder)  # duration: 9 s < 61 s < 100 s (not "0:09" < "1:01" < "1:40")
    assert [proxy.record(i).id for i in range(3)] == [2, 3, 1]
    proxy.set_filter_text("SYNTH")
    assert [proxy.record(i).id for i in range(proxy.rowCount())] == [1]
    proxy.set_filter_text("dark")  # tags are searchable too
    assert [proxy.record(i).id for i in range(proxy.rowCount())] == [2]
    proxy.set_filter_text("")
    assert proxy.rowCount() == 3


def test_results_show_rank_distance_similarity_and_drag_as_files():
    model = ResultTableModel()
    model.set_matches([Match(7, "/music/ä b.wav", 0.2, 90.0, None, "X", ["pads"]),
                       Match(9, "/music/c.wav", 0.5, 75.0, "C", None, [])])
    cells = [model.data(model.index(0, c)) for c in range(6)]
    assert cells == ["1", "ä b", "X", "0.200", "90 %", "pads"]
    mime = model.mimeData([model.index(0, 0), model.index(0, 3), model.index(1, 0)])
    assert [u.toLocalFile() for u in mime.urls()] == ["/music/ä b.wav", "/music/c.wav"]
    assert mime.text() == "/music/ä b.wav\n/music/c.wav"
    assert model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsDragEnabled


def test_m3u_export(tmp_path):
    out = actions.export_m3u(tmp_path / "list.m3u", [("/music/ä.flac", "Ä", "Band", 61.4),
                                                      ("/music/x.wav", None, None, None)])
    assert out.read_text(encoding="utf-8") == ("#EXTM3U\n#EXTINF:61,Band - Ä\n/music/ä.flac\n"
                                               "#EXTINF:-1,x\n/music/x.wav\n")
