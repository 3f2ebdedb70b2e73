"""Real screenshots of each tab, taken from the app running on an X server (Xvfb), for docs/screenshots/.

    sudo apt-get install xvfb            # once (Debian/Ubuntu)
    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python packaging/screenshots.py [--out docs/screenshots]

What it does, in a fresh temporary data folder (your library is never touched): opens the app,
shoots the first-run page, opens the demo library (generated + scanned by the app itself), imports
folder-name tags, searches with a demo track as the reference, selects a result and plays a few
seconds (the audio output is the test FakeOutput, so the transport looks as it does with a sound
card), runs a short fine-tune, and shoots each tab.  Images are grabbed from the X screen, then
reduced to a 256-colour palette so each PNG stays well under 300 KB.

The other screenshot scripts (packaging/screenshot_*.py, screenshots_map.py) render offscreen and
share this file's parser(), fresh_data_folder() and ScreenshotWindow.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the scripts run from a checkout: `python packaging/<script>.py`
    sys.path.insert(0, str(REPO))


# --- what every screenshot script shares (packaging/screenshot_*.py, screenshots_map.py) --------------
def parser(description: str) -> argparse.ArgumentParser:
    """The scripts' command line: ``--out`` (default docs/screenshots); a script adds its own options."""
    made = argparse.ArgumentParser(description=description)
    made.add_argument("--out", default=str(REPO / "docs" / "screenshots"), help="folder for the PNG files")
    return made


def fresh_data_folder(prefix: str, offscreen: bool = True) -> Path:
    """Point the app at a new temporary data folder (the user's library is never touched) and, unless
    the script grabs a real X screen, at Qt's offscreen platform.  Call before importing the app."""
    if offscreen:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    data = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["SONGSIM_DATA_DIR"] = str(data)
    return data


class ScreenshotWindow:
    """The app's window on ``service``, wired as the app wires it (``build_window``) with the test
    FakeOutput for sound, plus the waiting and shooting every screenshot script does.

    ``from_screen``: grab the window from the X screen (Xvfb) instead of rendering it (offscreen).
    """

    def __init__(self, service, out: str | Path, size: tuple[int, int] = (1280, 800), *,
                 scan_workers: Optional[int] = None, from_screen: bool = False) -> None:
        from songsim_desktop.ui.app import application, build_window
        from songsim_desktop.ui.player import FakeOutput

        self.app = application([])
        self.service = service
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.output = FakeOutput()
        self.window = build_window(service, output=self.output)
        self.ctx = self.window.ctx
        self.ctx.scan_workers = scan_workers
        self.from_screen = from_screen
        self.window.resize(*size)
        if from_screen:
            self.window.move(0, 0)
        self.window.show()

    def pump(self, seconds: float) -> None:
        """Let Qt run (workers' signals, repaints, matplotlib's draw_idle) for ``seconds``."""
        from PySide6.QtCore import QEventLoop

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    def idle(self) -> bool:
        return self.ctx.pool.idle

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
            self.pump(0.02)

    def wait_idle(self, timeout: float, what: str) -> None:
        self.wait_until(self.idle, timeout, what)

    def shoot(self, name: str) -> Path:
        """``<out>/<name>.png`` of the whole window, reduced to a 256-colour palette."""
        from PySide6.QtWidgets import QApplication

        self.pump(0.8)  # let matplotlib's draw_idle and Qt's repaint land
        image = (QApplication.primaryScreen().grabWindow(self.window.winId()) if self.from_screen
                 else self.window.grab())
        path = self.out / f"{name}.png"
        image.save(str(path), "PNG")
        _shrink(path)
        print(f"{path}  {image.width()}x{image.height()}  {path.stat().st_size // 1024} KB")
        return path

    def close(self) -> None:
        self.ctx.player.stop()
        self.window.close()
        self.ctx.pool.wait(30000)
        self.service.close()


# --- the tabs' screenshots (Xvfb) ----------------------------------------------------------------
def main() -> int:
    args_parser = parser("Take the README/docs screenshots under Xvfb")
    args_parser.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs for the Training tab shot")
    args = args_parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print('no X display: run under Xvfb, e.g. xvfb-run -a -s "-screen 0 1400x900x24" '
              f"{sys.executable} {__file__}", file=sys.stderr)
        return 2
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    fresh_data_folder("songsim-screenshots-", offscreen=False)

    from songsim_desktop.core.service import SongsimService

    shots = ScreenshotWindow(SongsimService(), args.out, from_screen=True)
    window, output, idle = shots.window, shots.output, shots.idle
    shots.wait_idle(60, "start-up")
    shots.shoot("first-run")

    window.library_tab.open_demo_library()
    shots.wait_until(lambda: window.library_tab.demo_worker.delivered and not window.library_tab.scanning and idle(),
                     600, "the demo library scan")
    window.training_tab.import_folder_tags()
    shots.wait_idle(60, "tag import")
    window.library_tab.table.selectRow(3)
    shots.shoot("library")

    reference = next(t for t in window.ctx.tracks_model.rows if "bell-drone" in t.path)
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    shots.wait_until(lambda: idle() and window.search_tab.results_model.rowCount() > 0, 120, "search results")
    search = window.search_tab
    search.auto_box.setChecked(True)
    search.audition.play_pause()
    output.pull(int(4.0 * window.ctx.player._rate))  # 4 s into the reference
    shots.pump(0.3)
    search.select_result(0)
    shots.wait_until(lambda: idle() and search.result_view.has_data, 120, "the result's spectrogram")
    output.pull(int(2.5 * window.ctx.player._rate))  # the result plays on from the reference's position
    shots.pump(0.3)
    shots.shoot("search")

    window.show_tab("training")
    if window.training_tab.start_button is not None:
        window.training_tab.epochs_spin.setValue(args.epochs)
        window.training_tab.start_training()
        shots.wait_until(lambda: window.training_tab.train_worker.delivered and idle(), 900, "fine-tuning")
    window.training_tab.table.selectRow(0)
    window.training_tab.table.selectRow(1)
    shots.shoot("training")
    shots.close()
    return 0


def _shrink(path: Path) -> None:
    """A 256-colour palette keeps UI screenshots sharp and small (spectrograms dither a little)."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


if __name__ == "__main__":  # the guard matters: the scan's decode processes re-import this file
    sys.exit(main())
