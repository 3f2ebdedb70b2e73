"""The screenshots of issue 12 (docs/screenshots/tempo-key-*.png): tempo and key columns, the tempo/key
filter bar and the aspect sliders in the Search tab, the Library tab filtered to keys that mix with
8A, offscreen (no X server needed).

    PYTHONPATH=. .venv/bin/python packaging/screenshot_tempo_key.py [--out docs/screenshots]

In a fresh temporary data folder: writes 12 synthesised tracks (drum loops under chord progressions,
tempi and keys known, core/synth_music.py) into it, scans them with the app's own scan, finds tracks
like one of them, moves the rhythm and harmony sliders, and grabs the window.
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

# (bpm, tonic, mode, pattern, kit, voice)
TRACKS = [
    (124.0, 9, "minor", "four-on-floor", "electronic", "saw"), (126.0, 0, "major", "four-on-floor", "electronic", "organ"),
    (122.0, 4, "minor", "backbeat", "acoustic", "pluck"), (96.0, 9, "minor", "backbeat", "lofi", "piano"),
    (174.0, 2, "minor", "breakbeat", "electronic", "saw"), (88.0, 7, "major", "shuffle", "acoustic", "organ"),
    (140.0, 5, "major", "backbeat", "electronic", "pluck"), (62.0, 9, "minor", "backbeat", "acoustic", "piano"),
    (120.0, 11, "major", "four-on-floor", "lofi", "organ"), (110.0, 3, "major", "shuffle", "lofi", "saw"),
    (128.0, 0, "major", "four-on-floor", "acoustic", "pluck"), (75.0, 6, "minor", "backbeat", "electronic", "piano"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["SONGSIM_DATA_DIR"] = data = tempfile.mkdtemp(prefix="songsim-shot-12-")
    import soundfile as sf
    from PySide6.QtCore import QEventLoop, Qt

    from songsim_desktop.core import synth_music
    from songsim_desktop.core.descriptors import camelot
    from songsim_desktop.core.service import SongsimService
    from songsim_desktop.ui.app import application, build_window
    from songsim_desktop.ui.player import FakeOutput

    music = Path(data) / "music"
    music.mkdir()
    for i, (bpm, tonic, mode, pattern, kit, voice) in enumerate(TRACKS):
        name = f"{i + 1:02d} {kit} {pattern} {camelot.key_name(tonic, mode)}.wav"
        sf.write(str(music / name), synth_music.mix(bpm, tonic, mode, pattern, kit, voice, 20.0, seed=i), 22050)
    app = application([])
    service = SongsimService()
    window = build_window(service, output=FakeOutput())
    window.ctx.scan_workers = 0
    window.resize(1280, 800)
    window.show()

    def wait_until(condition, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    def shoot(name: str) -> None:
        for _ in range(20):
            app.processEvents()
        path = Path(args.out) / name
        window.grab().save(str(path), "PNG")
        _shrink(path)
        print(f"{path}  {path.stat().st_size // 1024} KB")

    window.ctx.addFolderRequested.emit(str(music))
    wait_until(lambda: window.ctx.pool.idle and window.ctx.tracks_model.rowCount() == len(TRACKS)
               and not window.library_tab.scanning, 600, "the scan")
    window.ctx.refresh_tracks()
    wait_until(lambda: window.ctx.pool.idle, 60, "the table")
    library = window.library_tab
    library.table.sortByColumn(library.proxy.sourceModel().COLUMNS.index("Key"), Qt.SortOrder.AscendingOrder)
    library.tempo_key_filter.set_compatible("8A")  # keys that mix with A minor
    shoot("tempo-key-library.png")
    library.tempo_key_filter.set_compatible(None)
    reference = next(t for t in window.ctx.tracks_model.rows if t.path.endswith(" electronic four-on-floor A minor.wav"))
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    wait_until(lambda: window.ctx.pool.idle and window.search_tab.results_model.rowCount() > 0, 120, "results")
    panel = window.search_tab.aspects
    panel.set_weights(sound=0.3, rhythm=1.0, harmony=0.6)
    panel.filter_bar.set_bpm(110, 135)
    for _ in range(20):
        app.processEvents()
    window.search_tab.select_result(0)
    wait_until(lambda: window.ctx.pool.idle, 60, "the result's preview")
    shoot("tempo-key-aspects.png")
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
