"""Training: the Siamese model, its losses, pair sampling, the training loop, ONNX export, fine-tuning.

This is the only package that imports torch, and it does so lazily: importing
``songsim_desktop.training`` stays cheap and works without torch, so the app and the core can ask
:func:`available` and reach the heavy modules only when a user actually trains.
"""

from __future__ import annotations

import importlib
import importlib.util

from songsim_desktop.errors import TrainingUnavailable
from songsim_desktop.training.config import LOSSES, TrainConfig

__all__ = ["LOSSES", "TrainConfig", "available", "require", "train", "export_branch", "fine_tune"]

# Public name -> module that defines it (imported on first use, never at package import).
_LAZY = {
    "Branch": "model",
    "SiameseNet": "model",
    "ContrastiveLoss": "losses",
    "TripletLoss": "losses",
    "PairSampler": "data",
    "train": "loop",
    "TrainResult": "loop",
    "export_branch": "export",
    "fine_tune": "finetune",  # the trainer the CLI and the GUI hand to core's fine-tune job
    "JudgementTripletMiner": "judgement_triplets",  # torch-free: the GUI counts triplets with it
}
# Entry points that need no torch: reached even where the training extra is not installed.
_TORCH_FREE = {"JudgementTripletMiner"}


def available() -> bool:
    """True when torch and torchaudio are installed (checked without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "torchaudio", "onnx"))


def require() -> None:
    """Raise TrainingUnavailable, with install instructions, when the training extra is missing."""
    if not available():
        raise TrainingUnavailable()


def __getattr__(name: str):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _TORCH_FREE:
        require()
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, name)
