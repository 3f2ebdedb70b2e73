"""Issue 14, #7: one writer per data folder; the second is told who writes and stops; readers go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from songsim_desktop import cli
from songsim_desktop.core import synth
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.core.writer_lock import WriterLock
from songsim_desktop.errors import LibraryError

REPO = Path(__file__).resolve().parents[2]
FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing")]


def test_a_second_scan_is_refused_while_the_first_runs_and_queries_go_on(tmp_path):
    music = tmp_path / "music"
    made = sorted(synth.write_library(music, FAMILIES, 2, 6.5))
    data = tmp_path / "data"
    with SongsimService(data) as first, SongsimService(data) as second:
        drive(first.scan_job(music, workers=0))
        synth.write_track(music / "new.wav", FAMILIES[0], 6.5, seed=9)
        running = first.scan_job(music, workers=0)
        next(running)  # started: holds the lock
        with pytest.raises(LibraryError, match=r"^while starting a scan in the data folder .*: another songsim is "
                                               rf"already writing to this library \(pid {os.getpid()}: a scan since"):
            drive(second.scan_job(music, workers=0))
        assert len(second.query_file(made[0], k=3).matches) == 3  # reading is never locked
        for _ in running:  # the first one finishes
            pass
        report = drive(second.scan_job(music, workers=0))  # and the lock is free again
        assert (report.added, report.unchanged) == (0, len(made) + 1)


HOLDER = """
import sys, time
from songsim_desktop.core.writer_lock import WriterLock
with WriterLock(sys.argv[1]).hold("a scan"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_cli_says_a_scan_is_running_and_a_killed_writer_leaves_no_stale_lock(tmp_path, capsys):
    music = tmp_path / "music"
    synth.write_library(music, FAMILIES, 1, 6.5)
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(data)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cli.main(["--data-dir", str(data), "index", str(music), "--workers", "0"]) == cli.EXIT_FATAL
        err = capsys.readouterr().err
        assert f"another songsim is already writing to this library (pid {holder.pid}: a scan since" in err
        assert cli.main(["--data-dir", str(data), "status"]) == cli.EXIT_OK
    finally:
        holder.send_signal(signal.SIGKILL)  # like a crash: no cleanup
        holder.wait()
    assert cli.main(["--data-dir", str(data), "index", str(music), "--workers", "0"]) == cli.EXIT_OK


def test_the_lock_is_reentrant_in_its_thread_and_exclusive_between_threads(tmp_path):
    lock = WriterLock(tmp_path)
    seen = []

    def other_thread():
        try:
            with lock.hold("a scan"):
                seen.append("got it")
        except LibraryError as err:
            seen.append(str(err))

    with lock.hold("a fine-tune"):
        with lock.hold("a re-embed"):  # a fine-tune re-embeds inside its own lock
            worker = threading.Thread(target=other_thread)
            worker.start()
            worker.join()
    assert len(seen) == 1 and "another task of this window" in seen[0]
    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert seen[1] == "got it"  # released when the outer hold ended
