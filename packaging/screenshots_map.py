"""Screenshots of the Sound map and Duplicates tabs (issue 13), rendered offscreen, for docs/screenshots/.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv/bin/python packaging/screenshots_map.py [--out docs/screenshots]

In a fresh temporary folder (your library is never touched) it synthesises a library (core.synth:
8 families x 8 tracks of 12 s, one folder per family) plus planted copies of three tracks (MP3, OGG,
a 16 kHz FLAC, a trimmed WAV), scans it with the app, imports folder tags, searches with one
track (so the map highlights the reference and its results), waits for the t-SNE layout, lassoes
a cluster, hovers a point, and shoots the map; then runs the duplicate finder and shoots that tab.
Widgets are rendered with ``QWidget.grab()`` (no X server needed), then reduced to a 256-colour
palette (packaging/screenshots.py's ScreenshotWindow, which every screenshot script uses).
"""

from __future__ import annotations

import sys

from screenshots import ScreenshotWindow, fresh_data_folder, parser


def main() -> int:
    args = parser("Sound map and Duplicates screenshots, offscreen").parse_args()
    base = fresh_data_folder("songsim-map-shots-")

    import numpy as np
    import soundfile as sf
    import soxr

    from songsim_desktop.core import synth
    from songsim_desktop.core.progress import drive
    from songsim_desktop.core.service import SongsimService

    music = base / "music"
    families = synth.all_families()[:8]
    synth.write_library(music, families, per_family=8, seconds=12.0, suffixes=(".flac", ".wav"))
    for i, family in enumerate(families[:3]):
        song = synth.render(family, 12.0, 22050, seed=1000 * i)  # the first track of the family's folder
        copies = music / "copies"
        copies.mkdir(exist_ok=True)
        sf.write(str(copies / f"{family.name}-00 (mp3 copy).mp3"), song, 22050)
        sf.write(str(copies / f"{family.name}-00 (ogg copy).ogg"), song, 22050)
        sf.write(str(copies / f"{family.name}-00 (16 kHz).flac"), soxr.resample(song, 22050, 16000), 16000)
        sf.write(str(copies / f"{family.name}-00 (trimmed).wav"), song[2 * 22050:], 22050)
    service = SongsimService()
    drive(service.scan_job(music, workers=0))
    service.import_folder_tags()

    shots = ScreenshotWindow(service, args.out, scan_workers=0)
    window, idle = shots.window, shots.idle
    window.ctx.refresh_tracks()
    shots.wait_until(lambda: idle() and window.ctx.tracks_model.rowCount() > 0, 120, "the track list")
    map_tab = window.pages["map"]
    map_tab.refresh_map()
    shots.wait_until(lambda: idle() and map_tab.map is not None and map_tab.map.method == "tsne", 600,
                     "the t-SNE layout")
    reference = next(t for t in window.ctx.tracks_model.rows if t.path.endswith("00.flac"))
    window.ctx.findSimilarRequested.emit(reference.id, reference.path)
    shots.wait_until(lambda: idle() and window.search_tab.results_model.rowCount() > 0, 120, "search results")
    window.show_tab("map")
    view = map_tab.view
    centre = view.xy[list(view.track_ids).index(reference.id)]
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    view.select_in_polygon(np.stack([centre[0] + 0.25 * np.cos(angles), centre[1] + 0.25 * np.sin(angles)], axis=1))
    hovered = next(t for t in view.track_ids if t != reference.id)
    view._mouse_moved(view.scene_pos_of(int(hovered)))
    shots.shoot("sound-map")

    window.show_tab("duplicates")
    tab = window.pages["duplicates"]
    tab.find_duplicates()
    shots.wait_until(lambda: idle() and tab.report is not None, 300, "the duplicate search")
    tab.tree.setCurrentItem(tab.tree.topLevelItem(0).child(0))
    shots.shoot("duplicates")
    shots.close()
    return 0


if __name__ == "__main__":  # the guard matters: the scan's decode processes re-import this file
    sys.exit(main())
