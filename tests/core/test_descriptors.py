"""Tempo, key and Camelot rules on synthesised music with a known answer (core/descriptors)."""

from __future__ import annotations

import numpy as np
import pytest

from songsim_desktop.core import synth_music
from songsim_desktop.core.analysis import sample_hooks
from songsim_desktop.core.descriptors import camelot, describe, tempo

SR = 22050


@pytest.mark.parametrize("bpm, pattern, kit", [
    (64.0, "backbeat", "acoustic"), (92.5, "backbeat", "lofi"), (118.0, "four-on-floor", "lofi"),
    (140.0, "shuffle", "acoustic"), (174.0, "backbeat", "electronic"),
])
def test_tempo_of_drum_loops_is_within_4_percent(bpm, pattern, kit):
    found = describe(synth_music.drums(bpm, pattern, kit, seconds=16.0, sr=SR), SR)
    assert abs(found["tempo"] / bpm - 1) < 0.04, found["tempo"]
    assert 0.0 < found["tempo_confidence"] <= 1.0


@pytest.mark.parametrize("tonic, mode, voice", [
    (0, "major", "organ"), (9, "minor", "pluck"), (6, "major", "saw"), (3, "minor", "piano"), (10, "major", "pluck"),
])
def test_key_of_chord_progressions(tonic, mode, voice):
    found = describe(synth_music.chords(tonic, mode, voice, seconds=12.0, sr=SR), SR)
    assert (found["key_tonic"], found["key_mode"]) == (tonic, mode)
    assert found["key_confidence"] > 0.2
    assert found["harmony"].shape == (24,) and np.argmax(found["harmony"]) == (tonic if mode == "major" else 12 + tonic)


def test_tempo_and_key_of_a_mix_and_the_rhythm_vector():
    found = describe(synth_music.mix(100.0, 7, "major", seconds=16.0, sr=SR), SR)
    assert abs(found["tempo"] / 100.0 - 1) < 0.04
    assert (found["key_tonic"], found["key_mode"]) == (7, "major")
    assert found["rhythm"].dtype == np.float32 and found["rhythm"].shape == (32,) and found["rhythm"].max() > 0.2


def test_silence_and_short_audio_have_no_descriptors():
    assert describe(np.zeros(SR * 10, dtype=np.float32), SR) == {}
    assert describe(synth_music.drums(120.0, seconds=2.0, sr=SR), SR) == {}


def test_describe_is_the_registered_sample_hook():
    assert describe in sample_hooks.HOOKS


@pytest.mark.parametrize("tonic, mode, code", [
    (0, "major", "8B"), (9, "minor", "8A"), (7, "major", "9B"), (4, "minor", "9A"), (11, "major", "1B"),
    (8, "minor", "1A"), (5, "major", "7B"), (2, "minor", "7A"), (4, "major", "12B"), (1, "minor", "12A"),
])
def test_camelot_codes(tonic, mode, code):
    assert camelot.camelot(tonic, mode) == code
    assert camelot.key_of_code(code) == (tonic, mode)


def test_camelot_compatibility_is_same_neighbours_and_relative():
    assert camelot.compatible_codes("8A") == {"8A", "7A", "9A", "8B"}
    assert camelot.compatible_codes("12B") == {"12B", "11B", "1B", "12A"}  # the wheel wraps
    assert camelot.compatible_codes("1a") == {"1A", "12A", "2A", "1B"}
    assert camelot.compatible("8A", "8b") and not camelot.compatible("8A", "9B") and not camelot.compatible("8A", "3A")
    assert camelot.label(9, "minor") == "A minor (8A)" and camelot.label(None, None) == ""
    with pytest.raises(ValueError, match="Camelot"):
        camelot.parse_code("13A")


def test_octave_aware_tempo_rules():
    assert tempo.octave_distance(120.0, 60.0) < 1e-9 and tempo.octave_distance(120.0, 240.0) < 1e-9
    assert abs(tempo.octave_distance(120.0, 90.0) - abs(np.log2(120 / 90))) < 1e-9
    assert tempo.within(61.0, 118, 126, octave_aware=True) and not tempo.within(61.0, 118, 126)
    assert tempo.within(244.0, 118, 126, octave_aware=True) and not tempo.within(100.0, 118, 126, True)


def test_without_a_low_band_the_whole_spectrums_periodicity_stands():
    frame_rate = 100.0
    envelope = np.zeros(3000)
    envelope[::50] = 1.0  # a click every 0.5 s: 120 BPM, nothing in the low band
    bpm, confidence = tempo.estimate(envelope, np.zeros_like(envelope), frame_rate)
    assert abs(bpm - 120.0) < 2.0 and confidence > 0.5
