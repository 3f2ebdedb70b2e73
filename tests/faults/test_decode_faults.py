"""Issue 14, decoding: damaged samples, DC, truncated FLAC, unreadable paths.

Each file is synthesised here; each test failed before its fix.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songsim_desktop import paths
from songsim_desktop.core import audio, decoding, synth
from songsim_desktop.core.embedder import Embedder, read_model_info
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.errors import DecodeError

CFG = read_model_info(paths.default_model_path()).frontend
FAMILY = synth.Family("sine", "straight")


def float_wav_with(path: Path, poison: float | None, seconds: float = 6.0) -> Path:
    """A 32-bit float WAV of music whose samples hold ``poison`` (NaN, inf) every 1000 samples."""
    x = np.array(synth.render(FAMILY, seconds, 22050, seed=1), dtype=np.float32)
    if poison is not None:
        x[::1000] = poison
    sf.write(str(path), x, 22050, subtype="FLOAT")
    return path


def random_data_chunk(path: Path, seconds: float = 6.0, seed: int = 0) -> Path:
    """A float WAV whose data chunk is random bytes (disk damage under an intact header)."""
    float_wav_with(path, None, seconds)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"data") + 8
    size = struct.unpack_from("<I", raw, at - 4)[0]
    raw[at:at + size] = np.random.default_rng(seed).bytes(size)
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_a_clear_per_file_error(tmp_path, poison):
    path = float_wav_with(tmp_path / "poisoned.wav", poison)
    with pytest.raises(DecodeError, match=r"^while decoding .*poisoned.wav: damaged audio data: \d+ of the samples"):
        audio.read_crops(path, CFG)


def test_a_data_chunk_of_random_bytes_is_the_same_clear_error(tmp_path):
    path = random_data_chunk(tmp_path / "scrambled.wav")
    with pytest.raises(DecodeError, match="damaged audio data"):
        audio.read_crops(path, CFG)


def test_a_poisoned_file_never_reaches_the_index_and_queries_keep_working(tmp_path):
    music = tmp_path / "music"
    good = synth.write_library(music, [FAMILY, synth.Family("saw", "swing")], 2, 6.5)
    bad = [float_wav_with(music / "nan.wav", np.nan), random_data_chunk(music / "scrambled.wav")]
    with SongsimService() as svc:
        report = drive(svc.scan_job(music, workers=0))
        failed = dict(report.failed)
        assert set(failed) == {str(p.resolve()) for p in bad}
        assert all("damaged audio data" in reason for reason in failed.values())
        ids, matrix = svc.library.vectors(svc.active_model_id())
        assert len(ids) == len(good) and np.isfinite(matrix).all()
        assert len(svc.query_file(next(iter(good)), k=10).matches) == len(good) - 1
        with pytest.raises(DecodeError, match="damaged audio data"):  # as a query reference too
            svc.query_file(bad[0])


def test_the_embedder_refuses_non_finite_input():
    embedder = Embedder(paths.default_model_path())
    x = np.zeros((1, 1, CFG.n_mels, CFG.crop_frames), np.float32)
    x[0, 0, 3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        embedder.embed_inputs(x)


def test_a_constant_dc_signal_is_silence(tmp_path):
    path = tmp_path / "dc.wav"
    sf.write(str(path), np.full(22050 * 4, 0.5, np.float32), 22050, subtype="FLOAT")
    with pytest.raises(DecodeError, match=r"silent \(only a constant DC offset\)"):
        audio.read_crops(path, CFG)
    # music riding on a DC offset is still music
    music = synth.write_track(tmp_path / "music.wav", FAMILY, 4.0)
    x, sr = sf.read(str(music), dtype="float32")
    sf.write(str(music), 0.5 * x + 0.4, sr, subtype="FLOAT")
    crops, _ = audio.read_crops(music, CFG)
    assert np.isfinite(crops).all()


@pytest.mark.parametrize("suffix", [".flac", ".mp3", ".wav"])
@pytest.mark.parametrize("seconds", [30.0, 60.0])
def test_a_file_cut_in_half_indexes_its_decodable_part_whatever_the_format(tmp_path, suffix, seconds):
    path = synth.write_track(tmp_path / f"half{suffix}", FAMILY, seconds)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    crops, info = audio.read_crops(path, CFG)
    assert crops.shape == (CFG.n_crops, CFG.crop_samples) and np.isfinite(crops).all()
    # the duration reported is the part used: about half, not what the header promises
    assert seconds * 0.4 < info.duration_s < seconds * 0.6


def test_a_symlink_loop_is_a_decode_error_not_an_os_error(tmp_path):
    loop = tmp_path / "loop.wav"
    os.symlink(loop, loop)
    with pytest.raises(DecodeError, match=r"while decoding .*loop.wav: cannot read the file \(Too many levels"):
        audio.read_crops(loop, CFG)


def test_a_file_deleted_mid_scan_is_reported_as_deleted(tmp_path, monkeypatch):
    path = synth.write_track(tmp_path / "going.wav", FAMILY, 6.5)
    real = decoding.audio.load  # a scan decodes each whole file once (core.full_decode)

    def read_then_delete(p, *args, **kwargs):
        out = real(p, *args, **kwargs)
        os.unlink(p)
        return out

    monkeypatch.setattr(decoding.audio, "load", read_then_delete)
    prepared = decoding.prepare_track(str(path), CFG)
    assert prepared.logmel is None and prepared.error == f"while decoding {path}: {decoding.DELETED_WHILE_SCANNING}"
    monkeypatch.undo()
    # deleted between planning and decoding, and between decoding and commit
    assert decoding.DELETED_WHILE_SCANNING in decoding.prepare_track(str(path), CFG).error
    again = synth.write_track(tmp_path / "again.wav", FAMILY, 6.5)
    prepared = decoding.prepare_track(str(again), CFG)
    os.unlink(again)
    assert decoding.DELETED_WHILE_SCANNING in decoding.recheck(prepared, CFG).error


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".m4a"])
def test_a_file_name_that_is_not_utf8_decodes(tmp_path, suffix):
    """Libraries copied from old FAT drives hold Latin-1 names; Python keeps them as surrogate
    escapes, which libsndfile (via soundfile) and FFmpeg refused to open."""
    from core.audio_factory import write_audio

    made = write_audio(tmp_path / f"plain{suffix}", synth.render(FAMILY, 4.0, 22050), 22050)
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9" + suffix.encode())
    os.rename(made, raw)
    path = os.fsdecode(raw)
    assert "\udce9" in path
    crops, info = audio.read_crops(path, CFG)
    assert crops.shape == (CFG.n_crops, CFG.crop_samples) and info.duration_s > 3.5
    assert len(audio.load(path, 22050, max_seconds=1.0)) == 22050


def test_a_truncated_file_indexed_from_its_decodable_part_says_which_part(tmp_path, capsys):
    from songsim_desktop import cli

    music = tmp_path / "music"
    synth.write_library(music, [FAMILY], 2, 6.5)
    cut = synth.write_track(music / "cut.flac", FAMILY, 30.0)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    assert cli.main(["--data-dir", str(tmp_path / "data"), "index", str(music), "--workers", "0"]) == 0
    err = capsys.readouterr().err
    assert f"songsim: note: {cut.resolve()}: truncated: its header promises 30.0 s; the first 14." in err
    assert "decode and were used" in err
