"""The user's fine-tune as a pure function: cached inputs + tags + config + parent weights -> an exported model.

``fine_tune`` is the trainer that core.fine_tune.fine_tune_job calls (the CLI and the GUI hand it in
through the package's lazy entry point ``songsim_desktop.training.fine_tune``).  It never sees the
library or the service: core gathers the inputs, and registering, re-embedding and activating the
result are core's model lifecycle.  It writes the .onnx (with its .pt weights and .json metadata
beside it) to ``request.export_path`` and returns a core.fine_tune.TrainedModel.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Generator, Optional

import numpy as np

from songsim_desktop.core.fine_tune import TrainedModel, TrainingRequest
from songsim_desktop.core.progress import CancelToken, Progress
from songsim_desktop.errors import ModelError
from songsim_desktop.training.config import TrainConfig
from songsim_desktop.training.export import checkpoint_path, export_branch
from songsim_desktop.training.judgement_training import train_on_judgements
from songsim_desktop.training.judgement_triplets import JudgementTripletMiner
from songsim_desktop.training.loop import check_tags, train_steps
from songsim_desktop.training.model import Branch, load_checkpoint

PARITY_CROPS = 8
RECIPE = "fine-tuned with songsim (Siamese, tag-similarity pairs)"


def starting_branch(model_path: str | Path) -> Branch:
    """The parent model's weights (``<model>.pt`` beside the .onnx): fine-tuning continues from them."""
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


def fine_tune(request: TrainingRequest, config: TrainConfig | None = None, cancel: Optional[CancelToken] = None
              ) -> Generator[Progress, None, TrainedModel]:
    """Train from the parent's weights on ``request``'s inputs and tags; export to ``request.export_path``.

    Raises SongsimError when the tags cannot support training, ModelError when the parent has no
    weights to continue from, Cancelled when cancelled (nothing is exported then).
    """
    config = (config or TrainConfig()).validate()
    cancel = cancel or CancelToken()
    if config.use_judgements:
        triplets = JudgementTripletMiner(seed=config.seed).mine(request.judgements, request.odd_answers)
        init = starting_branch(request.start_model_path)
        result = yield from train_on_judgements(request.inputs, triplets, request.tags, config, cancel, init)
    else:
        check_tags({t: s for t, s in request.tags.items() if t in request.inputs})
        init = starting_branch(request.start_model_path)
        result = yield from train_steps(request.inputs, request.tags, config, cancel, init_branch=init)
    cancel.check()
    metrics = _metrics(result, config)
    if config.use_judgements:
        metrics.update(judgement_accuracy_before=result.accuracy_before, judgement_accuracy_after=result.accuracy_after,
                       judgement_triplets=result.triplets_train, judgement_triplets_held_out=result.triplets_held_out)
    meta = {"recipe": RECIPE, "parent": request.parent_id, "config": config.to_dict(), "metrics": metrics,
            "history": result.history}
    parity = np.concatenate([request.inputs[t] for t in result.val_ids + result.train_ids])[:PARITY_CROPS]
    yield Progress("export", 0, 1, "exporting and checking the model")
    info = export_branch(result.branch, request.export_path, request.frontend, name=config.name,
                         parent=request.parent_id, training_meta=meta, parity_inputs=parity)
    yield Progress("export", 1, 1, f"model {info.id} exported")
    return TrainedModel(Path(request.export_path), metrics, result.history, result.val_map_before,
                        result.val_map_after, branch=result.branch)
