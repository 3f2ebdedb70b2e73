"""The section-search screenshot (issue 10) for docs/screenshots/sections.png, rendered offscreen.

    .venv/bin/python packaging/screenshot_sections.py [--out docs/screenshots]

In a fresh temporary data folder: writes a small synthesised library whose tracks are made of
15-second parts (one of them repeats its first part at 0:30), scans it, searches by a library
track, selects 0:01-0:12 on the reference's spectrogram by a mouse drag, runs "Find this section"
with "Also inside this track", selects the best result (auto-preview plays it from its match) and
renders the window with Qt's offscreen platform (``QWidget.grab``: no X server needed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["SONGSIM_DATA_DIR"] = data = tempfile.mkdtemp(prefix="songsim-screenshots-")

    import numpy as np
    import soundfile as sf
    from PySide6.QtCore import QEventLoop, QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from songsim_desktop.core import synth
    from songsim_desktop.core.progress import drive
    from songsim_desktop.core.service import SongsimService
    from songsim_desktop.ui.app import application, build_window
    from songsim_desktop.ui.player import FakeOutput

    families = synth.all_families()
    music = Path(data) / "music"
    music.mkdir()
    names = ("night drive", "warehouse", "glass garden", "loop study")
    plans = [[(0, 1), (4, 2), (7, 3)], [(2, 4), (5, 5), (8, 6)], [(3, 7), (6, 8), (1, 9)], [(9, 90), (10, 91), (9, 90)]]
    for name, plan in zip(names, plans):
        audio = np.concatenate([synth.render(families[f % len(families)], 15.0, 22050, seed=s) for f, s in plan])
        sf.write(str(music / f"{name}.wav"), audio, 22050)
    service = SongsimService()
    drive(service.scan_job(music, workers=0))

    app = application([])
    output = FakeOutput()
    window = build_window(service, output=output)
    window.resize(1280, 860)
    window.show()

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    def wait_idle() -> None:
        end = time.monotonic() + 120
        while not window.ctx.pool.idle and time.monotonic() < end:
            pump(0.05)

    wait_idle()
    tab = window.search_tab
    reference = next(t for t in service.tracks() if "loop study" in t.path)
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    wait_idle()
    pump(0.5)
    view = tab.reference_view
    view.canvas.draw()

    def point(seconds: float) -> QPointF:
        x, y = view.axes.transData.transform((seconds, 30))
        ratio = view.canvas.device_pixel_ratio
        return QPointF(x / ratio, view.canvas.height() - y / ratio)

    for kind, seconds in ((QMouseEvent.Type.MouseButtonPress, 1.0), (QMouseEvent.Type.MouseMove, 6.0),
                          (QMouseEvent.Type.MouseMove, 12.0), (QMouseEvent.Type.MouseButtonRelease, 12.0)):
        buttons = Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseButtonRelease else Qt.MouseButton.LeftButton
        event = QMouseEvent(kind, point(seconds), view.canvas.mapToGlobal(point(seconds)), Qt.MouseButton.LeftButton,
                            buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(view.canvas, event)
    tab.section_bar.include_self_box.setChecked(True)
    tab.section_bar.find_button.click()
    wait_idle()
    tab.select_result(0)
    wait_idle()
    output.pull(int(2.0 * window.ctx.player._rate))
    pump(1.0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sections.png"
    window.grab().save(str(path), "PNG")
    _shrink(path)
    print(f"{path}  {path.stat().st_size // 1024} KB; selection {tab.section_selector.range}, "
          f"best {tab.results_model.rows[0].path} @ {tab.results_model.rows[0].offset}")
    window.ctx.player.stop()
    window.close()
    window.ctx.pool.wait(30000)
    service.close()
    return 0


def _shrink(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


if __name__ == "__main__":
    sys.exit(main())
