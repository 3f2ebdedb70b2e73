"""Section search in the GUI (issue 10): drag across the reference's spectrogram, find, audition
from each result's matching moment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPoint, Qt

from songsim_desktop.core import synth
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService
from ui.conftest import wait_idle

SR = 22050
FAMILIES = synth.all_families()


def composed(path: Path, parts) -> Path:
    audio = np.concatenate([synth.render(FAMILIES[f % len(FAMILIES)], 15.0, SR, seed=s) for f, s in parts])
    sf.write(str(path), audio, SR)
    return path


@pytest.fixture
def sectioned(qtbot, isolated_data_dir, make_window, tmp_path):
    """A window over a scanned library whose track 'rep' repeats its first part at 30 s."""
    music = tmp_path / "music"
    music.mkdir()
    for i in range(3):
        composed(music / f"t{i}.wav", [(3 * i + j, 10 * i + j) for j in range(3)])
    rep = composed(music / "rep.wav", [(9, 90), (10, 91), (9, 90)])
    svc = SongsimService()
    drive(svc.scan_job(music, workers=0))
    window = make_window(svc)
    yield window, rep
    svc.close()


def canvas_point(view, seconds: float) -> QPoint:
    x, y = view.axes.transData.transform((seconds, 30))
    ratio = view.canvas.device_pixel_ratio
    return QPoint(int(round(x / ratio)), int(round(view.canvas.height() - y / ratio)))


def test_select_find_and_audition_from_the_match(qtbot, sectioned):
    window, rep = sectioned
    tab, player = window.search_tab, window.ctx.player
    own = next(t for t in window.ctx.service.tracks() if Path(t.path) == rep.resolve())
    window.resize(1200, 900)
    window.show()
    tab.query_track(own.id, own.path)
    wait_idle(qtbot, window)
    view = tab.reference_view
    assert view.has_data and tab.section_selector.range is None
    view.canvas.draw()
    # Drag from 1 s to 12 s across the reference's spectrogram.
    start, end = canvas_point(view, 1.0), canvas_point(view, 12.0)
    with qtbot.waitSignal(tab.section_selector.rangeChanged) as selected:
        qtbot.mousePress(view.canvas, Qt.MouseButton.LeftButton, pos=start)
        for step in range(1, 6):
            qtbot.mouseMove(view.canvas, QPoint(start.x() + (end.x() - start.x()) * step // 5, start.y()))
        qtbot.mouseRelease(view.canvas, Qt.MouseButton.LeftButton, pos=end)
    first, last = selected.args[0]
    assert first == pytest.approx(1.0, abs=0.3) and last == pytest.approx(12.0, abs=0.3)
    assert "0:01–0:12" in tab.section_bar.label.text()

    # Find this section: the reference's own track is left out by default.
    tab.section_bar.find_button.click()
    wait_idle(qtbot, window)
    rows = tab.results_model.rows
    assert len(rows) == 3 and own.id not in [m.track_id for m in rows]
    assert all(m.offset is not None for m in rows)

    # "Also inside this track": where does it repeat itself?  At 30 s (its first part again).
    tab.section_bar.include_self_box.setChecked(True)
    tab.section_bar.find_button.click()
    wait_idle(qtbot, window)
    best = tab.results_model.rows[0]
    assert best.track_id == own.id and best.offset == pytest.approx(31.0, abs=1.5)
    shown = tab.results_model.data(tab.results_model.index(0, 6))
    assert shown.startswith(f"0:{int(round(best.offset)):02d}–")

    # Walking the results with auto-preview plays each from its matching moment, highlighted.
    assert tab.audition.auto_preview
    tab.select_result(0)
    qtbot.waitUntil(lambda: player.label == "result", timeout=30000)
    assert player.position_s == pytest.approx(best.offset, abs=0.05)
    assert "best match" in tab.result_view.axes.get_title(loc="left")
    assert tab.result_view.axes.patches  # the matching part is shaded
    # A/B maps positions between the selection and the match.
    player.output.pull(int(1.0 * player._rate))
    qtbot.waitUntil(lambda: player.position_s > best.offset + 0.9)
    window.toggle_action.trigger()
    assert player.label == "reference" and player.position_s == pytest.approx(first + 1.0, abs=0.1)
    window.toggle_action.trigger()
    assert player.label == "result" and player.position_s == pytest.approx(best.offset + 1.0, abs=0.1)

    # "Whole track" forgets the selection.
    tab.section_bar.whole_button.click()
    assert tab.section_selector.range is None and "whole track" in tab.section_bar.label.text()
