"""Real screenshots of each tab, taken from the app running on an X server (Xvfb), for docs/screenshots/.

    sudo apt-get install xvfb            # once (Debian/Ubuntu)
    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python packaging/screenshots.py [--out docs/screenshots]

What it does, in a fresh temporary data folder (your library is never touched): opens the app,
shoots the first-run page, opens the demo library (generated + scanned by the app itself), imports
folder-name tags, searches with a demo track as the reference, selects a result and plays a few
seconds (the audio output is the test FakeOutput, so the transport looks as it does with a sound
card), runs a short fine-tune, and shoots each tab.  Images are grabbed from the X screen, then
reduced to a 256-colour palette so each PNG stays well under 300 KB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description="Take the README/docs screenshots under Xvfb")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs for the Training tab shot")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print('no X display: run under Xvfb, e.g. xvfb-run -a -s "-screen 0 1400x900x24" '
              f"{sys.executable} {__file__}", file=sys.stderr)
        return 2
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ["SONGSIM_DATA_DIR"] = tempfile.mkdtemp(prefix="songsim-screenshots-")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from songsim_desktop.core.service import SongsimService
    from songsim_desktop.ui.app import application, build_window
    from songsim_desktop.ui.player import FakeOutput

    app = application([])
    service = SongsimService()
    output = FakeOutput()
    window = build_window(service, output=output)
    window.resize(1280, 800)
    window.move(0, 0)
    window.show()

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    def wait_until(condition, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    def idle() -> bool:
        return window.ctx.pool.idle

    def shoot(name: str) -> None:
        pump(0.8)  # let matplotlib's draw_idle and Qt's repaint land
        image = QApplication.primaryScreen().grabWindow(window.winId())
        path = out / f"{name}.png"
        image.save(str(path), "PNG")
        _shrink(path)
        print(f"{path}  {image.width()}x{image.height()}  {path.stat().st_size // 1024} KB")

    wait_until(idle, 60, "start-up")
    shoot("first-run")

    window.library_tab.open_demo_library()
    wait_until(lambda: window.library_tab.demo_worker.delivered and not window.library_tab.scanning and idle(),
               600, "the demo library scan")
    window.training_tab.import_folder_tags()
    wait_until(idle, 60, "tag import")
    window.library_tab.table.selectRow(3)
    shoot("library")

    reference = next(t for t in window.ctx.tracks_model.rows if "bell-drone" in t.path)
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    wait_until(lambda: idle() and window.search_tab.results_model.rowCount() > 0, 120, "search results")
    search = window.search_tab
    search.auto_box.setChecked(True)
    search.audition.play_pause()
    output.pull(int(4.0 * window.ctx.player._rate))  # 4 s into the reference
    pump(0.3)
    search.select_result(0)
    wait_until(lambda: idle() and search.result_view.has_data, 120, "the result's spectrogram")
    output.pull(int(2.5 * window.ctx.player._rate))  # the result plays on from the reference's position
    pump(0.3)
    shoot("search")

    window.show_tab("training")
    if window.training_tab.start_button is not None:
        window.training_tab.epochs_spin.setValue(args.epochs)
        window.training_tab.start_training()
        wait_until(lambda: window.training_tab.train_worker.delivered and idle(), 900, "fine-tuning")
    window.training_tab.table.selectRow(0)
    window.training_tab.table.selectRow(1)
    shoot("training")

    window.ctx.player.stop()
    window.close()
    QTimer.singleShot(0, app.quit)
    window.ctx.pool.wait(30000)
    service.close()
    return 0


def _shrink(path: Path) -> None:
    """A 256-colour palette keeps UI screenshots sharp and small (spectrograms dither a little)."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


if __name__ == "__main__":  # the guard matters: the scan's decode processes re-import this file
    sys.exit(main())
