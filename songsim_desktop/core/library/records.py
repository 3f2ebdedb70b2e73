"""The records the library database hands out, and the small helpers its queries share.

Import them from ``songsim_desktop.core.library``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timezone
from typing import Iterable, Sequence

import numpy as np

TRACK_STATES = ("pending", "ok", "error", "missing")
TAG_SOURCES = ("user", "file", "folder")
ACTIVE_MODEL_KEY = "active_model"
# SQLite limits the number of ? in one statement (32766 today, 999 in old builds).
CHUNK = 500

TRACK_COLUMNS = (
    "id, path, root_id, size, mtime_ns, duration_s, format, title, artist, album, genre, state, error, scanned_at"
)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def normalise_tag(tag: str) -> str:
    """' Dark   Techno ' -> 'dark techno': tags compare case- and spacing-insensitively."""
    return " ".join(str(tag).split()).lower()


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Normalised, without empties and duplicates, in first-seen order."""
    seen: dict[str, None] = {}
    for tag in tags:
        norm = normalise_tag(tag)
        if norm:
            seen.setdefault(norm, None)
    return list(seen)


@dataclass(frozen=True)
class Root:
    id: int
    path: str
    added_at: str


@dataclass(frozen=True)
class KnownTrack:
    """What the library remembers of a file: what a rescan compares to tell whether it changed."""

    path: str
    size: int | None
    mtime_ns: int | None
    state: str
    id: int | None = None


@dataclass
class TrackRecord:
    id: int
    path: str
    root_id: int | None
    size: int | None
    mtime_ns: int | None
    duration_s: float | None
    format: str | None
    title: str | None
    artist: str | None
    album: str | None
    genre: str | None
    state: str
    error: str | None
    scanned_at: str | None
    tags: list[str] = field(default_factory=list)  # all sources, sorted, unique


@dataclass
class ModelRecord:
    id: str
    name: str
    path: str
    dim: int
    parent_id: str | None = None
    created_at: str = field(default_factory=now_iso)
    metrics: dict = field(default_factory=dict)
    builtin: bool = False


def chunks(items: Sequence, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(n: int) -> str:
    return ",".join("?" * n)


def as_f32(array, what: str, ndim: int) -> np.ndarray:
    out = np.ascontiguousarray(array, dtype="<f4")
    if out.ndim != ndim:
        raise ValueError(f"{what} must have {ndim} dimension(s), got shape {out.shape}")
    if not np.isfinite(out).all():  # one NaN vector would make every query of the index fail
        raise ValueError(f"{what} holds NaN or infinity: it is never stored")
    return out


def model_path_to_store(path: str, data_folder: Path) -> str:
    """A model file inside the data folder is stored relative to it, so moving the whole folder
    (another disk, a new computer) keeps fine-tuned models; others (the shipped one) stay absolute."""
    try:
        return Path(path).resolve().relative_to(data_folder.resolve()).as_posix()
    except ValueError:
        return str(path)


def model_path_from_store(stored: str, data_folder: Path) -> str:
    path = Path(stored)
    if not path.is_absolute():
        return str(data_folder / path)
    # Written before paths were relative: an absolute path into a data folder that has moved since.
    moved = data_folder / path.parent.name / path.name
    if path.parent.name == "models" and not path.exists() and moved.is_file():
        return str(moved)
    return stored
