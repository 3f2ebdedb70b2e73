"""Fine-tuning on the user's library: tags + cached inputs -> a new model, registered, active, re-embedded.

The job either completes (a new model file with its own id, registered with its parent and its
metrics, every track re-embedded, then activated) or leaves the library as it was: on cancel or
error the new model is unregistered and its files deleted, and the active model never changes
half-way.  Re-embedding happens BEFORE activation so that queries never see a half-embedded model.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator, Optional

import numpy as np

from songsim_desktop import paths
from songsim_desktop.core import job_store, jobs
from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.core.progress import CancelToken, Progress, RateMeter
from songsim_desktop.core.reports import TrainReport as CoreTrainReport
from songsim_desktop.errors import Cancelled, ModelError
from songsim_desktop.training.config import TrainConfig
from songsim_desktop.training.export import checkpoint_path, export_branch
from songsim_desktop.training.loop import check_tags, train_steps
from songsim_desktop.training.model import Branch, load_checkpoint

PARITY_CROPS = 8


@dataclass
class TrainReport(CoreTrainReport):
    """The service's TrainReport plus the training curve (the GUI and the CLI read ``metrics``)."""

    val_map_before: float = float("nan")
    val_map_after: float = float("nan")
    epochs_run: int = 0
    history: list = field(default_factory=list)
    failed: list = field(default_factory=list)  # (path, reason) of tracks that could not be decoded


def gather_tags(service, config: TrainConfig) -> dict[int, set[str]]:
    """track id -> tags of ok tracks: user tags always, file tags (genre/mood/grouping, read at scan
    time) if ``use_file_tags``, folder names if ``use_folder_tags`` (computed here, nothing is written)."""
    sources = ["user"] + (["file"] if config.use_file_tags else []) + (["folder"] if config.use_folder_tags else [])
    out: dict[int, set[str]] = {}
    with service.library.read() as conn:
        rows = conn.execute(
            "SELECT g.track_id, g.tag FROM tags g JOIN tracks t ON t.id = g.track_id"
            f" WHERE t.state = 'ok' AND g.source IN ({','.join('?' * len(sources))})", sources)
        for track_id, tag in rows:
            out.setdefault(track_id, set()).add(tag)
    if config.use_folder_tags:
        roots = {r.id: r.path for r in service.library.roots()}
        for track in service.library.tracks(states=("ok",)):
            name = job_store.folder_tag(track.path, roots.get(track.root_id, os.path.dirname(track.path)))
            if name:
                out.setdefault(track.id, set()).add(name)
    return out


def load_inputs(service, track_ids, frontend: FrontEndConfig, cancel: CancelToken
                ) -> Generator[Progress, None, tuple[dict, list]]:
    """Model inputs of ``track_ids`` from the features cache; only tracks missing from it are decoded
    (and then cached).  Returns ({track id: (n_crops, 1, n_mels, frames) float32}, failed).

    Decoded inputs go through the cache's float16 too, so a first run and a re-run train on the
    very same numbers."""
    ids = [int(t) for t in track_ids]
    cached = service.features.get_many(ids, frontend.key())
    inputs, failed = {}, []
    for tid, x in cached.items():
        if x.ndim == 3 and x.shape[1:] == (frontend.n_mels, frontend.crop_frames):
            inputs[tid] = x[:, None]
    missing = [t for t in ids if t not in inputs]
    meter = RateMeter()
    yield meter.progress("prepare", 0, len(missing), f"{len(inputs)} tracks cached, {len(missing)} to decode")
    for done, tid in enumerate(missing, 1):
        cancel.check()
        track = service.library.track(tid)
        prepared = jobs.prepare_track(track.path, frontend)
        if prepared.error is not None:
            failed.append((track.path, prepared.error))
        else:
            job_store.cache_put(service.features, tid, frontend, prepared.logmel)
            inputs[tid] = prepared.logmel.astype(np.float16).astype(np.float32)
        yield meter.progress("prepare", done, len(missing), track.path)
    return inputs, failed


def starting_branch(model_path: str | Path) -> Branch:
    """The active model's weights (``<model>.pt`` beside the .onnx): fine-tuning continues from them."""
    weights = checkpoint_path(model_path)
    if not weights.is_file():
        raise ModelError(f"its weights {weights.name} are missing beside it, so it cannot be fine-tuned "
                         "(activate the default model or a fine-tuned one)", path=model_path,
                         action="preparing fine-tuning of")
    try:
        return load_checkpoint(weights)
    except Exception as err:  # a damaged or foreign .pt: say which file
        raise ModelError(f"cannot load the weights: {err}", path=weights, action="preparing fine-tuning of") from err


def _metrics(result, config: TrainConfig) -> dict:
    clean = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else v  # noqa: E731
    return {"val_map": clean(result.val_map_after), "val_map_before": clean(result.val_map_before),
            "val_map_after": clean(result.val_map_after), "epochs": len(result.history),
            "loss": clean(result.history[-1]["loss"]) if result.history else None,
            "train_tracks": len(result.train_ids), "val_tracks": len(result.val_ids), "loss_kind": config.loss}


def _export_to_models_dir(service, branch, frontend, name, parent, meta, parity) -> Path:
    """Export into a staging folder, then move to ``<data>/models/<id>.{onnx,pt,json}``."""
    models = paths.user_models_dir(service.data_dir)
    staging = Path(tempfile.mkdtemp(dir=models, prefix=".export-"))
    try:
        info = export_branch(branch, staging / "model.onnx", frontend, name=name, parent=parent,
                             training_meta=meta, parity_inputs=parity)
        final = models / f"{info.id}.onnx"
        for suffix in (".pt", ".json", ".onnx"):  # the .onnx last: its presence means "complete"
            os.replace(staging / f"model{suffix}", final.with_suffix(suffix))
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _discard(service, model_id: Optional[str], model_path: Optional[Path]) -> None:
    """Undo a fine-tune that did not complete: unregister the model and delete its files."""
    if model_id is not None and service.library.model(model_id) is not None:
        service.library.remove_model(model_id)
    if model_path is not None:
        for suffix in (".onnx", ".pt", ".json"):
            model_path.with_suffix(suffix).unlink(missing_ok=True)


def finetune_job(service, config: TrainConfig | None = None, cancel: Optional[CancelToken] = None
                 ) -> Generator[Progress, None, TrainReport]:
    """Fine-tune the active model on the library's tags (see the module docstring).

    Raises SongsimError when the tags cannot support training, ModelError when the active model has
    no weights to continue from, Cancelled when cancelled (the library is then as before).
    """
    config = (config or TrainConfig()).validate()
    cancel = cancel or CancelToken()
    tags = gather_tags(service, config)
    check_tags(tags)
    parent = service.active_model()
    init = starting_branch(parent.path)
    inputs, failed = yield from load_inputs(service, sorted(tags), parent.frontend, cancel)
    result = yield from train_steps(inputs, tags, config, cancel, init_branch=init)
    cancel.check()
    metrics = _metrics(result, config)
    meta = {"recipe": "fine-tuned with songsim (Siamese, tag-similarity pairs)", "parent": parent.id,
            "config": config.to_dict(), "metrics": metrics, "history": result.history}
    parity = np.concatenate([inputs[t] for t in result.val_ids + result.train_ids])[:PARITY_CROPS]
    yield Progress("export", 0, 1, "exporting and checking the model")
    model_path = _export_to_models_dir(service, result.branch, parent.frontend, config.name, parent.id,
                                       meta, parity)
    model_id = None
    try:
        model_id = service.register_model(model_path, metrics).id
        yield Progress("export", 1, 1, f"model {model_id} exported")
        reembed = yield from service.reembed_job(model_id, cancel)
        if reembed.cancelled:
            raise Cancelled()
        service.set_active_model(model_id)
    except BaseException:  # Cancelled, an error, or the driver closing us (GeneratorExit)
        _discard(service, model_id, model_path)
        raise
    return TrainReport(model_id=model_id, model_path=str(model_path), name=config.name,
                       epochs=len(result.history), metrics=metrics, reembed=reembed, cancelled=False,
                       val_map_before=result.val_map_before, val_map_after=result.val_map_after,
                       epochs_run=len(result.history), history=result.history, failed=failed)
