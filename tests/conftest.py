"""Shared test set-up: headless Qt, and every data folder pointed at tmp_path.

No test may touch the real per-user folders: the autouse fixture sets SONGSIM_DATA_DIR for each test.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
# librosa's numba compiles (~30 s) are cached outside the per-user folders, and shared by test runs.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(__import__("tempfile").gettempdir(), "songsim-test-numba"))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    data = tmp_path / "songsim-data"
    monkeypatch.setenv("SONGSIM_DATA_DIR", str(data))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return data
