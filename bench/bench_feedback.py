"""Issue 11: steering by listening, measured with a simulated listener on held-out real music.

    .venv/bin/python bench/bench_feedback.py --split validation --grid   # choose the re-ranker and its weights
    .venv/bin/python bench/bench_feedback.py --split test                # report with the choices

The listener: for a query track it likes results from the query's collection and dislikes the
others, judging the top 5 not-yet-judged results of the list it is shown, round after round.
Each held-out track is a query once; the library is the held-out part of the corpus
(split_corpus: validation or test packages), embedded by the shipped model on the app's 8 crops.

1. Instant re-ranking (core.steering.SteeredQuery, no training): P@10 of the list as shown
   (judged-liked tracks pinned first, judged-disliked last, the rest re-ranked) after 0..3 rounds,
   and the "residual" P@10 of the unjudged tracks alone (what the re-ranker itself achieved).
2. Learning: the simulated judgements of half the held-out collections (every other one, by name)
   become triplets (training.judgement_triplets) and fine-tune the shipped model through the
   app's own pure trainer (training.fine_tune, triplet loss, exported to ONNX and embedded by
   onnxruntime as the app does).  Same-collection mAP (queries of each half ranked among all held-out
   tracks) before and after, for the judged and the unjudged half.
3. Re-rank time at 10,000 tracks (synthetic unit vectors): one judgement + re-rank of the steered
   candidate set, as a ratio to one plain index query measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from songsim_desktop import paths  # noqa: E402
from songsim_desktop.core.embedder import Embedder  # noqa: E402
from songsim_desktop.core.features import FrontEndConfig  # noqa: E402
from songsim_desktop.core.library.judgements import JudgementReference  # noqa: E402
from songsim_desktop.core.search import feedback  # noqa: E402
from songsim_desktop.core.search.index import VectorIndex  # noqa: E402
from songsim_desktop.core.steering import CANDIDATES, SteeredQuery  # noqa: E402
from songsim_desktop.training.corpus import prepare_corpus, split_corpus, spread_crops  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))

ROUNDS, PER_ROUND, K = 3, 5, 10
TRAIN_CROPS = 16


def load_part(corpus: Path, cache: Path, part: str, cfg: FrontEndConfig):
    tracks, _ = prepare_corpus(corpus, cfg, cache)
    held = sorted(split_corpus(tracks).part(part), key=lambda t: t.track.relpath)
    labels = [t.track.collection for t in held]
    app_crops = [spread_crops(t.logmel(), cfg.crop_frames, cfg.n_crops).astype(np.float32) for t in held]
    train_crops = [spread_crops(t.logmel(), cfg.crop_frames, TRAIN_CROPS).astype(np.float32) for t in held]
    return labels, app_crops, train_crops


def embed(embedder: Embedder, crops: list) -> np.ndarray:
    out = []
    for x in crops:
        v = embedder.embed_inputs(x).mean(axis=0)
        out.append(v / np.linalg.norm(v))
    return np.stack(out)


def listen(vectors: np.ndarray, labels: list, query: int, reranker, rounds: int = ROUNDS):
    """One simulated listener session: yields (round, shown ranking ids, steered query) after each round."""
    others = np.array([j for j in range(len(vectors)) if j != query])
    near = others[np.argsort(np.linalg.norm(vectors[others] - vectors[query], axis=1), kind="stable")][:CANDIDATES]
    steered = SteeredQuery(JudgementReference(track_id=int(query)), vectors[query], near, vectors[near], reranker)
    for r in range(rounds + 1):
        shown = [t for t, _ in steered.ranking()]
        yield r, shown, steered
        fresh = [t for t in shown if t not in steered.signs][:PER_ROUND]
        for t in fresh:
            steered.judge(t, 1 if labels[t] == labels[query] else -1)


def rerank_curve(vectors, labels, reranker, rounds=ROUNDS) -> dict:
    """Per round: P@10 of the shown list, and the mAP of the unjudged tracks alone ("residual": how
    well the re-ranker orders what the listener has not judged yet; P@10 of the unjudged would
    measure mostly how many relevant tracks are left).  ``ceiling``: P@10 with every relevant
    track first (small collections cap it below 1)."""
    from retrieval_metrics import average_precision

    shown_p, residual = np.zeros((len(vectors), rounds + 1)), np.full((len(vectors), rounds + 1), np.nan)
    for q in range(len(vectors)):
        for r, shown, steered in listen(vectors, labels, q, reranker, rounds):
            hit = [labels[t] == labels[q] for t in shown]
            shown_p[q, r] = np.mean(hit[:K])
            rest = np.array([labels[t] == labels[q] for t in shown if t not in steered.signs], dtype=float)
            if rest.sum():
                residual[q, r] = average_precision(rest)
    relevant = np.array([sum(x == labels[q] for x in labels) - 1 for q in range(len(labels))])
    return {"shown": shown_p.mean(0).tolist(), "residual_map": np.nanmean(residual, 0).tolist(),
            "ceiling": float(np.mean(np.minimum(relevant, K) / K))}


def simulated_judgements(vectors, labels, queries, reranker) -> list:
    judged = []
    for q in queries:
        for _r, _shown, steered in listen(vectors, labels, q, reranker):
            pass
        judged += [(int(q), int(t), int(s)) for t, s in steered.signs.items()]
    return judged


def map_by_half(vectors, labels, halves: dict) -> dict:
    from retrieval_metrics import retrieval_per_query

    ap = retrieval_per_query(vectors, labels)["map"]
    return {name: float(np.mean([ap[i] for i in rows])) for name, rows in halves.items()}


def learning(labels, app_crops, train_crops, before: np.ndarray, reranker, model: Path, config_overrides: dict):
    from songsim_desktop import training
    from songsim_desktop.core.fine_tune import TrainingRequest
    from songsim_desktop.core.progress import drive

    collections = sorted(set(labels))
    judged_coll = set(collections[0::2])
    halves = {"judged": [i for i, c in enumerate(labels) if c in judged_coll],
              "unjudged": [i for i, c in enumerate(labels) if c not in judged_coll]}
    judged = simulated_judgements(before, labels, halves["judged"], reranker)
    config = training.TrainConfig(use_tags=False, use_judgements=True, device="cpu", threads=1, name="bench-feedback")
    for k, v in config_overrides.items():
        setattr(config, k, v)
    embedder = Embedder(model, threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        request = TrainingRequest({i: x for i, x in enumerate(train_crops)}, {}, embedder.frontend, embedder.info.id,
                                  model, Path(tmp) / "model.onnx", judged, [])
        started = time.monotonic()
        trained = drive(training.fine_tune(request, config))
        seconds = time.monotonic() - started
        after = embed(Embedder(trained.model_path, threads=1), app_crops)
    return {"judgements": len(judged), "triplets": trained.metrics.get("judgement_triplets"),
            "collections_judged": sorted(judged_coll), "train_seconds": round(seconds, 1),
            "judgement_accuracy": [trained.metrics.get("judgement_accuracy_before"),
                                   trained.metrics.get("judgement_accuracy_after")],
            "map_before": map_by_half(before, labels, halves), "map_after": map_by_half(after, labels, halves),
            "config": config_overrides}


def rerank_timing(n: int = 10_000, dim: int = 128, repeats: int = 50, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, n + 1, dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        index = VectorIndex(tmp, "bench", dim)
        index.build(ids, vectors)
        query = vectors[0]
        index.query(query, K)
        t0 = time.perf_counter()
        for _ in range(repeats):
            index.query(query, K, exclude_ids={1})
        plain = (time.perf_counter() - t0) / repeats
        t0 = time.perf_counter()
        for _ in range(repeats):  # opening the steered query: the candidate set and its vectors
            near = np.array([t for t, _ in index.query(query, CANDIDATES, exclude_ids={1})], dtype=np.int64)
            cand = index.items(near)
        open_s = (time.perf_counter() - t0) / repeats
    steered = SteeredQuery(JudgementReference(track_id=1), query, near, cand)
    t0 = time.perf_counter()
    for i in range(repeats):
        steered.judge(int(near[i % 20]), 1 if i % 2 else -1)
        steered.ranking(K)
    judge_s = (time.perf_counter() - t0) / repeats
    return {"tracks": n, "candidates": CANDIDATES, "plain_query_ms": plain * 1e3, "open_ms": open_s * 1e3,
            "judge_rerank_ms": judge_s * 1e3, "judge_rerank_over_plain_query": judge_s / plain}


class PinOnly:
    """Reference point: judged tracks pinned (liked first, disliked last), the rest in plain order.
    What any re-ranker adds is its gain over this."""

    name = "pin-only"

    def distances(self, query, vectors, signs):
        return np.linalg.norm(vectors - query, axis=1)

    def __repr__(self) -> str:
        return "PinOnly()"


def grid():
    out = [feedback.Rocchio(b, g) for b in (0.25, 0.5, 1.0, 2.0) for g in (0.0, 0.25, 0.5, 1.0)]
    return out + [feedback.FittedMetric(s) for s in (1.0, 2.0, 4.0, 8.0)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--cache", default="/work/cache/features")
    ap.add_argument("--split", default="validation", choices=["validation", "test"])
    ap.add_argument("--grid", action="store_true", help="score every re-ranker setting (choose on validation)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--margin", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--max-steps", type=int, default=30)
    ap.add_argument("--keep", type=float, default=0.0, help="L2-SP weight toward the shipped model's weights")
    ap.add_argument("--no-learning", action="store_true")
    ap.add_argument("--out", help="write the report as JSON here")
    args = ap.parse_args(argv)

    model = paths.default_model_path()
    embedder = Embedder(model, threads=1)
    labels, app_crops, train_crops = load_part(Path(args.corpus), Path(args.cache), args.split, embedder.frontend)
    vectors = embed(embedder, app_crops)
    print(f"{args.split}: {len(labels)} tracks, {len(set(labels))} collections", flush=True)
    report = {"split": args.split, "tracks": len(labels), "collections": len(set(labels)), "rerank": {}}
    for reranker in [PinOnly()] + (grid() if args.grid else [feedback.DEFAULT]):
        curve = rerank_curve(vectors, labels, reranker)
        report["rerank"][repr(reranker)] = curve
        print(f"{reranker!r}: shown P@10 {[round(x, 3) for x in curve['shown']]}  "
              f"residual mAP {[round(x, 3) for x in curve['residual_map']]}  ceiling {curve['ceiling']:.3f}", flush=True)
    report["timing"] = rerank_timing()
    print(json.dumps(report["timing"]), flush=True)
    if not args.no_learning:
        overrides = {"epochs": args.epochs, "judgement_margin": args.margin, "lr": args.lr,
                     "max_steps_per_epoch": args.max_steps, "keep_weight": args.keep}
        report["learning"] = learning(labels, app_crops, train_crops, vectors, feedback.DEFAULT, model, overrides)
        print(json.dumps(report["learning"]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
