"""Model quality on held-out music: the shipped model vs the MFCC baseline, an untrained twin, chance.

    .venv/bin/python bench/eval_retrieval.py --corpus ../shared/corpus [--model models/songsim-default.onnx]

The held-out collections are whole Debian packages that training never sees
(``songsim_desktop.training.corpus.split_heldout``: a fixed rule, documented there).  Two tasks,
every method scored in the SAME run on the SAME tracks and excerpts:

1. Same-collection retrieval, leave-one-out: each held-out track queries all the others (Euclidean
   distance between track vectors); a hit is a track of the same collection.  precision@5,
   precision@10 and mean average precision.
2. Excerpt identification: a 20-second excerpt of each held-out track, degraded (low-pass, added
   noise, random gain, MP3 re-encode through soundfile), queries the held-out tracks; a hit is its
   source ranked first.

The models run exactly as the app runs them: core.audio.read_crops on the file, then
core.embedder.Embedder (the exported ONNX, onnxruntime) and track_vector.  The baseline is
core.baseline: mean/std of 20 MFCCs and their deltas over the WHOLE track (more audio than the
model's 8 crops: the stronger baseline, on purpose), standardised over the held-out tracks.
Chance: P@k and excerpt rate in closed form, mAP averaged over 2000 random rankings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from songsim_desktop.core import audio  # noqa: E402
from songsim_desktop.core.baseline import Standardiser, mfcc_statistics  # noqa: E402
from songsim_desktop.core.embedder import Embedder  # noqa: E402
from songsim_desktop.core.features import FrontEndConfig, logmel  # noqa: E402
from songsim_desktop.training.corpus import default_cache_dir, prepare_corpus, split_heldout  # noqa: E402

EXCERPT_SECONDS = 20.0
EXCERPT_RECIPE = "lowpass 3-8 kHz, white noise 15-30 dB SNR, gain -12..0 dB, MP3 (libsndfile default VBR)"


# --- metrics -------------------------------------------------------------------------------------

def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0))


def average_precision(relevant_in_rank_order: np.ndarray) -> float:
    hits = np.cumsum(relevant_in_rank_order)
    if hits[-1] == 0:
        return 0.0
    ranks = np.arange(1, len(relevant_in_rank_order) + 1)
    return float((relevant_in_rank_order * hits / ranks).sum() / hits[-1])


def retrieval_scores(vectors: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Leave-one-out P@5, P@10 and mAP of same-label retrieval by Euclidean distance."""
    labels_arr = np.array(labels)
    dist = distances(vectors, vectors)
    p5, p10, aps = [], [], []
    for i in range(len(vectors)):
        order = [j for j in np.argsort(dist[i], kind="stable") if j != i]
        relevant = (labels_arr[order] == labels_arr[i]).astype(float)
        p5.append(relevant[:5].mean())
        p10.append(relevant[:10].mean())
        aps.append(average_precision(relevant))
    return {"p@5": float(np.mean(p5)), "p@10": float(np.mean(p10)), "map": float(np.mean(aps))}


def excerpt_rate(queries: np.ndarray, library: np.ndarray) -> dict[str, float]:
    """Share of excerpts whose own track (same index) ranks first; and the mean reciprocal rank."""
    dist = distances(queries, library)
    ranks = np.array([1 + int((dist[i] < dist[i, i]).sum()) for i in range(len(queries))])
    return {"excerpt@1": float((ranks == 1).mean()), "mrr": float((1.0 / ranks).mean())}


def chance_scores(labels: list[str], trials: int = 2000, seed: int = 0) -> dict[str, float]:
    labels_arr = np.array(labels)
    n = len(labels)
    same = np.array([(labels_arr == label).sum() - 1 for label in labels_arr], dtype=float)
    rng = np.random.default_rng(seed)
    aps = []
    for _ in range(trials):
        i = int(rng.integers(n))
        others = np.delete(np.arange(n), i)
        relevant = (labels_arr[rng.permutation(others)] == labels_arr[i]).astype(float)
        aps.append(average_precision(relevant))
    return {"p@5": float(np.mean(same / (n - 1))), "p@10": float(np.mean(same / (n - 1))),
            "map": float(np.mean(aps)), "excerpt@1": 1.0 / n,
            "mrr": float(np.mean(1.0 / np.arange(1, n + 1)))}


# --- the degraded excerpts -----------------------------------------------------------------------

def low_pass(x: np.ndarray, sr: int, cutoff_hz: float, width_hz: float = 500.0) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / sr)
    ramp = np.clip((cutoff_hz + width_hz - freqs) / width_hz, 0.0, 1.0)  # linear roll-off
    return np.fft.irfft(spectrum * ramp, len(x)).astype(np.float32)


def degrade(x: np.ndarray, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Low-pass at 3-8 kHz, white noise at 15-30 dB SNR, gain -12..0 dB (then the MP3 encode)."""
    params = {"cutoff_hz": float(rng.uniform(3000, 8000)), "snr_db": float(rng.uniform(15, 30)),
              "gain_db": float(rng.uniform(-12, 0))}
    y = low_pass(x, sr, params["cutoff_hz"])
    signal_power = float(np.mean(y ** 2)) or 1e-12
    noise = rng.standard_normal(len(y)).astype(np.float32)
    y = y + noise * np.sqrt(signal_power / 10 ** (params["snr_db"] / 10))
    y = y * 10 ** (params["gain_db"] / 20)
    return np.clip(y, -1.0, 1.0).astype(np.float32), params


def make_excerpts(tracks, cfg: FrontEndConfig, folder: Path, seed: int) -> list[Path]:
    """One degraded MP3 excerpt per track, from a seeded random position."""
    paths = []
    for i, t in enumerate(tracks):
        rng = np.random.default_rng([seed, i])
        offset = float(rng.uniform(0, max(0.0, t.duration_s - EXCERPT_SECONDS)))
        clip = audio.load(t.track.path, cfg.sample_rate, offset_s=offset, max_seconds=EXCERPT_SECONDS)
        degraded, _ = degrade(clip, cfg.sample_rate, rng)
        out = folder / f"excerpt-{i:03d}.mp3"
        sf.write(str(out), degraded, cfg.sample_rate, format="MP3")
        paths.append(out)
    return paths


# --- the methods ---------------------------------------------------------------------------------

def model_vectors(embedder: Embedder, crops: list[np.ndarray]) -> np.ndarray:
    return np.stack([embedder.embed_crops(c).vector for c in crops])


def untrained_twin(model_path: Path, folder: Path, seed: int) -> Path | None:
    """An untrained model of the same architecture as ``model_path`` (needs torch; None without)."""
    try:
        from songsim_desktop.training.export import export_untrained
        from songsim_desktop.training.model import BranchConfig
    except ImportError:
        return None
    sidecar = model_path.with_suffix(".json")
    branch = json.loads(sidecar.read_text()).get("branch") if sidecar.exists() else None
    config = BranchConfig.from_dict(branch) if branch else None
    out = folder / "untrained.onnx"
    export_untrained(out, seed=seed, config=config)
    return out


def _decoded_inputs(heldout, cfg: FrontEndConfig, folder: Path, seed: int, cache_dir: Path | None):
    """What every method needs from the audio: the app's crops of each track and of each degraded
    excerpt, and the baseline's excerpt statistics.  Kept in the corpus cache (keyed by tracks,
    seed and front end) so that scoring another model does not decode and encode again."""
    key = hashlib.sha256(json.dumps([[t.track.relpath for t in heldout], seed, cfg.key(),
                                     EXCERPT_SECONDS, EXCERPT_RECIPE]).encode()).hexdigest()[:16]
    cached = (cache_dir or default_cache_dir()) / f"eval-inputs-{key}.npz"
    if cached.exists():
        with np.load(cached) as data:
            return list(data["tracks"]), list(data["excerpts"]), data["baseline_queries"]
    excerpts = make_excerpts(heldout, cfg, folder, seed)
    track_crops = [audio.read_crops(t.track.path, cfg)[0] for t in heldout]
    excerpt_crops = [audio.read_crops(p, cfg)[0] for p in excerpts]
    base_q = np.stack([mfcc_statistics(logmel(audio.load(p, cfg.sample_rate), cfg)) for p in excerpts])
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp.npz")
    np.savez(tmp, tracks=np.stack(track_crops), excerpts=np.stack(excerpt_crops), baseline_queries=base_q)
    os.replace(tmp, cached)
    return track_crops, excerpt_crops, base_q


def evaluate(corpus: Path, models: dict[str, Path], seed: int = 0, untrained: bool = True,
             cache_dir: Path | None = None, log=print) -> dict:
    cfg = Embedder(next(iter(models.values())), threads=2).frontend
    prepared, _skipped = prepare_corpus(corpus, cfg, cache_dir)
    _train, heldout = split_heldout(prepared)
    labels = [t.track.collection for t in heldout]
    log(f"held-out: {len(heldout)} tracks in {len(set(labels))} collections: {sorted(set(labels))}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="songsim-eval-") as tmp:
        folder = Path(tmp)
        started = time.monotonic()
        track_crops, excerpt_crops, base_q = _decoded_inputs(heldout, cfg, folder, seed, cache_dir)
        log(f"decoded tracks and made {len(heldout)} excerpts in {time.monotonic() - started:.0f} s")
        methods = dict(models)
        if untrained:
            twin = untrained_twin(next(iter(models.values())), folder, seed)
            if twin is not None:
                methods["untrained (same architecture)"] = twin
        for name, path in methods.items():
            embedder = Embedder(path, threads=2)
            lib, queries = model_vectors(embedder, track_crops), model_vectors(embedder, excerpt_crops)
            results[name] = {**retrieval_scores(lib, labels), **excerpt_rate(queries, lib),
                             "model_id": embedder.info.id}
        base_lib = np.stack([mfcc_statistics(np.asarray(t.logmel(), np.float32)) for t in heldout])
        scaler = Standardiser.fit(base_lib)
        lib, queries = scaler.transform(base_lib), scaler.transform(base_q)
        results["MFCC baseline"] = {**retrieval_scores(lib, labels), **excerpt_rate(queries, lib)}
    results["chance"] = chance_scores(labels, seed=seed)
    return {"heldout_tracks": len(heldout), "collections": sorted(set(labels)), "seed": seed,
            "results": results}


def markdown_table(report: dict) -> str:
    lines = ["| method | P@5 | P@10 | mAP | excerpt found first | excerpt MRR |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in report["results"].items():
        lines.append(f"| {name} | {r['p@5']:.3f} | {r['p@10']:.3f} | {r['map']:.3f} | "
                     f"{r['excerpt@1']:.3f} | {r['mrr']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus",
                        help="folder with manifest.csv (what ../shared/corpus/fetch.sh made)")
    parser.add_argument("--model", type=Path, action="append",
                        help="ONNX model(s) to score (default: models/songsim-default.onnx)")
    parser.add_argument("--cache", type=Path, default=None, help="corpus feature cache (default: "
                        "$SONGSIM_CORPUS_DIR or ~/.cache/songsim-corpus-features)")
    parser.add_argument("--seed", type=int, default=0, help="excerpt positions and degradations")
    parser.add_argument("--no-untrained", action="store_true", help="skip the untrained twin")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    paths = args.model or [REPO / "models" / "songsim-default.onnx"]
    models = {}
    for p in paths:
        models[f"model {p}" if len(paths) > 1 else "songsim model"] = p
    report = evaluate(args.corpus, models, seed=args.seed, untrained=not args.no_untrained,
                      cache_dir=args.cache, log=lambda m: print(m, file=sys.stderr))
    print(markdown_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
