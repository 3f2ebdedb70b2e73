"""Train the shipped default model on the free-music corpus, the method's way, and export it.

    python -m songsim_desktop.training.pretrain --corpus ../shared/corpus --out models/

Re-runnable by anyone: seeded, CPU-friendly (two threads; 30 epochs took 14 minutes on a shared
2-core machine, the first run also decodes the corpus once, ~5 minutes), and the
whole recipe lands in the model's metadata ("training") and in ``<out>/songsim-default.json``.

The recipe, and why (details and numbers in models/MODEL_CARD.md):
- Data: corpus.prepare_corpus decodes each track once and caches its whole log-mel; the training
  tracks are those NOT held out by corpus.split_heldout (whole packages are held out for the
  evaluation in bench/eval_retrieval.py, never seen here).  Each track gives ``--crops`` crops
  spread over its whole length, so "another crop of the same track" really is another passage.
- Tags: the collection, the package (the supertux sub-collections share it, so they are partly
  similar) and three audio-derived classes (tempo, brightness, dynamics tertiles, measured on the
  audio by corpus.audio_descriptors).  Similarity = Jaccard over these tags (training.data).
- Pairs, loss, augmentation: training.loop.train as the method prescribes: per reference itself +
  4 of its 10 most similar as positives, 5 of its 10 least similar as negatives, redrawn each
  epoch; contrastive loss with a margin from the tag similarity; gain, time roll, SpecAugment.
  The self-positive pair weighs 8 in the loss (the method's weight option): with 9 training
  collections, equal weights pulled whole collections together and lost track identity.
- Half of each track's crops are low-passed and noisy copies (corpus.degrade_logmel), so that many
  self-pairs teach invariance to a lost top end and a noise floor.
- Validation inside the loop is on training collections only (a share of the training tracks).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.core.progress import CancelToken, Progress
from songsim_desktop.paths import DEFAULT_MODEL_FILENAME
from songsim_desktop.training.config import TrainConfig
from songsim_desktop.training.corpus import (MIN_TRACK_SECONDS, corpus_tags, degrade_logmel, prepare_corpus,
                                             split_heldout, spread_crops)

DEFAULT_NAME = "songsim default"


# Training crops are half as long as the app's (128 frames, 3 s): the branch is fully convolutional
# with global pooling, so it embeds the app's 256-frame crops unchanged, and half the frames halve
# the CPU time per step, which buys twice the optimiser steps in the same budget.
TRAIN_CROP_FRAMES = 128


def recipe_config(epochs: int = 30, seed: int = 0, threads: int = 2) -> TrainConfig:
    """The default model's training settings (the card explains each choice)."""
    return TrainConfig(
        epochs=epochs, loss="contrastive", batch_size=32, lr=2e-3, weight_decay=1e-4,
        val_fraction=0.1, seed=seed, device="auto", use_folder_tags=False, use_file_tags=False,
        neighbours=10, n_positives=4, n_negatives=5, self_positive_weight=8.0, margin_min=0.5, margin_max=1.2,
        gain_db=10.0, time_mask_frames=40, freq_mask_bands=10, roll=True,
        embedding_dim=128, channels=(16, 32, 64, 128), threads=threads, name=DEFAULT_NAME,
    )


def package_versions(corpus_dir: Path) -> dict[str, str]:
    """Debian package -> version, from the .deb file names fetch.sh kept in <corpus>/debs."""
    versions = {}
    for deb in sorted((corpus_dir / "debs").glob("*.deb")):
        match = re.match(r"(?P<pkg>[^_]+)_(?P<ver>[^_]+)_", deb.name)
        if match:
            versions[match["pkg"]] = match["ver"].replace("%3a", ":")
    return versions


def build_inputs(tracks, crop_frames: int, crops_per_track: int, degraded_share: float = 0.0,
                 cfg: FrontEndConfig | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Per track: crops spread over it; every crop whose index falls in ``degraded_share`` is
    replaced by a low-passed, noisy version (corpus.degrade_logmel), interleaved with clean ones."""
    cfg = cfg or FrontEndConfig()
    inputs = {}
    for i, t in enumerate(tracks):
        crops = spread_crops(t.logmel(), crop_frames, crops_per_track)
        chosen = np.flatnonzero((np.arange(len(crops)) * degraded_share) % 1.0 + degraded_share >= 1.0 - 1e-9)
        if len(chosen):
            crops[chosen] = degrade_logmel(crops[chosen], cfg, np.random.default_rng([seed, i, 17]))
        inputs[t.track.relpath] = crops
    return inputs


def pretrain(corpus_dir: Path, out_dir: Path, config: TrainConfig, crops_per_track: int = 48,
             crop_frames: int = TRAIN_CROP_FRAMES, min_seconds: float = MIN_TRACK_SECONDS,
             degraded_share: float = 0.5,
             cache_dir: Optional[Path] = None, audio_tags: bool = True, filename: str = DEFAULT_MODEL_FILENAME,
             log: Callable[[str], None] = print, cancel: Optional[CancelToken] = None):
    """Prepare the corpus, train, export; returns the exported ModelInfo."""
    import torch  # lazily: the module is importable (and --help works) without torch

    from songsim_desktop.training.export import export_branch
    from songsim_desktop.training.loop import train

    started = time.monotonic()
    cfg = FrontEndConfig()
    prepared, skipped = prepare_corpus(corpus_dir, cfg, cache_dir, min_seconds=min_seconds,
                                       on_track=lambda i, n, p: log(f"corpus {i + 1}/{n} {p}") if i % 25 == 0 else None)
    train_tracks, heldout = split_heldout(prepared)
    if len(train_tracks) < 6:
        raise SystemExit(f"while preparing the corpus {corpus_dir}: only {len(train_tracks)} usable training "
                         f"tracks (need at least 6); did fetch.sh run?")
    log(f"corpus: {len(prepared)} usable tracks, {len(skipped)} skipped (short or unreadable); "
        f"training on {len(train_tracks)}, holding out {len(heldout)} "
        f"({', '.join(sorted({t.track.collection for t in heldout}))})")
    inputs = build_inputs(train_tracks, crop_frames, crops_per_track, degraded_share, cfg, config.seed)
    tags = dict(zip(inputs, corpus_tags(train_tracks, cfg, audio_tags=audio_tags)))
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)

    def on_progress(p: Progress) -> None:
        if p.extra.get("batch", 0) == 0 or p.extra.get("batch") == p.extra.get("batches"):
            loss, val = p.extra.get("loss"), p.extra.get("val_map")
            log(f"{p.line()}  loss={'-' if loss is None else f'{loss:.4f}'}  val_mAP={val:.3f}")

    result = train(inputs, tags, config, progress=on_progress, cancel=cancel)
    seconds = time.monotonic() - started
    versions = package_versions(Path(corpus_dir))
    training_meta = {
        "recipe": "Siamese contrastive pretraining on the free game-soundtrack corpus "
                  "(songsim_desktop.training.pretrain)",
        "command": "python -m songsim_desktop.training.pretrain " + " ".join(sys.argv[1:]),
        "config": config.to_dict(),
        "crops_per_track": crops_per_track,
        "train_crop_frames": crop_frames,
        "degraded_share": degraded_share,
        "tags": "collection, package" + (", tempo/brightness/dynamics tertiles (audio)" if audio_tags else ""),
        "similarity": "jaccard",
        "train_tracks": len(train_tracks),
        "train_collections": sorted({t.track.collection for t in train_tracks}),
        "heldout_collections": sorted({t.track.collection for t in heldout}),
        "packages": {p: versions.get(p, "?") for p in sorted({t.track.package for t in prepared})},
        "history": result.history,
        "val_map_before": result.val_map_before,
        "val_map_after": result.val_map_after,
        "device": result.device,
        "seconds": round(seconds, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    info = export_branch(result.branch, out_dir / filename, cfg, name=config.name, parent=None,
                         training_meta=training_meta)
    log(f"exported {out_dir / filename} (id {info.id}) after {seconds / 60:.1f} min; "
        f"validation mAP {result.val_map_before:.3f} -> {result.val_map_after:.3f}")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m songsim_desktop.training.pretrain",
                                     description="Train songsim's default model on the free-music corpus.")
    parser.add_argument("--corpus", type=Path, required=True, help="folder with manifest.csv (fetch.sh's output)")
    parser.add_argument("--out", type=Path, default=Path("models"), help="folder for the model files")
    parser.add_argument("--filename", default=DEFAULT_MODEL_FILENAME)
    parser.add_argument("--epochs", type=int, default=recipe_config().epochs)
    parser.add_argument("--crops", type=int, default=48, help="cached crops per training track")
    parser.add_argument("--crop-frames", type=int, default=TRAIN_CROP_FRAMES, help="frames per training crop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (be kind to shared machines)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="feature cache (default $SONGSIM_CORPUS_DIR or ~/.cache/songsim-corpus-features)")
    parser.add_argument("--degraded-share", type=float, default=0.5,
                        help="share of each track's crops made low-passed and noisy (0..1)")
    parser.add_argument("--min-seconds", type=float, default=MIN_TRACK_SECONDS, help="drop shorter tracks")
    parser.add_argument("--no-audio-tags", action="store_true", help="tags = collection and package only")
    parser.add_argument("--self-weight", type=float, default=recipe_config().self_positive_weight,
                        help="weight of the self-positive pair in the contrastive loss")
    parser.add_argument("--channels", type=int, nargs=4, default=list(recipe_config().channels),
                        help="conv widths of the branch")
    parser.add_argument("--max-steps", type=int, default=None, help="cap optimiser steps per epoch (smoke runs)")
    args = parser.parse_args(argv)
    config = recipe_config(epochs=args.epochs, seed=args.seed, threads=args.threads)
    config.max_steps_per_epoch = args.max_steps
    config.self_positive_weight = args.self_weight
    config.channels = tuple(args.channels)
    info = pretrain(args.corpus, args.out, config, crops_per_track=args.crops, crop_frames=args.crop_frames,
                    min_seconds=args.min_seconds, degraded_share=args.degraded_share, cache_dir=args.cache,
                    audio_tags=not args.no_audio_tags, filename=args.filename,
                    log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps({"id": info.id, "path": info.path, "name": info.name}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
