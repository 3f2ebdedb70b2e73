"""An audio fingerprint for the duplicate finder's strict check (Haitsma & Kalker's scheme).

Crop or section vectors say two tracks *sound alike*; they cannot tell a re-encode of one master
from another track of the same album, which sounds alike too.  A fingerprint can: each frame
(0.37 s windows every 23 ms) gives 32 bits, the signs of band-energy differences across frequency
and time over 33 log-spaced bands from 300 Hz to 2 kHz.  Lossy coding, resampling and gain leave
almost every bit alone (a gain scales all bands alike); a different recording flips about half.

Two fingerprints are aligned by cross-correlating their bits at every lag at once (FFT), so a
trimmed, padded or contained copy is found at its offset; the overlap is then judged block by
block (:func:`align`).  Frames quieter than the track's floor carry no bits (silence from padding
would otherwise agree or disagree by chance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 5512  # Hz: the bands stop at 2 kHz, so a low rate decodes and transforms fast
N_FFT = 2048  # 0.37 s windows
HOP = 128  # 23 ms: a trim of any length lands within half a hop of a frame
BANDS = 33  # -> 32 bits a frame
F_LO, F_HI = 300.0, 2000.0
MAX_SECONDS = 600.0  # the first 10 minutes of a file: bounded memory and time on a DJ mix
BAND_FLOOR_DB = -40.0  # bands this far under the track's loud frames are floored (see below)
BLOCK_S = 2.0  # the overlap is judged in blocks of this length
BLOCK_BER = 0.30  # a block matches when under this share of its bits differ (unrelated audio: ~0.5)

FRAME_S = HOP / SAMPLE_RATE


@dataclass(frozen=True)
class Fingerprint:
    """``bits`` (frames, 32) int8 in {-1, 0, +1}: 0 marks a bit with no sound behind it, which never counts."""

    bits: np.ndarray

    @property
    def frames(self) -> int:
        return int(self.bits.shape[0])

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_S

    @property
    def valid(self) -> np.ndarray:
        """Frames with at least one bit (not silent)."""
        return np.any(self.bits != 0, axis=1)

    def to_bytes(self) -> bytes:
        return self.bits.astype(np.int8).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Fingerprint":
        return cls(np.frombuffer(data, dtype=np.int8).reshape(-1, BANDS - 1).copy())


def _band_matrix() -> np.ndarray:
    """(BANDS, N_FFT//2+1) 0/1 matrix summing the power of each log-spaced band."""
    edges = np.geomspace(F_LO, F_HI, BANDS + 1)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    return np.stack([((freqs >= lo) & (freqs < hi)).astype(np.float32)
                     for lo, hi in zip(edges[:-1], edges[1:])])


_BANDS_OF_BINS = _band_matrix()
_WINDOW = np.hanning(N_FFT).astype(np.float32)


def fingerprint_samples(samples: np.ndarray) -> Fingerprint:
    """The fingerprint of mono float audio at ``SAMPLE_RATE``."""
    x = np.asarray(samples, dtype=np.float32)
    if len(x) < N_FFT + 2 * HOP:
        return Fingerprint(np.zeros((0, BANDS - 1), dtype=np.int8))
    n_frames = 1 + (len(x) - N_FFT) // HOP
    energies = np.empty((n_frames, BANDS), dtype=np.float32)
    for start in range(0, n_frames, 1024):  # in chunks: a full STFT of 10 minutes is ~100 MB
        idx = np.arange(start, min(n_frames, start + 1024))[:, None] * HOP + np.arange(N_FFT)[None, :]
        power = np.abs(np.fft.rfft(x[idx] * _WINDOW, axis=1)) ** 2
        energies[start:start + len(idx)] = power @ _BANDS_OF_BINS.T
    # A bit whose four band energies all lie far under the track's loud frames is left out (0):
    # it would be coder noise (a lossy coder drops exactly those bands).  Silent frames so carry
    # no bits, and padding or a fade neither agrees nor disagrees by chance.
    floor = np.percentile(energies.max(axis=1), 95) * 10 ** (BAND_FLOOR_DB / 10) + 1e-12
    log_e = 10 * np.log10(np.maximum(energies, floor))
    across = log_e[:, :-1] - log_e[:, 1:]  # differences across frequency ...
    bits = np.sign(across[1:] - across[:-1]).astype(np.int8)  # ... then across time
    bits[bits == 0] = 1
    heard = energies >= floor
    pair = heard[:, :-1] | heard[:, 1:]
    bits[~(pair[1:] | pair[:-1])] = 0
    return Fingerprint(bits)


def fingerprint_file(path: str) -> Fingerprint:
    """Decode (the first ``MAX_SECONDS`` of) ``path`` and fingerprint it; raises DecodeError."""
    from songsim_desktop.core import audio  # here: the candidate stage and tests need no decoders

    return fingerprint_samples(audio.load(path, SAMPLE_RATE, max_seconds=MAX_SECONDS))


@dataclass(frozen=True)
class Alignment:
    """How two fingerprints line up at their best lag.

    ``offset_s``: where ``b`` starts inside ``a`` (negative: ``a`` starts inside ``b``).
    ``matching``: share of the overlap's blocks whose bit error rate is under ``BLOCK_BER``.
    ``coverage``: share of the shorter (sounding) track that the overlap covers.
    ``ber``: bit error rate over the whole overlap.
    """

    offset_s: float
    matching: float
    coverage: float
    ber: float
    overlap_s: float


NO_ALIGNMENT = Alignment(0.0, 0.0, 0.0, 0.5, 0.0)


def _correlate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """c[lag + len(b) - 1] = sum_t a[t + lag] . b[t] for every lag, over all columns (FFT)."""
    n = len(a) + len(b) - 1
    size = 1 << (n - 1).bit_length()
    fa = np.fft.rfft(a.astype(np.float32), size, axis=0)
    fb = np.fft.rfft(b[::-1].astype(np.float32), size, axis=0)
    out = np.fft.irfft(fa * fb, size, axis=0)[:n]
    return out.sum(axis=1) if out.ndim == 2 else out


def align(a: Fingerprint, b: Fingerprint, min_overlap_s: float = 8.0) -> Alignment:
    """The best lag of ``b`` against ``a`` and how well the two agree there."""
    va, vb = a.valid, b.valid
    if va.sum() == 0 or vb.sum() == 0:
        return NO_ALIGNMENT
    ra, rb = (a.bits != 0).astype(np.float32), (b.bits != 0).astype(np.float32)
    agree = _correlate(a.bits, b.bits)  # matches - mismatches over bits heard in both, per lag
    heard = np.rint(_correlate(ra, rb))  # bits heard in both, per lag
    frames = np.rint(_correlate(va.astype(np.float32), vb.astype(np.float32)))  # frames sounding in both
    shorter = min(int(va.sum()), int(vb.sum()))
    need = max(1.0, min(shorter * 0.5, min_overlap_s / FRAME_S))
    # Agreement in standard deviations of chance (+-1 coin flips): a lag where few bits meet cannot
    # win by agreeing on all three of them, as it would by the plain agreement rate.
    score = np.where(frames >= need, agree / np.sqrt(np.maximum(heard, 1)), -1.0)
    best = int(np.argmax(score))
    if score[best] <= 0:
        return NO_ALIGNMENT
    lag = best - (b.frames - 1)  # frame t of b sits on frame t + lag of a
    ta0, tb0 = max(lag, 0), max(-lag, 0)
    length = min(a.frames - ta0, b.frames - tb0)
    xa, xb = a.bits[ta0:ta0 + length], b.bits[tb0:tb0 + length]
    both = (xa != 0) & (xb != 0)
    errors = ((xa != xb) & both).sum(axis=1)
    counted = both.sum(axis=1)
    sounding = counted > 0
    block = max(1, int(round(BLOCK_S / FRAME_S)))
    judged = matched = 0
    for start in range(0, length, block):
        if sounding[start:start + block].sum() < block // 8:
            continue  # (nearly) silent: says nothing either way
        judged += 1
        matched += errors[start:start + block].sum() / max(1, counted[start:start + block].sum()) < BLOCK_BER
    n_both = int(sounding.sum())
    ber = float(errors.sum() / counted.sum()) if counted.sum() else 0.5
    return Alignment(offset_s=lag * FRAME_S, matching=matched / judged if judged else 0.0,
                     coverage=n_both / shorter, ber=ber, overlap_s=n_both * FRAME_S)
