"""The audition controller on its own (no search tab): previews, A/B, auto-preview from the anchor."""

from __future__ import annotations

import logging

import pytest

from songsim_desktop.core import synth
from songsim_desktop.settings import Settings
from songsim_desktop.ui.audition import REFERENCE, RESULT, AuditionController
from songsim_desktop.ui.context import AppContext
from songsim_desktop.ui.player import FakeOutput, Player
from ui.conftest import FAMILIES


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audition")
    return {name: str(synth.write_track(folder / f"{name}.wav", family, 4.0, seed=seed))
            for name, family, seed in (("reference", FAMILIES[0], 1), ("a", FAMILIES[1], 2),
                                       ("b", FAMILIES[2], 3), ("other", FAMILIES[3], 4))}


@pytest.fixture
def audition(qtbot):
    """A factory: an AuditionController on a Player with ``output`` (FakeOutput by default), and the
    list that collects the context's messages (what the status line would show)."""
    contexts = []

    def make(output=None):
        ctx = AppContext(None, Settings(), Player(output if output is not None else FakeOutput()))
        contexts.append(ctx)  # audition needs no service
        messages = []
        ctx.message.connect(lambda text, level: messages.append((text, level)))
        return AuditionController(ctx), messages

    yield make
    for ctx in contexts:  # no preview worker may outlive its test
        ctx.pool.abort_all()
        ctx.pool.wait(30000)
        ctx.player.shutdown()


def shown(qtbot, controller, call, *args):
    """Call ``call(*args)`` and return the (role, Preview) that the controller then shows."""
    with qtbot.waitSignal(controller.previewShown, timeout=30000) as blocker:
        call(*args)
    return blocker.args


def play_for(qtbot, controller, seconds):
    """Let the fake sound card pull ``seconds`` of audio, and wait until the GUI has seen it."""
    player = controller.player
    target = player.position_s + seconds
    player.output.pull(int(round(seconds * player._rate)))
    qtbot.waitUntil(lambda: abs(controller.player.position_s - target) < 0.05)
    with qtbot.waitSignal(controller.playheadMoved, timeout=5000):
        pass  # the 30 Hz tick reports the position


def test_a_reference_is_drawn_and_loaded_paused(qtbot, audition, tracks):
    controller, _ = audition()
    with qtbot.waitSignals([controller.previewCleared, controller.previewLoading, controller.previewShown],
                           order="strict", timeout=30000):
        controller.set_reference(tracks["reference"])
    preview = controller.previews[REFERENCE]
    assert preview.path == tracks["reference"]
    assert preview.mel_db.shape[0] == 64 and preview.duration_s == pytest.approx(4.0, abs=0.05)
    player = controller.player
    assert player.label == REFERENCE and player.has_audio and player.state == "stopped"


def test_walking_the_results_plays_each_from_the_reference_position(qtbot, audition, tracks):
    controller, _ = audition()
    player = controller.player
    shown(qtbot, controller, controller.set_reference, tracks["reference"])
    controller.play_pause()
    assert player.state == "playing"
    play_for(qtbot, controller, 1.0)
    assert controller.anchor_s == pytest.approx(1.0, abs=0.05)
    # Auto-preview: the selected result plays at once, from the anchor.
    assert shown(qtbot, controller, controller.show_result, tracks["a"])[0] == RESULT
    assert player.label == RESULT and player.state == "playing"
    assert player.position_s == pytest.approx(1.0, abs=0.05)
    play_for(qtbot, controller, 0.5)
    # A/B keeps the position both ways; leaving the reference moved the anchor with it.
    controller.toggle_reference_result()
    assert player.label == REFERENCE and player.position_s == pytest.approx(1.5, abs=0.05)
    controller.toggle_reference_result()
    assert player.label == RESULT and controller.anchor_s == pytest.approx(1.5, abs=0.05)
    play_for(qtbot, controller, 0.5)  # the result plays on; the anchor stays where the reference was
    assert controller.anchor_s == pytest.approx(1.5, abs=0.05)
    shown(qtbot, controller, controller.show_result, tracks["b"])
    assert player.position_s == pytest.approx(1.5, abs=0.05) and controller.previews[RESULT].path == tracks["b"]
    # Walking back is instant: the preview comes from the cache, no worker, no "loading".
    loading = []
    controller.previewLoading.connect(lambda role, path: loading.append(path))
    with qtbot.waitSignal(controller.previewShown, timeout=1000):
        assert controller.show_result(tracks["a"]) is None
    assert loading == [] and player.label == RESULT and player.position_s == pytest.approx(1.5, abs=0.05)


def test_without_auto_preview_a_result_is_drawn_but_not_played(qtbot, audition, tracks):
    controller, _ = audition()
    controller.set_auto_preview(False)
    assert controller.ctx.settings.auto_preview is False
    shown(qtbot, controller, controller.set_reference, tracks["reference"])
    shown(qtbot, controller, controller.show_result, tracks["a"])
    assert controller.player.label == REFERENCE and controller.player.state == "stopped"
    # A click on the result's spectrogram plays that one from there; a click on the reference moves the anchor.
    controller.seek_in(RESULT, 2.0)
    assert controller.player.label == RESULT and controller.player.position_s == pytest.approx(2.0, abs=0.01)
    controller.seek_in(REFERENCE, 3.0)
    assert controller.player.label == REFERENCE and controller.anchor_s == 3.0
    controller.nudge(-1.0)
    assert controller.player.position_s == pytest.approx(2.0, abs=0.01)


def test_a_new_reference_forgets_the_result_and_stops_it(qtbot, audition, tracks):
    controller, _ = audition()
    shown(qtbot, controller, controller.set_reference, tracks["reference"])
    controller.play_pause()
    shown(qtbot, controller, controller.show_result, tracks["a"])
    assert controller.player.label == RESULT and controller.player.state == "playing"
    cleared = []
    controller.previewCleared.connect(cleared.append)
    shown(qtbot, controller, controller.set_reference, tracks["other"])
    assert cleared == [RESULT] and controller.previews[RESULT] is None
    assert controller.player.label == REFERENCE and controller.player.state == "stopped"
    assert controller.previews[REFERENCE].path == tracks["other"] and controller.anchor_s == 0.0


def test_an_unreadable_result_is_reported_and_the_rest_goes_on(qtbot, audition, tracks, tmp_path):
    controller, messages = audition()
    shown(qtbot, controller, controller.set_reference, tracks["reference"])
    bad = tmp_path / "not audio.mp3"
    bad.write_bytes(b"no audio here" * 50)
    with qtbot.waitSignal(controller.previewFailed, timeout=30000) as failed:
        controller.show_result(str(bad))
    assert failed.args == [RESULT, str(bad)]
    assert messages[-1][1] == logging.ERROR and "not audio.mp3" in messages[-1][0]
    assert controller.player.label == REFERENCE and controller.previews[RESULT] is None
    shown(qtbot, controller, controller.show_result, tracks["a"])  # the next result still works
    assert controller.previews[RESULT].path == tracks["a"]


def test_without_a_sound_device_play_says_why(qtbot, audition, tracks):
    controller, messages = audition(FakeOutput(available=False, reason="audition disabled: no device"))
    shown(qtbot, controller, controller.set_reference, tracks["reference"])
    controller.play_pause()
    assert controller.player.state == "stopped"
    assert messages[-1] == ("audition disabled: no device", logging.WARNING)
    shown(qtbot, controller, controller.show_result, tracks["a"])  # drawn, but auto-preview cannot play it
    assert controller.player.label == REFERENCE


def test_loop_and_volume_reach_the_player_and_the_settings(qtbot, audition):
    controller, _ = audition()
    controller.set_loop(True)
    controller.set_volume(0.3)
    assert controller.player.loop and controller.ctx.settings.loop
    assert controller.player.volume == pytest.approx(0.3) and controller.ctx.settings.volume == pytest.approx(0.3)
