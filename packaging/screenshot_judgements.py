"""Screenshot of judged search results (issue 11) for docs/screenshots/judged-results.png.

    .venv/bin/python packaging/screenshot_judgements.py [--out docs/screenshots]

Runs offscreen (QT_QPA_PLATFORM=offscreen; no X server needed) in a fresh temporary data folder: opens
the demo library, searches with a demo track, judges results "more like this" / "not like this" as a
user would (the + / - keys on the results table), and grabs the window.
"""

from __future__ import annotations

import sys
from pathlib import Path

from screenshots import ScreenshotWindow, fresh_data_folder, parser


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    fresh_data_folder("songsim-screenshot-judgements-")

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from songsim_desktop.core.service import SongsimService

    shots = ScreenshotWindow(SongsimService(), args.out)
    window, idle = shots.window, shots.idle
    shots.wait_idle(60, "start-up")
    window.library_tab.open_demo_library()
    shots.wait_until(lambda: window.library_tab.demo_worker.delivered and not window.library_tab.scanning and idle(),
                     900, "the demo library scan")
    window.ctx.settings.result_count = 6
    reference = next(t for t in window.ctx.tracks_model.rows if "bell-drone" in t.path)
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    search = window.search_tab
    search.auto_box.setChecked(False)
    shots.wait_until(lambda: idle() and search.judging.session is not None, 120, "search results")
    family = lambda path: Path(path).parent.name  # noqa: E731  (the demo library: one folder per family)
    want = family(reference.path)
    for _ in range(3):  # judge three results the way a listener would: by ear (here: by family)
        rows = search.results_model.rows
        row = next(i for i, m in enumerate(rows) if m.judgement is None)
        search.select_result(row)
        key = Qt.Key.Key_Plus if family(rows[row].path) == want else Qt.Key.Key_Minus
        QTest.keyClick(search.table, key)
    shots.wait_idle(60, "saving the judgements")
    search.select_result(0)
    search.splitter.setSizes([430, 170, 170])  # room for the whole judged list
    shots.shoot("judged-results")
    shots.close()
    return 0


if __name__ == "__main__":  # the scan's decode processes re-import this file
    sys.exit(main())
