"""Similar in what way: the sound, rhythm and harmony aspects, their sliders' weights, and the tempo
and key filters (issue 12; docs/architecture.md, "Issue 12").

A query first takes the ``CANDIDATES`` nearest tracks of the learned embedding from the index
(:class:`CandidateSet`); moving a slider or changing a filter only re-ranks that set, in memory, with
numpy: well under a millisecond for 500 candidates, whatever the library's size.  Each aspect's
distance is divided by its median over the candidates, so the weights mix comparable numbers:

- sound: the embedding's Euclidean distance (timbre, instrumentation, production);
- rhythm: tempo distance in octaves (half or double tempo is a near miss, not a match) plus the
  distance between onset-pattern vectors (core/descriptors/rhythm.py);
- harmony: distance between the 24 key-correlation vectors (core/descriptors/key.py): the same key
  is nearest, relative and fifth-related keys (which share six of seven notes) next.

Why a candidate set is enough: 500 is 5 % of a 10,000-track library, and bench/bench_descriptors.py
measures how much of the exhaustive (whole-library) aspect ranking's top 10 it keeps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from songsim_desktop.core.descriptors import camelot, tempo as tempo_rules
from songsim_desktop.core.reports import Match

ASPECTS = ("sound", "rhythm", "harmony")
CANDIDATES = 500
RHYTHM_TEMPO_SHARE = 0.6  # of the rhythm distance; the rest is the onset pattern's
OCTAVE_PENALTY = 0.25  # half or double tempo counts as this many octaves apart (same tempo: 0)
PRESET_TEMPO_TOLERANCE = 0.06  # "match tempo and key": within 6 % of the query's tempo (or half/double)


@dataclass(frozen=True)
class AspectWeights:
    sound: float = 1.0
    rhythm: float = 0.0
    harmony: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "AspectWeights":
        """'sound=1,rhythm=0.5,harmony=0' (aspects left out weigh 0; ValueError saying what is wrong)."""
        weights = {name: 0.0 for name in ASPECTS}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            name = name.strip().lower()
            if not sep or name not in ASPECTS:
                raise ValueError(f"{part!r}: expected ASPECT=WEIGHT with ASPECT one of {', '.join(ASPECTS)}")
            try:
                weights[name] = float(value)
            except ValueError:
                raise ValueError(f"{part!r}: the weight must be a number") from None
            if not np.isfinite(weights[name]) or weights[name] < 0:
                raise ValueError(f"{part!r}: the weight must be a number >= 0")
        if not any(weights.values()):
            raise ValueError("at least one aspect needs a weight above 0")
        return cls(**weights)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrackFilter:
    """Which tracks a ranking may show.  A track with no tempo (or key) fails a tempo (or key) filter."""

    bpm: Optional[tuple[float, float]] = None  # (lo, hi) BPM
    octave_aware: bool = False  # the BPM range also accepts half and double tempo
    compatible_with: Optional[str] = None  # a Camelot code: keep keys that mix with it

    def accepts(self, tempo: Optional[float], code: Optional[str]) -> bool:
        if self.bpm is not None and (tempo is None or not tempo_rules.within(tempo, *self.bpm, self.octave_aware)):
            return False
        if self.compatible_with is not None and (code is None or not camelot.compatible(self.compatible_with, code)):
            return False
        return True

    @property
    def active(self) -> bool:
        return self.bpm is not None or self.compatible_with is not None


def parse_bpm_range(text: str) -> tuple[float, float]:
    """'118-126' -> (118.0, 126.0); ValueError saying what is wrong."""
    lo, sep, hi = text.partition("-")
    try:
        low, high = float(lo), float(hi)
    except ValueError:
        raise ValueError(f"{text!r} is not a BPM range like 118-126") from None
    if not sep or not (0 < low <= high):
        raise ValueError(f"{text!r} is not a BPM range like 118-126 (low <= high, both above 0)")
    return low, high


def match_tempo_and_key(query_tempo: Optional[float], query_code: Optional[str]) -> TrackFilter:
    """The preset: within ``PRESET_TEMPO_TOLERANCE`` of the query's tempo (half/double counts) and a
    key compatible with the query's.  A query without a tempo (or key) leaves that part open."""
    bpm = None
    if query_tempo:
        bpm = (query_tempo * (1 - PRESET_TEMPO_TOLERANCE), query_tempo * (1 + PRESET_TEMPO_TOLERANCE))
    return TrackFilter(bpm=bpm, octave_aware=True, compatible_with=query_code)


@dataclass
class Described:
    """A track's descriptors as the ranking needs them (None where unknown)."""

    tempo: Optional[float] = None
    code: Optional[str] = None  # Camelot
    key: Optional[str] = None  # "A minor"
    rhythm: Optional[np.ndarray] = None
    harmony: Optional[np.ndarray] = None

    @classmethod
    def of(cls, record) -> "Described":
        """From a library ``TrackDescriptors`` (or None) or from ``core.descriptors.describe``'s dict."""
        if record is None:
            return cls()
        get = record.get if isinstance(record, dict) else lambda name: getattr(record, name, None)
        tonic, mode = get("key_tonic"), get("key_mode")
        known = tonic is not None and mode is not None
        return cls(get("tempo") or None, camelot.camelot(int(tonic), mode) if known else None,
                   camelot.key_name(int(tonic), mode) if known else None, get("rhythm"), get("harmony"))


def _unit_rows(rows: list, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(matrix of unit rows, mask of known rows of length ``dim``); unknown rows are zeros."""
    out, known = np.zeros((len(rows), dim)), np.zeros(len(rows), dtype=bool)
    for i, r in enumerate(rows):
        if r is not None and len(r) == dim:
            v = np.asarray(r, dtype=np.float64)
            out[i], known[i] = v / max(np.linalg.norm(v), 1e-12), True
    return out, known


def _normalised(d: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``d`` over its median among known candidates; unknown ones rank after every known one."""
    if not known.any():
        return np.zeros_like(d)
    scale = float(np.median(d[known])) or float(np.max(d[known])) or 1.0
    out = d / scale
    out[~known] = (out[known].max() if known.any() else 0.0) + 1.0
    return out


@dataclass
class CandidateSet:
    """The embedding's nearest tracks to one query, with their descriptors: what the sliders re-rank."""

    matches: list[Match]
    described: list[Described]
    query: Described = field(default_factory=Described)

    def __post_init__(self) -> None:
        self.sound = np.array([m.distance for m in self.matches], dtype=np.float64)
        self.tempi = np.array([d.tempo or np.nan for d in self.described], dtype=np.float64)
        self.codes = [d.code for d in self.described]
        self._rhythm = self._aspect_distances([d.rhythm for d in self.described], self.query.rhythm)
        self._harmony = self._aspect_distances([d.harmony for d in self.described], self.query.harmony)
        tempo_known = np.isfinite(self.tempi) & (self.query.tempo is not None)
        self._tempo = (self._tempo_distances(), tempo_known)

    @staticmethod
    def _aspect_distances(rows: list, query) -> tuple[np.ndarray, np.ndarray]:
        if query is None:
            return np.zeros(len(rows)), np.zeros(len(rows), dtype=bool)
        matrix, known = _unit_rows(rows, len(query))
        q = np.asarray(query, dtype=np.float64)
        q = q / max(np.linalg.norm(q), 1e-12)
        return np.linalg.norm(matrix - q, axis=1), known

    def _tempo_distances(self) -> np.ndarray:
        if self.query.tempo is None:
            return np.zeros(len(self.tempi))
        with np.errstate(invalid="ignore", divide="ignore"):
            octaves = np.abs(np.log2(self.tempi / self.query.tempo))
        # Same tempo 0; half or double tempo OCTAVE_PENALTY (a near miss); anything else its distance.
        return np.nan_to_num(np.minimum(octaves, np.abs(octaves - 1) + OCTAVE_PENALTY), nan=0.0)

    def aspect_distances(self) -> dict[str, np.ndarray]:
        """Each aspect's distance per candidate, divided by its median over the candidates."""
        sound = _normalised(self.sound, np.ones(len(self.sound), dtype=bool))
        tempo = _normalised(*self._tempo)
        pattern = _normalised(*self._rhythm)
        rhythm = RHYTHM_TEMPO_SHARE * tempo + (1 - RHYTHM_TEMPO_SHARE) * pattern
        return {"sound": sound, "rhythm": rhythm, "harmony": _normalised(*self._harmony)}

    def rank(self, weights: AspectWeights = AspectWeights(), track_filter: TrackFilter = TrackFilter(),
             k: int = 10) -> list[Match]:
        """The ``k`` best candidates by the weighted aspect distances, those ``track_filter`` accepts,
        with ``tempo`` and ``key`` filled in."""
        if not self.matches:
            return []
        w = weights.as_dict()
        total = sum(w.values()) or 1.0
        parts = self.aspect_distances()
        score = sum(w[a] / total * parts[a] for a in ASPECTS if w[a])
        order = np.lexsort((self.sound, score))  # ties: the nearer sound first
        out = []
        for i in order:
            d = self.described[i]
            if track_filter.active and not track_filter.accepts(d.tempo, d.code):
                continue
            out.append(dataclasses.replace(self.matches[i], tempo=d.tempo, key=d.key))
            if len(out) == k:
                break
        return out


def with_descriptors(matches: list[Match], library) -> list[Match]:
    """``matches`` with ``tempo`` and ``key`` filled from the library's descriptors."""
    found = library.descriptors([m.track_id for m in matches])
    out = []
    for m in matches:
        d = Described.of(found.get(m.track_id))
        out.append(dataclasses.replace(m, tempo=d.tempo, key=d.key))
    return out


def candidate_set(matches: list[Match], library, query: Described) -> CandidateSet:
    found = library.descriptors([m.track_id for m in matches])
    return CandidateSet(matches, [Described.of(found.get(m.track_id)) for m in matches], query)


def reference_described(library, path: str, sample_rate: int) -> Described:
    """The descriptors of a query file: stored ones when it is an unchanged library track, else
    computed now from its middle 30 s (as a scan would; about 2 s the first time: librosa's import)."""
    import os

    from songsim_desktop.core import audio
    from songsim_desktop.core.analysis import sample_hooks
    from songsim_desktop.core.scan import identity_of

    real = os.path.realpath(path)
    track = library.track_by_path(real)
    if track is not None and track.state == "ok":
        now = identity_of(real)
        stored = library.descriptors([track.id]).get(track.id)
        if stored is not None and (now.size, now.mtime_ns) == (track.size, track.mtime_ns):
            return Described.of(stored)
    return Described.of(sample_hooks.describe_file(real, audio.probe(real), sample_rate) or None)


def descriptor_columns(library, track_ids) -> dict[str, np.ndarray]:
    """``tempo`` (float, NaN unknown) and ``key`` ("A minor (8A)", "" unknown) arrays in ``track_ids`` order."""
    found = library.descriptors([int(t) for t in track_ids])
    described = [Described.of(found.get(int(t))) for t in track_ids]
    return {"tempo": np.array([d.tempo if d.tempo else np.nan for d in described], dtype=np.float64),
            "key": np.array([f"{d.key} ({d.code})" if d.key else "" for d in described], dtype=str)}
