"""The plain records the service hands to the CLI and the GUI.

Kept apart from service.py so that the UI, the CLI and the training package can import them
without pulling in the engine (and so service.py stays small).  All are simple dataclasses:
easy to print, compare in tests and turn into JSON (``dataclasses.asdict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from songsim_desktop.core.library import records as library_records


@dataclass
class TrackRow:
    id: int
    path: str
    title: Optional[str]
    artist: Optional[str]
    album: Optional[str]
    genre: Optional[str]
    duration_s: Optional[float]
    format: Optional[str]
    state: str  # 'pending' | 'ok' | 'error' | 'missing'
    error: Optional[str]
    tags: list[str] = field(default_factory=list)
    tempo: Optional[float] = None  # BPM (issue 12), None when not described
    key: Optional[str] = None  # e.g. "A minor"


@dataclass
class Match:
    track_id: int
    path: str
    distance: float  # Euclidean distance between unit vectors, 0..2 (smaller = more alike)
    similarity: float  # 0..100: share of the library's track pairs farther apart (search.similarity_percent)
    title: Optional[str]
    artist: Optional[str]
    tags: list[str] = field(default_factory=list)
    # Filled by the features that know them (None when not computed), one field each:
    offset: Optional[float] = None  # section search: start (s) of the result's best-matching section
    section_distance: Optional[float] = None  # section search: distance of that section to the query
    section_length: Optional[float] = None  # section search: length (s) of the matched span
    judgement: Optional[int] = None  # feedback: +1 liked, -1 disliked, None not judged
    tempo: Optional[float] = None  # BPM
    key: Optional[str] = None  # e.g. "A minor"


@dataclass
class QueryResult:
    reference: str
    model_id: str
    matches: list[Match] = field(default_factory=list)


@dataclass
class ScanReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, note): indexed, but see why

    @property
    def processed(self) -> int:
        return self.added + self.updated + len(self.failed)


@dataclass
class ReembedReport:
    model_id: str = ""
    embedded: int = 0  # tracks that got a vector for model_id in this run
    from_cache: int = 0  # of those, fed from the features cache (no decoding)
    decoded: int = 0  # of those, decoded again because their cache entry was missing
    skipped: int = 0  # already had a vector for model_id (a resumed run)
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False


@dataclass
class BackfillReport:
    """What the backfill (core/backfill.py) gave tracks scanned by an older songsim."""
    model_id: str = ""
    to_do: int = 0  # tracks that lacked section vectors for model_id and/or tempo and key
    sections: int = 0  # tracks that got section vectors for model_id
    described: int = 0  # tracks that got a tempo and a key
    undescribable: int = 0  # described, but too short or silent for a tempo and a key
    from_cache: int = 0  # tracks whose sections came from the cached whole log-mel (no decoding)
    decoded: int = 0  # tracks decoded again (their log-mel was not cached, or tempo and key need audio)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False  # stopped before the end (resumes where it stopped)
    gave_way: bool = False  # stopped because another writer of this process (a scan...) wanted the lock


@dataclass
class TrainReport:
    model_id: Optional[str] = None  # the new model's id, None when cancelled before export
    model_path: Optional[str] = None
    name: str = ""
    epochs: int = 0
    metrics: dict = field(default_factory=dict)  # e.g. {"val_map": 0.41, "baseline_map": 0.30}
    reembed: Optional[ReembedReport] = None
    cancelled: bool = False
    val_map_before: float = float("nan")  # validation tag-retrieval mAP of the parent model
    val_map_after: float = float("nan")  # ... and of the new one
    history: list = field(default_factory=list)  # per epoch: {"epoch", "loss", "val_map", "seconds"}
    failed: list = field(default_factory=list)  # (path, reason) of tracks that could not be decoded


@dataclass
class ModelRecord(library_records.ModelRecord):
    """A registered model as callers see it: the library's record plus whether it is the active one."""
    active: bool = False
