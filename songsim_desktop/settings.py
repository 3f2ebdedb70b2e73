"""Typed GUI settings with a schema version, saved atomically beside the other per-user config.

The GUI keeps what a person arranged (folders, window layout, volume, auto-preview) across
launches: view state only.  What the library is (its tracks, tags, models and which model is active)
lives in the library database alone, so the CLI and the GUI can never disagree about it.  The file is JSON in ``paths.config_dir()``; a save writes a temp file and
``os.replace``s it, so a crash mid-save never leaves half a file.  Older schema versions are
migrated on load; an unreadable file is set aside (``settings.json.bad``) and defaults are used,
because losing a layout must never stop the app from starting.  No Qt here: geometry and splitter
states are stored as the base64 text Qt gives us.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from songsim_desktop import atomic, paths
from songsim_desktop.errors import SongsimError
from songsim_desktop.training import LOSSES  # the training entry point (torch-free)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
SETTINGS_FILENAME = "settings.json"


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    splitter_states: dict[str, str] = field(default_factory=dict)  # splitter name -> base64 state
    current_tab: str = "library"  # key of the tab in front (ui/tabs.py), not an index: added tabs shift nothing
    volume: float = 0.8  # 0..1
    auto_preview: bool = True
    loop: bool = False
    result_count: int = 25
    train_epochs: int = 5
    train_loss: str = "contrastive"
    train_folder_tags: bool = True  # learn from folder-name tags as well as the user's own
    train_file_tags: bool = True  # ... and from file-metadata tags
    last_open_dir: str = ""

    def __post_init__(self) -> None:
        # Clamp rather than refuse: a hand-edited file with volume 3 should still start the app.
        self.volume = min(1.0, max(0.0, float(self.volume)))
        self.result_count = min(500, max(1, int(self.result_count)))
        self.train_epochs = min(1000, max(1, int(self.train_epochs)))
        if self.train_loss not in LOSSES:
            self.train_loss = LOSSES[0]


def settings_path(config_dir: str | os.PathLike | None = None) -> Path:
    return paths.config_dir(config_dir) / SETTINGS_FILENAME


def migrate(data: dict) -> dict:
    """Bring a settings dict of any older schema to SCHEMA_VERSION, one step at a time."""
    data = dict(data)
    version = int(data.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        # Written by a newer songsim: keep the fields we know, drop the rest.
        log.warning("settings schema %s is newer than %s; unknown fields ignored", version, SCHEMA_VERSION)
        version = SCHEMA_VERSION
    if version == 1:
        # Schema 1 (the first prototype) had one "library_folder" and a 0..100 integer volume.  The
        # music folders now live only in the library database (its roots), so the folder is dropped.
        data.pop("library_folder", None)
        if "volume" in data:
            data["volume"] = float(data["volume"]) / 100.0
        version = 2
    if version == 2:
        # Schema 2 also remembered the active model, a second copy of the library's own record that
        # switched back (and re-embedded) after `songsim models activate`: the database decides now.
        data.pop("active_model", None)
        version = 3
    data["schema_version"] = version
    if isinstance(data.get("current_tab"), int):
        # Files from before the tab registry hold the front tab as an index into the three tabs of then.
        # (By type, not version: it needs no schema step of its own.)
        index, tabs_then = data["current_tab"], ("library", "search", "training")
        data["current_tab"] = tabs_then[index] if 0 <= index < len(tabs_then) else tabs_then[0]
    return data


def from_dict(data: dict) -> Settings:
    data = migrate(data)
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: v for k, v in data.items() if k in known})


def load(config_dir: str | os.PathLike | None = None) -> Settings:
    """The saved settings, or defaults when there are none or they cannot be read."""
    path = settings_path(config_dir)
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
        return from_dict(data)
    except (OSError, ValueError, TypeError) as err:
        bad = path.with_suffix(path.suffix + ".bad")
        log.warning("while reading settings %s: %s; using defaults (old file kept as %s)", path, err, bad)
        try:
            os.replace(path, bad)
        except OSError:
            pass
        return Settings()


def save(settings: Settings, config_dir: str | os.PathLike | None = None) -> Path:
    """Write atomically: a temp file in the same folder, then os.replace over the old one."""
    path = settings_path(config_dir)
    settings.schema_version = SCHEMA_VERSION
    text = json.dumps(asdict(settings), indent=2, sort_keys=True)
    try:
        atomic.write_text(path, text, durable=True)
    except OSError as err:
        raise SongsimError(str(err), path=path, action="saving settings to") from err
    return path
