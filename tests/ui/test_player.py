"""Playback state with FakeOutput: play/pause/stop/seek/loop/volume, end of clip, no output device."""

from __future__ import annotations

import numpy as np
import pytest

from songsim_desktop.ui.player import FakeOutput, Player, SoundDeviceOutput

RATE = 1000  # a small rate keeps the arrays readable: sample i has value i / 10000


@pytest.fixture
def player(qtbot):
    out = FakeOutput()
    p = Player(out)
    p.load(np.arange(3000, dtype=np.float32) / 10000, RATE, "reference")
    p.set_volume(1.0)
    return p


def test_play_pause_stop_seek(qtbot, player):
    out = player.output
    with qtbot.waitSignal(player.stateChanged) as state:
        assert player.play()
    assert state.args == ["playing"] and out.running
    block = out.pull(500)
    np.testing.assert_allclose(block, np.arange(500) / 10000, rtol=1e-6)
    assert player.position_s == pytest.approx(0.5)
    player.pause()
    assert player.state == "paused"
    assert not np.any(out.pull(100))  # silence while paused, position kept
    assert player.position_s == pytest.approx(0.5)
    player.seek(2.0)
    player.play()
    assert out.pull(1)[0] == pytest.approx(2000 / 10000)
    player.stop()
    assert player.state == "stopped" and player.position_s == 0.0


def test_end_of_clip_stops_and_loop_wraps(qtbot, player):
    out = player.output
    player.seek(2.9)
    player.play()
    block = out.pull(200)
    assert np.all(block[100:] == 0.0)  # padded with silence after the end
    with qtbot.waitSignal(player.stateChanged, timeout=2000) as state:
        pass  # the 30 Hz timer notices the end on the GUI thread
    assert state.args == ["stopped"]

    player.set_loop(True)
    player.seek(2.9)
    player.play()
    block = out.pull(200)
    assert block[100] == pytest.approx(0.0) and block[150] == pytest.approx(50 / 10000)  # wrapped to 0
    assert player.state == "playing" and player.position_s == pytest.approx(0.1)


def test_volume_scales_output(player):
    player.set_volume(0.5)
    player.seek(1.0)
    player.play()
    assert player.output.pull(1)[0] == pytest.approx(0.5 * 1000 / 10000)


def test_load_keeps_playing_from_the_given_position(player):
    player.play()
    player.output.pull(700)
    player.load(np.ones(5000, dtype=np.float32), RATE, "result", start_s=0.7)
    assert player.state == "playing" and player.label == "result"
    assert player.position_s == pytest.approx(0.7)
    assert player.output.pull(10)[0] == pytest.approx(1.0)


def test_position_signal_moves_while_playing(qtbot, player):
    player.play()
    player.output.pull(1200)
    with qtbot.waitSignal(player.positionChanged, timeout=2000) as pos:
        pass
    assert pos.args[0] == pytest.approx(1.2)


def test_without_portaudio_the_output_is_disabled_with_a_fix(no_portaudio):
    out = SoundDeviceOutput()
    assert not out.available
    assert "sudo apt-get install libportaudio2" in out.reason
    p = Player(out)
    p.load(np.ones(100, dtype=np.float32), RATE)
    assert p.play() is False and p.state == "stopped"


def test_without_an_output_device_the_output_is_disabled_with_a_reason(monkeypatch):
    """PortAudio present but no sound card (a headless box, a muted VM): still no crash."""
    import sys
    import types

    def no_device(kind=None):
        raise ValueError("No output device matching ''")

    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(query_devices=no_device))
    out = SoundDeviceOutput()
    assert not out.available
    assert "no audio output device" in out.reason and "No output device" in out.reason
    p = Player(out)
    p.load(np.ones(100, dtype=np.float32), RATE)
    assert p.play() is False and p.state == "stopped"
