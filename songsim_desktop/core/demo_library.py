"""The first-run demo library: ~24 varied synthesised tracks written into the app's data folder.

Always under ``paths.data_dir()/demo-library`` (never a user's music folder).  Eight families of
three tracks each, so every demo track has two siblings that truly sound alike and search has a
right answer a newcomer can hear.  A generator yielding Progress, run by a GUI worker like any job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Generator, Optional

from songsim_desktop import paths
from songsim_desktop.core import synth
from songsim_desktop.core.progress import CancelToken, Progress, RateMeter

DEMO_FOLDER_NAME = "demo-library"
# Spread over timbres and rhythms so that neighbours differ audibly.
DEMO_FAMILIES = [synth.Family(t, r) for t, r in (
    ("sine", "straight"), ("saw", "swing"), ("square", "sparse"), ("bell", "drone"),
    ("pluck", "straight"), ("noise", "swing"), ("bell", "sparse"), ("saw", "drone"),
)]


def demo_folder() -> Path:
    return paths.data_dir() / DEMO_FOLDER_NAME


def demo_plan(folder: Path, per_family: int = 3) -> list[tuple[Path, synth.Family, int]]:
    """(path, family, seed) of every demo track: mixed formats, one sub-folder per family."""
    suffixes = (".wav", ".flac", ".mp3")
    plan = []
    for fi, family in enumerate(DEMO_FAMILIES):
        for i in range(per_family):
            name = f"{family.name}-{i + 1:02d}{suffixes[(fi + i) % len(suffixes)]}"
            plan.append((folder / family.name / name, family, 1000 * fi + i))
    return plan


def demo_library_job(folder: Optional[Path] = None, per_family: int = 3, seconds: float = 16.0,
                     cancel: Optional[CancelToken] = None) -> Generator[Progress, None, Path]:
    """Write the demo tracks (skipping those already there) and return the folder."""
    folder = Path(folder) if folder is not None else demo_folder()
    plan = demo_plan(folder, per_family)
    meter = RateMeter()
    yield meter.progress("demo", 0, len(plan), f"writing demo tracks into {folder}")
    for done, (path, family, seed) in enumerate(plan, start=1):
        if cancel is not None:
            cancel.check()
        if not path.exists():
            synth.write_track(path, family, seconds, seed=seed)
        yield meter.progress("demo", done, len(plan), path.name)
    return folder
