"""Audio input: probe a file, read the model's crops, load a stretch for playback or display.

Decoding goes through libsndfile (``soundfile``) first and PyAV (FFmpeg) for what libsndfile cannot
open (m4a/AAC/ALAC, WMA...).  Both are wrapped as a :class:`~songsim_desktop.core.audio_sources.Source` that reads a window of frames
at the file's own rate; soxr resamples each window to the model rate.  ``read_crops`` reads only the
``cfg.n_crops`` windows it needs, so memory stays bounded on a 2-hour file.

Every failure a user can meet (empty, missing, unreadable, not audio, truncated, too short, silent)
is raised as :class:`~songsim_desktop.errors.DecodeError` with a reason that says what to do.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from songsim_desktop.core.audio_sources import AvSource, SoundFileSource, Source, open_source
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.errors import DecodeError

__all__ = [
    "SUPPORTED_EXTENSIONS", "MIN_DURATION_S", "SILENCE_DBFS", "AudioInfo", "probe", "crop_starts",
    "read_crops", "load", "open_decoder_log", "decoder_chatter_to", "check_samples",
]

# What libsndfile or PyAV (FFmpeg, as bundled in the PyAV wheels) really decode.
SUPPORTED_EXTENSIONS = frozenset({
    ".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".oga", ".opus", ".mp3",
    ".m4a", ".mp4", ".aac", ".alac", ".wma",
})
MIN_DURATION_S = 1.0
SILENCE_DBFS = -60.0
# Float files can hold any number.  Honest float masters go a little over full scale; a peak
# 40 dB above it is damage (random bytes in a float WAV's data chunk reach 1e38).
MAX_PEAK_DBFS = 40.0
# Decoded before each crop window and dropped (see _read_window).
_PREROLL_S = 0.15
# Small reads when measuring a damaged file: a read that hits the cut loses its whole block.
_SMALL_BLOCK = 4096
_LOAD_BLOCK = 16384


@dataclass
class AudioInfo:
    path: str
    duration_s: float
    sample_rate: int
    channels: int
    format: str  # e.g. "WAV", "FLAC", "MP3", "aac" (the codec name when PyAV decodes)
    note: str | None = None  # what a user should know about a file that was still used (truncated)


def _check_file(path: Path) -> None:
    """Turn the OS-level problems into the reasons users see, before any decoder guesses."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DecodeError("file not found (it was moved or deleted)", path=path) from None
    except PermissionError:
        raise DecodeError("permission denied (cannot read the file)", path=path) from None
    except OSError as err:  # a symlink loop, a name too long, a dead network share...
        raise DecodeError(f"cannot read the file ({err.strerror or err})", path=path) from None
    if path.is_dir():
        raise DecodeError("is a folder, not an audio file", path=path)
    if st.st_size == 0:
        raise DecodeError("file is empty (0 bytes)", path=path)
    if not os.access(path, os.R_OK):
        raise DecodeError("permission denied (cannot read the file)", path=path)


def open_decoder_log(log_path: str | os.PathLike) -> int:
    """A file descriptor appending to the decoder log (OSError if it cannot be written)."""
    os.makedirs(os.path.dirname(os.fspath(log_path)), exist_ok=True)
    return os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


_chatter_lock = threading.Lock()
_chatter_depth = 0
_saved_stderr = -1


@contextlib.contextmanager
def decoder_chatter_to(log_path: str | os.PathLike | None):
    """While decoding in this process, send the C decoders' stderr to ``log_path``.

    libmpg123 prints an "error" for every MP3 seek that lands without its bit reservoir, though
    the samples are fine; on a user's terminal that reads like a failure.  File descriptor 2 is
    the whole process's, so nested or concurrent users share one redirection (counted), and an
    unwritable log (a read-only data folder) leaves stderr as it is.
    """
    global _chatter_depth, _saved_stderr
    with _chatter_lock:
        if _chatter_depth == 0 and log_path is not None:
            try:
                fd = open_decoder_log(log_path)
            except OSError:
                fd = -1
            if fd >= 0:
                sys.stderr.flush()
                _saved_stderr = os.dup(2)
                os.dup2(fd, 2)
                os.close(fd)
        _chatter_depth += 1
    try:
        yield
    finally:
        with _chatter_lock:
            _chatter_depth -= 1
            if _chatter_depth == 0 and _saved_stderr >= 0:
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)
                _saved_stderr = -1


def _open(path: str | os.PathLike) -> Source:
    p = Path(path)
    _check_file(p)
    return open_source(p)


def probe(path: str | os.PathLike) -> AudioInfo:
    """Header facts of an audio file (duration as the header states it; it may be truncated)."""
    with _open(path) as src:
        return AudioInfo(str(path), src.frames / src.sample_rate, src.sample_rate, src.channels, src.format)


def crop_starts(total_samples: int, cfg: FrontEndConfig) -> np.ndarray:
    """Start sample (at the model rate) of each crop: centred on ``n_crops`` equal segments.

    Centring on segments (rather than pinning the first crop at 0 and the last at the end) keeps
    crops away from fade-ins, count-ins and silent tails.  Tracks shorter than one crop start all
    crops at 0 (they are tiled).
    """
    length = cfg.crop_samples
    if total_samples <= length:
        return np.zeros(cfg.n_crops, dtype=np.int64)
    centres = (np.arange(cfg.n_crops) + 0.5) * total_samples / cfg.n_crops
    starts = np.clip(np.round(centres - length / 2), 0, total_samples - length)
    return starts.astype(np.int64)


def _mono(block: np.ndarray) -> np.ndarray:
    """Mean of the channels.  Summed column by column: numpy's reduce over a short axis 1 is
    several times slower than the decode itself."""
    if block.ndim == 1:
        return block.astype(np.float32, copy=False)
    out = block[:, 0].astype(np.float32, copy=True)
    for channel in range(1, block.shape[1]):
        out += block[:, channel]
    if block.shape[1] > 1:
        out *= np.float32(1.0 / block.shape[1])
    return out


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out or len(x) == 0:
        return np.ascontiguousarray(x, dtype=np.float32)
    return soxr.resample(x, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def _read_window(src: Source, start: int, length: int, sr_out: int) -> np.ndarray:
    """``length`` mono samples at ``sr_out`` from model-rate sample ``start``; short at the end.

    The window is read with a pre-roll that is dropped afterwards: it lets soxr's filter settle
    and hides the garbled first frames MP3 decoders give after a seek (up to ~2800 samples).
    The pre-roll is counted in output samples so the cut lands on a whole output sample; the
    source start is then exact for integer ratios (44.1k -> 22.05k) and within one source sample
    otherwise, which the log-mel spectrum cannot tell apart.
    """
    sr_in = src.sample_rate
    ratio = sr_in / sr_out
    pre_out = min(start, int(round(_PREROLL_S * sr_out)))
    src_start = int(np.floor((start - pre_out) * ratio))
    src_len = int(np.ceil((length + 2 * pre_out) * ratio)) + 2  # a post-roll too: soxr's tail
    raw = _mono(src.read(src_start, src_len))
    out = _resample(raw, sr_in, sr_out)
    return out[pre_out: pre_out + length]


def _readable_frames(src: Source) -> int:
    """Frames that really decode: streams the file in blocks (bounded memory) until EOF or error."""
    count = 0
    try:
        for block in src.blocks(0, _SMALL_BLOCK):
            count += len(block)
    except Exception:  # noqa: BLE001 - a corrupt tail ends the readable part, whatever the decoder says
        pass
    return count


def _tile(x: np.ndarray, length: int) -> np.ndarray:
    reps = int(np.ceil(length / max(1, len(x))))
    return np.tile(x, reps)[:length]


def _too_short(path, seconds: float, truncated: bool) -> DecodeError:
    hint = " (the file appears truncated)" if truncated else ""
    return DecodeError(
        f"too short: {seconds:.1f} s (songsim needs at least {MIN_DURATION_S:.1f} s){hint}", path=path
    )


def read_crops(path: str | os.PathLike, cfg: FrontEndConfig) -> tuple[np.ndarray, AudioInfo]:
    """``(cfg.n_crops, cfg.crop_samples)`` float32 mono crops at ``cfg.sample_rate``, and the info.

    Only the crop windows are decoded.  When the file turns out shorter than its header says (a
    truncated download), the readable part is measured and the crops are placed within it.
    """
    with _open(path) as src:
        frames = src.frames
        truncated = False
        crops = None if frames <= 0 else _crops_within(src, frames, cfg)
        if crops is None:  # header lied, or a window failed to decode: use what really decodes
            truncated = frames > 0
            frames = _readable_frames(src)
            if frames == 0:
                raise DecodeError("not a readable audio file (no audio data could be decoded)", path=path)
            # A window's small reads are aligned differently from the measuring ones, and the read
            # that meets the cut loses its whole block: keep one block clear of the cut.
            frames = max(1, frames - _SMALL_BLOCK) if truncated else frames
        duration = frames / src.sample_rate
        if duration < MIN_DURATION_S:
            raise _too_short(path, duration, truncated)
        if crops is None:
            crops = _crops_within(src, frames, cfg)
            if crops is None:
                raise DecodeError("not a readable audio file (decoding failed part-way)", path=path)
        note = None
        if truncated:
            promised = src.frames / src.sample_rate
            note = (f"truncated: its header promises {promised:.1f} s; the first {duration:.1f} s decode "
                    "and were used")
        info = AudioInfo(str(path), duration, src.sample_rate, src.channels, src.format, note)
    _check_samples(path, crops)
    return crops, info


def _check_samples(path, crops: np.ndarray) -> None:
    """Refuse crops that are not sound: damaged (non-finite or absurdly loud) or silent.

    Damaged samples are an error, not cleaned: resampling has already smeared each NaN over its
    neighbours, so zeroing them would embed an invented signal under the file's name.  The user
    learns the file is damaged and can replace it.  A constant (DC) offset is no sound either: the
    level is measured around each crop's mean.
    """
    finite = np.isfinite(crops)
    if not finite.all():
        bad = crops.size - int(np.count_nonzero(finite))
        raise DecodeError(f"damaged audio data: {bad} of the samples read are NaN or infinite "
                          "(replace or re-export the file)", path=path)
    peak = float(np.max(np.abs(crops))) if crops.size else 0.0
    if peak > 10 ** (MAX_PEAK_DBFS / 20):
        raise DecodeError(f"damaged audio data: peak level {20 * np.log10(peak):+.0f} dBFS is far above "
                          "full scale (replace or re-export the file)", path=path)
    centred = crops - crops.mean(axis=1, keepdims=True) if crops.size else crops
    swing = float(np.max(np.abs(centred))) if crops.size else 0.0
    if swing <= 10 ** (SILENCE_DBFS / 20):
        level = "-inf" if swing == 0 else f"{20 * np.log10(swing):.0f}"
        what = " (only a constant DC offset)" if peak > 10 ** (SILENCE_DBFS / 20) else ""
        raise DecodeError(f"silent{what}: peak level {level} dBFS is below {SILENCE_DBFS:.0f} dBFS", path=path)


# Public for core.full_decode, which cuts the crops from a whole-file decode.
check_samples = _check_samples


def _crops_within(src: Source, frames: int, cfg: FrontEndConfig) -> np.ndarray | None:
    """The crops of a track of ``frames`` source frames, or None if a window reads short/fails."""
    total = int(frames * cfg.sample_rate / src.sample_rate)
    length = cfg.crop_samples
    out = np.empty((cfg.n_crops, length), dtype=np.float32)
    try:
        if total <= length:  # short track: decode it whole once and tile it to a crop
            whole = _read_window(src, 0, total, cfg.sample_rate)
            if len(whole) < total - 2 or len(whole) == 0:
                return None
            out[:] = _tile(whole, length)[None, :]
            return out
        cache: dict[int, np.ndarray] = {}
        for i, start in enumerate(crop_starts(total, cfg)):
            start = int(start)
            if start not in cache:
                cache[start] = _read_window(src, start, length, cfg.sample_rate)
            window = cache[start]
            if len(window) < length - 2:
                return None
            out[i, : len(window)] = window
            out[i, len(window):] = 0.0  # a rounding sample or two at the very end
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError, OSError):
        return None
    except Exception as exc:  # noqa: BLE001 - PyAV raises its own error types on corrupt data
        if AvSource.is_decode_error(exc):
            return None
        raise
    return out


def load(path: str | os.PathLike, sample_rate: int, offset_s: float = 0.0,
         max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 audio at ``sample_rate`` from ``offset_s``, at most ``max_seconds`` long.

    Decoded in blocks and resampled by a streaming soxr resampler (no seams between blocks), so
    memory is bounded by ``max_seconds``.  A corrupt tail ends the audio rather than failing.
    """
    with _open(path) as src:
        sr_in = src.sample_rate
        ratio = sr_in / sample_rate
        start_out = max(0, int(round(offset_s * sample_rate)))
        # A pre-roll goes through the resampler and is dropped from its output, as in
        # _read_window: MP3 seeks garble the first samples and soxr needs to settle.
        pre_out = min(start_out, int(round(_PREROLL_S * sample_rate)))
        start_in = int(np.floor((start_out - pre_out) * ratio))
        limit_out = None if max_seconds is None else max(0, int(round(max_seconds * sample_rate)))
        limit_in = None if limit_out is None else int(np.ceil((limit_out + 2 * pre_out) * ratio)) + 2
        stream = None if sr_in == sample_rate else soxr.ResampleStream(sr_in, sample_rate, 1, dtype="float32")
        pieces: list[np.ndarray] = []
        got_in = 0
        try:
            for block in src.blocks(start_in, _LOAD_BLOCK):
                if limit_in is not None:
                    block = block[: limit_in - got_in]
                got_in += len(block)
                mono = _mono(block)
                pieces.append(mono if stream is None else stream.resample_chunk(mono))
                if limit_in is not None and got_in >= limit_in:
                    break
        except Exception as exc:  # noqa: BLE001
            if not pieces or not (isinstance(exc, (sf.LibsndfileError, RuntimeError, EOFError))
                                  or AvSource.is_decode_error(exc)):
                raise DecodeError(f"decoding failed: {exc}", path=path) from exc
        if stream is not None:
            pieces.append(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    audio = np.concatenate(pieces)[pre_out:] if pieces else np.zeros(0, dtype=np.float32)
    return audio[:limit_out] if limit_out is not None else audio


# Re-exported for tests and the scan code that wants to know which decoder served a file.
__all__ += ["SoundFileSource", "AvSource"]
