"""Model quality on held-out music: songsim models vs musicnn, MFCC, an untrained twin and chance.

    .venv/bin/python bench/eval_retrieval.py --corpus CORPUS [--model NAME=PATH ...] [--split test]

The held-out collections are whole Debian packages that training never sees
(``songsim_desktop.training.corpus.split_corpus``: a fixed rule, documented there); ``--split
validation`` scores the validation packages instead (where recipe choices are made).  Two tasks,
every method scored in the SAME run on the SAME tracks and excerpts, each figure with a 95 %
bootstrap interval over collections:

1. Same-collection retrieval, leave-one-out: each held-out track queries all the others; a hit is a
   track of the same collection.  precision@5, precision@10 and mean average precision.
2. Excerpt identification: a 20-second excerpt of each held-out track, degraded (low-pass, added
   noise, random gain, MP3 re-encode through soundfile), queries the held-out tracks; a hit is its
   source ranked first.  For songsim models two columns: the app's real query path for a short
   clip, section search (core.search.sections: the clip's windows every 1 s against every track's
   section vectors every 3 s, stored 8-bit as the database stores them, in a SectionIndex), and the
   track vector alone (the clip's crops -> one vector, nearest track vector), which is also the only
   path the other methods have.

The models run exactly as the app runs them: core.audio.read_crops on the file, then
core.embedder.Embedder (the exported ONNX, onnxruntime) and track_vector; section vectors are cut
from the track's whole log-mel (the corpus cache's, float16) as core.analysis.section_vectors cuts
them during a scan.  The MFCC baseline is
core.baseline over the WHOLE track (more audio than the model's 8 crops), standardised over the
held-out tracks.  musicnn (MSD_musicnn, run in its own virtualenv by bench/musicnn_teacher.py): its
753-d max_pool layer averaged over up to 10 three-second patches spread over the track, z-scored
over the held-out tracks, cosine.  Chance: P@k in closed form, mAP by random rankings.
s/track: CPU seconds of one core per 4-minute track beyond decoding, counting every vector the app
computes for it: for the models the whole track's log-mel, its section vectors every 3 s (79
windows) and its 8 crops' log-mel and vectors; the whole-track log-mel and statistics for MFCC; the
network alone for musicnn.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import subprocess

import numpy as np
import soundfile as sf
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from songsim_desktop.atomic import atomic_path  # noqa: E402
from songsim_desktop.core import audio  # noqa: E402
from songsim_desktop.core.baseline import Standardiser, mfcc_statistics  # noqa: E402
from songsim_desktop.core.analysis import section_vectors as sv  # noqa: E402
from songsim_desktop.core.embedder import Embedder  # noqa: E402
from songsim_desktop.core.features import FrontEndConfig, logmel  # noqa: E402
from songsim_desktop.core.full_decode import chunked_logmel  # noqa: E402
from songsim_desktop.core.library.sections import dequantise, quantise  # noqa: E402
from songsim_desktop.core.search import sections as section_search  # noqa: E402
from songsim_desktop.core.search.section_index import SectionIndex  # noqa: E402
from songsim_desktop.training.corpus import default_cache_dir, prepare_corpus, split_corpus  # noqa: E402
from songsim_desktop.training.teacher import load_teacher  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from retrieval_metrics import (bootstrap_intervals, chance_per_query, excerpt_per_query,  # noqa: E402
                               retrieval_per_query)

TRACK_SECONDS_FOR_COST = 240.0

EXCERPT_SECONDS = 20.0
MIN_EXCERPT_PEAK_DBFS = -30.0
EXCERPT_RECIPE = "lowpass 3-8 kHz, white noise 15-30 dB SNR, gain -12..0 dB, MP3 (libsndfile default VBR)"


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
    """One degraded MP3 excerpt per track, from a seeded random position.  A position where the track
    is (nearly) silent is drawn again: nobody queries with 20 s of silence, and the app refuses it."""
    paths = []
    for i, t in enumerate(tracks):
        rng = np.random.default_rng([seed, i])
        for _attempt in range(20):
            offset = float(rng.uniform(0, max(0.0, t.duration_s - EXCERPT_SECONDS)))
            clip = audio.load(t.track.path, cfg.sample_rate, offset_s=offset, max_seconds=EXCERPT_SECONDS)
            if np.abs(clip).max(initial=0.0) > 10 ** (MIN_EXCERPT_PEAK_DBFS / 20):
                break
        degraded, _ = degrade(clip, cfg.sample_rate, rng)
        out = folder / f"excerpt-{i:03d}.mp3"
        sf.write(str(out), degraded, cfg.sample_rate, format="MP3")
        paths.append(out)
    return paths


# --- the methods ---------------------------------------------------------------------------------

def model_vectors(embedder: Embedder, crops: list[np.ndarray]) -> np.ndarray:
    return np.stack([embedder.embed_crops(c).vector for c in crops])


def model_seconds_per_track(path: Path, repeats: int = 3) -> float:
    """One core, per 4-minute track, what a scan computes beyond decoding (core.full_decode and the
    two analysers): the whole log-mel, the section vectors, the crops' log-mel and vectors.  One
    BLAS thread, as in the scan's decode workers (a second one only spins on a one-core budget)."""
    embedder = Embedder(path, threads=1)
    cfg = embedder.frontend
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, int(TRACK_SECONDS_FOR_COST * cfg.sample_rate))
    samples = samples.astype(np.float32)
    crops = np.stack([samples[s: s + cfg.crop_samples] for s in audio.crop_starts(len(samples), cfg)])

    def scan_one():
        full = chunked_logmel(samples, cfg)
        embedder.embed_inputs(sv.windows_at(full, sv.section_starts(full.shape[1], cfg), cfg))
        embedder.embed_crops(crops)
    with threadpool_limits(limits=1):
        scan_one()  # warm-up: the first runs allocate
        started = time.process_time()
        for _ in range(repeats):
            scan_one()
        return (time.process_time() - started) / repeats


def section_library(embedder: Embedder, specs: list[np.ndarray], folder: Path,
                    hop_s: float = sv.SECTION_HOP_S) -> SectionIndex:
    """Tracks' section vectors (every ``hop_s``, the scan's 3 s by default; 8-bit as the database
    stores them) in a SectionIndex, library row i = track i (bench/bench_sections.py uses it too)."""
    cfg = embedder.frontend
    owners, starts, vectors = [], [], []
    for i, spec in enumerate(specs):
        first = sv.section_starts(spec.shape[1], cfg, sv.hop_frames(cfg, hop_s))
        codes, scales = quantise(embedder.embed_inputs(sv.windows_at(spec, first, cfg)))
        owners.append(np.full(len(first), i)), starts.append(sv.frames_to_seconds(first, cfg))
        vectors.append(dequantise(codes, scales))
    index = SectionIndex(folder, embedder.info.id, embedder.info.dim)
    index.build(np.concatenate(owners), np.concatenate(starts), np.concatenate(vectors))
    return index


def section_excerpt_per_query(embedder: Embedder, index: SectionIndex, excerpts: list[Path]) -> dict[str, np.ndarray]:
    """Each excerpt through the app's section query (its windows every 1 s, mean aggregation, exact
    re-rank): found first (0/1) and reciprocal rank of its own track (library row i)."""
    cfg = embedder.frontend
    first, rr = [], []
    for i, path in enumerate(excerpts):
        query = section_search.query_windows(chunked_logmel(audio.load(path, cfg.sample_rate), cfg), cfg)
        vectors = embedder.embed_inputs(query.inputs)
        labels, dists = index.knn(vectors, section_search.NEIGHBOURS_PER_WINDOW + 80)
        hits = section_search.aggregate(labels, dists, index.owners, index.starts, query.offsets, "mean")
        hits = section_search.rerank(index, vectors, hits, query.offsets, "mean")
        ranked = [h.track_id for h in hits]
        rank = ranked.index(i) + 1 if i in ranked else len(excerpts)
        first.append(float(rank == 1)), rr.append(1.0 / rank)
    return {"clip@1": np.array(first), "clip_mrr": np.array(rr)}


def mfcc_seconds_per_track(cfg: FrontEndConfig) -> float:
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, int(TRACK_SECONDS_FOR_COST * cfg.sample_rate))
    with threadpool_limits(limits=1):
        started = time.process_time()
        mfcc_statistics(chunked_logmel(samples.astype(np.float32), cfg))  # the scan's chunked log-mel, same numbers
        return time.process_time() - started


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


def musicnn_vectors(tracks: list[Path], excerpts: list[Path], venv: Path, cache: Path, log):
    """The musicnn peer: run bench/musicnn_teacher.py in its virtualenv over the tracks and excerpts
    (outputs cached), then average its max_pool over up to 10 spread patches, z-score, unit length."""
    listing = cache / "musicnn-peer-files.txt"
    listing.write_text("\n".join(str(p) for p in [*tracks, *excerpts]) + "\n")
    out = cache / "musicnn-peer"
    command = [str(venv / "bin" / "python"), str(REPO / "bench" / "musicnn_teacher.py"), "--list", str(listing),
               "--out", str(out), "--max-patches", "10", "--threads", "1"]
    log("musicnn: " + " ".join(command))
    subprocess.run(command, check=True)
    lib_out = [load_teacher(out, p) for p in tracks]
    query_out = [load_teacher(out, p) for p in excerpts]
    lib = np.stack([o.peer_vector() for o in lib_out])
    queries = np.stack([o.peer_vector() for o in query_out])
    scaler = Standardiser.fit(lib)

    def unit(x):
        x = scaler.transform(x)
        return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)  # Euclidean on unit = cosine
    seconds = float(np.mean([o.seconds_model / len(o.max_pool) for o in lib_out])) * 10
    return unit(lib), unit(queries), seconds


def _decoded_inputs(heldout, cfg: FrontEndConfig, seed: int, cache_dir: Path | None):
    """What every method needs from the audio: the app's crops of each track and of each degraded
    excerpt (kept as MP3 files for musicnn), and the baseline's excerpt statistics.  Kept in the
    corpus cache (keyed by tracks, seed and front end), so scoring another model decodes nothing."""
    key = hashlib.sha256(json.dumps([[t.track.relpath for t in heldout], seed, cfg.key(),
                                     EXCERPT_SECONDS, EXCERPT_RECIPE]).encode()).hexdigest()[:16]
    cache = cache_dir or default_cache_dir()
    cached = cache / f"eval-inputs-{key}.npz"
    folder = cache / f"eval-excerpts-{key}"
    if cached.exists() and folder.is_dir():
        with np.load(cached) as data:
            return list(data["tracks"]), list(data["excerpts"]), data["baseline_queries"], sorted(folder.glob("*.mp3"))
    folder.mkdir(parents=True, exist_ok=True)
    excerpts = make_excerpts(heldout, cfg, folder, seed)
    track_crops = [audio.read_crops(t.track.path, cfg)[0] for t in heldout]
    excerpt_crops = [audio.read_crops(p, cfg)[0] for p in excerpts]
    base_q = np.stack([mfcc_statistics(logmel(audio.load(p, cfg.sample_rate), cfg)) for p in excerpts])
    with atomic_path(cached) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, tracks=np.stack(track_crops), excerpts=np.stack(excerpt_crops), baseline_queries=base_q)
    return track_crops, excerpt_crops, base_q, excerpts


def _scored(per_query: dict, labels: list[str], seed: int, **extra) -> dict:
    means = {k: float(v.mean()) for k, v in per_query.items()}
    intervals = bootstrap_intervals(per_query, labels, seed=seed)
    return {**means, "interval": intervals, **extra}


def evaluate(corpus: Path, models: dict[str, Path], seed: int = 0, untrained: bool = True,
             cache_dir: Path | None = None, split_part: str = "test", musicnn_venv: Path | None = None,
             sections: bool = True, log=print) -> dict:
    cfg = Embedder(next(iter(models.values())), threads=2).frontend
    prepared, _skipped = prepare_corpus(corpus, cfg, cache_dir)
    heldout = split_corpus(prepared).part(split_part)
    labels = [t.track.collection for t in heldout]
    log(f"{split_part}: {len(heldout)} tracks in {len(set(labels))} collections: {sorted(set(labels))}")
    results: dict[str, dict] = {}
    started = time.monotonic()
    track_crops, excerpt_crops, base_q, excerpt_files = _decoded_inputs(heldout, cfg, seed, cache_dir)
    log(f"decoded tracks and made {len(heldout)} excerpts in {time.monotonic() - started:.0f} s")
    with tempfile.TemporaryDirectory(prefix="songsim-eval-") as tmp:
        methods = dict(models)
        if untrained:
            twin = untrained_twin(next(iter(models.values())), Path(tmp), seed)
            if twin is not None:
                methods["untrained (same architecture)"] = twin
        specs = [np.asarray(t.logmel(), dtype=np.float32) for t in heldout]
        for number, (name, path) in enumerate(methods.items()):
            embedder = Embedder(path, threads=2)
            lib, queries = model_vectors(embedder, track_crops), model_vectors(embedder, excerpt_crops)
            per_query = {**retrieval_per_query(lib, labels), **excerpt_per_query(queries, lib)}
            if sections:
                index = section_library(embedder, specs, Path(tmp) / f"sections-{number}")
                per_query.update(section_excerpt_per_query(embedder, index, excerpt_files))
            results[name] = _scored(per_query, labels, seed, model_id=embedder.info.id,
                                    seconds=model_seconds_per_track(path),
                                    megabytes=round(path.stat().st_size / 1e6, 2))
            log(f"{name}: mAP {results[name]['map']:.3f}, excerpt (track vector) {results[name]['excerpt@1']:.3f}"
                + (f", clip (sections) {results[name]['clip@1']:.3f}" if sections else ""))
    if musicnn_venv is not None:
        lib, queries, seconds = musicnn_vectors([t.track.path for t in heldout], excerpt_files, musicnn_venv,
                                                cache_dir or default_cache_dir(), log)
        results["musicnn (MSD_musicnn max_pool, teacher)"] = _scored(
            {**retrieval_per_query(lib, labels), **excerpt_per_query(queries, lib)}, labels, seed, seconds=seconds)
    base_lib = np.stack([mfcc_statistics(np.asarray(t.logmel(), np.float32)) for t in heldout])
    scaler = Standardiser.fit(base_lib)
    lib, queries = scaler.transform(base_lib), scaler.transform(base_q)
    results["MFCC baseline (whole track)"] = _scored(
        {**retrieval_per_query(lib, labels), **excerpt_per_query(queries, lib)}, labels, seed,
        seconds=mfcc_seconds_per_track(cfg))
    results["chance"] = _scored(chance_per_query(labels, seed=seed), labels, seed)
    return {"split": split_part, "tracks": len(heldout), "collections": sorted(set(labels)), "seed": seed,
            "results": results}


def markdown_table(report: dict) -> str:
    lines = ["| method | P@5 | P@10 | mAP (95 % interval) | excerpt found first, app's query path: sections "
             "(95 % interval) | excerpt found first, track vector (95 % interval) | excerpt MRR (track vector) "
             "| s/track (1 core) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def with_interval(r, key):
        return f"{r[key]:.3f} ({r['interval'][key][0]:.3f}-{r['interval'][key][1]:.3f})" if key in r else "-"
    for name, r in report["results"].items():
        seconds = f"{r['seconds']:.3f}" if "seconds" in r else "-"
        lines.append(f"| {name} | {r['p@5']:.3f} | {r['p@10']:.3f} | {with_interval(r, 'map')} "
                     f"| {with_interval(r, 'clip@1')} | {with_interval(r, 'excerpt@1')} | {r['mrr']:.3f} | {seconds} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus",
                        help="folder with manifest.csv (what ../shared/corpus/fetch.sh made)")
    parser.add_argument("--model", action="append", metavar="[NAME=]PATH",
                        help="ONNX model(s) to score (default: models/songsim-default.onnx)")
    parser.add_argument("--cache", type=Path, default=None, help="corpus feature cache (default: "
                        "$SONGSIM_CORPUS_DIR or ~/.cache/songsim-corpus-features)")
    parser.add_argument("--split", default="test", choices=["test", "validation"],
                        help="which held-out packages to score (choices are made on validation)")
    parser.add_argument("--musicnn-venv", type=Path, default=REPO / ".venv-musicnn",
                        help="musicnn's virtualenv (bench/setup_musicnn.sh); the peer is skipped without it")
    parser.add_argument("--seed", type=int, default=0, help="excerpt positions and degradations")
    parser.add_argument("--no-untrained", action="store_true", help="skip the untrained twin")
    parser.add_argument("--no-sections", action="store_true", help="skip the section-search excerpt column")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    models = {}
    for spec in args.model or [f"songsim default={REPO / 'models' / 'songsim-default.onnx'}"]:
        name, _, path = spec.rpartition("=")
        models[name or Path(path).stem] = Path(path)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    venv = args.musicnn_venv if (args.musicnn_venv / "bin" / "python").exists() else None
    if venv is None:
        log(f"musicnn peer skipped: no virtualenv at {args.musicnn_venv} (run bench/setup_musicnn.sh)")
    report = evaluate(args.corpus, models, seed=args.seed, untrained=not args.no_untrained, cache_dir=args.cache,
                      split_part=args.split, musicnn_venv=venv, sections=not args.no_sections, log=log)
    print(markdown_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
