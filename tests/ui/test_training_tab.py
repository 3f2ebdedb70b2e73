"""Training tab: tag editing and imports, missing torch, and a tiny fine-tune that activates a new model."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from songsim_desktop import training
from ui.conftest import FAMILIES, wait_for_worker, wait_idle


def select_rows(tab, predicate):
    tab.table.clearSelection()
    for r in range(tab.proxy.rowCount()):
        if predicate(tab.proxy.record(r)):
            tab.table.selectionModel().select(tab.proxy.index(r, 0), tab.table.selectionModel().SelectionFlag.Select
                                              | tab.table.selectionModel().SelectionFlag.Rows)


def test_add_and_remove_tags_on_selected_tracks(qtbot, scanned_service, make_window):
    window = make_window(scanned_service)
    tab = window.training_tab
    select_rows(tab, lambda t: "sine-straight" in t.path)
    assert len(tab.selected_track_ids()) == 2
    qtbot.keyClicks(tab.tag_edit, "bright, pads")
    qtbot.mouseClick(tab.add_tag_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    tagged = {t.id: set(t.tags) for t in window.ctx.tracks_model.rows}
    sine_ids = set(tab.selected_track_ids())
    assert all({"bright", "pads"} <= tagged[i] for i in sine_ids)
    assert all(not ({"bright", "pads"} & tagged[i]) for i in tagged if i not in sine_ids)
    assert scanned_service.tag_counts()["bright"] == 2
    qtbot.waitUntil(lambda: any(tab.tag_counts_list.item(i).text() == "bright  (2)"
                                for i in range(tab.tag_counts_list.count())))
    # Remove one tag from one track.
    select_rows(tab, lambda t: t.id == min(sine_ids))
    tab.tag_edit.setText("pads")
    tab.remove_tags_from_selected()
    wait_idle(qtbot, window)
    assert scanned_service.tag_counts()["pads"] == 1
    assert "removed pads on 1 track(s)" in window.status_label.text()


def test_import_tags_from_folder_names(qtbot, scanned_service, make_window):
    window = make_window(scanned_service)
    worker = window.training_tab.import_folder_tags()
    wait_for_worker(qtbot, worker)
    wait_idle(qtbot, window)
    counts = scanned_service.tag_counts()
    assert {f.name for f in FAMILIES} <= set(counts)
    assert all(counts[f.name] == 2 for f in FAMILIES)
    assert "imported" in window.status_label.text()


def test_without_torch_the_tab_explains_how_to_install(qtbot, scanned_service, make_window, monkeypatch):
    monkeypatch.setattr(training, "available", lambda: False)
    window = make_window(scanned_service)
    tab = window.training_tab
    assert tab.start_button is None
    assert "pip install 'songsim-desktop[train]'" in tab.install_hint.text()
    assert tab.install_hint.isVisibleTo(tab)
    # The tag editor and the model list still work.
    assert tab.proxy.rowCount() == 2 * len(FAMILIES)
    assert tab.models_panel.models_list.count() == 1


@pytest.mark.skipif(not training.available(), reason="needs the training extra (torch)")
def test_tiny_fine_tune_makes_and_activates_a_new_model(qtbot, scanned_service, make_window):
    window = make_window(scanned_service)
    tab = window.training_tab
    for family in FAMILIES:  # user tags: one per family, the signal fine-tuning learns from
        ids = [t.id for t in window.ctx.tracks_model.rows if f"/{family.name}/" in t.path]
        scanned_service.add_tags(ids, [family.timbre], source="user")
    default_id = scanned_service.active_model_id()
    tab.epochs_spin.setValue(1)
    worker = tab.start_training()
    assert not tab.start_button.isEnabled() and tab.cancel_button.isEnabled()
    wait_for_worker(qtbot, worker, timeout=240000)
    assert not window.status_label.text().startswith("error"), window.status_label.text()
    report = tab.last_report
    assert report is not None and not report.cancelled
    wait_idle(qtbot, window)
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled()
    assert report.model_id and report.model_id != default_id
    assert scanned_service.active_model_id() == report.model_id
    assert tab.losses, "the loss curve got points"
    assert len(tab.loss_line.get_xdata()) == len(tab.losses)
    assert "after" in tab.val_label.text() and "—" not in tab.val_label.text().split("after")[1]
    items = [tab.models_panel.models_list.item(i).text() for i in range(tab.models_panel.models_list.count())]
    assert len(items) == 2 and any(report.model_id in t and t.startswith("●") for t in items)
    # Back to the default at any time.
    worker = tab.models_panel.activate_default_model()
    wait_for_worker(qtbot, worker, timeout=120000)
    wait_idle(qtbot, window)
    assert scanned_service.active_model_id() == default_id


def test_import_tags_from_file_metadata_uses_each_genre():
    from songsim_desktop.core.reports import TrackRow
    from songsim_desktop.ui.training_tab import import_file_tags

    class Library:
        added = []

        def tracks(self):
            def row(i, genre):
                return TrackRow(i, f"/m/{i}.flac", None, None, None, genre, 1.0, "flac", "ok", None)

            return [row(1, "Techno"), row(2, "techno; Ambient"), row(3, None), row(4, "House/Deep House")]

        def add_tags(self, ids, tags, source="user"):
            self.added.append((sorted(ids), list(tags), source))

    library = Library()
    assert import_file_tags(library) == 5  # track-tag pairs: techno x2, ambient, house, deep house
    assert sorted(library.added) == [([1, 2], ["techno"], "file"), ([2], ["ambient"], "file"),
                                     ([4], ["deep house"], "file"), ([4], ["house"], "file")]


@pytest.mark.skipif(not training.available(), reason="needs the training extra (torch)")
def test_cancel_fine_tuning_keeps_the_active_model(qtbot, scanned_service, make_window):
    window = make_window(scanned_service)
    tab = window.training_tab
    tab.folder_tags_box.setChecked(True)
    tab.import_folder_tags()
    wait_idle(qtbot, window)
    default_id = scanned_service.active_model_id()
    worker = tab.start_training()
    worker.signals.progress.connect(lambda _p: tab.cancel_button.click())  # at the first report
    wait_for_worker(qtbot, worker, timeout=120000)
    wait_idle(qtbot, window)
    assert "cancelled" in window.status_label.text() or "stopped" in window.status_label.text()
    assert scanned_service.active_model_id() == default_id
    assert len(scanned_service.models()) == 1
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled()
