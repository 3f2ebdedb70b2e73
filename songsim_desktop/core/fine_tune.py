"""Fine-tuning as core sees it: gather the inputs, hand them to a trainer, adopt what comes back.

Core never imports the training package (import-linter checks it).  The caller (the CLI or the GUI)
passes the trainer in: ``songsim_desktop.training.fine_tune``, reached through the training package's
lazy entry point, so torch is imported only when a fine-tune really starts.  A trainer is a pure
function of its inputs::

    trainer(request: TrainingRequest, config, cancel) -> Generator[Progress, None, TrainedModel]

It reads the cached log-mel crops and tags in the request, starts from the parent model's weights,
writes its ONNX export (and the files beside it) to ``request.export_path`` and returns.  It never sees
the library.  Registering, re-embedding and activating are core's (model_lifecycle.adopt_model_job),
so a cancel or an error at any step leaves the previous model active and nothing new registered.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generator, Optional

import numpy as np

from songsim_desktop.core import decoding, job_store
from songsim_desktop.core.embedder import ModelInfo
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.core.model_lifecycle import adopt_model_job, install_model_files
from songsim_desktop.core.progress import CancelToken, Progress, RateMeter
from songsim_desktop.core.reports import TrainReport


@dataclass
class TrainingRequest:
    """Everything a trainer needs, gathered by core."""

    inputs: dict  # track id -> (n_crops, 1, n_mels, frames) float32 log-mel crops (the features cache)
    tags: dict  # track id -> set of tags
    frontend: FrontEndConfig  # the parent model's front end; the export keeps it
    parent_id: str
    start_model_path: Path  # the parent .onnx; its weights (a checkpoint beside it) are the start
    export_path: Path  # where the trainer writes the new .onnx (files beside it share its stem)
    # The listener's judgements (issue 11), when config.use_judgements: (reference track id or None for a
    # reference outside the library, result track id, +1/-1), and odd-one-out answers (anchor, positive, odd).
    judgements: list = field(default_factory=list)
    odd_answers: list = field(default_factory=list)


@dataclass
class TrainedModel:
    """What a trainer returns."""

    model_path: Path  # the exported .onnx (== request.export_path)
    metrics: dict = field(default_factory=dict)  # JSON-able; stored with the model
    history: list = field(default_factory=list)  # per epoch: {"epoch", "loss", "val_map", ...}
    val_map_before: float = float("nan")
    val_map_after: float = float("nan")
    branch: object = None  # the trained network itself (training's type; core does not touch it)


Trainer = Callable[[TrainingRequest, object, CancelToken], Generator[Progress, None, TrainedModel]]


def gather_tags(library, config) -> dict[int, set[str]]:
    """track id -> tags of ok tracks: user tags always, file tags if ``config.use_file_tags``, folder
    names if ``config.use_folder_tags`` (computed here, nothing is written)."""
    sources = ["user"] + (["file"] if config.use_file_tags else [])
    out = library.tags_by_track(states=("ok",), sources=sources)
    if config.use_folder_tags:
        roots = {r.id: r.path for r in library.roots()}
        for track in library.tracks(states=("ok",)):
            name = job_store.folder_tag(track.path, roots.get(track.root_id, os.path.dirname(track.path)))
            if name:
                out.setdefault(track.id, set()).add(name)
    return out


def gather_judgements(library) -> tuple[list, list]:
    """(judgements as (reference track id or None, result id, sign), odd answers as (anchor, positive, odd))."""
    judged = [(j.reference.track_id, j.result_track_id, j.sign) for j in library.judgements()]
    odd = [(a.anchor_id, a.positive_id, a.odd_id) for a in library.odd_one_out_answers()]
    return judged, odd


def load_inputs(library, features, track_ids, frontend: FrontEndConfig, cancel: CancelToken
                ) -> Generator[Progress, None, tuple[dict, list]]:
    """Model inputs of ``track_ids`` from the features cache; only tracks missing from it are decoded
    (and then cached).  Returns ({track id: (n_crops, 1, n_mels, frames) float32}, failed).

    Decoded inputs go through the cache's float16 too, so a first run and a re-run train on the
    very same numbers."""
    ids = [int(t) for t in track_ids]
    cached = features.get_many(ids, frontend.key())
    inputs, failed = {}, []
    for tid, x in cached.items():
        if x.ndim == 3 and x.shape[1:] == (frontend.n_mels, frontend.crop_frames):
            inputs[tid] = x[:, None]
    missing = [t for t in ids if t not in inputs]
    meter = RateMeter()
    yield meter.progress("prepare", 0, len(missing), f"{len(inputs)} tracks cached, {len(missing)} to decode")
    for done, tid in enumerate(missing, 1):
        cancel.check()
        track = library.track(tid)
        prepared = decoding.prepare_track(track.path, frontend)
        if prepared.error is not None:
            failed.append((track.path, prepared.error))
        else:
            job_store.cache_put(features, tid, frontend, prepared.logmel)
            inputs[tid] = prepared.logmel.astype(np.float16).astype(np.float32)
        yield meter.progress("prepare", done, len(missing), track.path)
    return inputs, failed


def fine_tune_job(library, features, models_dir: Path, parent: ModelInfo, open_embedder, trainer: Trainer,
                  config, cancel: Optional[CancelToken] = None) -> Generator[Progress, None, TrainReport]:
    """Fine-tune ``parent`` on the library's tags, then adopt the result (re-embed, then activate).

    Raises what the trainer raises (SongsimError when the tags cannot support training, ModelError
    when the parent has no weights to continue from) and Cancelled; the library is then as before.
    """
    cancel = cancel or CancelToken()
    tags = gather_tags(library, config) if getattr(config, "use_tags", True) else {}
    judged, odd = gather_judgements(library) if getattr(config, "use_judgements", False) else ([], [])
    wanted = set(tags) | {t for j in judged for t in j[:2] if t is not None} | {t for a in odd for t in a}
    inputs, failed = yield from load_inputs(library, features, sorted(wanted), parent.frontend, cancel)
    staging = Path(tempfile.mkdtemp(dir=models_dir, prefix=".export-"))
    try:
        request = TrainingRequest(inputs, tags, parent.frontend, parent.id, Path(parent.path), staging / "model.onnx",
                                  judged, odd)
        trained = yield from trainer(request, config, cancel)
        cancel.check()
        model_path = install_model_files(trained.model_path, models_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    reembed = yield from adopt_model_job(library, features, model_path, open_embedder, trained.metrics, cancel)
    return TrainReport(model_id=reembed.model_id, model_path=str(model_path), name=config.name,
                       epochs=len(trained.history), metrics=trained.metrics, reembed=reembed,
                       val_map_before=trained.val_map_before, val_map_after=trained.val_map_after,
                       history=trained.history, failed=failed)
