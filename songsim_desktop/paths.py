"""Where songsim keeps its files.

All app data lives in the per-user data folder chosen by platformdirs (for example
``~/.local/share/songsim`` on Linux).  ``SONGSIM_DATA_DIR`` overrides it: tests point it at a
temporary folder, and users may keep a library on another disk.  Nothing is ever written into a
user's music folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from songsim_desktop.errors import LibraryError

APP_NAME = "songsim"
ENV_DATA_DIR = "SONGSIM_DATA_DIR"

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = _PACKAGE_DIR.parent


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The folder holding the library database, the index cache and fine-tuned models."""
    chosen = override or os.environ.get(ENV_DATA_DIR)
    path = Path(chosen) if chosen else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise LibraryError("it is a file, not a folder (give --data-dir or $SONGSIM_DATA_DIR a folder, "
                           "new or existing)", path=path, action="opening the data folder") from None
    except OSError as err:
        raise LibraryError(f"cannot create it ({err.strerror or err}); give --data-dir or $SONGSIM_DATA_DIR "
                           "a folder you can write", path=path, action="opening the data folder") from None
    return path


def config_dir(override: str | os.PathLike | None = None) -> Path:
    """Settings live beside the data when SONGSIM_DATA_DIR is set, so one variable isolates all."""
    chosen = override or os.environ.get(ENV_DATA_DIR)
    path = Path(chosen) / "config" if chosen else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path(data: Path) -> Path:
    return data / "library.sqlite3"


def index_dir(data: Path) -> Path:
    path = data / "index"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a read-only library: the index is kept in memory (core.search.index says why saving failed)
    return path


def decoder_log_path(data: Path) -> Path:
    """Where decode worker processes send the decoders' own stderr chatter (see core.decoding)."""
    return data / "logs" / "decoders.log"


def user_models_dir(data: Path) -> Path:
    """Fine-tuned models: new files with their own ids; the shipped default is never overwritten."""
    path = data / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _bundled_dir(name: str) -> Path:
    """A read-only folder shipped with the app: the package copy in a wheel, else the repo's own."""
    inside_package = _PACKAGE_DIR / name
    if inside_package.is_dir():
        return inside_package
    return _REPO_DIR / name


def shipped_models_dir() -> Path:
    return _bundled_dir("models")


def resources_dir() -> Path:
    return _bundled_dir("resources")


DEFAULT_MODEL_FILENAME = "songsim-default.onnx"


def default_model_path() -> Path:
    return shipped_models_dir() / DEFAULT_MODEL_FILENAME
