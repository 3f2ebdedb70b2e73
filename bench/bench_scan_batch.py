"""The database cost of one scan batch, flat in the size of the library (issue 9, bug 4).

    .venv/bin/python bench/bench_scan_batch.py [--sizes 1000,10000,100000] [--batches 60] [--json]

For each size N, a fresh library database (in a temp folder) gets N synthetic ok tracks straight
through Library methods (core.synth.fill_library: a track row, an 8-d vector and a file tag
each; no audio), spread over two folders: a fixed 1,000-track folder ``scanned/`` and ``rest/``
holding the other N - 1,000.  Then, timed with perf_counter:

1. per batch (the reference is the same measurement at the smallest N): ``job_store.commit_prepared``
   of 16 changed tracks of ``scanned/`` (path -> id lookups, the rows, vectors and tags rewritten, one
   transaction), then ``mark_missing`` and ``restore`` of 16 paths -- what a scan does per
   ``COMMIT_EVERY`` files besides decoding and embedding.  Median over ``--batches`` batches (each
   on other tracks, spread over the folder), after 5 warm-up batches.
2. per rescan of the 1,000-track folder: ``scan.plan`` (walk of an empty folder + the folder's rows
   read by the path index + its tracks lacking a vector).  Median of 7.

Prints the milliseconds and the ratio to the smallest size; flat means ratios near 1 (before the
fix, step 1 read the whole tracks table per batch and grew ~linearly with N).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from songsim_desktop.core import job_store, scan, synth  # noqa: E402
from songsim_desktop.core.analysis import TrackVectors  # noqa: E402
from songsim_desktop.core.decoding import PreparedTrack  # noqa: E402
from songsim_desktop.core.jobs import COMMIT_EVERY  # noqa: E402
from songsim_desktop.core.library import Library, ModelRecord  # noqa: E402
from songsim_desktop.core.reports import ScanReport  # noqa: E402

MODEL = "bench-model"
SCANNED = 1000
WARMUP = 5


def measure(size: int, batches: int, dim: int = 8) -> dict:
    with tempfile.TemporaryDirectory(prefix="songsim-bench-batch-") as tmp:
        lib = Library(Path(tmp) / "library.sqlite3")
        try:
            lib.add_model(ModelRecord(MODEL, MODEL, str(Path(tmp) / "m.onnx"), dim))
            root = str(Path(tmp) / "scanned")
            os.makedirs(root)
            started = time.perf_counter()
            paths = synth.fill_library(lib, root, SCANNED, MODEL, dim=dim)
            synth.fill_library(lib, str(Path(tmp) / "rest"), size - SCANNED, MODEL, dim=dim, seed=1)
            fill_s = time.perf_counter() - started
            root_id = lib.add_root(root)
            rng = np.random.default_rng(0)
            vectors = [(rng.standard_normal(dim).astype(np.float32), rng.standard_normal((4, dim)).astype(np.float32))
                       for _ in range(COMMIT_EVERY)]
            # The embedder's results as if it had run (the model is not what is measured here).
            analysed = [(TrackVectors(SimpleNamespace(info=SimpleNamespace(id=MODEL))), vectors)]
            per_batch = []
            for i in range(WARMUP + batches):
                picked = [paths[int(j)] for j in rng.choice(len(paths), COMMIT_EVERY, replace=False)]
                batch = [PreparedTrack(p, 2000 + i, 2, None, {"genre": "Techno"}) for p in picked]
                t0 = time.perf_counter()
                job_store.commit_prepared(lib, None, None, root_id, root, batch, analysed, folder_tags=True,
                                          report=ScanReport(), known_paths=set(picked))
                job_store.mark_missing(lib, picked)
                job_store.restore(lib, picked)
                if i >= WARMUP:
                    per_batch.append(time.perf_counter() - t0)
            per_plan = []
            for _ in range(7):
                t0 = time.perf_counter()
                plan = scan.plan(lib, root, MODEL)
                per_plan.append(time.perf_counter() - t0)
            assert len(plan.vanished) == SCANNED, "the plan must see exactly the scanned folder's tracks"
        finally:
            lib.close()
    return {"size": size, "fill_s": fill_s, "batch_ms": 1000 * statistics.median(per_batch),
            "plan_ms": 1000 * statistics.median(per_plan)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="library sizes, comma-separated")
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--json", action="store_true", help="one machine-readable line at the end")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if sizes[0] < SCANNED:
        parser.error(f"sizes must be at least {SCANNED} (the scanned folder alone)")
    results = [measure(size, args.batches) for size in sizes]
    ref = results[0]
    print(f"{'tracks in db':>12} {'batch ms':>9} {'x ref':>6} {'rescan ms':>10} {'x ref':>6} {'fill s':>7}")
    for r in results:
        r["batch_ratio"] = r["batch_ms"] / ref["batch_ms"]
        r["plan_ratio"] = r["plan_ms"] / ref["plan_ms"]
        print(f"{r['size']:>12,} {r['batch_ms']:>9.2f} {r['batch_ratio']:>6.2f} {r['plan_ms']:>10.2f} "
              f"{r['plan_ratio']:>6.2f} {r['fill_s']:>7.1f}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
