"""The free-music corpus for the default model: manifest -> cached whole-track log-mels, split, tags.

``../shared/corpus/fetch.sh`` unpacks game soundtracks from Debian packages and writes
``manifest.csv`` (``path,collection,package``; paths relative to the corpus folder).  Each track is
decoded ONCE through :func:`songsim_desktop.core.audio.load` at the model rate and its whole log-mel
(the shared front end, :func:`~songsim_desktop.core.features.logmel`) is cached as float16 ``.npy``
outside the repository (``$SONGSIM_CORPUS_DIR`` or ``~/.cache/songsim-corpus-features``), so that
training epochs and evaluations cut crops from the cache and never decode again.

Torch-free on purpose: the evaluation bench uses it too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from songsim_desktop.core.audio import load
from songsim_desktop.core.features import FrontEndConfig, logmel, mel_band_edges_hz
from songsim_desktop.errors import DecodeError

ENV_CACHE_DIR = "SONGSIM_CORPUS_DIR"
MIN_TRACK_SECONDS = 45.0  # jingles and stingers are not songs; they would only add noise

# The held-out split, by a fixed rule rather than by looking at results: every Debian package that
# ships exactly ONE collection with 6 to 30 usable tracks is held out whole.  A package with several
# collections (supertux) stays in training, because its collections share composers and sound
# (holding out one of them would leak); a collection under 6 tracks cannot score precision@5.
# On the corpus of fetch.sh this holds out extremetuxracer, flare, freedroidrpg, hedgewars and
# openclonk (68 tracks) and trains on supertux-*, supertuxkart, widelands and lincity-ng (111).
HELDOUT_MIN_TRACKS = 6
HELDOUT_MAX_TRACKS = 30


@dataclass(frozen=True)
class CorpusTrack:
    relpath: str  # as in the manifest, relative to the corpus folder
    path: Path
    collection: str
    package: str


@dataclass(frozen=True)
class PreparedTrack:
    track: CorpusTrack
    duration_s: float
    features_path: Path  # float16 (n_mels, frames) whole-track log-mel in dB

    def logmel(self) -> np.ndarray:
        return np.load(self.features_path, mmap_mode="r")


def default_cache_dir() -> Path:
    chosen = os.environ.get(ENV_CACHE_DIR)
    return Path(chosen) if chosen else Path.home() / ".cache" / "songsim-corpus-features"


def read_manifest(corpus_dir: str | os.PathLike) -> list[CorpusTrack]:
    corpus = Path(corpus_dir)
    manifest = corpus / "manifest.csv"
    try:
        with open(manifest, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise FileNotFoundError(f"while reading the corpus manifest {manifest}: {exc.strerror or exc}") from exc
    missing = {"path", "collection", "package"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"while reading the corpus manifest {manifest}: missing columns {sorted(missing)}")
    return [CorpusTrack(r["path"], corpus / r["path"], r["collection"], r["package"]) for r in rows]


def _cache_name(track: CorpusTrack, cfg: FrontEndConfig) -> str:
    digest = hashlib.sha256(track.relpath.encode()).hexdigest()[:16]
    return f"{digest}-{cfg.key()}.npy"


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def prepare_corpus(corpus_dir: str | os.PathLike, cfg: FrontEndConfig, cache_dir: str | os.PathLike | None = None,
                   min_seconds: float = MIN_TRACK_SECONDS,
                   on_track: Optional[Callable[[int, int, str], None]] = None,
                   ) -> tuple[list[PreparedTrack], list[tuple[str, str]]]:
    """Decode (once; cached afterwards) every manifest track; returns (usable tracks, skipped with why).

    Tracks shorter than ``min_seconds`` and files that fail to decode are skipped, not fatal.
    """
    tracks = read_manifest(corpus_dir)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    index_path = cache / f"index-{cfg.key()}.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    prepared, skipped = [], []
    for i, track in enumerate(tracks):
        if on_track is not None:
            on_track(i, len(tracks), track.relpath)
        name = _cache_name(track, cfg)
        entry = index.get(track.relpath)
        stale = entry is not None and not entry.get("error") and entry["duration_s"] >= min_seconds \
            and not (entry.get("file") and (cache / name).exists())  # lost, or once too short
        if entry is None or stale:
            entry = _decode_one(track, cfg, cache / name, min_seconds)
            index[track.relpath] = entry
            tmp = index_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(index, indent=1, sort_keys=True))
            os.replace(tmp, index_path)
        if entry.get("error") or entry["duration_s"] < min_seconds:
            skipped.append((track.relpath, entry.get("error") or f"shorter than {min_seconds:.0f} s"))
            continue
        prepared.append(PreparedTrack(track, float(entry["duration_s"]), cache / name))
    return prepared, skipped


def _decode_one(track: CorpusTrack, cfg: FrontEndConfig, out: Path, min_seconds: float) -> dict:
    try:
        audio = load(track.path, cfg.sample_rate)
    except DecodeError as exc:
        return {"error": str(exc), "duration_s": 0.0}
    duration = len(audio) / cfg.sample_rate
    if duration < min_seconds:  # remembered, so a re-run does not decode it again
        return {"duration_s": duration, "file": None}
    _save_atomic(out, logmel(audio, cfg).astype(np.float16))
    return {"duration_s": duration, "file": out.name}


def split_heldout(tracks: list[PreparedTrack]) -> tuple[list[PreparedTrack], list[PreparedTrack]]:
    """(training tracks, held-out tracks) by the fixed rule documented at HELDOUT_MIN_TRACKS."""
    collections_of: dict[str, set[str]] = {}
    size: dict[str, int] = {}
    for t in tracks:
        collections_of.setdefault(t.track.package, set()).add(t.track.collection)
        size[t.track.collection] = size.get(t.track.collection, 0) + 1
    heldout_packages = {
        package for package, colls in collections_of.items()
        if len(colls) == 1 and HELDOUT_MIN_TRACKS <= size[next(iter(colls))] <= HELDOUT_MAX_TRACKS
    }
    train = [t for t in tracks if t.track.package not in heldout_packages]
    heldout = [t for t in tracks if t.track.package in heldout_packages]
    return train, heldout


def spread_crops(spec: np.ndarray, crop_frames: int, n: int) -> np.ndarray:
    """``n`` crops of ``crop_frames`` frames centred on ``n`` equal segments (as the app's crops are).

    Returns float16 (n, 1, n_mels, crop_frames); a spectrogram shorter than a crop is tiled.
    """
    frames = spec.shape[1]
    if frames < crop_frames:
        spec = np.tile(spec, (1, int(np.ceil(crop_frames / max(frames, 1)))))
        frames = spec.shape[1]
    centres = (np.arange(n) + 0.5) * frames / n
    starts = np.clip(np.round(centres - crop_frames / 2), 0, frames - crop_frames).astype(int)
    return np.stack([np.asarray(spec[:, s: s + crop_frames], dtype=np.float16) for s in starts])[:, None]


def degrade_logmel(crops: np.ndarray, cfg: FrontEndConfig, rng: np.random.Generator,
                   cutoff_hz: tuple = (2000.0, 10000.0), snr_db: tuple = (10.0, 40.0)) -> np.ndarray:
    """Log-mel crops as if the audio had been low-passed and had white noise added (training data).

    Done on the cached log-mel, so no decoding: the bands above a random cutoff fall by up to 80 dB
    over 1 kHz (floored at the front end's -100 dB), then noise of a random SNR is added in the
    power domain.  White noise is flat across the area-normalised mel bands of the front end, so
    one power value per crop models it.  Real listening copies (MP3s, phone recordings, radio)
    lose their top end and gain a noise floor; same-track pairs across such copies teach the
    branch to ignore both.
    """
    out = np.asarray(crops, dtype=np.float32).copy()
    centres = mel_band_edges_hz(cfg)
    floor = 10.0 * np.log10(cfg.amin)
    for crop in out:  # crop: (1, n_mels, frames)
        cutoff = rng.uniform(*cutoff_hz)
        attenuation = -80.0 * np.clip((centres - cutoff) / 1000.0, 0.0, 1.0)
        spec = np.maximum(crop[0] + attenuation[:, None], floor)
        power = 10.0 ** (spec / 10.0)
        noise = power.mean() / 10.0 ** (rng.uniform(*snr_db) / 10.0)
        crop[0] = 10.0 * np.log10(power + noise)
    return out.astype(np.asarray(crops).dtype)


# --- honest audio-derived descriptive tags -------------------------------------------------------

def audio_descriptors(spec_db: np.ndarray, cfg: FrontEndConfig) -> dict[str, float]:
    """Three numbers measured on a whole-track log-mel: tempo (BPM), brightness, dynamics.

    tempo: the lag of the strongest onset-strength autocorrelation peak between 60 and 180 BPM;
    brightness: the power-weighted mean mel band (0..n_mels-1); dynamics: the spread (std, dB) of
    the per-second loudness.  Crude, but measured from the audio and nothing else.
    """
    spec = np.asarray(spec_db, dtype=np.float32)
    fps = cfg.sample_rate / cfg.hop_length
    onset = np.maximum(np.diff(spec, axis=1), 0.0).mean(0)
    onset = onset - onset.mean()
    ac = np.correlate(onset, onset, mode="full")[len(onset) - 1:] if len(onset) < 4096 else _autocorr_fft(onset)
    lags = np.arange(len(ac))
    valid = (lags >= fps * 60 / 180) & (lags <= fps * 60 / 60)
    best = lags[valid][np.argmax(ac[valid])] if valid.any() else 0
    tempo = 60.0 * fps / best if best else 0.0
    power = 10.0 ** (spec / 10.0)
    band_energy = power.mean(1)
    brightness = float((band_energy * np.arange(len(band_energy))).sum() / max(band_energy.sum(), 1e-20))
    loudness = 10 * np.log10(np.maximum(power.mean(0), 1e-10))
    per_second = [loudness[i: i + int(fps)].mean() for i in range(0, len(loudness) - int(fps) + 1, int(fps))]
    dynamics = float(np.std(per_second)) if per_second else 0.0
    return {"tempo": float(tempo), "brightness": brightness, "dynamics": dynamics}


def _autocorr_fft(x: np.ndarray) -> np.ndarray:
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    spectrum = np.fft.rfft(x, n)
    return np.fft.irfft(spectrum * np.conj(spectrum), n)[: len(x)]


def descriptive_tags(descriptors: list[dict[str, float]]) -> list[set[str]]:
    """Per track, one class tag per descriptor: its tertile (low/mid/high) within these tracks."""
    tags: list[set[str]] = [set() for _ in descriptors]
    if not descriptors:
        return tags
    for key in descriptors[0]:
        values = np.array([d[key] for d in descriptors])
        low, high = np.quantile(values, [1 / 3, 2 / 3])
        for i, v in enumerate(values):
            tags[i].add(f"{key}:{'low' if v <= low else 'high' if v > high else 'mid'}")
    return tags


def corpus_tags(tracks: list[PreparedTrack], cfg: FrontEndConfig, audio_tags: bool = True) -> list[set[str]]:
    """The tags of each training track: its collection, its package, and (optionally) audio classes."""
    tags = [{f"collection:{t.track.collection}", f"package:{t.track.package}"} for t in tracks]
    if audio_tags:
        measured = descriptive_tags([audio_descriptors(t.logmel(), cfg) for t in tracks])
        tags = [a | b for a, b in zip(tags, measured)]
    return tags
