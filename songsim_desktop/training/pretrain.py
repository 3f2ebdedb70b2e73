"""Train the shipped default model on the free-music corpus with musicnn as the teacher, and export it.

    python -m songsim_desktop.training.pretrain --corpus CORPUS --teacher TEACHER --out models/ --threads 2

(``bench/make_default_model.sh`` makes TEACHER with bench/musicnn_teacher.py, runs this, and then
the evaluation with musicnn as the peer.)  Re-runnable by anyone: seeded, CPU-only (38 minutes on one
core of a shared 2-core machine), and the whole recipe lands in the model's metadata ("training")
and in ``<out>/songsim-default.json``.  The contrast-only ablation (no ``--teacher``,
``--distill-weight 0 --tag-pair-weight 0``) stays available: it tied on validation mAP and found
fewer validation excerpts, see the card.

The recipe and why (numbers in models/MODEL_CARD.md; the batches and losses in training.student):
- Data: corpus.prepare_corpus decodes each track once and caches its whole log-mel; corpus.split_corpus
  fixes training, validation and test packages by a rule written down before any result.  Only the
  training packages are trained on; the validation packages choose the kept step (and chose the
  recipe's weights); the test packages are never loaded here.
- Teacher: musicnn's MSD model (ISC licence), run at build time only, gives per 3-second patch (10
  spread over each track) its 753-d max_pool embedding and 50 tag probabilities.  Never shipped,
  never run by the app.
- Student: the small CNN branch the app runs (training.model.Branch), trained on same-track contrast
  with degraded copies + distillation of the teacher's embedding + the method's contrastive pairs
  from the teacher's tags (the ablation drops the last two).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.paths import DEFAULT_MODEL_FILENAME
from songsim_desktop.training.corpus import MIN_TRACK_SECONDS, prepare_corpus, split_corpus

DEFAULT_NAME = "songsim default"


def package_versions(corpus_dir: Path) -> dict[str, str]:
    """Debian package -> version, from the .deb file names fetch.sh kept in <corpus>/debs."""
    versions = {}
    for deb in sorted((corpus_dir / "debs").glob("*.deb")):
        match = re.match(r"(?P<pkg>[^_]+)_(?P<ver>[^_]+)_", deb.name)
        if match:
            versions[match["pkg"]] = match["ver"].replace("%3a", ":")
    return versions


def student_tracks(prepared, teacher_dir: Path | None, frontend: FrontEndConfig, top_k: int, crop_frames: int):
    """Training tracks with their teacher outputs (z-scored over all training patches); the tracks
    the teacher has not seen are returned apart, by path.  Without a teacher (the ablation that
    trains on same-track contrast alone) every track gets 8 spread crop positions, no targets and
    no tags, so batches are drawn at random."""
    from songsim_desktop.training.student import StudentTrack
    from songsim_desktop.training.teacher import load_teacher, top_tags

    if teacher_dir is None:
        tracks = []
        for t in prepared:
            spec = np.asarray(t.logmel(), dtype=np.float16)
            starts = np.linspace(0, max(0, spec.shape[1] - crop_frames), 8).astype(int)
            tracks.append(StudentTrack(key=t.track.relpath, logmel=spec, patch_frames=starts,
                                       teacher_patches=np.zeros((8, 1), np.float32), tags=set()))
        return tracks, []
    loaded, unseen = [], []
    for t in prepared:
        outputs = load_teacher(teacher_dir, t.track.path)
        (unseen.append(t.track.relpath) if outputs is None else loaded.append((t, outputs)))
    if not loaded:
        return [], unseen
    patches = np.concatenate([o.max_pool for _, o in loaded])
    mean, std = patches.mean(0), patches.std(0) + 1e-3
    frames_per_second = frontend.sample_rate / frontend.hop_length
    tracks = [StudentTrack(key=t.track.relpath, logmel=np.asarray(t.logmel(), dtype=np.float16),
                           patch_frames=np.round(o.starts_s * frames_per_second).astype(int),
                           teacher_patches=((o.max_pool - mean) / std).astype(np.float32),
                           tags=top_tags(o.track_tags(), o.labels, top_k))
              for t, o in loaded]
    return tracks, unseen


def pretrain(corpus_dir: Path, teacher_dir: Path, out_dir: Path, config, cache_dir: Path | None = None,
             min_seconds: float = MIN_TRACK_SECONDS, filename: str = DEFAULT_MODEL_FILENAME,
             log: Callable[[str], None] = print):
    """Prepare the corpus, train the student, export it; returns the exported ModelInfo."""
    from songsim_desktop.training.export import export_branch
    from songsim_desktop.training.student import train_student, validation_inputs

    started = time.monotonic()
    frontend = FrontEndConfig()
    prepared, skipped = prepare_corpus(corpus_dir, frontend, cache_dir, min_seconds=min_seconds,
                                       on_track=lambda i, n, p: log(f"corpus {i + 1}/{n} {p}") if i % 50 == 0 else None)
    split = split_corpus(prepared)
    if teacher_dir is None and (config.distill_weight or config.tag_pair_weight):
        raise SystemExit("without --teacher, set --distill-weight 0 and --tag-pair-weight 0 (the ablation)")
    tracks, unseen = student_tracks(split.train, teacher_dir, frontend, config.teacher_top_tags, config.crop_frames)
    if len(tracks) < 10:
        raise SystemExit(f"while preparing the training data from {corpus_dir} and {teacher_dir}: only "
                         f"{len(tracks)} training tracks have teacher outputs (need 10); did "
                         f"bench/musicnn_teacher.py run over the corpus?")
    log(f"corpus: {len(prepared)} usable tracks, {len(skipped)} skipped (short or unreadable); training on "
        f"{len(tracks)} ({len(unseen)} without teacher outputs left out), validating on {len(split.validation)} "
        f"({', '.join(sorted({t.track.collection for t in split.validation}))}), "
        f"{len(split.test)} test tracks untouched")
    validation = None
    if split.validation:
        whole, excerpts = validation_inputs([t.logmel() for t in split.validation], frontend, seed=config.seed)
        validation = (whole, excerpts, [t.track.collection for t in split.validation])
    result = train_student(tracks, config, frontend, validation=validation, log=log)
    versions = package_versions(Path(corpus_dir))
    training_meta = {
        "recipe": "teacher-student pretraining on the free game-soundtrack corpus: same-track contrast "
                  "with degraded copies + musicnn (MSD_musicnn max_pool) distillation + the method's "
                  "contrastive pairs from musicnn tag overlap (songsim_desktop.training.pretrain)",
        "command": "python -m songsim_desktop.training.pretrain " + " ".join(sys.argv[1:]),
        "config": config.to_dict(),
        "teacher": "musicnn 0.1.0 MSD_musicnn (ISC licence), build time only" if teacher_dir else None,
        "train_tracks": len(tracks),
        "train_collections": sorted({t.track.collection for t in split.train}),
        "validation_collections": sorted({t.track.collection for t in split.validation}),
        "test_collections": sorted({t.track.collection for t in split.test}),
        "packages": {p: versions.get(p, "?") for p in sorted({t.track.package for t in prepared})},
        "history": result.history,
        "kept_step": result.best_step,
        "seconds": round(time.monotonic() - started, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    info = export_branch(result.branch, out_dir / filename, frontend, name=DEFAULT_NAME, parent=None,
                         training_meta=training_meta)
    log(f"exported {out_dir / filename} (id {info.id}) after {(time.monotonic() - started) / 60:.1f} min; "
        f"kept step {result.best_step}")
    return info


def main(argv: list[str] | None = None) -> int:
    from songsim_desktop.training.student import StudentConfig

    defaults = StudentConfig()
    parser = argparse.ArgumentParser(prog="python -m songsim_desktop.training.pretrain",
                                     description="Train songsim's default model on the free-music corpus.")
    parser.add_argument("--corpus", type=Path, required=True, help="folder with manifest.csv (fetch.sh's output)")
    parser.add_argument("--teacher", type=Path, default=None,
                        help="bench/musicnn_teacher.py's output folder (without it: same-track contrast only)")
    parser.add_argument("--out", type=Path, default=Path("models"), help="folder for the model files")
    parser.add_argument("--filename", default=DEFAULT_MODEL_FILENAME)
    parser.add_argument("--cache", type=Path, default=None,
                        help="feature cache (default $SONGSIM_CORPUS_DIR or ~/.cache/songsim-corpus-features)")
    parser.add_argument("--min-seconds", type=float, default=MIN_TRACK_SECONDS, help="drop shorter tracks")
    for name in ("steps", "seed", "threads", "validate_every", "refs_per_batch"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    for name in ("lr", "temperature", "contrast_weight", "distill_weight", "tag_pair_weight", "degrade_prob"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    parser.add_argument("--channels", type=int, nargs=4, default=list(defaults.channels), help="conv widths")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if hasattr(defaults, k)}
    overrides["channels"] = tuple(args.channels)
    config = StudentConfig(**overrides)
    info = pretrain(args.corpus, args.teacher, args.out, config, cache_dir=args.cache,
                    min_seconds=args.min_seconds, filename=args.filename,
                    log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps({"id": info.id, "path": info.path, "name": info.name}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
