"""The screenshots of issue 12 (docs/screenshots/tempo-key-*.png): tempo and key columns, the tempo/key
filter bar and the aspect sliders in the Search tab, the Library tab filtered to keys that mix with
8A, offscreen (no X server needed).

    PYTHONPATH=. .venv/bin/python packaging/screenshot_tempo_key.py [--out docs/screenshots]

In a fresh temporary data folder: writes 12 synthesised tracks (drum loops under chord progressions,
tempi and keys known, core/synth_music.py) into it, scans them with the app's own scan, finds tracks
like one of them, moves the rhythm and harmony sliders, and grabs the window.
"""

from __future__ import annotations

import sys

from screenshots import ScreenshotWindow, fresh_data_folder, parser

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
    args = parser(__doc__.split("\n")[0]).parse_args()
    data = fresh_data_folder("songsim-shot-12-")
    import soundfile as sf
    from PySide6.QtCore import Qt

    from songsim_desktop.core import synth_music
    from songsim_desktop.core.descriptors import camelot
    from songsim_desktop.core.service import SongsimService

    music = data / "music"
    music.mkdir()
    for i, (bpm, tonic, mode, pattern, kit, voice) in enumerate(TRACKS):
        name = f"{i + 1:02d} {kit} {pattern} {camelot.key_name(tonic, mode)}.wav"
        sf.write(str(music / name), synth_music.mix(bpm, tonic, mode, pattern, kit, voice, 20.0, seed=i), 22050)
    shots = ScreenshotWindow(SongsimService(), args.out, scan_workers=0)
    window = shots.window
    window.ctx.addFolderRequested.emit(str(music))
    shots.wait_until(lambda: shots.idle() and window.ctx.tracks_model.rowCount() == len(TRACKS)
                     and not window.library_tab.scanning, 600, "the scan")
    window.ctx.refresh_tracks()
    shots.wait_idle(60, "the table")
    library = window.library_tab
    library.table.sortByColumn(library.proxy.sourceModel().COLUMNS.index("Key"), Qt.SortOrder.AscendingOrder)
    library.tempo_key_filter.set_compatible("8A")  # keys that mix with A minor
    shots.shoot("tempo-key-library")
    library.tempo_key_filter.set_compatible(None)
    reference = next(t for t in window.ctx.tracks_model.rows if t.path.endswith(" electronic four-on-floor A minor.wav"))
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    shots.wait_until(lambda: shots.idle() and window.search_tab.results_model.rowCount() > 0, 120, "results")
    panel = window.search_tab.aspects
    panel.set_weights(sound=0.3, rhythm=1.0, harmony=0.6)
    panel.filter_bar.set_bpm(110, 135)
    shots.pump(0.2)
    window.search_tab.select_result(0)
    shots.wait_idle(60, "the result's preview")
    shots.shoot("tempo-key-aspects")
    shots.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
