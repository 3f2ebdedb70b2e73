"""The library database: the source of truth for roots, tracks, tags, vectors and models.

One SQLite file (WAL) in the data folder, schema in docs/architecture.md ("Database") and
core/library/schema.py.  Every statement runs inside ``with lib.transaction() as conn:`` (or
``lib.read()``); methods that take a ``conn`` argument are meant to be batched by the caller inside
one transaction (a scan writes a few hundred tracks per commit), the others open their own.

The hnswlib index (core/search/index.py) and the features cache (:class:`FeatureCache`) are caches:
everything in them can be rebuilt from this file or from the audio.
"""

from __future__ import annotations

from pathlib import Path

from songsim_desktop.core.library.duplicate_marks import DuplicateMarksMixin
from songsim_desktop.core.library.descriptors import DescriptorsMixin, TrackDescriptors
from songsim_desktop.core.library.feature_cache import FeatureCache
from songsim_desktop.core.library.judgements import JudgementsMixin
from songsim_desktop.core.library.models import ModelsMixin
from songsim_desktop.core.library.records import (
    TAG_SOURCES,
    TRACK_STATES,
    ModelRecord,
    Root,
    KnownTrack,
    TrackRecord,
    normalise_tag,
    normalise_tags,
    now_iso,
)
from songsim_desktop.core.library.schema import LIBRARY_MIGRATIONS
from songsim_desktop.core.library.sections import SectionsMixin
from songsim_desktop.core.library.store import SqliteStore
from songsim_desktop.core.library.tags import TagsMixin
from songsim_desktop.core.library.tracks import TracksMixin, normalise_root
from songsim_desktop.core.library.vectors import VectorsMixin

__all__ = [
    "FeatureCache",
    "Library",
    "ModelRecord",
    "Root",
    "TRACK_STATES",
    "TAG_SOURCES",
    "KnownTrack",
    "TrackDescriptors",
    "TrackRecord",
    "normalise_tag",
    "normalise_tags",
    "normalise_root",
    "now_iso",
]


class Library(TracksMixin, VectorsMixin, SectionsMixin, TagsMixin, ModelsMixin, JudgementsMixin,
              DuplicateMarksMixin, DescriptorsMixin, SqliteStore):
    """``Library(path)`` opens (creating and migrating) the library database at ``path``.

    Its methods, grouped by table in this package's modules, are the only code that speaks SQL
    to the library database.
    """

    kind = "library database"

    def __init__(self, path: str | Path):
        super().__init__(path, LIBRARY_MIGRATIONS)
