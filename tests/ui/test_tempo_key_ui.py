"""Tempo and Key columns, the tempo/key filters and the aspect sliders in the GUI (issue 12)."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from songsim_desktop.core.service import SongsimService
from core.tempo_key_library import name_of, scanned_library
from ui.conftest import wait_idle

# The reference "query" shares its key with "chords" only and its tempo and groove with "groove"
# only; "neither" shares neither (core/tempo_key_library.py).
NAMES = ("query", "groove", "chords", "neither")


@pytest.fixture(scope="module")
def described_template(tmp_path_factory):
    return scanned_library(tmp_path_factory.mktemp("tempo-key-ui"), NAMES)


@pytest.fixture
def window(qtbot, described_template, isolated_data_dir, make_window):
    shutil.copytree(described_template, isolated_data_dir, dirs_exist_ok=True)
    svc = SongsimService()
    win = make_window(svc)
    win.ctx.refresh_tracks()
    wait_idle(qtbot, win)
    yield win
    svc.close()


def column(model, name: str) -> int:
    return model.COLUMNS.index(name)


def shown(proxy, col_name: str) -> list[str]:
    col = column(proxy.sourceModel(), col_name)
    return [proxy.data(proxy.index(r, col)) for r in range(proxy.rowCount())]


def names(proxy) -> list[str]:
    return [name_of(proxy.record(r).path) for r in range(proxy.rowCount())]


def test_library_table_shows_sorts_and_filters_tempo_and_key(window):
    tab = window.library_tab
    proxy = tab.proxy
    assert proxy.rowCount() == len(NAMES)
    keys = dict(zip(names(proxy), shown(proxy, "Key")))
    assert keys["query"] == "C major (8B)" and keys["groove"] == "F# minor (11A)"
    tempi = dict(zip(names(proxy), shown(proxy, "Tempo")))
    assert abs(float(tempi["neither"]) - 124.0) < 5 and tempi["neither"].count(".") == 1  # one decimal
    tab.table.sortByColumn(column(proxy.sourceModel(), "Tempo"), Qt.SortOrder.AscendingOrder)  # as numbers
    assert [float(t) for t in shown(proxy, "Tempo")] == sorted(float(t) for t in shown(proxy, "Tempo"))
    tab.table.sortByColumn(column(proxy.sourceModel(), "Key"), Qt.SortOrder.AscendingOrder)  # the Camelot wheel
    assert shown(proxy, "Key") == ["Eb major (5B)", "C major (8B)", "C major (8B)", "F# minor (11A)"]
    tab.tempo_key_filter.set_bpm(118, 126)
    assert names(proxy) == ["neither"]
    tab.tempo_key_filter.set_bpm(70, 80, octave_aware=True)  # 150 BPM is double 75
    assert names(proxy) == ["chords"]
    tab.tempo_key_filter.bpm_box.setChecked(False)
    tab.tempo_key_filter.set_compatible("8A")  # A minor: mixes with C major (8B), not F# minor or Eb major
    assert sorted(names(proxy)) == ["chords", "query"]
    tab.tempo_key_filter.set_compatible(None)
    assert proxy.rowCount() == len(NAMES)


def search_reference(qtbot, window):
    lib = window.library_tab
    row = names(lib.proxy).index("query")
    lib.table.selectRow(row)
    lib.find_similar_selected()
    wait_idle(qtbot, window)
    return window.search_tab


def result_names(tab) -> list[str]:
    return [name_of(m.path) for m in tab.results_model.rows]


def test_search_results_show_tempo_and_key_and_the_sliders_rerank_them(qtbot, window):
    tab = search_reference(qtbot, window)
    assert sorted(result_names(tab)) == ["chords", "groove", "neither"]
    model = tab.results_model
    row = result_names(tab).index("chords")
    assert model.data(model.index(row, column(model, "Key"))) == "C major (8B)"
    assert "C major (8B)" in tab.aspects.reference_label.text()
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.set_weights(harmony=1.0)
    assert result_names(tab)[0] == "chords"
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.set_weights(rhythm=1.0)
    assert result_names(tab)[0] == "groove"
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.sliders["rhythm"].setValue(0)  # all at 0: the default (sound) ranking
    ref_id = next(t.id for t in window.ctx.service.tracks() if t.path.endswith("query.wav"))
    plain = window.ctx.service.query_track(ref_id, k=10).matches
    assert [m.track_id for m in tab.results_model.rows] == [m.track_id for m in plain]


def test_search_filters_and_the_tempo_and_key_preset(qtbot, window):
    tab = search_reference(qtbot, window)
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.filter_bar.set_compatible("compatible with the reference")
    assert result_names(tab) == ["chords"]
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.filter_bar.set_compatible(None)
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.filter_bar.set_bpm(90, 100)
    assert result_names(tab) == ["groove"]
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.preset_box.setChecked(True)  # 96 BPM and a key that mixes with C major: none here
    assert result_names(tab) == []
