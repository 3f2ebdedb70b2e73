"""GUI responsiveness while the library scans: heartbeat gaps on the GUI thread, audio block lateness.

    .venv/bin/python bench/gui_responsiveness.py [--tracks 48] [--seconds 30] [--workers N]

Builds the real window (offscreen unless a display is set) on a fresh data folder, generates a
synthesised library, and drives the library tab's scan (the app's default decode processes unless
--workers is given) while a 20 ms QTimer heartbeat records when it fires.  Reports the largest gaps
twice: wall clock, and minus the GUI thread's run-queue wait (/proc/thread-self/schedstat), which is
time the kernel had the thread ready but gave it no CPU (a loaded machine, not the app blocking).
The test tests/ui/test_responsiveness.py asserts the same measure on a smaller library.

Audition during the scan: a thread pulls 512-frame blocks from the player (a 44.1 kHz clip
preloaded and playing) on a real-time schedule, as PortAudio's callback thread does (it too must take
the GIL to run the Python callback).  Reported: how late each block was ready against its deadline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run_queue_wait_s() -> float:
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class AudioClock(threading.Thread):
    """Pulls blocks from a FakeOutput on PortAudio's schedule and records how late each one is."""

    def __init__(self, output, rate: int = 44100, block: int = 512) -> None:
        super().__init__(daemon=True)
        self.output, self.block, self.period = output, block, block / rate
        self.lateness: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic()
        while not self.stop.is_set():
            deadline += self.period
            time.sleep(max(0.0, deadline - time.monotonic()))
            self.output.pull(self.block)
            late = time.monotonic() - deadline
            self.lateness.append(late)
            if late > 1.0:  # fell far behind (suspended?): resynchronise instead of bursting
                deadline = time.monotonic()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=None, help="decode processes (default: the app's)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="songsim-bench-gui-"))
    os.environ["SONGSIM_DATA_DIR"] = str(work / "data")

    from PySide6.QtCore import QTimer

    from songsim_desktop.core import synth
    from songsim_desktop.core.service import SongsimService
    from songsim_desktop.ui.app import application, build_window
    from songsim_desktop.ui.player import FakeOutput

    families = synth.all_families()
    per_family = max(1, args.tracks // len(families))
    chosen = families[: max(1, min(len(families), args.tracks))]
    t0 = time.monotonic()
    synth.write_library(work / "library", chosen, per_family, args.seconds)
    print(f"generated {len(chosen) * per_family} tracks of {args.seconds:.0f} s in {time.monotonic() - t0:.1f} s")

    app = application([])
    service = SongsimService()
    window = build_window(service, output=FakeOutput(), catch_exceptions=False)
    window.ctx.scan_workers = args.workers
    window.show()
    beats: list[tuple[float, float]] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: beats.append((time.monotonic(), run_queue_wait_s())))
    result = {}

    def start() -> None:
        result["start"] = time.monotonic()
        window.library_tab.start_scan(str(work / "library"))

    def finished(report) -> None:
        result["end"] = time.monotonic()
        result["report"] = report
        QTimer.singleShot(500, app.quit)

    window.library_tab.scanFinished.connect(finished)
    import numpy as np
    clip = (0.2 * np.sin(2 * np.pi * 440 * np.arange(600 * 44100) / 44100)).astype(np.float32)
    window.ctx.player.load(clip, 44100, "reference")
    window.ctx.player.set_loop(True)
    window.ctx.player.play()
    audio = AudioClock(window.ctx.player.output)
    audio.start()
    timer.start()
    QTimer.singleShot(300, start)
    app.exec()
    timer.stop()
    audio.stop.set()
    audio.join()
    window.ctx.pool.wait(30000)
    service.close()

    pairs = list(zip(beats, beats[1:]))
    raw = sorted(b[0] - a[0] for a, b in pairs)
    blocked = sorted((b[0] - a[0]) - (b[1] - a[1]) for a, b in pairs)
    report = result.get("report")
    elapsed = result["end"] - result["start"]
    added = report.added if report else 0
    ms = lambda s: f"{1000 * s:.0f} ms"  # noqa: E731
    print(f"scan: {added} tracks in {elapsed:.1f} s ({added / elapsed:.2f} tracks/s), "
          f"decode workers: {args.workers if args.workers is not None else 'default'}")
    print(f"heartbeat (20 ms): {len(raw)} beats; wall clock max {ms(raw[-1])}, p99 {ms(raw[int(0.99 * len(raw))])}, "
          f"median {ms(statistics.median(raw))}")
    print(f"minus run-queue wait: max {ms(blocked[-1])}, p99 {ms(blocked[int(0.99 * len(blocked))])}")
    late = sorted(audio.lateness)
    over = lambda s: sum(x > s for x in late)  # noqa: E731
    print(f"audio blocks (512 @ 44.1 kHz): {len(late)}; ready late by max {ms(late[-1])}, "
          f"p99 {ms(late[int(0.99 * len(late))])}; later than 46 ms (4 blocks): {over(0.046)}, "
          f"later than 100 ms: {over(0.1)}")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":  # the guard matters: decode processes are spawned and re-import this file
    sys.exit(main())
