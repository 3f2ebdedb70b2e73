"""Tempo and Key columns, the tempo/key filters and the aspect sliders in the GUI (issue 12)."""

from __future__ import annotations

import shutil

import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from songsim_desktop.core import synth_music
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService
from ui.conftest import wait_idle

SR = 22050
# name: (bpm, tonic, mode, kit, voice): the reference "ref" shares its key with "same-key" only and
# its tempo and groove with "same-tempo" only.
TRACKS = {
    "ref": (96.0, 0, "major", "acoustic", "organ"),
    "same-tempo": (96.0, 6, "minor", "electronic", "saw"),
    "same-key": (150.0, 0, "major", "lofi", "pluck"),
    "neither": (124.0, 3, "major", "electronic", "piano"),
}


@pytest.fixture(scope="module")
def described_template(tmp_path_factory):
    base = tmp_path_factory.mktemp("tempo-key-ui")
    (base / "music").mkdir()
    for name, (bpm, tonic, mode, kit, voice) in TRACKS.items():
        sf.write(str(base / "music" / f"{name}.wav"),
                 synth_music.mix(bpm, tonic, mode, kit=kit, voice=voice, seconds=14.0, sr=SR), SR)
    svc = SongsimService(base / "data")
    try:
        assert drive(svc.scan_job(base / "music", workers=0)).failed == []
    finally:
        svc.close()
    return base / "data"


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
    return [proxy.record(r).path.rsplit("/", 1)[-1][:-4] for r in range(proxy.rowCount())]


def test_library_table_shows_sorts_and_filters_tempo_and_key(window):
    tab = window.library_tab
    proxy = tab.proxy
    assert proxy.rowCount() == len(TRACKS)
    keys = dict(zip(names(proxy), shown(proxy, "Key")))
    assert keys["ref"] == "C major (8B)" and keys["same-tempo"] == "F# minor (11A)"
    tempi = dict(zip(names(proxy), shown(proxy, "Tempo")))
    assert abs(float(tempi["neither"]) - 124.0) < 5 and tempi["neither"].count(".") == 1  # one decimal
    tab.table.sortByColumn(column(proxy.sourceModel(), "Tempo"), Qt.SortOrder.AscendingOrder)  # as numbers
    assert [float(t) for t in shown(proxy, "Tempo")] == sorted(float(t) for t in shown(proxy, "Tempo"))
    tab.table.sortByColumn(column(proxy.sourceModel(), "Key"), Qt.SortOrder.AscendingOrder)  # the Camelot wheel
    assert shown(proxy, "Key") == ["Eb major (5B)", "C major (8B)", "C major (8B)", "F# minor (11A)"]
    tab.tempo_key_filter.set_bpm(118, 126)
    assert names(proxy) == ["neither"]
    tab.tempo_key_filter.set_bpm(70, 80, octave_aware=True)  # 150 BPM is double 75
    assert names(proxy) == ["same-key"]
    tab.tempo_key_filter.bpm_box.setChecked(False)
    tab.tempo_key_filter.set_compatible("8A")  # A minor: mixes with C major (8B), not F# minor or Eb major
    assert sorted(names(proxy)) == ["ref", "same-key"]
    tab.tempo_key_filter.set_compatible(None)
    assert proxy.rowCount() == len(TRACKS)


def search_reference(qtbot, window):
    lib = window.library_tab
    row = names(lib.proxy).index("ref")
    lib.table.selectRow(row)
    lib.find_similar_selected()
    wait_idle(qtbot, window)
    return window.search_tab


def result_names(tab) -> list[str]:
    return [m.path.rsplit("/", 1)[-1][:-4] for m in tab.results_model.rows]


def test_search_results_show_tempo_and_key_and_the_sliders_rerank_them(qtbot, window):
    tab = search_reference(qtbot, window)
    assert sorted(result_names(tab)) == ["neither", "same-key", "same-tempo"]
    model = tab.results_model
    row = result_names(tab).index("same-key")
    assert model.data(model.index(row, column(model, "Key"))) == "C major (8B)"
    assert "C major (8B)" in tab.aspects.reference_label.text()
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.set_weights(harmony=1.0)
    assert result_names(tab)[0] == "same-key"
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.set_weights(rhythm=1.0)
    assert result_names(tab)[0] == "same-tempo"
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.sliders["rhythm"].setValue(0)  # all at 0: the default (sound) ranking
    ref_id = next(t.id for t in window.ctx.service.tracks() if t.path.endswith("ref.wav"))
    plain = window.ctx.service.query_track(ref_id, k=10).matches
    assert [m.track_id for m in tab.results_model.rows] == [m.track_id for m in plain]


def test_search_filters_and_the_tempo_and_key_preset(qtbot, window):
    tab = search_reference(qtbot, window)
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.filter_bar.set_compatible("compatible with the reference")
    assert result_names(tab) == ["same-key"]
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.filter_bar.set_compatible(None)
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.filter_bar.set_bpm(90, 100)
    assert result_names(tab) == ["same-tempo"]
    with qtbot.waitSignal(tab.aspects.reranked, timeout=5000):
        tab.aspects.preset_box.setChecked(True)  # 96 BPM and a key that mixes with C major: none here
    assert result_names(tab) == []
