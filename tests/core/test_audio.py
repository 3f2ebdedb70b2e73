"""core.audio: decoding in every format, resampling, crop placement, bounded reads, bad files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.audio_factory import (BAD_FILE_WRITERS, nfd_name, sine, write_audio, write_m4a, write_sine,
                                write_silent, write_truncated)
from songsim_desktop.core import audio, audio_sources, synth
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.errors import DecodeError

# Short crops keep the tests fast; the code paths are the same as with the shipped config.
CFG = FrontEndConfig(crop_frames=32, n_crops=4)  # 1024 + 31*512 = 16896 samples = 0.77 s


def peak_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * sr / len(x))


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3", ".aiff"])
def test_each_soundfile_format_gives_duration_rate_and_crops(tmp_path, suffix):
    path = write_sine(tmp_path / f"tone{suffix}", seconds=3.0, sr=44100, channels=2)
    info = audio.probe(path)
    assert info.sample_rate == 44100 and info.channels == 2
    # MP3 and Vorbis pad a frame or so; the header duration stays within 0.1 s.
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    crops, read_info = audio.read_crops(path, CFG)
    assert crops.shape == (CFG.n_crops, CFG.crop_samples) and crops.dtype == np.float32
    assert read_info.duration_s == pytest.approx(3.0, abs=0.1)
    assert 0.3 < np.abs(crops).max() < 0.7


@pytest.mark.parametrize("name,codec", [("tone.m4a", "aac"), ("tone.m4a", "alac"), ("tone.aac", None),
                                        ("tone.wma", None)])
def test_formats_libsndfile_rejects_go_through_pyav_and_decode(tmp_path, name, codec):
    path = write_m4a(tmp_path / name, sine(3.0, 44100, 1000.0), 44100, codec=codec)
    with pytest.raises(sf.LibsndfileError):
        sf.info(str(path))  # the premise: libsndfile cannot open it
    with audio_sources.open_source(path) as src:
        assert isinstance(src, audio_sources.AvSource)
    info = audio.probe(path)
    assert info.sample_rate == 44100 and info.duration_s == pytest.approx(3.0, abs=0.1)
    crops, _ = audio.read_crops(path, CFG)
    assert crops.shape == (CFG.n_crops, CFG.crop_samples)
    assert peak_hz(crops[1], CFG.sample_rate) == pytest.approx(1000.0, abs=5.0)
    loaded = audio.load(path, 22050)
    assert len(loaded) == pytest.approx(3.0 * 22050, abs=0.06 * 22050)


def test_pyav_crops_match_soundfile_crops_of_the_same_audio(tmp_path):
    """Seeking by time in PyAV lands on the same samples as libsndfile's exact seek."""
    rng = np.random.default_rng(1)
    x = np.clip(0.1 * rng.standard_normal(int(4.0 * 22050)), -0.9, 0.9).astype(np.float32)
    wav = write_audio(tmp_path / "noise.wav", x, 22050, subtype="FLOAT")
    alac = write_m4a(tmp_path / "noise.m4a", x, 22050, codec="alac")  # lossless: same samples
    a, _ = audio.read_crops(wav, CFG)
    b, _ = audio.read_crops(alac, CFG)
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_stereo_is_mixed_to_the_mean_of_channels(tmp_path):
    left = sine(2.0, 22050, 440.0, 0.6)
    right = np.zeros_like(left)
    path = write_audio(tmp_path / "lr.wav", np.stack([left, right], axis=1), 22050, subtype="FLOAT")
    mono = audio.load(path, 22050)
    np.testing.assert_allclose(mono, left / 2, atol=1e-6)


@pytest.mark.parametrize("source_rate", [44100, 48000, 16000])
def test_resampling_keeps_a_1khz_tone_at_1khz(tmp_path, source_rate):
    path = write_sine(tmp_path / f"sine{source_rate}.wav", seconds=3.0, sr=source_rate, freq=1000.0)
    crops, info = audio.read_crops(path, CFG)
    assert info.sample_rate == source_rate
    for crop in crops:
        assert peak_hz(crop, CFG.sample_rate) == pytest.approx(1000.0, abs=3.0)
        assert np.abs(crop).max() == pytest.approx(0.5, abs=0.02)  # no gain change, no clicks
    loaded = audio.load(path, CFG.sample_rate)
    assert len(loaded) == pytest.approx(3.0 * CFG.sample_rate, abs=2)
    assert peak_hz(loaded, CFG.sample_rate) == pytest.approx(1000.0, abs=1.0)


def test_crop_starts_are_deterministic_evenly_spread_and_inside_the_track():
    total = 100 * CFG.crop_samples
    starts = audio.crop_starts(total, CFG)
    np.testing.assert_array_equal(starts, audio.crop_starts(total, CFG))
    assert len(starts) == CFG.n_crops and starts.dtype == np.int64
    assert starts[0] >= 0 and starts[-1] + CFG.crop_samples <= total
    gaps = np.diff(starts)
    assert np.all(gaps > 0) and gaps.max() - gaps.min() <= 1
    assert gaps[0] == pytest.approx(total / CFG.n_crops, abs=1)
    # shorter than a crop: every crop starts at 0 (the track is tiled); just longer: all inside
    assert np.all(audio.crop_starts(CFG.crop_samples - 1, CFG) == 0)
    near = audio.crop_starts(CFG.crop_samples + 10, CFG)
    assert near.min() >= 0 and near.max() <= 10


def test_crops_are_cut_at_the_announced_positions(tmp_path):
    """A ramp whose value is its own sample index shows exactly where each crop came from."""
    sr = CFG.sample_rate
    n = 6 * sr
    ramp = (np.arange(n) / n * 0.9 + 0.05).astype(np.float32)  # no silence, exact in FLOAT WAV
    path = write_audio(tmp_path / "ramp.wav", ramp, sr, subtype="FLOAT")
    crops, _ = audio.read_crops(path, CFG)
    for crop, start in zip(crops, audio.crop_starts(n, CFG)):
        np.testing.assert_allclose(crop, ramp[start: start + CFG.crop_samples], atol=1e-7)


def test_short_track_is_tiled_to_crop_length(tmp_path):
    sr = CFG.sample_rate
    x = sine(1.2, sr, 500.0)
    cfg = FrontEndConfig(crop_frames=64, n_crops=3)  # 33280 samples = 1.5 s > 1.2 s
    path = write_audio(tmp_path / "short.wav", x, sr, subtype="FLOAT")
    crops, info = audio.read_crops(path, cfg)
    assert info.duration_s == pytest.approx(1.2, abs=1e-3)
    assert crops.shape == (3, cfg.crop_samples)
    np.testing.assert_allclose(crops[0, : len(x)], x, atol=1e-6)
    np.testing.assert_allclose(crops[0, len(x): 2 * len(x) - cfg.crop_samples + len(x)],
                               x[: cfg.crop_samples - len(x)], atol=1e-6)
    np.testing.assert_array_equal(crops[0], crops[2])


def test_long_file_reads_only_the_crop_windows(tmp_path, monkeypatch):
    sr = 22050
    seconds = 300
    hiss = (0.1 * np.random.default_rng(0).standard_normal(seconds * sr)).astype(np.float32)
    path = write_audio(tmp_path / "long.wav", hiss, sr, subtype="PCM_16")
    frames_read = []
    original = audio_sources.SoundFileSource._read_frames  # where every decoded frame comes from

    def counting_read(self, frames):
        out = original(self, frames)
        frames_read.append(len(out))
        return out

    monkeypatch.setattr(audio_sources.SoundFileSource, "_read_frames", counting_read)
    crops, info = audio.read_crops(path, CFG)
    assert info.duration_s == pytest.approx(seconds)
    assert crops.shape == (CFG.n_crops, CFG.crop_samples)
    # each crop window plus its pre- and post-roll, never the whole 6.6 M samples
    window = CFG.crop_samples + 2 * int(np.ceil(audio._PREROLL_S * sr)) + 4
    assert len(frames_read) == CFG.n_crops
    assert max(frames_read) <= window and sum(frames_read) <= CFG.n_crops * window

    frames_read.clear()
    part = audio.load(path, sr, offset_s=100.0, max_seconds=2.0)
    assert len(part) == 2 * sr
    np.testing.assert_allclose(part, hiss[100 * sr: 102 * sr], atol=1 / 32768)
    assert 2 * sr <= sum(frames_read) <= 2 * sr + 2 * audio._LOAD_BLOCK


def test_load_offset_and_limit_at_another_rate(tmp_path):
    path = write_sine(tmp_path / "a.flac", seconds=4.0, sr=48000, freq=1000.0)
    part = audio.load(path, 22050, offset_s=1.0, max_seconds=1.5)
    assert len(part) == int(1.5 * 22050)
    assert peak_hz(part, 22050) == pytest.approx(1000.0, abs=2.0)
    assert len(audio.load(path, 22050, offset_s=3.5)) == pytest.approx(0.5 * 22050, abs=2)
    assert len(audio.load(path, 22050, offset_s=10.0)) == 0


@pytest.mark.parametrize("name", sorted(BAD_FILE_WRITERS))
def test_bad_files_raise_decode_error_with_a_reason(tmp_path, name):
    writer, suffix, words = BAD_FILE_WRITERS[name]
    path = writer(tmp_path / f"bad{suffix}")
    with pytest.raises(DecodeError) as err:
        audio.read_crops(path, CFG)
    assert words in err.value.reason
    assert str(path) in str(err.value) and "while decoding" in str(err.value)


def test_too_short_message_is_exact(tmp_path):
    path = write_sine(tmp_path / "blip.wav", seconds=0.2)
    with pytest.raises(DecodeError) as err:
        audio.read_crops(path, CFG)
    assert err.value.reason == "too short: 0.2 s (songsim needs at least 1.0 s)"


def test_quiet_but_audible_is_not_silent_while_hiss_below_60_dbfs_is(tmp_path):
    audible = write_sine(tmp_path / "quiet.wav", seconds=2.0, amplitude=10 ** (-50 / 20))
    crops, _ = audio.read_crops(audible, CFG)  # -50 dBFS peak: quiet, but music
    assert np.abs(crops).max() == pytest.approx(10 ** (-50 / 20), rel=0.01)
    path = write_silent(tmp_path / "hiss.wav", level_dbfs=-66)
    with pytest.raises(DecodeError, match="silent: peak level -66 dBFS"):
        audio.read_crops(path, CFG)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DecodeError, match="file not found"):
        audio.read_crops(tmp_path / "gone.wav", CFG)
    with pytest.raises(DecodeError, match="is a folder"):
        audio.probe(tmp_path)


def test_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    path = write_sine(tmp_path / "locked.wav")
    path.chmod(0)
    if os.access(path, os.R_OK):  # running as root (CI containers): mode bits do not stop us,
        real_access = os.access   # so show the check what a normal user's process would see
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == path else real_access(p, mode, **kw))
    try:
        with pytest.raises(DecodeError, match="permission denied"):
            audio.read_crops(path, CFG)
    finally:
        path.chmod(0o644)


def test_read_only_file_decodes(tmp_path):
    path = write_sine(tmp_path / "ro.flac", seconds=2.0)
    path.chmod(0o444)
    crops, _ = audio.read_crops(path, CFG)
    assert crops.shape == (CFG.n_crops, CFG.crop_samples)


@pytest.mark.parametrize("suffix,keep", [(".wav", 0.5), (".flac", 0.5), (".mp3", 0.5)])
def test_truncated_file_uses_what_can_be_read(tmp_path, suffix, keep):
    path = write_truncated(tmp_path / f"cut{suffix}", seconds=8.0, keep_fraction=keep)
    crops, info = audio.read_crops(path, CFG)
    assert 2.5 < info.duration_s < 5.0  # about half of the 8 s the header may promise
    assert crops.shape == (CFG.n_crops, CFG.crop_samples)
    assert peak_hz(crops[-1], CFG.sample_rate) == pytest.approx(440.0, abs=3.0)
    assert np.abs(crops[-1]).max() > 0.3  # the last crop lies within the readable part
    assert len(audio.load(path, CFG.sample_rate)) >= 2.5 * CFG.sample_rate


@pytest.mark.parametrize("name", ["Café Müller – déjà vu.flac", "🎧 night drive 夜.mp3", "Ünïcödé ~ 'q' (1).wav"])
def test_unicode_and_nfd_names(tmp_path, name):
    for spelled in {name, nfd_name(name)}:
        path = write_sine(tmp_path / spelled, seconds=2.0)
        assert audio.probe(path).duration_s == pytest.approx(2.0, abs=0.1)
        crops, _ = audio.read_crops(path, CFG)
        assert crops.shape == (CFG.n_crops, CFG.crop_samples)


def test_supported_extensions_are_lowercase_suffixes_and_cover_the_test_formats():
    assert all(ext.startswith(".") and ext == ext.lower() for ext in audio.SUPPORTED_EXTENSIONS)
    assert {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".m4a", ".opus"} <= audio.SUPPORTED_EXTENSIONS
    assert ".txt" not in audio.SUPPORTED_EXTENSIONS and ".jpg" not in audio.SUPPORTED_EXTENSIONS


def test_opus_decodes(tmp_path):
    path = write_sine(tmp_path / "voice.opus", seconds=2.0, sr=48000)
    crops, info = audio.read_crops(Path(path), CFG)
    assert info.sample_rate == 48000
    assert peak_hz(crops[0], CFG.sample_rate) == pytest.approx(1000.0, abs=5.0)


def test_mp3_streams_and_crops_match_a_one_shot_decode(tmp_path):
    """Regression: python-soundfile seeks around every read, and each seek makes libmpg123 garble
    the next ~2800 samples; blocks and crop windows must equal one whole-file decode."""
    path = synth.write_track(tmp_path / "song.mp3", synth.Family("pluck", "swing"), 20.0, sr=44100)
    whole = sf.read(str(path), dtype="float32")[0]
    with audio_sources.open_source(path) as src:
        streamed = np.concatenate(list(src.blocks(0, 4096)))
    np.testing.assert_array_equal(streamed, whole[:, None] if whole.ndim == 1 else whole)
    reference = audio._resample(whole, 44100, CFG.sample_rate)
    crops, info = audio.read_crops(path, CFG)
    for crop, start in zip(crops, audio.crop_starts(int(info.duration_s * CFG.sample_rate), CFG)):
        np.testing.assert_allclose(crop, reference[start: start + CFG.crop_samples], atol=1e-3)
    later = audio.load(path, CFG.sample_rate, offset_s=7.0, max_seconds=2.0)
    start = 7 * CFG.sample_rate
    np.testing.assert_allclose(later, reference[start: start + len(later)], atol=1e-3)
