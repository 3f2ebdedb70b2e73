"""The backfill (core/backfill.py): a library scanned by an older songsim, whose tracks have vectors but
no section vectors and no tempo or key, gets them without a rescan; resumable; one bad file fails alone."""

from __future__ import annotations

import os
import shutil
import threading
import time

import numpy as np
import pytest

from songsim_desktop import cli
from songsim_desktop.core import synth
from songsim_desktop.core.analysis import sample_hooks
from songsim_desktop.core.progress import CancelToken, drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.errors import Cancelled

FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing"), synth.Family("bell", "drone")]


@pytest.fixture(scope="module")
def scanned_template(tmp_path_factory):
    """Six 10 s tracks, scanned by this songsim (so with sections, tempo and key)."""
    base = tmp_path_factory.mktemp("backfill")
    synth.write_library(base / "music", FAMILIES, per_family=2, seconds=10.0, suffixes=(".wav",))
    with SongsimService(base / "data") as svc:
        report = drive(svc.scan_job(base / "music", workers=0))
        assert (report.added, report.failed) == (6, [])
    return base


@pytest.fixture
def old_library(scanned_template, tmp_path):
    """A copy of the scanned library as an older songsim left it: no section vectors, no descriptors;
    the whole log-mel is cached for half the tracks (the other half must be decoded again)."""
    shutil.copytree(scanned_template / "data", tmp_path / "data")  # the music stays shared (read by all)
    svc = SongsimService(tmp_path / "data")
    model = svc.active_model_id()
    ids = sorted(t.id for t in svc.tracks())
    before = {t: svc.library.track_sections(t, model) for t in ids}, svc.library.descriptors()
    assert all(before[0].values()) and len(before[1]) == len(ids)
    with svc.library.transaction() as conn:
        for table in ("sections", "descriptors", "undescribed"):
            conn.execute(f"DELETE FROM {table}")
    svc.features.delete(ids[::2])
    yield svc, ids, before
    svc.close()


def test_a_library_scanned_before_sections_and_tempo_gets_them_back(old_library):
    svc, ids, (sections, descriptors) = old_library
    model = svc.active_model_id()
    assert svc.status()["to_complete"] == len(ids) and svc.status()["tempo_and_key"] == 0
    assert svc.query_section(ids[1], 0.0, 6.0, k=10).matches == []  # no sections to search yet
    report = drive(svc.backfill_job(workers=0))
    assert (report.to_do, report.sections, report.described, report.failed) == (len(ids), len(ids), len(ids), [])
    assert report.decoded == len(ids) and not report.cancelled  # tempo and key need the audio
    for tid in ids:
        starts, vectors = svc.library.track_sections(tid, model)
        old_starts, old_vectors = sections[tid]
        assert np.allclose(starts, old_starts, atol=0.051)
        assert np.min(np.sum(vectors * old_vectors, axis=1)) > 0.98  # the same sections, up to 8-bit rounding
        assert np.isclose(svc.library.descriptors([tid])[tid].tempo, descriptors[tid].tempo, rtol=0.02)
        assert svc.library.descriptors([tid])[tid].key_tonic == descriptors[tid].key_tonic
    assert svc.status()["to_complete"] == 0 and svc.status()["tempo_and_key"] == len(ids)
    # The section index noticed the new sections (their vectors did not change).
    found = svc.query_section(ids[1], 0.0, 6.0, k=10).matches
    assert sorted(m.track_id for m in found) == [t for t in ids if t != ids[1]]
    assert drive(svc.backfill_job(workers=0)).to_do == 0  # nothing is done twice


def test_sections_alone_come_from_the_cached_log_mel_without_decoding(old_library, monkeypatch):
    svc, ids, (_sections, descriptors) = old_library
    with svc.library.transaction() as conn:  # tempo and key are there: only the sections are missing
        for tid, d in descriptors.items():
            svc.library.put_descriptors(conn, tid, {"tempo": d.tempo, "key_tonic": d.key_tonic, "key_mode": d.key_mode})
    cached = [t for t in ids if svc.features.get_full_logmel(t, svc.active_model().frontend.key()) is not None]
    assert 0 < len(cached) < len(ids)
    report = drive(svc.backfill_job(workers=0))
    assert (report.sections, report.from_cache, report.decoded, report.described) == (len(ids), len(cached),
                                                                                     len(ids) - len(cached), 0)
    # What was decoded is cached now: a re-embed or the next backfill needs no audio.
    assert all(svc.features.get_full_logmel(t, svc.active_model().frontend.key()) is not None for t in ids)


def test_a_cancelled_backfill_keeps_its_work_and_the_next_run_finishes(old_library):
    svc, ids, _before = old_library
    cancel = CancelToken()
    seen = []

    def on_progress(p):
        seen.append(p.done)
        if p.done >= 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        drive(svc.backfill_job(cancel, workers=0), on_progress, cancel)
    left = svc.status()["to_complete"]
    assert 0 < left < len(ids)  # the tracks done before the cancel were committed
    report = drive(svc.backfill_job(workers=0))
    assert report.to_do == left and report.failed == [] and not report.cancelled
    assert svc.status()["to_complete"] == 0


def test_a_file_that_became_unreadable_fails_alone(old_library):
    svc, ids, _before = old_library
    broken, gone = svc.track(ids[3]).path, svc.track(ids[4]).path
    stat = os.stat(broken)
    original = open(broken, "rb").read()
    try:
        with open(broken, "r+b") as fh:  # same size and time, so not a changed file: damaged content
            fh.write(b"\0not audio any more" * 64)
        os.utime(broken, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.rename(gone, gone + ".moved")
        report = drive(svc.backfill_job(workers=0))
    finally:  # the music folder is shared by the module's tests
        with open(broken, "wb") as fh:
            fh.write(original)
        os.utime(broken, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        if os.path.exists(gone + ".moved"):
            os.rename(gone + ".moved", gone)
    assert sorted(path for path, _ in report.failed) == sorted([broken, gone])
    assert all(path in reason for path, reason in report.failed)
    assert report.described == len(ids) - 2 and len(svc.library.descriptors()) == len(ids) - 2
    assert svc.track(ids[3]).state == "ok"  # its vector still serves search; a rescan will say what is wrong
    assert svc.status()["to_complete"] == 2  # tried again next time


def test_a_track_described_without_tempo_or_key_is_not_decoded_again(old_library, monkeypatch):
    svc, ids, _before = old_library
    monkeypatch.setattr(sample_hooks, "HOOKS", [lambda samples, sr: {}])  # as for silent or too short audio
    report = drive(svc.backfill_job(workers=0))
    assert (report.described, report.undescribable, report.sections) == (0, len(ids), len(ids))
    assert svc.status()["to_complete"] == 0  # remembered: the next start does not decode them again


def test_the_backfill_gives_way_to_a_scan_of_the_same_window(old_library):
    svc, ids, _before = old_library
    job = svc.backfill_job(workers=0)
    next(job)  # started: holds the writer lock
    result = {}
    scan = threading.Thread(target=lambda: result.update(report=drive(svc.scan_job(workers=0))))
    scan.start()  # asks for the lock: instead of being refused it waits, and the backfill is told to stop
    deadline = time.monotonic() + 60
    while not svc.writer.waiting and scan.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert svc.writer.waiting == 1
    report = drive(job)
    scan.join(120)
    assert report.gave_way and report.cancelled and report.decoded <= 1  # stopped at its next track
    assert result["report"].unchanged == len(ids)  # the scan ran once the backfill let go
    assert drive(svc.backfill_job(workers=0)).failed == [] and svc.status()["to_complete"] == 0


def test_the_cli_backfill_command(old_library, capsys):
    svc, ids, _before = old_library
    data = str(svc.data_dir)
    assert cli.main(["--data-dir", data, "status"]) == cli.EXIT_OK
    assert f"{len(ids)} tracks lack section vectors or tempo and key" in capsys.readouterr().out
    assert cli.main(["--data-dir", data, "backfill", "--workers", "0"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"{len(ids)} given section vectors" in out and f"{len(ids)} given tempo and key" in out
    assert svc.status()["to_complete"] == 0
