"""Sound map: layout time at 10,000 and 50,000 tracks, and pan/zoom/hover frame times at 50,000 points.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv/bin/python bench/bench_map.py [--sizes 10000 50000] [--json]

Vectors are synthetic (128-d unit vectors around 60 centres, as a library of styles): layout cost
depends on the count and dimension, not on the music.  Measured, in one run:
- PCA (the instant layout) and openTSNE (``core.sound_map.tsne_layout``, one thread, as the app's
  background job runs it) per size;
- frame times of ``ui.sound_map_view.SoundMapView`` holding 50,000 points in a 1200x800 window
  (offscreen): 40 pans, 40 zooms (each: change the view range, then let the event loop process the
  repaint it schedules, exactly one paint of the viewport) and 200 hovers (pointer moves through the
  view's nearest-point search, plus the repaint when the hover label changes); the reference in the same run is the same view
  with 1,000 points, and a matplotlib Agg scatter of the same 50,000 points (what the spectrograms use),
  redrawn after each pan.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def vectors(n: int, dim: int = 128, centres: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim))
    x = c[rng.integers(centres, size=n)] + 0.6 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def layouts(sizes, tsne: bool = True) -> dict:
    from songsim_desktop.core import sound_map
    from songsim_desktop.core.progress import drive

    out = {}
    for n in sizes:
        x = vectors(n)
        t0 = time.perf_counter()
        sound_map.pca_layout(x)
        pca = time.perf_counter() - t0
        out[n] = {"pca_s": pca}
        if tsne:
            t0 = time.perf_counter()
            drive(sound_map.tsne_layout(x))
            out[n]["tsne_s"] = time.perf_counter() - t0
        print(f"{n} tracks: PCA {pca * 1000:.0f} ms" + (f", t-SNE {out[n]['tsne_s']:.1f} s" if tsne else ""),
              flush=True)
    return out


def _frames(view, app, steps: int) -> dict:
    from PySide6.QtCore import QPointF

    box = view.box
    pans, zooms, hovers = [], [], []
    for i in range(steps):
        t0 = time.perf_counter()
        box.translateBy(x=0.01 * (1 if i % 2 else -1), y=0.005)
        app.processEvents()  # the event loop repaints the view once, as it does for a mouse drag
        pans.append(time.perf_counter() - t0)
    for i in range(steps):
        t0 = time.perf_counter()
        box.scaleBy((0.9, 0.9) if i % 2 else (1 / 0.9, 1 / 0.9))
        app.processEvents()
        zooms.append(time.perf_counter() - t0)
    rect = view.plot.sceneBoundingRect()
    rng = np.random.default_rng(1)
    for _ in range(5 * steps):
        pos = QPointF(rect.left() + rng.random() * rect.width(), rect.top() + rng.random() * rect.height())
        t0 = time.perf_counter()
        view._mouse_moved(pos)
        app.processEvents()
        hovers.append(time.perf_counter() - t0)
    return {k: {"median_ms": 1000 * float(np.median(v)), "p95_ms": 1000 * float(np.percentile(v, 95))}
            for k, v in (("pan", pans), ("zoom", zooms), ("hover", hovers))}


def frame_times(n: int, steps: int = 40) -> dict:
    from PySide6.QtWidgets import QApplication

    from songsim_desktop.core.sound_map import pca_layout
    from songsim_desktop.ui.sound_map_view import SoundMapView

    app = QApplication.instance() or QApplication([])
    out = {}
    for count in (1000, n):
        x = vectors(count)
        view = SoundMapView()
        view.resize(1200, 800)
        view.show()
        labels = [f"folder {i % 40}" for i in range(count)]
        view.set_points(np.arange(count), pca_layout(x), [f"track {i}" for i in range(count)], labels)
        app.processEvents()
        view.plot.viewport().repaint()
        out[count] = _frames(view, app, steps)
        view.close()
        print(f"{count} points: " + ", ".join(f"{k} median {v['median_ms']:.1f} ms / p95 {v['p95_ms']:.1f} ms"
                                             for k, v in out[count].items()), flush=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xy = pca_layout(vectors(n))
    fig, ax = plt.subplots(figsize=(12, 8), dpi=100)
    ax.scatter(xy[:, 0], xy[:, 1], s=4, c=np.arange(n) % 40, cmap="tab20")
    fig.canvas.draw()
    times = []
    for i in range(10):
        t0 = time.perf_counter()
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo + 0.01 * (1 if i % 2 else -1), hi + 0.01 * (1 if i % 2 else -1))
        fig.canvas.draw()
        times.append(time.perf_counter() - t0)
    out["matplotlib_pan_median_ms"] = 1000 * float(np.median(times))
    print(f"matplotlib Agg scatter of {n} points: pan redraw median {out['matplotlib_pan_median_ms']:.0f} ms")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-frames", action="store_true", help="only the layouts")
    ap.add_argument("--no-tsne", action="store_true", help="PCA only (t-SNE takes minutes at 50,000)")
    args = ap.parse_args()
    result = {"frames": None if args.no_frames else frame_times(max(args.sizes)),
              "layouts": layouts(args.sizes, tsne=not args.no_tsne)}
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
