"""scan_job and reembed_job driven directly on a Library, a FeatureCache and the shipped model."""

from __future__ import annotations

import json
import pickle
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from songsim_desktop import paths
from songsim_desktop.core import analysis, decoding, jobs, synth
from songsim_desktop.core.embedder import Embedder
from songsim_desktop.core.library import FeatureCache, Library
from songsim_desktop.core.progress import CancelToken, drive
from songsim_desktop.errors import Cancelled

FAMILIES = synth.all_families()[::5][:2]


@pytest.fixture(scope="module")
def embedder():
    return Embedder(paths.default_model_path())


@pytest.fixture
def store(tmp_path):
    lib = Library(tmp_path / "lib.sqlite3")
    cache = FeatureCache(tmp_path / "features.sqlite3")
    yield lib, cache
    cache.close()
    lib.close()


@pytest.fixture
def music(tmp_path) -> dict[Path, synth.Family]:
    return synth.write_library(tmp_path / "music", FAMILIES, 2, 6.5, suffixes=(".wav", ".flac"))


@pytest.fixture(scope="module")
def scanned_template(tmp_path_factory, embedder):
    """One scanned library (music + database + features cache), copied by the tests that need it."""
    base = tmp_path_factory.mktemp("scanned")
    music = synth.write_library(base / "music", FAMILIES, 2, 6.5, suffixes=(".wav", ".flac"))
    lib, cache = Library(base / "lib.sqlite3"), FeatureCache(base / "features.sqlite3")
    drive(jobs.scan_job(lib, cache, embedder, base / "music", workers=0))
    cache.close()
    lib.close()
    return base, music


@pytest.fixture
def scanned(tmp_path, scanned_template):
    """(library, cache, music) of a scanned library; paths are the template's (music is read-only)."""
    base, music = scanned_template
    for name in ("lib.sqlite3", "features.sqlite3"):
        shutil.copy(base / name, tmp_path / name)
    lib, cache = Library(tmp_path / "lib.sqlite3"), FeatureCache(tmp_path / "features.sqlite3")
    yield lib, cache, base / "music", music
    cache.close()
    lib.close()


def vectors_rows(lib) -> list[tuple[int, str]]:
    with lib.read() as conn:
        return conn.execute("SELECT track_id, model_id FROM vectors ORDER BY track_id").fetchall()


def test_prepare_track_gives_model_input_and_pickles(music, embedder):
    path = str(next(iter(music)))
    cfg = embedder.info.frontend
    prepared = decoding.prepare_track(path, cfg)
    assert prepared.error is None
    assert prepared.logmel.shape == (cfg.n_crops, 1, cfg.n_mels, cfg.crop_frames)
    assert prepared.logmel.dtype == np.float32
    assert prepared.info.duration_s == pytest.approx(6.5, abs=0.01)
    assert (prepared.size, prepared.mtime_ns) == (Path(path).stat().st_size, Path(path).stat().st_mtime_ns)
    again = pickle.loads(pickle.dumps(prepared))  # it crosses a process boundary
    np.testing.assert_array_equal(again.logmel, prepared.logmel)


def test_prepare_track_turns_failures_into_errors(tmp_path, embedder):
    bad = tmp_path / "doc.mp3"
    bad.write_text("hello " * 100)
    prepared = decoding.prepare_track(str(bad), embedder.info.frontend)
    assert prepared.logmel is None and prepared.error.startswith(f"while decoding {bad}:")
    gone = decoding.prepare_track(str(tmp_path / "missing.wav"), embedder.info.frontend)
    assert gone.error.startswith(f"while reading {tmp_path / 'missing.wav'}:")


def test_scan_in_a_spawn_pool_commits_tracks_vectors_tags_and_features(store, music, embedder, tmp_path):
    lib, cache = store
    progress = []
    report = drive(jobs.scan_job(lib, cache, embedder, tmp_path / "music", workers=2), progress.append)
    assert (report.added, report.updated, report.failed, report.cancelled) == (len(music), 0, [], False)
    assert lib.state_counts()["ok"] == len(music)
    assert lib.vector_count(embedder.info.id) == len(music)
    # progress: one report before work, then one per file, counting up to the total
    assert [p.done for p in progress] == list(range(len(music) + 1))
    assert all(p.stage == "scan" and p.total == len(music) for p in progress)
    assert progress[-1].rate > 0
    cfg = embedder.info.frontend
    for track in lib.tracks():
        cached = cache.get(track.id, cfg.key())
        assert cached.shape == (cfg.n_crops, cfg.n_mels, cfg.crop_frames)
        assert track.size == Path(track.path).stat().st_size and track.duration_s == pytest.approx(6.5, abs=0.01)
        assert track.title == Path(track.path).stem  # no tags in the file: the name stands in
    with sqlite3.connect(lib.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_rescan_skips_everything_committed(scanned, embedder):
    lib, cache, folder, music = scanned
    stamps = {t.id: t.scanned_at for t in lib.tracks()}
    report = drive(jobs.scan_job(lib, cache, embedder, folder, workers=0))
    assert (report.added, report.updated, report.unchanged) == (0, 0, len(music))
    assert {t.id: t.scanned_at for t in lib.tracks()} == stamps


def test_cancelled_scan_keeps_committed_batches_and_resumes_without_reembedding(store, music, embedder, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setattr(jobs, "COMMIT_EVERY", 2)
    lib, cache = store
    cancel = CancelToken()

    def stop_after_three(progress):
        if progress.done == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        drive(jobs.scan_job(lib, cache, embedder, tmp_path / "music", workers=0),
              stop_after_three, cancel)
    # Files 1-2 were committed as a batch; file 3, already decoded, is committed when the job closes.
    assert lib.state_counts()["ok"] == 3
    first = {t.path: t.scanned_at for t in lib.tracks()}
    report = drive(jobs.scan_job(lib, cache, embedder, tmp_path / "music", workers=0))
    assert (report.added, report.unchanged) == (len(music) - 3, 3)
    assert {t.path: t.scanned_at for t in lib.tracks() if t.path in first} == first
    rows = vectors_rows(lib)
    assert len(rows) == len(set(rows)) == len(music)


def test_cancel_token_inside_the_job_stops_the_pool(store, music, embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "COMMIT_EVERY", 1)
    lib, cache = store
    cancel = CancelToken()
    job = jobs.scan_job(lib, cache, embedder, tmp_path / "music", cancel=cancel, workers=1)
    next(job)  # the plan
    next(job)  # the first file
    cancel.cancel()
    with pytest.raises(StopIteration) as stop:
        next(job)
    report = stop.value.value
    assert report.cancelled and report.added == 1
    assert lib.state_counts()["ok"] == 1


def test_failed_files_are_recorded_and_the_scan_goes_on(store, music, embedder, tmp_path):
    lib, cache = store
    bad = tmp_path / "music" / "broken.flac"
    bad.write_bytes(b"fLaC" + b"\x00" * 200)
    report = drive(jobs.scan_job(lib, cache, embedder, tmp_path / "music", workers=0))
    assert report.added == len(music)
    [(path, reason)] = report.failed
    assert path == str(bad) and reason.startswith(f"while decoding {bad}:")
    track = lib.track_by_path(str(bad))
    assert (track.state, track.error) == ("error", reason)
    assert lib.vector(track.id, embedder.info.id) is None


def copy_model_with_new_id(tmp_path: Path, name: str) -> Path:
    """The shipped model under another name: other bytes, so another model id, same numbers."""
    import onnx

    model = onnx.load(str(paths.default_model_path()))
    for prop in model.metadata_props:
        if prop.key == "songsim":
            meta = json.loads(prop.value)
            meta["name"] = name
            prop.value = json.dumps(meta)
    out = tmp_path / f"{name}.onnx"
    onnx.save(model, str(out))
    return out


def test_reembed_uses_the_features_cache_and_resumes(scanned, embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "COMMIT_EVERY", 2)
    lib, cache, _folder, music = scanned
    other = Embedder(copy_model_with_new_id(tmp_path, "copy"))
    assert other.info.id != embedder.info.id
    victim = lib.tracks()[0].id
    cache.delete([victim])  # one cache entry lost: that track alone is decoded again

    progress = []
    report = drive(jobs.reembed_job(lib, cache, other), progress.append)
    n = len(music)
    assert (report.embedded, report.from_cache, report.decoded, report.skipped) == (n, n - 1, 1, 0)
    assert [p.done for p in progress] == list(range(n + 1)) and progress[0].stage == "reembed"
    assert cache.get(victim, other.info.frontend.key()) is not None  # the decoded one went back in the cache
    # Same weights, so the cached float16 features must give (almost) the scan's vectors.
    for track in lib.tracks():
        np.testing.assert_allclose(lib.vector(track.id, other.info.id), lib.vector(track.id, embedder.info.id),
                                   atol=2e-3)
    again = drive(jobs.reembed_job(lib, cache, other))
    assert (again.embedded, again.skipped) == (0, n)


def test_reembed_stopped_midway_resumes_where_it_stopped(scanned, embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "COMMIT_EVERY", 1)
    lib, cache, _folder, music = scanned
    other = Embedder(copy_model_with_new_id(tmp_path, "copy2"))
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        drive(jobs.reembed_job(lib, cache, other),
              lambda p: cancel.cancel() if p.done == 2 else None, cancel)
    assert lib.vector_count(other.info.id) == 2
    report = drive(jobs.reembed_job(lib, cache, other))
    assert (report.embedded, report.skipped) == (len(music) - 2, 2)


def crash_on_poison(path: str, cfg) -> "decoding.PreparedTrack":
    """Runs in a spawned worker: dies like a decoder segfault on files named 'poison'."""
    import os as _os

    if "poison" in _os.path.basename(path):
        _os._exit(11)
    return decoding.prepare_track(path, cfg)


def test_a_decoder_crash_fails_only_the_file_that_crashes(music, embedder, tmp_path):
    poison = synth.write_track(tmp_path / "music" / "poison.wav", FAMILIES[0], 6.5)
    paths = sorted(str(p) for p in music) + [str(poison)]
    out = list(decoding.prepared_stream(paths, embedder.info.frontend, 1, CancelToken(), work=crash_on_poison))
    by_path = {p.path: p for p in out}
    assert sorted(by_path) == sorted(paths) and len(out) == len(paths)
    assert by_path[str(poison)].error == f"while decoding {poison}: the decoder crashed on this file"
    assert all(by_path[p].error is None for p in paths if p != str(poison))


class RecordingAnalyser:
    """A stand-in descriptor: records what the scan hands it and when it may store."""

    name = "recording"

    def __init__(self, uses_model: bool, stored: list):
        self.uses_model, self.stored = uses_model, stored

    def analyse(self, tracks):
        return [(self.uses_model, t.logmel.shape) for t in tracks]

    def store(self, library, conn, track_id, result):
        self.stored.append((track_id, result, conn.in_transaction))


def test_a_registered_analyser_runs_on_every_scanned_track_and_model_ones_on_reembed(
        store, music, embedder, tmp_path, monkeypatch):
    lib, cache = store
    stored: list = []
    monkeypatch.setattr(analysis, "REGISTERED", [*analysis.REGISTERED, lambda e: RecordingAnalyser(False, stored),
                                                 lambda e: RecordingAnalyser(True, stored)])
    report = drive(jobs.scan_job(lib, cache, embedder, tmp_path / "music", workers=0))
    ids = sorted(t.id for t in lib.tracks())
    cfg = embedder.info.frontend
    shape = (cfg.n_crops, 1, cfg.n_mels, cfg.crop_frames)
    assert report.added == len(music) == len(ids)
    assert sorted(stored) == sorted((tid, (m, shape), True) for tid in ids for m in (False, True))
    assert lib.vector_count(embedder.info.id) == len(ids)  # the embedder, registered first, still ran

    stored.clear()
    other = Embedder(copy_model_with_new_id(tmp_path, "other"))
    drive(jobs.reembed_job(lib, cache, other))
    assert sorted(stored) == [(tid, (True, shape), True) for tid in ids]  # only what depends on the model
    assert lib.vector_count(other.info.id) == len(ids)
