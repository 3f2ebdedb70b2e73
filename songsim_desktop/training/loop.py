"""The training loop: Siamese pairs (or triplets) over cached log-mel crops, with live progress.

``train()`` is the whole method on in-memory inputs; finetune.fine_tune feeds it the user's cached inputs
and pretraining scripts feed it from a corpus.  Progress goes out after every optimiser step, so a
GUI curve moves during an epoch, and the cancel token is checked at every step.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Generator, Hashable, Mapping, Optional

import numpy as np
import torch

from songsim_desktop.core.progress import CancelToken, Progress, drive
from songsim_desktop.errors import SongsimError
from songsim_desktop.training.config import TrainConfig
from songsim_desktop.training.data import Augment, CropPicker, PairSampler, jaccard_similarity, split_by_track
from songsim_desktop.training.model import Branch, BranchConfig, build_branch
from songsim_desktop.training.objectives import objective_for

MIN_TAGGED_TRACKS = 6
EVAL_BATCH = 64
# Validation embeds at most this many crops per track, spread evenly: what the app does (n_crops=8),
# and it keeps validation cheap when a corpus caches dozens of crops per track for training.
VAL_CROPS = 8


@dataclass
class TrainResult:
    branch: Branch  # on the CPU, in eval mode: ready for export
    history: list = field(default_factory=list)  # per epoch: {"epoch", "loss", "val_map", "seconds"}
    val_map_before: float = float("nan")
    val_map_after: float = float("nan")
    train_ids: list = field(default_factory=list)
    val_ids: list = field(default_factory=list)
    device: str = "cpu"


def resolve_device(name: str) -> torch.device:
    """CPU by default; CUDA only when present and allowed ("auto" or "cuda")."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SongsimError("CUDA was asked for but no CUDA device is available", action="training")
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def as_model_input(array: np.ndarray) -> np.ndarray:
    """(n_crops, n_mels, frames) or (n_crops, 1, n_mels, frames) -> the latter, float32."""
    x = np.asarray(array, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1 or len(x) == 0:
        raise ValueError(f"expected log-mel crops (n_crops, 1, n_mels, frames), got shape {x.shape}")
    return x


def average_precision(distances: np.ndarray, relevant: np.ndarray) -> float:
    """AP of one ranking (ascending distance) given a boolean relevance per item."""
    order = np.argsort(distances, kind="stable")
    hits = relevant[order]
    if not hits.any():
        return float("nan")
    ranks = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


def mean_average_precision(vectors: np.ndarray, tag_sets: list, queries=None) -> float:
    """Tag retrieval mAP: each query track ranks every other track by Euclidean distance; its
    relevant items are the tracks sharing >= 1 tag with it.

    ``queries`` (indices; default all) lets validation query with held-out tracks against the
    whole collection, which keeps the figure defined on a small library where two held-out tracks
    may share no tag.  Queries with no relevant item are left out (AP undefined); NaN if none is left.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    scores = []
    for i in range(len(vectors)) if queries is None else queries:
        others = np.delete(np.arange(len(vectors)), i)
        relevant = np.array([bool(tag_sets[i] & tag_sets[j]) for j in others])
        dist = np.linalg.norm(vectors[others] - vectors[i], axis=1)
        ap = average_precision(dist, relevant)
        if not math.isnan(ap):
            scores.append(ap)
    return float(np.mean(scores)) if scores else float("nan")


@torch.no_grad()
def embed_tracks(branch: Branch, inputs: list, device: torch.device | str = "cpu") -> np.ndarray:
    """Track vectors as the app computes them: the re-normalised mean of all crop embeddings."""
    was_training = branch.training
    branch.eval()
    out = []
    try:
        for x in inputs:
            crops = torch.from_numpy(as_model_input(x)).to(device)
            emb = torch.cat([branch(crops[i:i + EVAL_BATCH]) for i in range(0, len(crops), EVAL_BATCH)])
            mean = emb.mean(dim=0)
            out.append((mean / mean.norm().clamp_min(1e-12)).cpu().numpy())
    finally:
        branch.train(was_training)
    return np.stack(out)


def check_tags(tags: Mapping[Hashable, set]) -> None:
    """Fine-tuning needs a few tagged tracks and at least two distinct tags (else no contrast)."""
    tagged = {t: s for t, s in tags.items() if s}
    distinct = set().union(*tagged.values()) if tagged else set()
    if len(tagged) < MIN_TAGGED_TRACKS or len(distinct) < 2:
        raise SongsimError(
            f"needs at least {MIN_TAGGED_TRACKS} tagged tracks using at least 2 different tags; found "
            f"{len(tagged)} tagged tracks and {len(distinct)} distinct tags. Tag more tracks first",
            action="preparing training")


class _Reporter:
    """Step counts -> Progress(stage="train", done=epochs finished, total=epochs, extra={...})."""

    def __init__(self, epochs: int, steps_per_epoch: int, val_map_before: float):
        self.epochs, self.steps_per_epoch = epochs, max(1, steps_per_epoch)
        self.val_map_before = val_map_before
        self.start = time.monotonic()

    def __call__(self, epoch: int, step: int, message: str, **extra) -> Progress:
        steps_done = epoch * self.steps_per_epoch + step
        total_steps = self.epochs * self.steps_per_epoch
        elapsed = time.monotonic() - self.start
        rate = steps_done / elapsed if steps_done and elapsed > 0 else 0.0
        eta = (total_steps - steps_done) / rate if rate else None
        extra.update(epoch=epoch + 1 if step else epoch, batch=step, batches=self.steps_per_epoch,
                     val_map_before=self.val_map_before)
        return Progress("train", epoch, self.epochs, message, rate, eta, extra)


def _initial_branch(config: TrainConfig, n_mels: int, init_branch: Optional[Branch]) -> Branch:
    if init_branch is not None:
        if init_branch.config.n_mels != n_mels:
            raise SongsimError(f"the starting model expects {init_branch.config.n_mels} mel bands but "
                               f"the cached inputs have {n_mels}", action="preparing training")
        return copy.deepcopy(init_branch)
    return build_branch(BranchConfig(n_mels=n_mels, channels=tuple(config.channels),
                                     dim=config.embedding_dim), seed=config.seed)


def train(inputs: Mapping[Hashable, np.ndarray], tags: Mapping[Hashable, set],
          config: TrainConfig | None = None, progress: Optional[Callable[[Progress], None]] = None,
          cancel: Optional[CancelToken] = None, init_branch: Optional[Branch] = None) -> TrainResult:
    """Train a branch on cached log-mel crops of tagged tracks; progress through a callback.

    ``inputs``: track id -> (n_crops, [1,] n_mels, frames) log-mel crops from the shared front end.
    ``tags``: track id -> set of tags; only tracks with inputs and at least one tag take part.
    ``init_branch``: weights to start from (fine-tuning); it is copied, never modified.
    Raises Cancelled when ``cancel`` is set (checked every step) and SongsimError when the tags
    cannot support training.
    """
    return drive(train_steps(inputs, tags, config, cancel, init_branch), progress)


def train_steps(inputs: Mapping[Hashable, np.ndarray], tags: Mapping[Hashable, set],
                config: TrainConfig | None = None, cancel: Optional[CancelToken] = None,
                init_branch: Optional[Branch] = None) -> Generator[Progress, None, TrainResult]:
    """:func:`train` as a job generator: yields Progress after every step, returns TrainResult."""
    config = (config or TrainConfig()).validate()
    cancel = cancel or CancelToken()
    tags = {t: set(tags[t]) for t in inputs if tags.get(t)}
    check_tags(tags)
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return (yield from _train(inputs, tags, config, cancel, init_branch))
    finally:
        torch.set_num_threads(threads_before)


def _train(inputs, tags, config: TrainConfig, cancel: CancelToken,
           init_branch: Optional[Branch]) -> Generator[Progress, None, TrainResult]:
    ids = sorted(tags, key=str)
    data = {t: as_model_input(inputs[t]) for t in ids}
    n_mels = next(iter(data.values())).shape[2]
    train_ids, val_ids = split_by_track(ids, config.val_fraction, config.seed)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)

    branch = _initial_branch(config, n_mels, init_branch).to(device)
    objective = objective_for(config)
    augment = Augment(config.gain_db, config.time_mask_frames, config.freq_mask_bands, config.roll)
    optimiser = torch.optim.AdamW(branch.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    sampler = PairSampler(jaccard_similarity([tags[t] for t in train_ids]), config.neighbours,
                          config.n_positives, config.n_negatives, seed=config.seed)
    picker = CropPicker([data[t] for t in train_ids])
    all_inputs = [x[np.unique(np.linspace(0, len(x) - 1, VAL_CROPS).round().astype(int))] for x in
                  (data[t] for t in ids)]
    all_tags = [tags[t] for t in ids]
    val_rows = [ids.index(t) for t in val_ids]

    def validate() -> float:
        cancel.check()
        return mean_average_precision(embed_tracks(branch, all_inputs, device), all_tags, val_rows)

    steps = math.ceil(len(train_ids) * objective.examples_per_reference() / config.batch_size)
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)
    result = TrainResult(branch, train_ids=train_ids, val_ids=val_ids, device=str(device))
    result.val_map_before = val_map = validate()
    report = _Reporter(config.epochs, steps, result.val_map_before)
    yield report(0, 0, f"{len(train_ids)} training / {len(val_ids)} validation tracks on {device}",
                 loss=None, val_map=val_map)

    def batch_of(rows, rng, avoid=None):
        x, chosen = picker.batch(rows, rng, avoid)
        return augment(torch.from_numpy(x)).to(device), chosen

    for epoch in range(config.epochs):
        started = time.monotonic()
        rng = np.random.default_rng([config.seed, epoch, 31])
        branch.train()
        draw = objective.draw(sampler, epoch)
        order = rng.permutation(len(draw))
        losses = []
        for step in range(steps):
            cancel.check()
            rows = order[step * config.batch_size:(step + 1) * config.batch_size]
            if len(rows) == 0:
                break
            loss = objective.loss(branch, draw, rows, batch_of, rng)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            yield report(epoch, step + 1, f"epoch {epoch + 1}/{config.epochs}",
                         loss=float(np.mean(losses)), val_map=val_map)
        val_map = validate()
        mean_loss = float(np.mean(losses)) if losses else None
        result.history.append({"epoch": epoch + 1, "loss": mean_loss, "val_map": val_map,
                               "seconds": round(time.monotonic() - started, 3)})
        yield report(epoch + 1, 0, f"epoch {epoch + 1}/{config.epochs} done", loss=mean_loss, val_map=val_map)
    result.val_map_after = val_map
    result.branch = branch.to("cpu").eval()
    return result
