"""App-level behaviour: settings persist through the window, menus show shortcuts, errors reach the log."""

from __future__ import annotations

import sys

from songsim_desktop import paths
from songsim_desktop import settings as settings_mod
from songsim_desktop.settings import Settings
from songsim_desktop.ui.app import install_exception_hook
from ui.conftest import wait_idle


def test_layout_volume_and_preview_settings_survive_a_restart(qtbot, scanned_service, make_window):
    first = make_window(scanned_service, settings=Settings())
    first.resize(1111, 777)
    first.show()
    tab = first.search_tab
    tab.volume_slider.setValue(30)
    tab.auto_box.setChecked(False)
    tab.splitter.setSizes([300, 200, 100])
    sizes = tab.splitter.sizes()
    first.show_tab("training")
    first.close()  # closeEvent stores the layout into the settings object
    settings_mod.save(first.ctx.settings)

    loaded = settings_mod.load()
    assert loaded.volume == 0.3 and loaded.auto_preview is False and loaded.current_tab == "training"
    second = make_window(scanned_service, settings=loaded)
    second.show()
    # Qt clamps a restored geometry to the screen (800x600 offscreen), so compare what was saved.
    assert loaded.window_geometry and second.geometry_restored
    assert second.search_tab.splitter.sizes() == sizes
    assert second.search_tab.volume_slider.value() == 30 and second.ctx.player.volume == 0.3
    assert not second.search_tab.auto_box.isChecked()
    assert second.current_tab_key() == "training" and second.tabs.currentWidget() is second.training_tab


def test_menus_show_shortcuts_and_widgets_have_tooltips(qtbot, empty_service, make_window):
    window = make_window(empty_service)
    assert window.play_action.shortcut().toString() == "Space"
    assert window.toggle_action.shortcut().toString() == "T"
    assert window.open_action.shortcut().toString() == "Ctrl+O"
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&Playback", "&View", "&Help"]
    for button in (window.library_tab.add_button, window.library_tab.cancel_button, window.search_tab.play_button,
                   window.search_tab.export_button):
        assert button.toolTip()
    assert window.windowIcon().isNull() is False
    assert (paths.resources_dir() / "songsim.svg").exists() and (paths.resources_dir() / "songsim.qss").exists()
    assert window.width() >= 900 and window.height() >= 600


def test_uncaught_errors_go_to_the_status_line_and_log_panel(qtbot, empty_service, make_window, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    window = make_window(empty_service)
    install_exception_hook(window.ctx)
    try:
        raise ValueError("boom in a slot")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(lambda: "boom in a slot" in window.status_label.text())
    assert window.status_label.text().startswith("error: unexpected error: ValueError")
    assert "boom in a slot" in window.log_view.toPlainText()


def test_dropping_a_non_audio_file_is_refused_politely(qtbot, empty_service, make_window, tmp_path):
    window = make_window(empty_service)
    note = tmp_path / "notes.txt"
    note.write_text("hi")
    from PySide6.QtCore import QUrl
    assert window.handle_drop([QUrl.fromLocalFile(str(note))]) is False
    assert "drop a music folder or an audio file" in window.status_label.text()
    wait_idle(qtbot, window)
    assert window.current_tab_key() == "library"
