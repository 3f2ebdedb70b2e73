"""Issue 11 in the Search tab: judge results (+/- keys, buttons, context menu), marks, undo,
instant re-ranking and reset; the judgements land in the library."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from songsim_desktop.core import synth
from ui.conftest import FAMILIES, wait_idle
from ui.test_search_tab import drop_urls

from songsim_desktop.ui.models import ResultTableModel

JUDGED = ResultTableModel.COLUMNS.index("Judged")  # other features add columns before it


@pytest.fixture
def judging(qtbot, scanned_service, make_window, tmp_path):
    window = make_window(scanned_service)
    window.search_tab.auto_box.setChecked(False)
    reference = synth.write_track(tmp_path / "ref.wav", FAMILIES[1], 7.0, seed=99)
    drop_urls(window, [reference])
    wait_idle(qtbot, window)
    controller = window.search_tab.judging
    assert controller.session is not None
    return window, controller


def shown(tab):
    return [m.track_id for m in tab.results_model.rows]


def test_judging_reorders_at_once_marks_rows_and_undo_and_reset_restore(qtbot, judging):
    window, controller = judging
    tab = window.search_tab
    plain = shown(tab)
    assert not controller.undo_button.isEnabled() and not controller.reset_button.isEnabled()
    last = plain[-1]
    tab.select_result(len(plain) - 1)
    with qtbot.waitSignal(controller.rankingChanged, timeout=5000):
        qtbot.keyClick(tab.table, Qt.Key.Key_Plus, Qt.KeyboardModifier.ShiftModifier)
    assert shown(tab)[0] == last  # liked: first, at once
    assert tab.results_model.rows[0].judgement == 1
    assert tab.results_model.data(tab.results_model.index(0, JUDGED)) == "+ more like this"
    assert tab.results_model.data(tab.results_model.index(1, JUDGED)) == ""
    assert controller.selected_match().track_id == last  # the judged track stays selected
    first_other = shown(tab)[1]
    tab.select_result(1)
    qtbot.keyClick(tab.table, Qt.Key.Key_Minus)
    assert shown(tab)[-1] == first_other and tab.results_model.rows[-1].judgement == -1
    wait_idle(qtbot, window)
    stored = {(j.result_track_id, j.sign) for j in window.ctx.service.library.judgements()}
    assert stored == {(last, 1), (first_other, -1)}

    controller.undo_button.click()  # takes back the dislike
    assert tab.results_model.rows[0].track_id == last and all(m.judgement != -1 for m in tab.results_model.rows)
    wait_idle(qtbot, window)
    assert {(j.result_track_id, j.sign) for j in window.ctx.service.library.judgements()} == {(last, 1)}

    controller.reset_button.click()
    assert shown(tab) == plain and all(m.judgement is None for m in tab.results_model.rows)
    assert not controller.reset_button.isEnabled() and not controller.undo_button.isEnabled()


def test_buttons_and_the_context_menu_judge_too(qtbot, judging):
    window, controller = judging
    tab = window.search_tab
    tab.select_result(2)
    target = controller.selected_match().track_id
    controller.dislike_button.click()
    assert shown(tab)[-1] == target
    menu = controller.context_menu()
    titles = [a.text() for a in menu.actions()]
    assert titles == ["More like this", "Not like this", "Undo judgement", "Reset ranking"]
    tab.select_result(len(shown(tab)) - 1)  # the disliked one: now judged "more like this" by the menu
    menu.actions()[0].trigger()
    assert shown(tab)[0] == target and tab.results_model.rows[0].judgement == 1
    menu.actions()[2].trigger()  # undo: back to disliked
    assert shown(tab)[-1] == target and tab.results_model.rows[-1].judgement == -1


def test_a_new_query_starts_unjudged(qtbot, judging, tmp_path):
    window, controller = judging
    tab = window.search_tab
    tab.select_result(0)
    controller.like_button.click()
    other = synth.write_track(tmp_path / "other.wav", FAMILIES[3], 7.0, seed=5)
    tab.query_file(str(other))
    assert controller.session is None and not controller.like_button.isEnabled()
    wait_idle(qtbot, window)
    assert controller.session is not None and all(m.judgement is None for m in tab.results_model.rows)
