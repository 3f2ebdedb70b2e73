"""The duplicate finder's job: candidates from section vectors, a strict fingerprint check, groups.

1. Candidates (candidates.py): track pairs whose section vectors lie close.  Loose on purpose.
2. Strict check: each candidate track is fingerprinted once (cached in the library), each pair
   aligned (fingerprint.align); a pair is one recording only when nearly all of the aligned
   overlap agrees (``MIN_MATCHING``) and the overlap covers nearly all of the shorter file
   (``MIN_COVERAGE``): a trimmed, padded or re-encoded copy, or a file contained in a longer one.
   Other tracks of one album, one composer or one loop family sound alike but do not agree bit
   for bit, or agree only over a part of the shorter file.  Thresholds: bench/bench_duplicates.py,
   chosen on the validation split.
3. Groups: union-find over confirmed pairs only, leaving out pairs the user marked "not
   duplicates".  Nothing is ever deleted or moved.
"""

from __future__ import annotations

import os
from typing import Generator, Optional

from songsim_desktop.core.duplicates.candidates import candidate_pairs, closest_sections, tracks_in
from songsim_desktop.core.duplicates.fingerprint import FRAME_S, Alignment, Fingerprint, align, fingerprint_file
from songsim_desktop.core.duplicates.report import Copy, DuplicateGroup, DuplicatesReport, PairEvidence
from songsim_desktop.core.duplicates.sources import SectionSource
from songsim_desktop.core.progress import CancelToken, Progress, RateMeter

MIN_MATCHING = 0.9  # share of aligned blocks whose fingerprints agree
MIN_COVERAGE = 0.9  # share of the shorter file the aligned overlap covers
MAX_BER = 0.25  # bit error rate over the whole overlap (unrelated audio: ~0.45)
# MIN_MATCHING, MIN_COVERAGE and candidates.MAX_DISTANCE: chosen on the validation split by
# bench/bench_duplicates.py (docs/benchmarks.md, "Issue 13").


def is_same_recording(alignment: Alignment, min_matching: float = MIN_MATCHING,
                      min_coverage: float = MIN_COVERAGE) -> bool:
    return (alignment.matching >= min_matching and alignment.coverage >= min_coverage
            and alignment.ber <= MAX_BER)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _fingerprint(library, record) -> Fingerprint:
    """The track's fingerprint from the cache, else decoded now (and cached when we may write)."""
    cached = library.stored_fingerprint(record.id, record.size, record.mtime_ns)
    if cached is not None:
        return Fingerprint.from_bytes(cached)
    fp = fingerprint_file(record.path)
    if not library.read_only:
        library.put_fingerprint(record.id, record.size, record.mtime_ns, fp.to_bytes())
    return fp


def _copy(record, sample_rate: int, fp: Fingerprint) -> Copy:
    duration = float(record.duration_s or 0.0)
    size = int(record.size or 0)
    return Copy(record.id, record.path, record.title or os.path.basename(record.path), (record.format or "").upper(),
                duration, sample_rate, size * 8 / 1000 / duration if duration > 0 else 0.0, size,
                float(fp.valid.sum() * FRAME_S))


def _sample_rate(path: str) -> int:
    from songsim_desktop.core import audio  # only for the few files that end up in a group

    try:
        return int(audio.probe(path).sample_rate)
    except Exception:  # noqa: BLE001 - a file that vanished since: its rate is unknown, not fatal
        return 0


def duplicates_job(library, source: SectionSource, cancel: Optional[CancelToken] = None,
                   min_matching: float = MIN_MATCHING, min_coverage: float = MIN_COVERAGE,
                   max_distance: Optional[float] = None) -> Generator[Progress, None, DuplicatesReport]:
    """Find groups of copies of one recording among the library's ok tracks (never changes a file)."""
    cancel = cancel or CancelToken()
    meter = RateMeter()
    report = DuplicatesReport(source=source.name)
    yield meter.progress("duplicates", 0, 0, f"reading {source.name}")
    sections = source.sections()
    cancel.check()
    kwargs = {} if max_distance is None else {"max_distance": max_distance}
    pairs = sorted(candidate_pairs(sections, **kwargs))
    report.candidates = len(pairs)
    records = {t.id: t for t in library.tracks(states=("ok",))}
    wanted = sorted(t for t in tracks_in(pairs) if t in records)
    prints: dict[int, Fingerprint] = {}
    for done, track_id in enumerate(wanted):
        cancel.check()
        yield meter.progress("fingerprint", done, len(wanted), os.path.basename(records[track_id].path))
        try:
            prints[track_id] = _fingerprint(library, records[track_id])
        except Exception as err:  # noqa: BLE001 - one unreadable file must not stop the search
            report.failed.append((records[track_id].path, f"while fingerprinting {records[track_id].path}: {err}"))
    marked = library.not_duplicate_pairs()
    groups = _UnionFind()
    evidence: list[PairEvidence] = []
    meter = RateMeter()
    for done, (a, b) in enumerate(pairs):
        if done % 64 == 0:
            cancel.check()
            yield meter.progress("confirm", done, len(pairs))
        if a not in prints or b not in prints:
            continue
        found = align(prints[a], prints[b])
        if not is_same_recording(found, min_matching, min_coverage):
            continue
        report.confirmed += 1
        if tuple(sorted((records[a].path, records[b].path))) in marked:
            report.ignored += 1
            continue
        groups.union(a, b)
        evidence.append(PairEvidence(a, b, float(found.matching), float(found.coverage), float(found.offset_s),
                                     float(found.ber), closest_sections(sections[a], sections[b])))
    members: dict[int, list[int]] = {}
    for track_id in groups.parent:
        members.setdefault(groups.find(track_id), []).append(track_id)
    for root, ids in members.items():
        if len(ids) < 2:
            continue
        copies = [_copy(records[i], _sample_rate(records[i].path), prints[i]) for i in sorted(ids)]
        report.groups.append(DuplicateGroup(copies, [e for e in evidence if groups.find(e.a) == root]))
    report.groups.sort(key=lambda g: g.copies[0].path)
    yield meter.progress("confirm", len(pairs), len(pairs), f"{len(report.groups)} groups")
    return report
