"""Settings: round trip, atomic save, schema migration, and survival of a broken file."""

from __future__ import annotations

import json

import pytest

from songsim_desktop import settings as settings_mod
from songsim_desktop.errors import SongsimError
from songsim_desktop.settings import SCHEMA_VERSION, Settings


def test_defaults_when_no_file():
    loaded = settings_mod.load()
    assert loaded == Settings()
    assert loaded.schema_version == SCHEMA_VERSION


def test_round_trip_keeps_every_field(isolated_data_dir):
    original = Settings(
        window_geometry="AdnQywAD", splitter_states={"search": "AAAA/w=="},
        current_tab="training", volume=0.35, auto_preview=False, loop=True,
        result_count=40, train_epochs=3, train_loss="triplet", train_folder_tags=False, train_file_tags=False,
        last_open_dir="/music/ä",
    )
    path = settings_mod.save(original)
    # Settings live in the config dir that SONGSIM_DATA_DIR isolates, never in the real home.
    assert str(path).startswith(str(isolated_data_dir))
    assert settings_mod.load() == original


def test_save_is_atomic_and_leaves_no_temp_files():
    settings_mod.save(Settings(volume=0.1))
    settings_mod.save(Settings(volume=0.2))
    folder = settings_mod.settings_path().parent
    assert sorted(p.name for p in folder.iterdir()) == ["settings.json"]
    assert json.loads(settings_mod.settings_path().read_text())["volume"] == 0.2


def test_schema_1_is_migrated():
    path = settings_mod.settings_path()
    path.write_text(json.dumps({"schema_version": 1, "library_folder": "/music", "volume": 50,
                                "auto_preview": False}))
    loaded = settings_mod.load()
    assert loaded.schema_version == SCHEMA_VERSION
    assert loaded.volume == pytest.approx(0.5)
    assert loaded.auto_preview is False


def test_a_saved_tab_index_becomes_a_tab_key():
    # Files before the tab registry stored the front tab as an index, which an added tab would shift.
    assert settings_mod.from_dict({"schema_version": 2, "current_tab": 1}).current_tab == "search"
    assert settings_mod.from_dict({"schema_version": 2, "current_tab": 2}).current_tab == "training"
    assert settings_mod.from_dict({"schema_version": 2, "current_tab": 9}).current_tab == "library"
    assert settings_mod.from_dict({"schema_version": 2}).current_tab == "library"
    assert settings_mod.from_dict({"schema_version": 1, "current_tab": 1}).current_tab == "search"


def test_file_without_version_counts_as_schema_1():
    loaded = settings_mod.from_dict({"library_folder": "", "volume": 100})
    assert loaded.volume == 1.0


def test_newer_schema_keeps_known_fields_and_drops_unknown():
    loaded = settings_mod.from_dict({"schema_version": SCHEMA_VERSION + 5, "volume": 0.3, "hologram": True})
    assert loaded.volume == pytest.approx(0.3)
    assert loaded.schema_version == SCHEMA_VERSION


def test_out_of_range_values_are_clamped():
    loaded = settings_mod.from_dict({"schema_version": 2, "volume": 7, "train_loss": "magic", "result_count": 0})
    assert loaded.volume == 1.0 and loaded.train_loss == "contrastive" and loaded.result_count == 1


def test_corrupt_file_gives_defaults_and_is_kept_aside():
    path = settings_mod.settings_path()
    path.write_text("{not json")
    assert settings_mod.load() == Settings()
    assert not path.exists()
    assert path.with_suffix(".json.bad").read_text() == "{not json"


def test_unwritable_target_raises_a_clear_error(tmp_path, monkeypatch):
    # Simulated, because this CI runs as root, which ignores folder permissions.
    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(settings_mod.os, "replace", failing_replace)
    with pytest.raises(SongsimError, match="while saving settings to .*settings.json"):
        settings_mod.save(Settings())
    assert [p.name for p in settings_mod.settings_path().parent.iterdir()] == []


def test_schema_2_forgets_the_active_model():
    """Regression (issue 9, bug 2): the library database alone says which model is active."""
    path = settings_mod.settings_path()
    path.write_text(json.dumps({"schema_version": 2, "active_model": "0123456789abcdef", "volume": 0.4,
                                "folders": ["/music"]}))
    loaded = settings_mod.load()
    assert loaded.schema_version == SCHEMA_VERSION == 3
    assert not hasattr(loaded, "active_model") and loaded.volume == 0.4
    assert not hasattr(loaded, "folders")  # the library's roots are the folders
    settings_mod.save(loaded)
    assert "active_model" not in json.loads(path.read_text())
