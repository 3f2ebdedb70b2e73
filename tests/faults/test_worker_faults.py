"""Issue 14, #9: a decoder that hangs must not hang the scan."""

from __future__ import annotations

from songsim_desktop import paths
from songsim_desktop.core import decoding, synth
from songsim_desktop.core.embedder import read_model_info
from songsim_desktop.core.progress import CancelToken

CFG = read_model_info(paths.default_model_path()).frontend
FAMILY = synth.Family("sine", "straight")


def hang_on_stuck(path: str, cfg) -> "decoding.PreparedTrack":
    """Runs in a spawned worker: never returns on files named 'stuck', like a decoder in a loop."""
    import os as _os
    import time as _time

    if "stuck" in _os.path.basename(path):
        while True:
            _time.sleep(1)
    return decoding.prepare_track(path, cfg)


def test_a_hung_decoder_fails_its_file_and_the_scan_goes_on(tmp_path):
    music = tmp_path / "music"
    good = [str(synth.write_track(music / f"good{i}.wav", FAMILY, 6.5, seed=i)) for i in range(3)]
    stuck = str(synth.write_track(music / "stuck.wav", FAMILY, 6.5))
    order = [good[0], stuck, good[1], good[2]]  # the stuck file shares the pool with good ones

    def limit(path: str) -> float:  # short for the stuck file only: no race with a slow machine
        return 3.0 if "stuck" in path else 300.0

    out = list(decoding.prepared_stream(order, CFG, 1, CancelToken(), work=hang_on_stuck, time_limit=limit))
    by_path = {p.path: p for p in out}
    assert sorted(by_path) == sorted(order) and len(out) == len(order)
    assert by_path[stuck].error == (f"while decoding {stuck}: decoding took longer than 3 s "
                                    "(the decoder hung on this file; its worker was replaced)")
    assert all(by_path[p].error is None and by_path[p].logmel is not None for p in good)


def test_the_decode_limit_is_scaled_to_the_file(tmp_path):
    short, long = tmp_path / "short.mp3", tmp_path / "long.flac"
    with open(short, "wb") as fh:
        fh.truncate(4_000_000)  # a 3-minute MP3
    with open(long, "wb") as fh:
        fh.truncate(600_000_000)  # a 2-hour FLAC (sparse: costs no disk)
    assert decoding.decode_time_limit(str(tmp_path / "gone.wav")) == decoding.DECODE_LIMIT_BASE_S
    assert decoding.DECODE_LIMIT_BASE_S < decoding.decode_time_limit(str(short)) < decoding.decode_time_limit(str(long))
    # at the lowest bitrate the 2-hour file would last ~42 hours: its limit allows 20x real time of that
    assert decoding.decode_time_limit(str(long)) > 600_000_000 / 4000 / 20
