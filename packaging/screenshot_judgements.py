"""Screenshot of judged search results (issue 11) for docs/screenshots/judged-results.png.

    .venv/bin/python packaging/screenshot_judgements.py [--out docs/screenshots]

Runs offscreen (QT_QPA_PLATFORM=offscreen; no X server needed) in a fresh temporary data folder: opens
the demo library, searches with a demo track, judges results "more like this" / "not like this" as a
user would (the + / - keys on the results table), and grabs the window.
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["SONGSIM_DATA_DIR"] = tempfile.mkdtemp(prefix="songsim-screenshot-judgements-")

    from PySide6.QtCore import QEventLoop, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from songsim_desktop.core.service import SongsimService
    from songsim_desktop.ui.app import application, build_window
    from songsim_desktop.ui.player import FakeOutput

    app = application([])
    service = SongsimService()
    window = build_window(service, output=FakeOutput())
    window.resize(1280, 800)
    window.show()

    def wait_until(condition, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    idle = lambda: window.ctx.pool.idle  # noqa: E731
    wait_until(idle, 60, "start-up")
    window.library_tab.open_demo_library()
    wait_until(lambda: window.library_tab.demo_worker.delivered and not window.library_tab.scanning and idle(),
               900, "the demo library scan")
    window.ctx.settings.result_count = 6
    reference = next(t for t in window.ctx.tracks_model.rows if "bell-drone" in t.path)
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    search = window.search_tab
    search.auto_box.setChecked(False)
    wait_until(lambda: idle() and search.judging.session is not None, 120, "search results")
    family = lambda path: Path(path).parent.name  # noqa: E731  (the demo library: one folder per family)
    want = family(reference.path)
    for _ in range(3):  # judge three results the way a listener would: by ear (here: by family)
        rows = search.results_model.rows
        row = next(i for i, m in enumerate(rows) if m.judgement is None)
        search.select_result(row)
        key = Qt.Key.Key_Plus if family(rows[row].path) == want else Qt.Key.Key_Minus
        QTest.keyClick(search.table, key)
    wait_until(idle, 60, "saving the judgements")
    search.select_result(0)
    search.splitter.setSizes([430, 170, 170])  # room for the whole judged list
    app.processEvents()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "judged-results.png"
    window.grab().save(str(path), "PNG")
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    print(f"{path}  {path.stat().st_size // 1024} KB")
    window.close()
    window.ctx.pool.wait(30000)
    service.close()
    return 0


if __name__ == "__main__":  # the scan's decode processes re-import this file
    sys.exit(main())
