"""Issue 11 in the Training tab: counts of judgements and triplets, an odd-one-out round, and a
fine-tune on judgements alone that shows the held-out judgement accuracy before and after."""

from __future__ import annotations

import pytest

from songsim_desktop import training
from songsim_desktop.core.library.judgements import JudgementReference
from ui.conftest import FAMILIES, wait_for_worker, wait_idle


def family_ids(service):
    return {f.name: [t.id for t in service.tracks() if f"/{f.name}/" in t.path] for f in FAMILIES}


def test_an_odd_one_out_round_is_played_answered_and_counted(qtbot, scanned_service, make_window):
    window = make_window(scanned_service)
    window.show_tab("training")
    panel = window.training_tab.feedback_panel
    wait_idle(qtbot, window)
    assert "0 odd-one-out answers" in panel.counts_label.text()
    assert not any(b.isEnabled() for b in panel.odd_buttons)
    with qtbot.waitSignal(panel.roundShown, timeout=30000):
        panel.new_round_button.click()
    shown = panel.round.track_ids
    assert len(set(shown)) == 3 and all(label.text() for label in panel.track_labels)
    wait_for_worker(qtbot, panel.play(1))
    assert window.ctx.player.has_audio and window.ctx.player.label == panel.track_labels[1].text()
    with qtbot.waitSignal(panel.countsShown, timeout=30000):
        panel.odd_buttons[0].click()
    (answer,) = scanned_service.library.odd_one_out_answers()
    assert answer.odd_id == shown[0] and {answer.anchor_id, answer.positive_id} == set(shown[1:])
    assert panel.counts == {"liked": 0, "disliked": 0, "odd": 1, "triplets": 1}
    assert "1 odd-one-out answers → 1 triplets" in panel.counts_label.text()
    assert not any(b.isEnabled() for b in panel.odd_buttons)  # answered: the next round is asked for


@pytest.mark.skipif(not training.available(), reason="needs the training extra (torch)")
def test_fine_tuning_on_judgements_alone_shows_before_and_after(qtbot, scanned_service, make_window):
    ids = family_ids(scanned_service)
    model = scanned_service.active_model_id()
    sine, saw, noise = (ids[FAMILIES[i].name] for i in (0, 1, 3))
    for ref in sine + saw:  # sine and saw tracks: like their own family, dislike noise
        mates = sine if ref in sine else saw
        for other in mates:
            if other != ref:
                scanned_service.library.judge(JudgementReference(track_id=ref), other, 1, model)
        for other in noise:
            scanned_service.library.judge(JudgementReference(track_id=ref), other, -1, model)
    window = make_window(scanned_service)
    window.show_tab("training")
    tab = window.training_tab
    panel = tab.feedback_panel
    wait_idle(qtbot, window)
    assert panel.counts == {"liked": 4, "disliked": 8, "odd": 0, "triplets": 8}
    panel.judgements_box.setChecked(True)
    panel.tags_box.setChecked(False)  # judgements alone: the library has no tags
    tab.epochs_spin.setValue(1)
    worker = tab.start_training()
    wait_for_worker(qtbot, worker, timeout=240000)
    wait_idle(qtbot, window)
    report = tab.last_report
    assert report is not None and report.model_id and scanned_service.active_model_id() == report.model_id
    assert report.metrics["judgement_triplets"] > 0
    text = panel.accuracy_label.text()
    assert "before" in text and "after" in text and "—" not in text
