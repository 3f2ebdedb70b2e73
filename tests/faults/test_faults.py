"""Bad input and bad luck: each bad file gets a clear error, the rest of the work goes on, and
nothing already done is lost (kills, corrupt caches, files changing under the scan)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from songsim_desktop.core import decoding, jobs, scan, synth
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService

from core.audio_factory import BAD_FILE_WRITERS, write_truncated

GOOD = [synth.Family("sine", "straight"), synth.Family("saw", "swing")]
REPO = Path(__file__).resolve().parents[2]


def good_library(folder: Path, per_family: int = 1, seconds: float = 6.5) -> dict[Path, synth.Family]:
    return synth.write_library(folder, GOOD, per_family, seconds, suffixes=(".wav", ".flac"))


@pytest.fixture
def svc():
    service = SongsimService()
    yield service
    service.close()


def states(service) -> dict[str, tuple[str, str | None]]:
    return {r.path: (r.state, r.error) for r in service.tracks()}


def test_each_bad_file_gets_its_own_error_and_the_good_ones_are_indexed(svc, tmp_path):
    music = tmp_path / "music"
    good = good_library(music)
    bad = {}
    for name, (writer, suffix, words) in BAD_FILE_WRITERS.items():
        path = music / "bad" / (name.replace(" ", "_") + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(path)
        bad[str(path.resolve())] = words
    recoverable = write_truncated(music / "bad" / "half-a-download.flac", 6.0, 0.5)

    report = drive(svc.scan_job(music, workers=0))
    assert report.added == len(good) + 1 and not report.cancelled
    assert {p for p, _ in report.failed} == set(bad)
    seen = states(svc)
    for path, words in bad.items():
        state, error = seen[path]
        assert state == "error" and error.startswith(f"while decoding {path}:") and words in error, error
    assert seen[str(recoverable.resolve())] == ("ok", None)  # the readable part is used
    assert svc.status()["errors"] == sorted(report.failed)
    # the failures are neither retried nor lost on a rescan, and searching works around them
    again = drive(svc.scan_job(music, workers=0))
    assert (again.added, again.updated, again.unchanged) == (0, 0, len(good) + 1 + len(bad))
    assert len(svc.query_file(next(iter(good)), k=10).matches) == len(good)


def test_unreadable_folder_is_reported_and_its_tracks_are_kept(svc, tmp_path, monkeypatch):
    music = tmp_path / "music"
    good_library(music, per_family=1)
    locked = (music / GOOD[1].name).resolve()
    drive(svc.scan_job(music, workers=0))
    real = os.scandir

    def refusing(path="."):  # tests run as root here, where chmod 000 would not stop a read
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real(path)

    monkeypatch.setattr(scan.os, "scandir", refusing)
    synth.write_track(music / "late.wav", GOOD[0], 6.5, seed=3)
    report = drive(svc.scan_job(music, workers=0))
    assert report.added == 1 and report.missing == 0
    [(where, message)] = report.failed
    assert where == str(locked) and message.startswith(f"while listing folder {locked}:")
    assert all(state == "ok" for state, _ in states(svc).values())  # not declared missing


def test_real_chmod_000_folder(svc, tmp_path):
    """The same through the file system itself; as root (CI) chmod cannot lock root out, so the
    folder is checked to be either listed (root) or reported (anyone else) -- never a crash."""
    music = tmp_path / "music"
    good_library(music)
    locked = music / GOOD[1].name
    locked.chmod(0)
    try:
        report = drive(svc.scan_job(music, workers=0))
    finally:
        locked.chmod(0o755)
    if os.geteuid() == 0:
        assert report.failed == [] and report.added == 2
    else:
        assert report.added == 1 and report.failed[0][0] == str(locked.resolve())


def test_symlink_loop_in_the_music_folder(svc, tmp_path):
    music = tmp_path / "music"
    made = good_library(music)
    os.symlink(music, music / GOOD[0].name / "all-of-it")
    report = drive(svc.scan_job(music, workers=0))
    assert report.added == len(made) and report.failed == []
    assert len(svc.tracks()) == len(made)


def test_unicode_emoji_nfc_and_nfd_names(svc, tmp_path):
    music = tmp_path / "músic 🎧"
    names = [unicodedata.normalize("NFC", "Café del Mar.wav"), unicodedata.normalize("NFD", "Café del Mar.wav"),
             "🎵 ☃ 日本語.flac", "Ünïcödé – dash.wav"]
    for i, name in enumerate(names):
        synth.write_track(music / name, GOOD[i % 2], 6.5, seed=i)
    report = drive(svc.scan_job(music, workers=0))
    assert report.added == len(names) and report.failed == []
    stored = sorted(os.path.basename(r.path) for r in svc.tracks())
    assert stored == sorted(names)  # NFC and NFD stay two files, byte for byte
    for name in names:
        path = str((music / name).resolve())
        result = svc.query_file(music / name, k=10)
        assert path not in [m.path for m in result.matches] and len(result.matches) == len(names) - 1


def test_a_file_replaced_between_plan_and_commit_ends_consistent(svc, tmp_path, monkeypatch):
    music = tmp_path / "music"
    made = good_library(music)
    victim = sorted(made)[0]
    replacement = synth.write_track(tmp_path / "other.wav", GOOD[1], 9.0, seed=42)

    def swap(prepared):
        if prepared.path == str(victim.resolve()):
            os.replace(replacement, victim)  # like a tagger or a sync tool rewriting the file

    real_recheck = decoding.recheck

    def swap_then_recheck(prepared, cfg):  # the worst moment: decoded, not yet re-checked
        swap(prepared)
        return real_recheck(prepared, cfg)

    monkeypatch.setattr(decoding, "recheck", swap_then_recheck)
    drive(svc.scan_job(music, workers=0))
    row = svc.library.track_by_path(str(victim.resolve()))
    st = victim.stat()
    assert (row.state, row.size, row.mtime_ns) == ("ok", st.st_size, st.st_mtime_ns)
    assert row.duration_s == pytest.approx(9.0, abs=0.01)  # the new content, not the old
    fresh = svc.embedder().embed_file(victim).vector
    np.testing.assert_allclose(svc.library.vector(row.id, svc.active_model_id()), fresh, atol=1e-5)


def test_a_file_that_keeps_changing_is_an_error_not_a_wrong_vector(tmp_path, monkeypatch):
    path = synth.write_track(tmp_path / "busy.wav", GOOD[0], 6.5)
    cfg = svc_cfg()
    first = decoding.prepare_track(str(path), cfg)
    real = decoding.prepare_track

    lengths = iter([6.6, 6.7, 6.8])

    def prepare_then_touch(p, c):
        out = real(p, c)
        synth.write_track(path, GOOD[1], next(lengths))  # changed again (another size)
        return out

    synth.write_track(path, GOOD[1], 7.0, seed=1)
    monkeypatch.setattr(decoding, "prepare_track", prepare_then_touch)
    checked = decoding.recheck(first, cfg)
    assert checked.logmel is None and decoding.CHANGED_WHILE_SCANNING in checked.error


def test_a_file_rewritten_while_decoding_is_flagged(tmp_path, monkeypatch):
    path = synth.write_track(tmp_path / "busy.wav", GOOD[0], 6.5)
    real = decoding.audio.load  # a scan decodes each whole file once (core.full_decode)

    def read_then_rewrite(p, *args, **kwargs):
        out = real(p, *args, **kwargs)
        synth.write_track(path, GOOD[1], 7.5, seed=2)
        return out

    monkeypatch.setattr(decoding.audio, "load", read_then_rewrite)
    prepared = decoding.prepare_track(str(path), svc_cfg())
    assert prepared.logmel is None and decoding.CHANGED_WHILE_SCANNING in prepared.error


def svc_cfg():
    from songsim_desktop import paths
    from songsim_desktop.core.embedder import read_model_info

    return read_model_info(paths.default_model_path()).frontend


def tree(folder: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, folder)] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def test_nothing_is_ever_written_into_a_read_only_music_folder(svc, tmp_path):
    music = tmp_path / "music"
    made = good_library(music)
    (music / "broken.mp3").write_text("not audio")
    for dirpath, dirnames, filenames in os.walk(music):
        for name in filenames + dirnames:
            os.chmod(os.path.join(dirpath, name), 0o555 if name in dirnames else 0o444)
    music.chmod(0o555)
    before = tree(music)
    try:
        drive(svc.scan_job(music, workers=1))  # the process pool too
        svc.query_file(next(iter(made)), k=3)
        svc.import_folder_tags()
        drive(svc.scan_job(music, workers=0))
        svc.export_vectors(tmp_path / "out.npz")
    finally:
        after = tree(music)
        for dirpath, dirnames, _ in os.walk(music):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        music.chmod(0o755)
    assert after == before
    assert svc.status()["counts"]["ok"] == len(made)


KILL_AFTER_FIRST_COMMIT = textwrap.dedent("""
    import os, signal, sys
    from songsim_desktop.core import job_store, jobs
    from songsim_desktop import cli

    jobs.COMMIT_EVERY = 2
    real = job_store.commit_prepared

    def commit_then_die(*args, **kwargs):
        real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: like a power cut

    job_store.commit_prepared = commit_then_die
    if __name__ == "__main__":
        sys.exit(cli.main(sys.argv[1:]))
""")


def test_a_scan_killed_after_its_first_commit_resumes_without_reembedding(tmp_path):
    music = tmp_path / "music"
    made = good_library(music, per_family=3)
    data = tmp_path / "data"
    script = tmp_path / "killed_cli.py"
    script.write_text(KILL_AFTER_FIRST_COMMIT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = ["--data-dir", str(data), "index", str(music), "--workers", "1"]
    # A pool worker must not outlive its killed parent (it would hold the pipes open: a timeout here).
    killed = subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with sqlite3.connect(data / "library.sqlite3") as conn:
        committed = dict(conn.execute("SELECT path, scanned_at FROM tracks WHERE state = 'ok'").fetchall())
    assert len(committed) == 2

    rerun = subprocess.run([sys.executable, "-m", "songsim_desktop.cli", *args[:4], "--workers", "0"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(made) - 2} added, 0 updated, 2 unchanged" in rerun.stdout
    with sqlite3.connect(data / "library.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        vectors = conn.execute("SELECT track_id, COUNT(*) FROM vectors GROUP BY track_id").fetchall()
        again = dict(conn.execute("SELECT path, scanned_at FROM tracks WHERE path IN (%s)"
                                  % ",".join("?" * len(committed)), list(committed)).fetchall())
    assert len(vectors) == len(made) and all(n == 1 for _, n in vectors)
    assert again == committed  # the two committed before the kill were not embedded again
    with SongsimService(data) as service:  # the index, never saved by the killed run, is rebuilt
        assert len(service.query_file(next(iter(made)), k=10).matches) == len(made) - 1


def test_a_corrupt_index_file_is_rebuilt(tmp_path):
    music = tmp_path / "music"
    made = good_library(music)
    with SongsimService() as service:
        drive(service.scan_job(music, workers=0))
        index_file = service.index().path
        expected = service.query_file(next(iter(made)), k=5)
    index_file.write_bytes(b"\x00garbage" * 100)
    with SongsimService() as service:
        assert service.query_file(next(iter(made)), k=5) == expected
        assert service.index().read_stamp()["bytes"] == index_file.stat().st_size  # rewritten, stamped
    index_file.unlink()
    with SongsimService() as service:
        assert service.query_file(next(iter(made)), k=5) == expected


def test_a_corrupt_features_cache_is_set_aside_and_the_library_still_works(tmp_path):
    music = tmp_path / "music"
    made = good_library(music)
    with SongsimService() as service:
        drive(service.scan_job(music, workers=0))
        cache_file = service.features.path
    cache_file.write_bytes(b"this is not sqlite" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{cache_file}{suffix}").unlink(missing_ok=True)
    with SongsimService() as service:
        report = drive(service.reembed_job())
        assert report.skipped == len(made)
        assert len(service.query_file(next(iter(made)), k=5).matches) == len(made) - 1
