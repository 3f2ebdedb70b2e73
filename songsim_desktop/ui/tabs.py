"""The tab registry: every tab of the window declared once, by key, in the order the window shows them.

The window composes ``TABS`` (tab, tooltip, View-menu entry with Ctrl+<position>); everything else
names a tab by its key (``window.show_tab("search")``, ``ctx.showTabRequested.emit("search")``,
the saved ``Settings.current_tab``), never by its index, so adding a tab is one ``TabSpec`` line
here and shifts nothing that was there before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from PySide6.QtWidgets import QWidget

from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.duplicates_tab import DuplicatesTab
from songsim_desktop.ui.library_tab import LibraryTab
from songsim_desktop.ui.map_tab import MapTab
from songsim_desktop.ui.search_tab import SearchTab
from songsim_desktop.ui.training_tab import TrainingTab


@dataclass(frozen=True)
class TabSpec:
    key: str  # stable name: switching, saved settings and tests use it
    title: str  # with an & mnemonic for the View menu; shown without it on the tab
    tooltip: str
    factory: Callable[[AppContext], QWidget]
    # Fetches the tab's first data (in workers) once the whole window exists; None = nothing to fetch.
    first_fetch: Optional[Callable[[QWidget], object]] = None

    @property
    def plain_title(self) -> str:
        return self.title.replace("&", "")


def _fetch_library(tab: LibraryTab) -> None:
    tab.refresh_folders()


def _fetch_training(tab: TrainingTab) -> None:
    tab.models_panel.refresh_models()
    tab.refresh_tag_counts()
    tab.feedback_panel.refresh_counts()


TABS: tuple[TabSpec, ...] = (
    TabSpec("library", "&Library", "Music folders and the scanned tracks", LibraryTab, _fetch_library),
    TabSpec("search", "&Search", "Reference search, spectrograms and audition", SearchTab),
    TabSpec("training", "&Training", "Tags, fine-tuning and models", TrainingTab, _fetch_training),
    TabSpec("map", "Sound &map", "The whole library laid out by sound", MapTab, MapTab.refresh_map),
    TabSpec("duplicates", "&Duplicates", "Copies of one recording, and which to keep", DuplicatesTab),
)

