"""The first-run demo library: written into the app's data folder, resumable, cancellable."""

from __future__ import annotations

import pytest

from songsim_desktop import paths
from songsim_desktop.core import demo_library
from songsim_desktop.core.progress import CancelToken, drive
from songsim_desktop.errors import Cancelled


def test_demo_plan_is_24_varied_tracks_inside_the_data_folder(isolated_data_dir):
    plan = demo_library.demo_plan(demo_library.demo_folder())
    assert len(plan) == 24
    assert len({family for _p, family, _s in plan}) == 8
    assert {p.suffix for p, _f, _s in plan} == {".wav", ".flac", ".mp3"}
    assert all(str(p).startswith(str(paths.data_dir())) for p, _f, _s in plan)


def test_the_job_writes_the_missing_tracks_and_stops_when_cancelled(tmp_path):
    folder = tmp_path / "demo"
    token = CancelToken()
    seen = []

    def on_progress(p):
        seen.append(p.done)
        if p.done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        drive(demo_library.demo_library_job(folder, per_family=1, seconds=1.0, cancel=token), on_progress, token)
    written = sorted(folder.rglob("*.*"))
    assert len(written) == 2 and seen[:3] == [0, 1, 2]
    before = {p: p.stat().st_mtime_ns for p in written}
    assert drive(demo_library.demo_library_job(folder, per_family=1, seconds=1.0)) == folder
    assert len(list(folder.rglob("*.*"))) == 8
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # resumed: nothing written twice
