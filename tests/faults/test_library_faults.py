"""Issue 14, the library: a read-only data folder, a moved data folder, a NaN vector at storage."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from songsim_desktop.core import synth
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService

from core.test_jobs import copy_model_with_new_id

REPO = Path(__file__).resolve().parents[2]
FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing")]


def files_state(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def read_only_cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    """``songsim --data-dir data ...`` with ``data`` read-only: chmod for a normal user; for root (whom
    chmod does not stop) a read-only bind mount in a private mount namespace."""
    command = [sys.executable, "-m", "songsim_desktop.cli", "--data-dir", str(data), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [data, *data.rglob("*")]}
        for p in modes:
            p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
        try:
            return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        finally:
            for p, mode in modes.items():
                p.chmod(stat.S_IMODE(mode))
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: no way to make a folder read-only for this test")
    script = f'mount --bind -o ro "{data}" "{data}" && exec "$@"'
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *command], capture_output=True, text=True,
                         env=env, timeout=300)
    if "mount" in run.stderr and run.returncode != 0 and "songsim" not in run.stderr:
        pytest.skip(f"cannot bind-mount read-only here: {run.stderr.strip()}")
    return run


@pytest.fixture
def indexed(tmp_path) -> tuple[Path, list[Path]]:
    music = tmp_path / "music"
    made = sorted(synth.write_library(music, FAMILIES, 2, 6.5))
    data = tmp_path / "data"
    with SongsimService(data) as svc:
        drive(svc.scan_job(music, workers=0))
    return data, made


def test_status_and_query_work_on_a_read_only_library(indexed, tmp_path):
    data, made = indexed
    outside = synth.write_track(tmp_path / "outside.mp3", FAMILIES[0], 20.0, seed=5)
    shutil.rmtree(data / "index", ignore_errors=True)  # the index must be rebuilt, and cannot be saved
    before = files_state(data)
    status = read_only_cli(data, "status")
    assert status.returncode == 0, status.stderr
    assert f"{len(made)} ok" in status.stdout
    query = read_only_cli(data, "query", str(made[0]), str(outside), "-k", "2")
    assert query.returncode == 0, query.stderr
    assert query.stdout.count("d=") == 4 and "readonly" not in query.stderr
    index = read_only_cli(data, "index", str(made[0].parents[1]), "--workers", "0")
    assert index.returncode == 3
    assert "a read-only library can be searched but not changed" in index.stderr
    assert files_state(data) == before


def test_a_fine_tuned_model_survives_moving_the_data_folder(indexed, tmp_path):
    data, made = indexed
    with SongsimService(data) as svc:
        models = data / "models"
        models.mkdir(exist_ok=True)
        mine = copy_model_with_new_id(models, "mine")
        record = svc.register_model(mine)
        drive(svc.switch_model_job(record.id))
    moved = tmp_path / "moved-data"
    shutil.move(str(data), moved)
    with SongsimService(moved) as svc:
        assert svc.active_model_id() == record.id  # not silently back to the default
        assert [m.path for m in svc.models() if m.id == record.id] == [str(moved / "models" / "mine.onnx")]
        assert len(svc.query_file(made[0], k=3).matches) == 3


def test_a_non_finite_vector_is_never_stored(indexed):
    data, made = indexed
    with SongsimService(data) as svc:
        track = svc.library.track_by_path(str(made[0].resolve()))
        dim = svc.active_model().dim
        bad = np.full(dim, np.nan, np.float32)
        with pytest.raises(ValueError, match="NaN or infinity"):
            with svc.library.transaction() as conn:
                svc.library.put_vectors(conn, track.id, svc.active_model_id(), bad)
        assert np.isfinite(svc.library.vector(track.id, svc.active_model_id())).all()


def test_a_non_utf8_file_name_indexes_and_queries_like_any_other(tmp_path, capfd):
    from songsim_desktop import cli

    music = tmp_path / "music"
    made = sorted(synth.write_library(music, FAMILIES, 2, 6.5))
    raw = os.path.join(os.fsencode(music), b"caf\xe9 from a FAT drive.wav")
    os.rename(synth.write_track(music / "plain.wav", FAMILIES[0], 6.5, seed=7), raw)
    name = os.fsdecode(raw)
    data = tmp_path / "data"
    assert cli.main(["--data-dir", str(data), "index", str(music), "--workers", "1"]) == 0
    assert f"{len(made) + 1} added" in capfd.readouterr().out
    with SongsimService(data) as svc:
        rows = {t.path: t for t in svc.tracks()}
        assert name in rows and rows[name].state == "ok"  # the very name, byte for byte
        assert name not in [m.path for m in svc.query_file(name, k=10).matches]
        assert name in [m.path for m in svc.query_file(made[0], k=10).matches]
    assert cli.main(["--data-dir", str(data), "query", name, "-k", "2"]) == 0
    assert cli.main(["--data-dir", str(data), "query", str(made[0]), "-k", "10"]) == 0
    out = capfd.readouterr().out
    assert "caf\ufffd from a FAT drive.wav" in out.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def test_a_model_that_gives_nan_for_one_file_fails_that_file_not_the_scan(tmp_path, monkeypatch):
    from songsim_desktop.core.analysis import track_vectors

    music = tmp_path / "music"
    made = sorted(synth.write_library(music, FAMILIES, 2, 6.5))
    victim = str(made[1].resolve())
    real = track_vectors.TrackVectors.analyse

    def nan_for_victim(self, tracks):
        out = real(self, tracks)
        return [(np.full_like(v, np.nan), c) if t.path == victim else (v, c) for t, (v, c) in zip(tracks, out)]

    monkeypatch.setattr(track_vectors.TrackVectors, "analyse", nan_for_victim)
    with SongsimService(tmp_path / "data") as svc:
        report = drive(svc.scan_job(music, workers=0))
        assert report.added == len(made) - 1
        assert report.failed == [(victim, f"while embedding {victim}: the model gave NaN or infinity for this "
                                          "file, so it is not indexed")]
        assert len(svc.query_file(made[0], k=10).matches) == len(made) - 2
