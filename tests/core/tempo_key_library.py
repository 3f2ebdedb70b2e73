"""A small library of synthesised tracks whose tempo, key, drum kit and voice are known (issue 12's tests).

Usable from any test (tests/ is on sys.path through tests/conftest.py):
``from core.tempo_key_library import TRACKS, scanned_library``.  Each track is a drum loop under a
chord progression (core/synth_music.py), so the scan's tempo and key come out as written here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import soundfile as sf

from songsim_desktop.core import synth_music
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService

SR = 22050
SECONDS = 16.0
# name: (bpm, tonic, mode, kit, voice).  "query" shares exactly one aspect with each of the next
# three: "groove" its tempo and pattern, "chords" its key (C major, 8B), "timbre" its kit and voice.
# "other" (70 BPM) and "neither" (124 BPM), both Eb major (5B), share none of them.
TRACKS = {
    "query": (96.0, 0, "major", "acoustic", "organ"),
    "groove": (96.0, 6, "minor", "electronic", "saw"),
    "chords": (150.0, 0, "major", "lofi", "pluck"),
    "timbre": (150.0, 6, "minor", "acoustic", "organ"),
    "other": (70.0, 3, "major", "electronic", "piano"),
    "neither": (124.0, 3, "major", "electronic", "piano"),
}


def write_tracks(folder: Path, names: Iterable[str]) -> Path:
    """``<folder>/<name>.wav`` for each of ``names`` (keys of TRACKS); returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        bpm, tonic, mode, kit, voice = TRACKS[name]
        sf.write(str(folder / f"{name}.wav"),
                 synth_music.mix(bpm, tonic, mode, kit=kit, voice=voice, seconds=SECONDS, sr=SR), SR)
    return folder


def scanned_library(base: Path, names: Iterable[str]) -> Path:
    """Write the named tracks to ``<base>/music`` and scan them (in-process) into the data folder
    ``<base>/data``, which is returned (closed: open it with SongsimService, or copy it)."""
    music = write_tracks(Path(base) / "music", names)
    svc = SongsimService(Path(base) / "data")
    try:
        report = drive(svc.scan_job(music, workers=0))
        assert report.failed == [], report.failed
    finally:
        svc.close()
    return Path(base) / "data"


def name_of(path: str) -> str:
    """The TRACKS name of a track's path."""
    return Path(path).stem
