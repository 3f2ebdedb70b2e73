"""Post-hoc probes of a trained branch, without retraining: do other track summaries or a linear
teacher head rank collections better?  (models/MODEL_CARD.md, "What else was tried".)

    .venv/bin/python bench/probe_track_vectors.py --corpus CORPUS --cache CACHE \
        --checkpoint models/songsim-default.pt --teacher TEACHER_DIR

Never reads the test packages.  Every track's windows are embedded every 3 s (the app's sections),
keeping the branch's pooled trunk features (before its projection) too; then:

1. Summaries, on the validation packages: the mean of 8 spread windows (the app's crops), the mean of
   every window, mean + spread, the pooled trunk features; each raw, centred by the training tracks'
   mean, z-scored by the training tracks and z-scored over the held-out tracks themselves.
2. A linear teacher head, cross-validated over the training packages (4 folds by package): ridge
   regression from the pooled trunk features of the window at each of musicnn's patches to that
   patch's ``max_pool`` (or its tag logits, ``--target tags``), fitted on three folds; the fourth
   fold's tracks are ranked by the head's track mean (z-scored), alone and concatenated with the
   branch's embedding; musicnn's own peer vector on the same tracks for reference.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from retrieval_metrics import retrieval_per_query  # noqa: E402

from songsim_desktop.core.analysis.section_vectors import frames_to_seconds, section_starts, windows_at  # noqa: E402
from songsim_desktop.core.features import FrontEndConfig  # noqa: E402
from songsim_desktop.training.corpus import prepare_corpus, split_corpus  # noqa: E402
from songsim_desktop.training.teacher import load_teacher  # noqa: E402


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)


def zscored(x, ref=None):
    ref = x if ref is None else ref
    return unit((x - ref.mean(0)) / (ref.std(0) + 1e-6))


def embed_windows(branch, spec: np.ndarray, cfg: FrontEndConfig):
    """(window start frames, unit embeddings, pooled trunk features) of every 3 s window."""
    import torch

    starts = section_starts(spec.shape[1], cfg)
    x = torch.from_numpy(windows_at(np.asarray(spec, np.float32), starts, cfg))
    pooled, emb = [], []
    with torch.no_grad():
        for b in range(0, len(x), 64):
            p = branch.pooled(x[b: b + 64])
            pooled.append(p.numpy())
            emb.append(unit(branch.project(p).numpy()))
    return starts, np.concatenate(emb), np.concatenate(pooled)


def summaries(emb: np.ndarray, pooled: np.ndarray) -> dict:
    n = len(emb)
    spread = np.unique(np.round((np.arange(8) + 0.5) * n / 8 - 0.5).astype(int).clip(0, n - 1))
    return {"8 spread windows (the app's crops)": unit(emb[spread].mean(0)), "every window": unit(emb.mean(0)),
            "mean + spread of windows": np.concatenate([unit(emb.mean(0)), emb.std(0)]),
            "pooled trunk features": pooled.mean(0)}


def teacher_target(outputs, kind: str) -> np.ndarray:
    if kind == "max_pool":
        return outputs.max_pool
    p = outputs.taggram.clip(1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def ridge_head(rows: list, kind: str, lam: float):
    """Fit standardised ridge regression window features -> teacher patches; returns track -> head mean."""
    xs, ys = [], []
    for r in rows:
        nearest = np.abs(r["start_s"][None, :] - r["teacher"].starts_s[:, None]).argmin(1)
        xs.append(r["pooled"][nearest]), ys.append(teacher_target(r["teacher"], kind))
    x, y = np.concatenate(xs), np.concatenate(ys)
    xm, xsd, ym, ysd = x.mean(0), x.std(0) + 1e-6, y.mean(0), y.std(0) + 1e-3
    xn, yn = (x - xm) / xsd, (y - ym) / ysd
    w = np.linalg.solve(xn.T @ xn + lam * len(xn) / 100 * np.eye(x.shape[1]), xn.T @ yn)
    return lambda r: ((r["pooled"] - xm) / xsd @ w).mean(0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--checkpoint", type=Path, default=REPO / "models" / "songsim-default.pt")
    parser.add_argument("--teacher", type=Path, default=None, help="musicnn outputs (bench/musicnn_teacher.py)")
    parser.add_argument("--target", choices=["max_pool", "tags"], default="max_pool")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    from songsim_desktop.training.model import load_checkpoint

    torch.set_num_threads(args.threads)
    branch = load_checkpoint(args.checkpoint).eval()
    cfg = FrontEndConfig()
    prepared, _ = prepare_corpus(args.corpus, cfg, args.cache)
    split = split_corpus(prepared)  # the test packages are never embedded here
    rows = {}
    for part in ("train", "validation"):
        for t in split.part(part):
            starts, emb, pooled = embed_windows(branch, t.logmel(), cfg)
            rows.setdefault(part, []).append({
                "collection": t.track.collection, "package": t.track.package, "emb": emb, "pooled": pooled,
                "start_s": frames_to_seconds(starts, cfg),
                "teacher": load_teacher(args.teacher, t.track.path) if args.teacher else None})
    print(f"1. summaries on the validation packages ({len(rows['validation'])} tracks): mAP")
    for name in summaries(rows["train"][0]["emb"], rows["train"][0]["pooled"]):
        train = np.stack([summaries(r["emb"], r["pooled"])[name] for r in rows["train"]])
        held = np.stack([summaries(r["emb"], r["pooled"])[name] for r in rows["validation"]])
        labels = [r["collection"] for r in rows["validation"]]
        variants = {"raw": held, "centred (training mean)": unit(held - train.mean(0)),
                    "z-scored (training)": zscored(held, train), "z-scored (held-out)": zscored(held)}
        print(f"  {name}: " + ", ".join(f"{k} {retrieval_per_query(v, labels)['map'].mean():.3f}"
                                        for k, v in variants.items()))
    if args.teacher is None:
        return 0
    train = [r for r in rows["train"] if r["teacher"] is not None]
    packages = sorted({r["package"] for r in train}, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    scores: dict[str, list] = {}
    for fold in range(4):
        held_packages = set(packages[fold::4])
        held = [r for r in train if r["package"] in held_packages]
        labels = [r["collection"] for r in held]
        if len(set(labels)) < 2:
            continue
        student = np.stack([unit(r["emb"].mean(0)) for r in held])
        ranked = {"musicnn peer": zscored(np.stack([r["teacher"].peer_vector() for r in held])), "branch": student}
        for lam in (1.0, 10.0, 100.0):
            head = ridge_head([r for r in train if r["package"] not in held_packages], args.target, lam)
            predicted = zscored(np.stack([head(r) for r in held]))
            ranked[f"head (ridge {lam:g})"] = predicted
            ranked[f"branch + head (ridge {lam:g})"] = np.concatenate([student, predicted], 1) / np.sqrt(2)
        for name, vectors in ranked.items():
            scores.setdefault(name, []).append((retrieval_per_query(vectors, labels)["map"].mean(), len(held)))
    print(f"2. linear teacher head ({args.target}), 4 folds over the training packages: mAP (track-weighted)")
    for name, values in scores.items():
        v = np.array(values)
        print(f"  {name}: {(v[:, 0] * v[:, 1]).sum() / v[:, 1].sum():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
