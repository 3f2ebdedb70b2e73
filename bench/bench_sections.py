"""Section search (issue 10): indexing cost, storage, a 10,000-track section index, clip identification.

    .venv/bin/python bench/bench_sections.py clips    [--corpus /work/corpus] [--cache /work/cache/features]
    .venv/bin/python bench/bench_sections.py index10k [--tracks 10000] [--queries 200]
    .venv/bin/python bench/bench_sections.py indexing [--tracks 12] [--workers N]

clips: clip identification on held-out real music.  Every track of the split (``--split``: choices
are made on ``validation``, reported on ``test``) is a library track whose section vectors are made
exactly as a scan makes them (its whole log-mel, windows every SECTION_HOP_S, the shipped model,
int8-quantised as stored).  From each track, a 10 s and a 20 s clip at a seeded random position are
decoded from the file, degraded as the model bench degrades its excerpts (bench/eval_retrieval.py:
low-pass 3-8 kHz, white noise 15-30 dB SNR, gain -12..0 dB, MP3 re-encode) and queried; a hit is the
source ranked first, the offset is right within 3 s.  In the same run, today's ranking: the clip's
track vector (its crops, as query_file embeds a file) against the tracks' track vectors.  On the
validation split it also compares the aggregations (mean, best) and section hops (1.5, 3, 4.5 s).

index10k: ``--tracks`` synthetic four-minute tracks (79 sections each at the 3 s hop: clustered
128-d unit vectors, neighbouring sections alike), indexed by core.search.section_index (hnswlib).
Resident memory of the index = RSS after building minus before (the vectors are generated and
added in chunks, never held whole).  ``--queries`` clip-like queries (5 or 15 noisy windows from a
random track): p50/p99 of the index lookup + per-track aggregation (embedding the query's windows
is excluded: it costs the same with any index); recall@10 of the aggregated track ranking against
an exact brute-force search over the same vectors with the same aggregation.

indexing: ``--tracks`` held-out corpus files: the one-process decode-only time (soundfile read,
mono, soxr to 22.05 kHz: bench/bench_index.py's reference) and a full scan with section vectors
(SongsimService.scan_job, ``--workers`` decode processes), in one run; then bytes of section data per
minute of audio in the database.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(REPO / "bench"))

from songsim_desktop import paths  # noqa: E402
from songsim_desktop.core import audio  # noqa: E402
from songsim_desktop.core.analysis import section_vectors as sv  # noqa: E402
from songsim_desktop.core.embedder import Embedder, track_vector  # noqa: E402
from songsim_desktop.core.features import FrontEndConfig, logmel_batch  # noqa: E402
from songsim_desktop.core.full_decode import chunked_logmel  # noqa: E402
from songsim_desktop.core.library.sections import quantise  # noqa: E402
from songsim_desktop.core.search import sections as section_search  # noqa: E402
from songsim_desktop.core.search.section_index import SectionIndex  # noqa: E402

CLIP_SECONDS = (10.0, 20.0)
OFFSET_TOLERANCE_S = 3.0


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# -- clip identification ------------------------------------------------------------------------------
def _clip(track, seconds: float, cfg: FrontEndConfig, rng, folder: Path, degrade) -> tuple[Path, float]:
    for _attempt in range(20):
        offset = float(rng.uniform(0, max(0.0, track.duration_s - seconds)))
        samples = audio.load(track.track.path, cfg.sample_rate, offset_s=offset, max_seconds=seconds)
        if np.abs(samples).max(initial=0.0) > 10 ** (-30 / 20):
            break
    degraded, _ = degrade(samples, cfg.sample_rate, rng)
    out = folder / f"clip-{len(list(folder.iterdir())):04d}.mp3"
    sf.write(str(out), degraded, cfg.sample_rate, format="MP3")
    return out, offset


def run_clips(args) -> dict:
    from eval_retrieval import degrade, section_library

    from songsim_desktop.training.corpus import prepare_corpus, split_corpus

    embedder = Embedder(paths.default_model_path())
    cfg = embedder.info.frontend
    tracks, _ = prepare_corpus(args.corpus, cfg, args.cache)
    heldout = split_corpus(tracks).part(args.split)[: args.limit or None]
    hops = tuple(float(h) for h in args.hops.split(",")) if args.hops else (
        (1.5, sv.SECTION_HOP_S, 4.5) if args.split == "validation" else (sv.SECTION_HOP_S,))
    started = time.perf_counter()
    specs = [np.asarray(t.logmel(), dtype=np.float32) for t in heldout]
    library_vectors = np.stack([track_vector(embedder.embed_inputs(
        np.asarray(audio_crops(spec, cfg), dtype=np.float32))) for spec in specs])
    indexes = {hop: section_library(embedder, specs, Path(tempfile.mkdtemp()), hop) for hop in hops}
    print(f"library: {len(heldout)} tracks, {sum(t.duration_s for t in heldout) / 60:.0f} min, "
          f"{ {h: len(i) for h, i in indexes.items()} } sections by hop ({time.perf_counter() - started:.0f} s)",
          file=sys.stderr, flush=True)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for seconds in CLIP_SECONDS:
            hits = {}
            for i, track in enumerate(heldout):
                rng = np.random.default_rng([args.seed, i, int(seconds)])
                clip, truth = _clip(track, seconds, cfg, rng, folder, degrade)
                crops, _info = audio.read_crops(clip, cfg)  # today's ranking: the clip's track vector
                query_vector = track_vector(embedder.embed_inputs(logmel_batch(crops, cfg)))
                nearest = int(np.argmin(np.linalg.norm(library_vectors - query_vector, axis=1)))
                hits.setdefault("track vector", []).append((nearest == i, None))
                full = chunked_logmel(audio.load(clip, cfg.sample_rate), cfg)
                query = section_search.query_windows(full, cfg)
                q = embedder.embed_inputs(query.inputs)
                for hop, index in indexes.items():
                    labels, dists = index.knn(q, section_search.NEIGHBOURS_PER_WINDOW + 80)
                    for how, align in [(h, True) for h in section_search.AGGREGATIONS] + [("mean", False)]:
                        found = section_search.aggregate(labels, dists, index.owners, index.starts, query.offsets, how)
                        found = section_search.rerank(index, q, found, query.offsets, how, align=align)
                        top = found[0]
                        name = f"sections {how}, hop {hop:g} s" + ("" if align else ", offset of the closest pair")
                        hits.setdefault(name, []).append((top.track_id == i, abs(top.offset - truth) <= OFFSET_TOLERANCE_S))
            results[f"{seconds:g} s"] = {
                name: {"first": float(np.mean([h for h, _ in v])),
                       "offset_within_3s": None if v[0][1] is None else float(np.mean([o for _, o in v])),
                       "n": len(v)} for name, v in hits.items()}
            print(f"{seconds:g} s clips done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return {"split": args.split, "tracks": len(heldout), "minutes": sum(t.duration_s for t in heldout) / 60,
            "results": results, "seconds": time.perf_counter() - started}


def audio_crops(spec: np.ndarray, cfg: FrontEndConfig) -> np.ndarray:
    """The model's crops of a cached whole log-mel, at the app's crop positions."""
    from songsim_desktop.training.corpus import spread_crops

    return spread_crops(spec, cfg.crop_frames, cfg.n_crops)


# -- a 10,000-track synthetic section index ---------------------------------------------------------
SECTIONS_PER_TRACK = 79  # a 240 s track at the 3 s hop
DIM = 128
CHUNK_TRACKS = 500


def _synthetic_chunk(first: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sections of tracks [first, first+count): each track walks between 4 motifs of its own plus
    shared 'genre' directions, neighbouring sections alike; unit vectors."""
    rng = np.random.default_rng([seed, first])
    genres = np.random.default_rng(seed).normal(size=(64, DIM)).astype(np.float32)
    out = np.empty((count * SECTIONS_PER_TRACK, DIM), dtype=np.float32)
    for t in range(count):
        motifs = genres[rng.integers(0, 64, 4)] + 0.8 * rng.normal(size=(4, DIM)).astype(np.float32)
        which = np.repeat(rng.integers(0, 4, SECTIONS_PER_TRACK // 8 + 1), 8)[:SECTIONS_PER_TRACK]
        walk = np.cumsum(0.15 * rng.normal(size=(SECTIONS_PER_TRACK, DIM)), axis=0).astype(np.float32)
        x = motifs[which] + walk + 0.3 * rng.normal(size=(SECTIONS_PER_TRACK, DIM)).astype(np.float32)
        out[t * SECTIONS_PER_TRACK:(t + 1) * SECTIONS_PER_TRACK] = x
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    owners = np.repeat(np.arange(first, first + count), SECTIONS_PER_TRACK)
    return owners, out


def _queries(args) -> list[np.ndarray]:
    """Clip-like queries: 5 or 15 windows (a 10 s / 20 s clip at a 1 s hop, over 3 s sections) from
    a random track, with noise (a degraded copy)."""
    rng = np.random.default_rng(args.seed + 1)
    out = []
    for qi in range(args.queries):
        track = int(rng.integers(args.tracks))
        windows = 5 if qi % 2 == 0 else 15
        _o, source = _synthetic_chunk(track, 1, args.seed)
        first = int(rng.integers(0, SECTIONS_PER_TRACK - windows // 3 - 1))
        q = source[first: first + windows // 3 + 1].repeat(3, axis=0)[:windows]
        q = q + rng.normal(size=q.shape).astype(np.float32) / np.sqrt(DIM)
        out.append(q / np.linalg.norm(q, axis=1, keepdims=True))
    return out


def run_index10k(args) -> dict:
    from songsim_desktop.core.search import section_index as si

    n = args.tracks * SECTIONS_PER_TRACK
    queries = _queries(args)
    exact = [np.empty((len(q), args.tracks), dtype=np.float32) for q in queries]
    folder = Path(tempfile.mkdtemp())
    before = _rss_mib()
    index = SectionIndex(folder, "bench", DIM)
    index.fit_projection(_synthetic_chunk(0, min(CHUNK_TRACKS, args.tracks), args.seed)[1])
    hnsw = index.new_graph(n)
    codes = np.lib.format.open_memmap(folder / "codes.npy", "w+", np.int8, (n, DIM))
    scales = np.lib.format.open_memmap(folder / "scales.npy", "w+", np.float16, (n,))
    build_s = 0.0
    for first in range(0, args.tracks, CHUNK_TRACKS):
        count = min(CHUNK_TRACKS, args.tracks - first)
        _owners, chunk = _synthetic_chunk(first, count, args.seed)
        at = first * SECTIONS_PER_TRACK
        started = time.perf_counter()
        hnsw.add_items(index.project(chunk), np.arange(at, at + len(chunk)))
        build_s += time.perf_counter() - started
        codes[at: at + len(chunk)], scales[at: at + len(chunk)] = quantise(chunk)
        for q, best in zip(queries, exact):  # exact search over the same vectors, in the same pass
            d = np.sqrt(np.maximum(2.0 - 2.0 * q @ chunk.T, 0.0)).reshape(len(q), count, SECTIONS_PER_TRACK)
            best[:, first:first + count] = d.min(axis=2)
        del chunk
        print(f"  {first + count}/{args.tracks} tracks indexed", file=sys.stderr, flush=True)
    codes.flush(), scales.flush()
    del codes, scales
    # What SectionIndex.load makes of a saved index, built here without holding every vector
    # twice: the same graph, labels, and memory-mapped int8 codes for the exact re-scoring.
    index._hnsw = hnsw
    index._codes = np.load(folder / "codes.npy", mmap_mode="r")
    index._scales = np.load(folder / "scales.npy", mmap_mode="r")
    index.owners = np.repeat(np.arange(args.tracks, dtype=np.int64), SECTIONS_PER_TRACK)
    index.starts = np.tile(np.arange(SECTIONS_PER_TRACK, dtype=np.float32) * 3.0, args.tracks)
    exact_bytes = sum(e.nbytes for e in exact) / 2**20
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand back the freed chunk temporaries before measuring
    resident = _rss_mib() - before - exact_bytes
    times, recalls = [], []
    for q, best in zip(queries, exact):
        offsets = np.arange(len(q), dtype=np.float64)
        t0 = time.perf_counter()
        labels, dists = index.knn(q, args.neighbours)
        hits = section_search.aggregate(labels, dists, index.owners, index.starts, offsets)
        hits = section_search.rerank(index, q, hits, offsets)
        times.append(time.perf_counter() - t0)
        truth = np.argsort(best.mean(axis=0), kind="stable")[:10]
        recalls.append(len({h.track_id for h in hits[:10]} & set(truth.tolist())) / 10)
    return {"tracks": args.tracks, "sections": n, "M": si.HNSW_M, "ef_construction": si.HNSW_EF_CONSTRUCTION,
            "graph_dim": int(index._axes.shape[1]),
            "build_s": build_s, "resident_mib": resident, "resident_after_queries_mib": _rss_mib() - before - exact_bytes,
            "query_ms_p50": 1000 * float(np.percentile(times, 50)),
            "query_ms_p99": 1000 * float(np.percentile(times, 99)), "recall_at_10": float(np.mean(recalls)),
            "queries": args.queries, "neighbours": args.neighbours, "cores": os.cpu_count(), "load": os.getloadavg()[0]}


# -- indexing cost and storage -------------------------------------------------------------------------
def run_indexing(args) -> dict:
    import soxr

    from bench_index import warm_page_cache

    from songsim_desktop.core.progress import drive
    from songsim_desktop.core.service import SongsimService
    from songsim_desktop.training.corpus import prepare_corpus, split_corpus

    cfg = FrontEndConfig()
    tracks, _ = prepare_corpus(args.corpus, cfg, args.cache)
    chosen = split_corpus(tracks).part(args.split)[: args.tracks]
    with tempfile.TemporaryDirectory() as tmp:
        music = Path(tmp) / "music"
        music.mkdir()
        files = []
        for t in chosen:  # hard links: the scan reads the corpus files themselves, never writes there
            link = music / f"{len(files):03d}{t.track.path.suffix}"
            try:
                os.link(t.track.path, link)
            except OSError:
                os.symlink(t.track.path, link)
            files.append(link)
        warm_page_cache(files)
        started = time.perf_counter()
        for path in files:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
            mono = data.mean(axis=1)
            if sr != cfg.sample_rate:
                mono = soxr.resample(mono, sr, cfg.sample_rate)
        decode_s = time.perf_counter() - started
        with SongsimService(Path(tmp) / "data") as service:
            started = time.perf_counter()
            report = drive(service.scan_job(music, workers=args.workers))
            index_s = time.perf_counter() - started
            size, count, seconds = service.library.section_storage(service.active_model_id())
    return {"tracks": len(files), "minutes": seconds / 60, "workers": args.workers, "decode_only_s": decode_s,
            "indexing_s": index_s, "ratio": index_s / decode_s, "failed": len(report.failed),
            "section_bytes": size, "sections": count, "bytes_per_minute": size / (seconds / 60),
            "cores": os.cpu_count(), "load": os.getloadavg()[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("clips", "index10k", "indexing"))
    parser.add_argument("--corpus", default="/work/corpus")
    parser.add_argument("--cache", default="/work/cache/features")
    parser.add_argument("--split", default="test", choices=("validation", "test"))
    parser.add_argument("--limit", type=int, default=0, help="clips: at most this many tracks (0 = all)")
    parser.add_argument("--hops", default="", help="clips: section hops to compare, e.g. 1.5,3,4.5 "
                        "(default: those three on validation, the app's on test)")
    parser.add_argument("--tracks", type=int, default=None)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--neighbours", type=int, default=section_search.NEIGHBOURS_PER_WINDOW + 80,
                        help="index10k: neighbours per query window (the app asks for NEIGHBOURS_PER_WINDOW + 8k)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.what == "clips":
        out = run_clips(args)
    elif args.what == "index10k":
        args.tracks = args.tracks or 10000
        out = run_index10k(args)
    else:
        args.tracks = args.tracks or 12
        out = run_indexing(args)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
