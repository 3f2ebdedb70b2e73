"""The tab registry: the window composes the registered tabs in order and switches between them by key."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from songsim_desktop.ui import tabs
from songsim_desktop.ui.tabs import TABS, TabSpec


def test_the_window_shows_the_registered_tabs_in_order(qtbot, empty_service, make_window):
    window = make_window(empty_service)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [s.plain_title for s in TABS]
    assert [window.tabs.widget(i) for i in range(window.tabs.count())] == [window.pages[s.key] for s in TABS]
    assert window.tabs.tabToolTip(1).endswith("(Ctrl+2)")
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    entries = {a.text(): a for a in view.actions()}
    for position, spec in enumerate(TABS, start=1):
        assert entries[spec.title].shortcut().toString() == f"Ctrl+{position}"
        entries[spec.title].trigger()
        assert window.current_tab_key() == spec.key


def test_a_new_tab_is_one_registry_line_and_others_switch_to_it_by_key(qtbot, empty_service, make_window,
                                                                      monkeypatch):
    made = []

    def overview_tab(ctx):  # (the real "map" tab exists since issue 13: a key of its own here)
        made.append(ctx)
        return QLabel("an overview of the library")

    monkeypatch.setattr(tabs, "TABS", TABS[:1] + (TabSpec("overview", "&Overview", "The library at a glance",
                                                          overview_tab),) + TABS[1:])
    window = make_window(empty_service)
    assert made == [window.ctx] and window.tabs.tabText(1) == "Overview"
    # Keys, not indices: the tabs after the new one are still found by their keys.
    window.show_tab("search")
    assert window.tabs.currentWidget() is window.search_tab and window.tabs.currentIndex() == 2
    window.ctx.showTabRequested.emit("overview")
    assert window.current_tab_key() == "overview" and isinstance(window.tabs.currentWidget(), QLabel)
    window.show_tab("no such tab")  # e.g. a saved key of a tab since removed: nothing changes
    assert window.current_tab_key() == "overview"
    window.store_layout(window.ctx.settings)
    assert window.ctx.settings.current_tab == "overview"

