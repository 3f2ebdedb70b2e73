"""Decoders behind core.audio: one small interface over libsndfile and PyAV.

A source reports its rate, channel count and (header) length in frames, and reads frames at the
file's own rate as float32 ``(frames, channels)``: ``read(start, n)`` for one window (seeking), and
``blocks(start, size)`` to stream.  core.audio does the mono mix, resampling and error policy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Protocol

import av
import numpy as np
import soundfile as sf

from songsim_desktop.errors import DecodeError

NOT_AUDIO = "not a readable audio file (format not recognised)"
_SMALL_BLOCK = 4096


class Source(Protocol):
    sample_rate: int
    channels: int
    frames: int  # as the header says; 0 when unknown
    format: str

    def read(self, start: int, frames: int) -> np.ndarray: ...
    def blocks(self, start: int, blocksize: int) -> Iterator[np.ndarray]: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Source": ...
    def __exit__(self, *exc) -> None: ...


class _Closing:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _encodable(path: Path) -> bool:
    """Whether the name survives the C libraries' strict UTF-8 encoding (not so for a name from an
    old FAT drive with Latin-1 bytes, which Python holds as surrogate escapes)."""
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


class SoundFileSource(_Closing):
    """libsndfile: WAV, AIFF, FLAC, OGG/Vorbis/Opus, MP3; exact seeks.

    Reads call libsndfile's ``sf_readf_float`` directly.  python-soundfile's ``read()`` wraps
    every call in ``tell()`` + ``seek()``, and for MP3 each of those seeks restarts libmpg123,
    which garbles the first ~2800 samples of every following block (measured with soundfile
    0.14 / libsndfile 1.2.2: a 2-minute MP3 read in 4096-frame blocks differs from a one-shot
    read in 20% of its samples).  One seek per window is harmless: core.audio decodes a
    pre-roll before each window and drops it.
    """

    def __init__(self, path: Path):
        # libsndfile takes the name's own bytes; soundfile would encode a str strictly and fail.
        self._path = str(path) if _encodable(path) or os.name == "nt" else os.fsencode(path)
        self._file = sf.SoundFile(self._path)
        self.sample_rate = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.frames = max(0, int(self._file.frames))
        self.format = str(self._file.format)

    def _read_frames(self, frames: int) -> np.ndarray:
        """Up to ``frames`` frames from the current position, without soundfile's extra seeks."""
        handle = getattr(self._file, "_file", None)
        if handle is None or not hasattr(sf, "_snd"):  # soundfile internals moved: public API
            return self._file.read(frames, dtype="float32", always_2d=True)
        out = np.empty((frames, self.channels), dtype=np.float32)
        got = sf._snd.sf_readf_float(handle, sf._ffi.cast("float *", out.ctypes.data), frames)
        code = sf._snd.sf_error(handle)
        if code:
            raise sf.LibsndfileError(code, "while reading: ")
        return out[:got]

    def read(self, start: int, frames: int) -> np.ndarray:
        if start >= self.frames or frames <= 0:
            return np.zeros((0, self.channels), dtype=np.float32)
        try:
            self._file.seek(max(0, start))
            return self._read_frames(frames)
        except sf.LibsndfileError:
            # A truncated FLAC fails a large read that runs into the cut; small reads recover
            # everything before it, and core.audio then works within what decodes.
            self._reopen()
            got = self._gather(self.blocks(start, _SMALL_BLOCK), frames)
            if len(got) == 0 and start > 0:
                # libsndfile's FLAC seek fails anywhere in a truncated file (it bisects towards
                # the promised end): reach ``start`` by decoding from the beginning instead.
                self._reopen()
                got = self._gather(self._skipping(self.blocks(0, _SMALL_BLOCK), start), frames)
            return got

    def _gather(self, blocks: Iterator[np.ndarray], frames: int) -> np.ndarray:
        """Up to ``frames`` frames from ``blocks``, stopping quietly where decoding fails."""
        got: list[np.ndarray] = []
        count = 0
        try:
            for block in blocks:
                got.append(block[: frames - count])
                count += len(got[-1])
                if count >= frames:
                    break
        except sf.LibsndfileError:
            pass
        return np.concatenate(got) if got else np.zeros((0, self.channels), dtype=np.float32)

    @staticmethod
    def _skipping(blocks: Iterator[np.ndarray], frames: int) -> Iterator[np.ndarray]:
        """``blocks`` without their first ``frames`` frames."""
        for block in blocks:
            if frames >= len(block):
                frames -= len(block)
                continue
            yield block[frames:]
            frames = 0

    def blocks(self, start: int, blocksize: int) -> Iterator[np.ndarray]:
        if start >= self.frames:
            return
        try:
            self._file.seek(max(0, start))
        except sf.LibsndfileError:
            self._reopen()  # a failed seek or read leaves libsndfile's handle unusable
            raise
        while True:
            try:
                block = self._read_frames(blocksize)
            except sf.LibsndfileError:
                self._reopen()
                raise
            if len(block) == 0:
                return
            yield block

    def _reopen(self) -> None:
        self._file.close()
        self._file = sf.SoundFile(self._path)

    def close(self) -> None:
        self._file.close()


_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


def _frame_to_float(frame: "av.AudioFrame") -> np.ndarray:
    """One decoded frame as float32 ``(n, channels)``, whatever FFmpeg's sample format."""
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels)
    arr = arr.T if frame.format.is_planar else arr.reshape(-1, channels)
    if arr.dtype == np.uint8:
        return ((arr.astype(np.float32) - 128.0) / 128.0)
    scale = _INT_SCALE.get(arr.dtype)
    if scale is not None:
        return (arr / scale).astype(np.float32)
    return arr.astype(np.float32, copy=False)


class AvSource(_Closing):
    """PyAV (FFmpeg): m4a/AAC/ALAC, WMA and anything libsndfile refuses; seeks by time."""

    def __init__(self, path: Path):
        # FFmpeg wants UTF-8 names: any other is read through a Python file object.
        self._handle = None if _encodable(path) else open(path, "rb")
        try:
            self._container = av.open(self._handle or str(path), metadata_errors="ignore")
        except BaseException:
            self._close_handle()
            raise
        try:
            if not self._container.streams.audio:
                raise DecodeError(NOT_AUDIO, path=path)
            self._stream = self._container.streams.audio[0]
            ctx = self._stream.codec_context
            self.sample_rate = int(ctx.sample_rate or 0)
            self.channels = int(ctx.layout.nb_channels if ctx.layout else getattr(ctx, "channels", 1))
            if self.sample_rate <= 0 or self.channels <= 0:
                raise DecodeError(NOT_AUDIO, path=path)
            self.format = ctx.name
            self.frames = int(round(self._duration_s() * self.sample_rate))
        except BaseException:
            self.close()
            raise

    @staticmethod
    def is_decode_error(exc: BaseException) -> bool:
        return isinstance(exc, av.error.FFmpegError)

    def _duration_s(self) -> float:
        s = self._stream
        if s.duration and s.time_base:
            return float(s.duration * s.time_base)
        if self._container.duration:
            return self._container.duration / av.time_base
        return 0.0  # unknown: core.audio measures what decodes

    def _decoded_from(self, start: int) -> Iterator[np.ndarray]:
        """Frames from ``start`` (source samples) on, trimmed so the first sample is ``start``."""
        s = self._stream
        origin = s.start_time or 0
        if start > 0 and s.time_base:
            target = int(start / self.sample_rate / s.time_base) + origin
            self._container.seek(target, stream=s, backward=True)
        else:
            self._container.seek(0)
        position = None
        for frame in self._container.decode(s):
            data = _frame_to_float(frame)
            if position is None:
                # Timestamps place the first frame after the seek; from there samples are counted,
                # since containers with coarse time bases (ASF: 1 ms) would jitter every frame.
                # From the very start no timestamp is needed (WMA's first one includes its delay).
                known = start > 0 and frame.pts is not None and frame.time_base
                position = int(round(float((frame.pts - origin) * frame.time_base) * self.sample_rate)) if known else 0
            end = position + len(data)
            if end > start:
                if position < start:
                    data = data[start - position:]
                elif position > start and position - start < self.sample_rate:
                    # the seek landed past the wanted sample: keep the timeline with silence
                    data = np.concatenate([np.zeros((position - start, data.shape[1]), np.float32), data])
                start = end
                yield data
            position = end

    def read(self, start: int, frames: int) -> np.ndarray:
        out: list[np.ndarray] = []
        got = 0
        for data in self._decoded_from(max(0, start)):
            out.append(data[: frames - got])
            got += len(out[-1])
            if got >= frames:
                break
        return np.concatenate(out) if out else np.zeros((0, self.channels), dtype=np.float32)

    def blocks(self, start: int, blocksize: int) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        size = 0
        for data in self._decoded_from(max(0, start)):
            pending.append(data)
            size += len(data)
            if size >= blocksize:
                yield np.concatenate(pending)
                pending, size = [], 0
        if pending:
            yield np.concatenate(pending)

    def close(self) -> None:
        self._container.close()
        self._close_handle()

    def _close_handle(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def open_source(path: Path) -> Source:
    """libsndfile first (exact and fast); PyAV for what it cannot open."""
    try:
        source = SoundFileSource(path)
        if source.frames > 0:
            return source
        # libsndfile opened it but sees no frames (e.g. a cut Ogg stream): FFmpeg may do better.
        try:
            fallback = AvSource(path)
        except Exception:  # noqa: BLE001 - keep libsndfile's view; core.audio reports it
            return source
        source.close()
        return fallback
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    try:
        return AvSource(path)
    except DecodeError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        if isinstance(exc, PermissionError):
            raise DecodeError("permission denied (cannot read the file)", path=path) from None
        raise DecodeError(NOT_AUDIO, path=path) from None
