"""What the duplicate finder reports: groups of copies, why they were grouped, which copy to keep.

Nothing here (or anywhere in the finder) deletes or moves a file: the report is for the user to
read, export (CSV/JSON) and act on.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from songsim_desktop import atomic

LOSSLESS_FORMATS = frozenset({"WAV", "WAVEX", "W64", "RF64", "FLAC", "AIFF", "AIFC", "ALAC", "CAF", "WV"})


@dataclass(frozen=True)
class Copy:
    """One file of a group, with what decides which copy is best."""

    track_id: int
    path: str
    title: str
    format: str
    duration_s: float
    sample_rate: int
    bitrate_kbps: float  # file size over duration: the coded rate for lossy files
    size: int
    sounding_s: float = 0.0  # seconds that are not silence (padding does not make a copy better)

    @property
    def lossless(self) -> bool:
        return self.format.upper() in LOSSLESS_FORMATS

    def quality_key(self) -> tuple:
        """Higher is better: lossless, then bit rate (of lossy files: a lossless file's size says
        nothing of its quality), then sample rate, then the longer sounding part."""
        return (self.lossless, 0 if self.lossless else round(self.bitrate_kbps), self.sample_rate,
                round(self.sounding_s))


@dataclass(frozen=True)
class PairEvidence:
    """Why two copies were judged one recording (the strict check's numbers)."""

    a: int
    b: int
    matching: float  # share of the aligned overlap's blocks whose fingerprints agree
    coverage: float  # share of the shorter file the overlap covers
    offset_s: float  # where b starts inside a (negative: a starts inside b)
    bit_error_rate: float
    closest_sections: float  # smallest distance between their section vectors (candidate stage)


@dataclass
class DuplicateGroup:
    copies: list[Copy]
    evidence: list[PairEvidence]
    keeper_id: int = 0

    def __post_init__(self) -> None:
        self.copies.sort(key=lambda c: c.quality_key(), reverse=True)
        self.keeper_id = self.copies[0].track_id

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.copies]

    def reason(self) -> str:
        """One line a user can read: how well the copies align, and why the keeper."""
        worst = min(self.evidence, key=lambda e: e.matching)
        offsets = sorted({round(abs(e.offset_s), 1) for e in self.evidence})
        keeper = self.copies[0]
        why = "lossless" if keeper.lossless else f"{keeper.bitrate_kbps:.0f} kb/s"
        return (f"{len(self.copies)} copies; {100 * worst.matching:.0f}% of aligned sections match "
                f"(bit error rate {max(e.bit_error_rate for e in self.evidence):.2f}); offsets "
                f"{', '.join(f'{o:g} s' for o in offsets)}; keep {os.path.basename(keeper.path)} ({why}, "
                f"{keeper.sample_rate} Hz)")


@dataclass
class DuplicatesReport:
    groups: list[DuplicateGroup] = field(default_factory=list)
    candidates: int = 0  # pairs the candidate stage proposed
    confirmed: int = 0  # pairs the strict check confirmed
    ignored: int = 0  # confirmed pairs the user had marked "not duplicates"
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why) files it could not check
    source: str = ""  # which section vectors proposed the candidates

    def to_json(self) -> dict:
        return {
            "source": self.source, "candidates": self.candidates, "confirmed": self.confirmed,
            "ignored": self.ignored, "failed": [list(f) for f in self.failed],
            "groups": [{"keeper": g.keeper_id, "reason": g.reason(),
                        "copies": [dict(asdict(c), lossless=c.lossless, keep=c.track_id == g.keeper_id)
                                   for c in g.copies],
                        "evidence": [asdict(e) for e in g.evidence]} for g in self.groups],
        }

    def to_csv(self) -> str:
        """One row per copy: group number, keep (yes/no), the copy's facts and the group's reason."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["group", "keep", "path", "format", "bitrate_kbps", "sample_rate", "duration_s",
                         "size", "reason"])
        for number, group in enumerate(self.groups, 1):
            for c in group.copies:
                writer.writerow([number, "yes" if c.track_id == group.keeper_id else "no", c.path, c.format,
                                 f"{c.bitrate_kbps:.0f}", c.sample_rate, f"{c.duration_s:.2f}", c.size,
                                 group.reason()])
        return out.getvalue()

    def export(self, path: str | Path) -> None:
        """Write the report as JSON (``.json``) or CSV (anything else), atomically."""
        text = json.dumps(self.to_json(), indent=2) if str(path).lower().endswith(".json") else self.to_csv()
        atomic.write_text(path, text)
