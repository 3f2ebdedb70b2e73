"""Files for tests: good audio in every format, and the bad and odd files users really have.

Usable from any test (tests/ is on sys.path through tests/conftest.py):
``from core.audio_factory import write_sine, write_truncated, BAD_FILE_WRITERS``.
Every writer takes the target path, writes it and returns it.  Audio stays short (a few seconds).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import av
import numpy as np
import soundfile as sf


def sine(seconds: float, sr: int, freq: float = 1000.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(path: Path, audio: np.ndarray, sr: int, subtype: str | None = None) -> Path:
    """Any format soundfile writes (by suffix); .m4a/.mp4/.aac/.wma go through PyAV's encoders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in _PYAV_FORMATS:
        return write_m4a(path, audio, sr)
    audio = np.asarray(audio, dtype=np.float32)
    kwargs = {"subtype": subtype}
    if path.suffix.lower() == ".opus":  # libsndfile knows Opus only as a subtype of OGG
        kwargs = {"format": "OGG", "subtype": "OPUS"}
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    # In blocks: libsndfile 1.2.2 segfaults writing more than ~2.6 M samples of Ogg in one call.
    with sf.SoundFile(str(path), "w", sr, channels, **kwargs) as out:
        for i in range(0, len(audio), 1 << 18):
            out.write(audio[i: i + (1 << 18)])
    return path


def write_sine(path: Path, seconds: float = 3.0, sr: int = 22050, freq: float = 1000.0,
               channels: int = 1, amplitude: float = 0.5) -> Path:
    mono = sine(seconds, sr, freq, amplitude)
    audio = mono if channels == 1 else np.stack([mono] * channels, axis=1)
    return write_audio(path, audio, sr)


_PYAV_FORMATS = {".m4a": ("mp4", "aac"), ".mp4": ("mp4", "aac"), ".aac": ("adts", "aac"),
                 ".wma": ("asf", "wmav2")}


def write_excerpt(src: Path, out: Path, start_s: float, seconds: float) -> Path:
    """``seconds`` of ``src`` from ``start_s``, written to ``out`` (a clip to query with)."""
    audio, sr = sf.read(str(src), dtype="float32")
    return write_audio(out, audio[int(start_s * sr): int((start_s + seconds) * sr)], sr)


def write_m4a(path: Path, audio: np.ndarray, sr: int, codec: str | None = None) -> Path:
    """Encode with PyAV (files libsndfile cannot open): AAC or ALAC in MP4 (.m4a/.mp4), raw ADTS
    AAC (.aac), WMA v2 in ASF (.wma).  The container follows the suffix."""
    container_format, default_codec = _PYAV_FORMATS[Path(path).suffix.lower()]
    codec = codec or default_codec
    audio = np.asarray(audio, dtype=np.float32)
    planar = audio[None, :] if audio.ndim == 1 else np.ascontiguousarray(audio.T)
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=sr)
        stream.layout = layout
        if codec == "wmav2":
            stream.bit_rate = 128_000  # the WMA encoder will not open without one
        if codec == "alac":
            planar = (np.clip(planar, -1, 1) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(planar, format="s16p", layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
        frame.sample_rate = sr
        for item in (frame, None):
            for packet in stream.encode(item):
                out.mux(packet)
    return path


def write_empty(path: Path) -> Path:
    Path(path).write_bytes(b"")
    return path


def write_not_audio(path: Path) -> Path:
    """A text file with an audio suffix (a renamed document, a failed download page)."""
    Path(path).write_text("<html><body>404 Not Found</body></html>\n" * 20, encoding="utf-8")
    return path


def write_random_bytes(path: Path, size: int = 50_000, seed: int = 0) -> Path:
    Path(path).write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def write_truncated(path: Path, seconds: float = 6.0, keep_fraction: float = 0.5, sr: int = 22050,
                    freq: float = 440.0) -> Path:
    """A file cut short (interrupted copy or download): the header promises more than there is."""
    write_sine(path, seconds, sr, freq)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def write_silent(path: Path, seconds: float = 3.0, sr: int = 22050, level_dbfs: float | None = None) -> Path:
    """Digital silence, or a constant hiss at ``level_dbfs`` (still "silent" below -60 dBFS)."""
    n = int(seconds * sr)
    if level_dbfs is None:
        audio = np.zeros(n, dtype=np.float32)
    else:
        audio = sine(seconds, sr, 300.0, amplitude=10 ** (level_dbfs / 20))
    sf.write(str(path), audio, sr, subtype="FLOAT")
    return path


def write_short(path: Path, seconds: float = 0.2, sr: int = 22050) -> Path:
    return write_sine(path, seconds, sr)


def nfd_name(name: str) -> str:
    """The decomposed (macOS-style) spelling of a name: 'é' as 'e' + combining accent."""
    return unicodedata.normalize("NFD", name)


BAD_FILE_WRITERS = {
    # name: (writer, suffix, words the DecodeError's reason must contain)
    "empty": (write_empty, ".mp3", "empty (0 bytes)"),
    "not audio": (write_not_audio, ".mp3", "not a readable audio file"),
    "random bytes": (write_random_bytes, ".flac", "not a readable audio file"),
    "too short": (write_short, ".wav", "too short: 0.2 s"),
    "silent": (write_silent, ".wav", "silent"),
    "truncated to almost nothing": (lambda p: write_truncated(p, 2.0, 0.2), ".wav", "too short"),
}
