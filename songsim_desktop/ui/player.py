"""Audition: play a preloaded array through sounddevice, or through FakeOutput in tests.

Why it never stutters: the whole preview is decoded into memory by a worker before it reaches the
player, and the audio callback only copies a slice of that array (no I/O, no locks, no Python
objects created per block beyond one slice).  The GUI learns the position from a 30 Hz QTimer, never
from the audio thread.

Without PortAudio (``import sounddevice`` raises OSError) or without an output device the player
is ``available == False`` with a ``reason`` that says how to fix it; the app keeps running.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)

PORTAUDIO_HINT = "install PortAudio: sudo apt-get install libportaudio2"
Render = Callable[[np.ndarray], None]  # fills a 1-D float32 block in place


class SoundDeviceOutput:
    """The real output: one PortAudio stream that keeps running; silence while paused."""

    def __init__(self) -> None:
        self.available = False
        self.reason = ""
        self._sd = None
        self._stream = None
        self._rate = None
        try:
            import sounddevice as sd  # raises OSError when the PortAudio library is missing
        except OSError as err:
            self.reason = f"audition disabled: {err or 'PortAudio library not found'}; {PORTAUDIO_HINT}"
            return
        except ImportError as err:
            self.reason = f"audition disabled: sounddevice is not installed ({err}); pip install sounddevice"
            return
        try:
            sd.query_devices(kind="output")
        except Exception as err:  # noqa: BLE001 - PortAudioError or ValueError: no default device
            self.reason = (f"audition disabled: no audio output device ({err}); connect or enable a sound "
                           f"device, then restart songsim")
            return
        self._sd = sd
        self.available = True

    def open(self, sample_rate: int, render: Render) -> None:
        if self._stream is not None and self._rate == sample_rate:
            return
        self.close()

        def callback(outdata, frames, _time, status):  # PortAudio's thread
            if status:
                log.debug("audio output status: %s", status)
            render(outdata[:, 0])

        self._stream = self._sd.OutputStream(samplerate=sample_rate, channels=1, dtype="float32",
                                             callback=callback)
        self._rate = sample_rate

    def start(self) -> None:
        if self._stream is not None and not self._stream.active:
            self._stream.start()

    def stop(self) -> None:
        if self._stream is not None and self._stream.active:
            self._stream.stop()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream = None
        self._rate = None


class FakeOutput:
    """Same interface as SoundDeviceOutput; tests call ``pull(frames)`` to play time forward."""

    def __init__(self, available: bool = True, reason: str = "") -> None:
        self.available = available
        self.reason = reason
        self.sample_rate: Optional[int] = None
        self.running = False
        self._render: Optional[Render] = None

    def open(self, sample_rate: int, render: Render) -> None:
        self.sample_rate = sample_rate
        self._render = render

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def close(self) -> None:
        self.running = False

    def pull(self, frames: int) -> np.ndarray:
        block = np.zeros(frames, dtype=np.float32)
        if self.running and self._render is not None:
            self._render(block)
        return block


class Player(QObject):
    """Transport for one preloaded mono clip: play/pause/stop/seek/loop/volume."""

    stateChanged = Signal(str)  # "stopped" | "playing" | "paused"
    positionChanged = Signal(float)  # seconds
    sourceChanged = Signal(str)  # label of what is loaded ("reference", "result")

    STOPPED, PLAYING, PAUSED = "stopped", "playing", "paused"

    def __init__(self, output=None, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.output = output if output is not None else SoundDeviceOutput()
        self._audio = np.zeros(0, dtype=np.float32)
        self._rate = 44100
        self._pos = 0  # frames; written by the audio thread while playing
        self._generation = 0  # bumped on load/seek so a block in flight cannot undo them
        self._playing = False
        self._ended = False
        self.loop = False
        self.volume = 0.8
        self.label = ""
        self.state = self.STOPPED
        self._timer = QTimer(self)
        self._timer.setInterval(33)
        self._timer.timeout.connect(self._tick)

    # --- what is loaded -------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return bool(self.output.available)

    @property
    def reason(self) -> str:
        return self.output.reason

    @property
    def has_audio(self) -> bool:
        return len(self._audio) > 0

    @property
    def duration_s(self) -> float:
        return len(self._audio) / self._rate

    @property
    def position_s(self) -> float:
        return self._pos / self._rate

    def load(self, audio: np.ndarray, sample_rate: int, label: str = "", start_s: float = 0.0,
             play: Optional[bool] = None) -> None:
        """Swap the clip; keeps playing (from ``start_s``) if it was playing, unless ``play`` says."""
        keep_playing = self._playing if play is None else play
        self._playing = False  # the callback outputs silence during the swap
        self._generation += 1
        self._audio = np.ascontiguousarray(audio, dtype=np.float32)
        self._rate = int(sample_rate)
        self._pos = self._frame(start_s)
        self._ended = False
        self.label = label
        if self.available:
            self.output.open(self._rate, self._render)
        self.sourceChanged.emit(label)
        self.positionChanged.emit(self.position_s)
        if keep_playing:
            self.play()
        elif self.state == self.PLAYING:
            self._set_state(self.PAUSED)

    # --- transport ------------------------------------------------------------------------------
    def play(self) -> bool:
        if not self.available or not self.has_audio:
            return False
        if self._pos >= len(self._audio):
            self._pos = 0
        self._ended = False
        self.output.start()
        self._playing = True
        self._timer.start()
        self._set_state(self.PLAYING)
        return True

    def pause(self) -> None:
        if self.state != self.PLAYING:
            return
        self._playing = False
        self._timer.stop()
        self._set_state(self.PAUSED)
        self.positionChanged.emit(self.position_s)

    def toggle(self) -> None:
        self.pause() if self.state == self.PLAYING else self.play()

    def stop(self) -> None:
        self._playing = False
        self._pos = 0
        self._timer.stop()
        self._set_state(self.STOPPED)
        self.positionChanged.emit(0.0)

    def seek(self, seconds: float) -> None:
        self._generation += 1
        self._pos = self._frame(seconds)
        self._ended = False
        self.positionChanged.emit(self.position_s)

    def set_loop(self, on: bool) -> None:
        self.loop = bool(on)

    def set_volume(self, volume: float) -> None:
        self.volume = min(1.0, max(0.0, float(volume)))

    def shutdown(self) -> None:
        self._playing = False
        self._timer.stop()
        self.output.close()

    # --- internals ------------------------------------------------------------------------------
    def _frame(self, seconds: float) -> int:
        return int(min(max(0.0, seconds), self.duration_s) * self._rate)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    def _tick(self) -> None:  # GUI thread, 30 Hz while playing
        if self._ended:
            self._ended = False
            self.stop()
            return
        self.positionChanged.emit(self.position_s)

    def _render(self, out: np.ndarray) -> None:
        """Audio thread: copy the next frames of the preloaded clip into ``out``."""
        audio = self._audio  # one reference, so a concurrent load() cannot tear this block
        generation = self._generation
        if not self._playing or len(audio) == 0:
            out[:] = 0.0
            return
        n = len(out)
        pos = min(self._pos, len(audio))
        written = 0
        while written < n:
            chunk = audio[pos: pos + n - written]
            out[written: written + len(chunk)] = chunk
            written += len(chunk)
            pos += len(chunk)
            if pos >= len(audio):
                if not self.loop:
                    out[written:] = 0.0
                    self._playing = False
                    self._ended = True
                    break
                pos = 0
        if self.volume != 1.0:
            out *= self.volume
        if generation == self._generation:
            self._pos = pos

