"""Fine-tuning on the listener's judgements (issue 11): triplet loss on judgement triplets, plus the
method's contrastive loss on tag pairs when tags are given.

Validation is on judgements held out from training (whole anchors, JudgementTripletMiner.split):
the share of held-out triplets the model orders as the listener did, d(anchor, positive) <
d(anchor, negative), with track vectors computed as the app computes them (loop.embed_tracks).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Generator, Mapping, Optional

import numpy as np
import torch

from songsim_desktop.core.progress import CancelToken, Progress
from songsim_desktop.errors import SongsimError
from songsim_desktop.training.config import TrainConfig
from songsim_desktop.training.data import Augment, CropPicker, PairSampler, jaccard_similarity
from songsim_desktop.training.judgement_triplets import JudgementTriplets, JudgementTripletMiner
from songsim_desktop.training.losses import TripletLoss
from songsim_desktop.training.loop import (
    MIN_TAGGED_TRACKS, VAL_CROPS, TrainResult, _initial_branch, as_model_input, embed_tracks, resolve_device)
from songsim_desktop.training.model import euclidean
from songsim_desktop.training.objectives import ContrastiveObjective

MIN_TRIPLETS = 2


@dataclass
class JudgementTrainResult(TrainResult):
    accuracy_before: float = float("nan")  # held-out judgements ordered as the listener did
    accuracy_after: float = float("nan")
    triplets_train: int = 0
    triplets_held_out: int = 0
    extra: dict = field(default_factory=dict)


def triplet_accuracy(vectors: Mapping[int, np.ndarray], triplets: JudgementTriplets) -> float:
    """Share of triplets with d(anchor, positive) < d(anchor, negative); NaN without triplets."""
    if len(triplets) == 0:
        return float("nan")
    ok = [np.linalg.norm(vectors[a] - vectors[p]) < np.linalg.norm(vectors[a] - vectors[n])
          for a, p, n in zip(triplets.anchor.tolist(), triplets.positive.tolist(), triplets.negative.tolist())]
    return float(np.mean(ok))


def _usable_tags(tags: Mapping[int, set], inputs) -> dict:
    tagged = {t: set(s) for t, s in tags.items() if s and t in inputs}
    distinct = set().union(*tagged.values()) if tagged else set()
    return tagged if len(tagged) >= MIN_TAGGED_TRACKS and len(distinct) >= 2 else {}


def train_on_judgements(inputs: Mapping[int, np.ndarray], triplets: JudgementTriplets, tags: Mapping[int, set],
                        config: TrainConfig, cancel: Optional[CancelToken] = None, init_branch=None
                        ) -> Generator[Progress, None, JudgementTrainResult]:
    """Train from ``init_branch`` on ``triplets`` (track ids with ``inputs``) and, when ``tags`` can
    support it, the contrastive loss on tag pairs too.  Yields Progress every step."""
    config = config.validate()
    cancel = cancel or CancelToken()
    keep = [i for i in range(len(triplets)) if {int(triplets.anchor[i]), int(triplets.positive[i]),
                                                  int(triplets.negative[i])} <= set(inputs)]
    triplets = triplets.subset(keep)
    if len(triplets) < MIN_TRIPLETS:
        raise SongsimError(f"needs at least {MIN_TRIPLETS} judgement triplets (a query with a liked and a "
                           f"disliked result, or an odd-one-out answer); found {len(triplets)}. Judge more "
                           "results first", action="preparing training")
    tags = _usable_tags(tags, inputs) if config.use_tags else {}
    miner = JudgementTripletMiner(seed=config.seed)
    train_t, held_t = miner.split(triplets, config.val_fraction)
    ids = sorted(triplets.track_ids() | set(tags))
    row = {t: i for i, t in enumerate(ids)}
    data = [as_model_input(inputs[t]) for t in ids]
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        branch = _initial_branch(config, data[0].shape[2], init_branch).to(device)
        augment = Augment(config.gain_db, config.time_mask_frames, config.freq_mask_bands, config.roll)
        optimiser = torch.optim.AdamW(branch.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        picker = CropPicker(data)
        loss_fn = TripletLoss()
        start_weights = [p.detach().clone() for p in branch.parameters()]
        tag_ids = sorted(tags)
        tag_objective = ContrastiveObjective(config) if tag_ids else None
        sampler = (PairSampler(jaccard_similarity([tags[t] for t in tag_ids]), config.neighbours,
                               config.n_positives, config.n_negatives, seed=config.seed) if tag_ids else None)
        val_inputs = [x[np.unique(np.linspace(0, len(x) - 1, VAL_CROPS).round().astype(int))] for x in data]

        def held_out_accuracy() -> float:
            cancel.check()
            vectors = embed_tracks(branch, val_inputs, device)
            return triplet_accuracy({t: vectors[row[t]] for t in ids}, held_t)

        def batch_of(rows, rng, avoid=None):
            x, chosen = picker.batch(np.asarray(rows), rng, avoid)
            return augment(torch.from_numpy(x)).to(device), chosen

        def tag_batch_of(rows, rng, avoid=None):  # tag objective rows index tag_ids
            return batch_of(np.array([row[tag_ids[r]] for r in rows]), rng, avoid)

        steps = max(1, math.ceil(len(train_t) / config.batch_size))
        if config.max_steps_per_epoch:
            steps = min(steps, config.max_steps_per_epoch)
        result = JudgementTrainResult(branch, train_ids=ids, val_ids=[], device=str(device),
                                      triplets_train=len(train_t), triplets_held_out=len(held_t))
        result.accuracy_before = accuracy = held_out_accuracy()
        yield Progress("train", 0, config.epochs, f"{len(train_t)} training / {len(held_t)} held-out judgement "
                       f"triplets, {len(tag_ids)} tagged tracks, on {device}",
                       extra={"loss": None, "judgement_accuracy": accuracy, "epoch": 0})
        a_rows = np.array([row[int(t)] for t in train_t.anchor])
        p_rows = np.array([row[int(t)] for t in train_t.positive])
        n_rows = np.array([row[int(t)] for t in train_t.negative])
        for epoch in range(config.epochs):
            started = time.monotonic()
            rng = np.random.default_rng([config.seed, epoch, 4421])
            branch.train()
            order = rng.permutation(len(train_t))
            draw = tag_objective.draw(sampler, epoch) if tag_objective else None
            tag_order = rng.permutation(len(draw)) if draw is not None else None
            losses = []
            for step in range(steps):
                cancel.check()
                chosen = order[(step * config.batch_size) % len(order):][:config.batch_size]
                anchor, crop_a = batch_of(a_rows[chosen], rng)
                same = p_rows[chosen] == a_rows[chosen]
                positive, _ = batch_of(p_rows[chosen], rng, avoid=np.where(same, crop_a, -1))
                negative, _ = batch_of(n_rows[chosen], rng)
                e_a, e_p, e_n = branch(torch.cat([anchor, positive, negative])).split(len(chosen))
                loss = loss_fn(euclidean(e_a, e_p), euclidean(e_a, e_n),
                               torch.tensor(config.judgement_margin, device=e_a.device))
                if tag_objective is not None:
                    rows = tag_order[(step * config.batch_size) % len(tag_order):][:config.batch_size]
                    loss = loss + config.tag_loss_weight * tag_objective.loss(branch, draw, rows, tag_batch_of, rng)
                if config.keep_weight:
                    loss = loss + config.keep_weight * sum(((p - p0) ** 2).sum() for p, p0 in
                                                           zip(branch.parameters(), start_weights))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                losses.append(float(loss.detach()))
                yield Progress("train", epoch, config.epochs, f"epoch {epoch + 1}/{config.epochs}",
                               extra={"loss": float(np.mean(losses)), "judgement_accuracy": accuracy,
                                      "epoch": epoch + 1, "batch": step + 1, "batches": steps})
            accuracy = held_out_accuracy()
            mean_loss = float(np.mean(losses)) if losses else None
            result.history.append({"epoch": epoch + 1, "loss": mean_loss, "val_map": float("nan"),
                                   "judgement_accuracy": accuracy, "seconds": round(time.monotonic() - started, 3)})
            yield Progress("train", epoch + 1, config.epochs, f"epoch {epoch + 1}/{config.epochs} done",
                           extra={"loss": mean_loss, "judgement_accuracy": accuracy, "epoch": epoch + 1})
        result.accuracy_after = accuracy
        result.branch = branch.to("cpu").eval()
        return result
    finally:
        torch.set_num_threads(threads_before)
