"""The section-search screenshot (issue 10) for docs/screenshots/sections.png, rendered offscreen.

    .venv/bin/python packaging/screenshot_sections.py [--out docs/screenshots]

In a fresh temporary data folder: writes a small synthesised library whose tracks are made of
15-second parts (one of them repeats its first part at 0:30), scans it, searches by a library
track, selects 0:01-0:12 on the reference's spectrogram by a mouse drag, runs "Find this section"
with "Also inside this track", selects the best result (auto-preview plays it from its match) and
renders the window with Qt's offscreen platform (``QWidget.grab``: no X server needed).
"""

from __future__ import annotations

import sys

from screenshots import ScreenshotWindow, fresh_data_folder, parser


def main() -> int:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    data = fresh_data_folder("songsim-screenshots-")

    import numpy as np
    import soundfile as sf
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from songsim_desktop.core import synth
    from songsim_desktop.core.progress import drive
    from songsim_desktop.core.service import SongsimService

    families = synth.all_families()
    music = data / "music"
    music.mkdir()
    names = ("night drive", "warehouse", "glass garden", "loop study")
    plans = [[(0, 1), (4, 2), (7, 3)], [(2, 4), (5, 5), (8, 6)], [(3, 7), (6, 8), (1, 9)], [(9, 90), (10, 91), (9, 90)]]
    for name, plan in zip(names, plans):
        audio = np.concatenate([synth.render(families[f % len(families)], 15.0, 22050, seed=s) for f, s in plan])
        sf.write(str(music / f"{name}.wav"), audio, 22050)
    service = SongsimService()
    drive(service.scan_job(music, workers=0))

    shots = ScreenshotWindow(service, args.out, (1280, 860), scan_workers=0)
    window = shots.window
    shots.wait_idle(120, "start-up")
    tab = window.search_tab
    reference = next(t for t in service.tracks() if "loop study" in t.path)
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    shots.wait_idle(120, "search results")
    shots.pump(0.5)
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
    shots.wait_idle(120, "the section search")
    tab.select_result(0)
    shots.wait_idle(120, "the result's preview")
    shots.output.pull(int(2.0 * window.ctx.player._rate))
    shots.pump(1.0)
    shots.shoot("sections")
    print(f"selection {tab.section_selector.range}, best {tab.results_model.rows[0].path} "
          f"@ {tab.results_model.rows[0].offset}")
    shots.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
