"""Teacher-student pretraining of the default model: what each batch is made of and how it is scored.

One optimiser step sees a batch built by the method's own rule, over a similarity matrix from the
teacher's tags (musicnn's 50 MSD tags; each track's 5 most probable form its tag set, Jaccard as in
training.data): a few reference tracks, each with 4 of its 10 most similar and 5 of its 10 least
similar tracks.  Every track in the batch gives two log-mel crops:

- an *anchor*: clean, cut exactly where one of the teacher's 3-second patches lies, so the teacher's
  embedding of that moment is its distillation target;
- a *view*: another crop of the same track, half the time the same moment (jittered) and half the
  time another passage, made low-passed and noisy (corpus.degrade_logmel) with probability
  ``degrade_prob``; gain changes and SpecAugment masks on top.

Three losses, summed with weights (each a small class in training.losses):
1. same-track contrast (InfoNCE over the batch: a crop's positive is its track's other crop, every
   other crop in the batch a negative) - what makes a degraded excerpt find its own recording;
2. distillation: a linear head maps the embedding to the teacher's 753-d ``max_pool`` (z-scored over
   the training patches), cosine loss - what the teacher knows about genre and instrumentation;
3. the method's contrastive loss on the reference/positive/negative pairs, with a margin from the
   teacher-tag similarity - the corpus' own notion of "alike".
The embedding itself stays the branch's 128-d unit vector, so the app and fine-tuning are unchanged.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.training.corpus import degrade_logmel, spread_crops
from songsim_desktop.training.data import jaccard_similarity, margin_for, neighbour_lists
from songsim_desktop.training.loop import embed_tracks, mean_average_precision
from songsim_desktop.training.losses import ContrastiveLoss, CosineDistillationLoss, InfoNCELoss
from songsim_desktop.training.config import DEFAULT_CHANNELS
from songsim_desktop.training.model import Branch, BranchConfig, build_branch, euclidean


@dataclass
class StudentConfig:
    """Defaults = the shipped recipe, chosen on the validation packages among the variants in
    models/MODEL_CARD.md: same-track contrast + the teacher's distillation + the method's pairs from
    the teacher's tags, the narrow branch (the wide one exceeds the per-track cost budget once a
    vector every 3 s is counted), 3000 steps, the best of every 250 kept."""

    steps: int = 3000
    refs_per_batch: int = 5  # x 10 tracks each (itself, 4 similar, 5 dissimilar) = 50 tracks a batch
    crop_frames: int = 128  # 3 s, the teacher's patch length; the app's 256-frame crops embed unchanged
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.1
    contrast_weight: float = 1.0
    distill_weight: float = 1.0
    tag_pair_weight: float = 0.5
    same_moment_share: float = 0.5
    degrade_prob: float = 0.7
    gain_db: float = 6.0
    time_mask_frames: int = 24
    freq_mask_bands: int = 8
    teacher_top_tags: int = 5
    margin_min: float = 0.5
    margin_max: float = 1.2
    channels: tuple = DEFAULT_CHANNELS
    dim: int = 128
    seed: int = 0
    threads: int = 2
    validate_every: int = 250

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data


@dataclass
class StudentTrack:
    """A training track as the loop needs it: its whole log-mel and the teacher's view of it."""

    key: str
    logmel: np.ndarray  # (n_mels, frames) float16, dB
    patch_frames: np.ndarray  # first frame of each teacher patch, in this front end's frames
    teacher_patches: np.ndarray  # (patches, teacher_dim) float32, z-scored
    tags: set


@dataclass
class StudentResult:
    branch: Branch
    history: list = field(default_factory=list)
    best_step: int = 0
    best_score: float = float("nan")
    seconds: float = 0.0


class BatchMaker:
    """The method's batch composition and the two crops per track (see the module docstring)."""

    def __init__(self, tracks: list[StudentTrack], config: StudentConfig, frontend: FrontEndConfig):
        self.tracks, self.config, self.frontend = tracks, config, frontend
        self.rng = np.random.default_rng(config.seed)
        self.similarity = jaccard_similarity([t.tags for t in tracks])
        self.top, self.bottom = neighbour_lists(self.similarity, 10, seed=config.seed)

    def _crop(self, spec: np.ndarray, start: int) -> np.ndarray:
        frames = self.config.crop_frames
        if spec.shape[1] < frames:
            spec = np.tile(spec, (1, math.ceil(frames / spec.shape[1])))
        start = int(np.clip(start, 0, spec.shape[1] - frames))
        return np.asarray(spec[:, start: start + frames], dtype=np.float32)

    def batch(self):
        cfg, rng = self.config, self.rng
        refs = rng.choice(len(self.tracks), size=cfg.refs_per_batch, replace=False)
        members, pairs = [], []  # pairs: (batch index of ref, batch index of other, label, similarity)
        for r in refs:
            base = len(members)
            positives = rng.choice(self.top[r], size=min(4, self.top.shape[1]), replace=False)
            negatives = rng.choice(self.bottom[r], size=min(5, self.bottom.shape[1]), replace=False)
            members.append(int(r))
            for label, group in ((1.0, positives), (0.0, negatives)):
                for j in group:
                    pairs.append((base, len(members), label, float(self.similarity[r, j])))
                    members.append(int(j))
        anchors, views, targets = [], [], []
        for i in members:
            t = self.tracks[i]
            patch = int(rng.integers(len(t.patch_frames)))
            start = int(t.patch_frames[patch])
            anchors.append(self._crop(t.logmel, start))
            targets.append(t.teacher_patches[patch])
            if rng.random() < cfg.same_moment_share:
                other = start + int(rng.integers(-20, 21))
            else:
                other = int(rng.integers(0, max(1, t.logmel.shape[1] - cfg.crop_frames)))
            views.append(self._crop(t.logmel, other))
        anchors = np.stack(anchors)[:, None]
        views = np.stack(views)[:, None]
        degrade = rng.random(len(views)) < cfg.degrade_prob
        if degrade.any():
            views[degrade] = degrade_logmel(views[degrade], self.frontend, rng)
        self._augment(anchors, light=True)
        self._augment(views, light=False)
        return (torch.from_numpy(anchors), torch.from_numpy(views), torch.from_numpy(np.stack(targets)),
                pairs)

    def _augment(self, crops: np.ndarray, light: bool) -> None:
        """In place: a random gain (a dB shift); for views also one time and one frequency mask."""
        cfg, rng = self.config, self.rng
        crops += rng.uniform(-cfg.gain_db, cfg.gain_db, size=(len(crops), 1, 1, 1)).astype(np.float32)
        if light:
            return
        floor = 10.0 * np.log10(self.frontend.amin)
        for crop in crops:
            t0 = int(rng.integers(0, max(1, crop.shape[-1] - cfg.time_mask_frames)))
            crop[0, :, t0: t0 + int(rng.integers(0, cfg.time_mask_frames + 1))] = floor
            f0 = int(rng.integers(0, max(1, crop.shape[-2] - cfg.freq_mask_bands)))
            crop[0, f0: f0 + int(rng.integers(0, cfg.freq_mask_bands + 1)), :] = floor


def validation_inputs(logmels: list[np.ndarray], frontend: FrontEndConfig, seed: int = 0,
                      excerpt_seconds: float = 20.0):
    """Per validation track: the app's 8 spread crops of the whole track, and 8 spread crops of a
    degraded 20-second excerpt at a seeded random place (log-mel domain: low-pass 3-8 kHz, noise
    15-30 dB SNR), so validation scores both tasks without decoding."""
    fps = frontend.sample_rate / frontend.hop_length
    excerpt_frames = int(excerpt_seconds * fps)
    whole, excerpts = [], []
    for i, spec in enumerate(logmels):
        rng = np.random.default_rng([seed, i])
        whole.append(spread_crops(spec, frontend.crop_frames, frontend.n_crops))
        start = int(rng.integers(0, max(1, spec.shape[1] - excerpt_frames)))
        part = spread_crops(np.asarray(spec[:, start: start + excerpt_frames]), frontend.crop_frames, frontend.n_crops)
        excerpts.append(degrade_logmel(part, frontend, rng, cutoff_hz=(3000.0, 8000.0), snr_db=(15.0, 30.0)))
    return whole, excerpts


def validation_scores(branch: Branch, whole: list, excerpts: list, collections: list[str]) -> dict:
    library = embed_tracks(branch, whole)
    queries = embed_tracks(branch, excerpts)
    dist = np.linalg.norm(queries[:, None, :] - library[None, :, :], axis=-1)
    found = float(np.mean(dist.argmin(axis=1) == np.arange(len(queries))))
    collection_map = mean_average_precision(library, [{c} for c in collections])
    return {"map": collection_map, "excerpt@1": found, "score": (collection_map + found) / 2}


def train_student(tracks: list[StudentTrack], config: StudentConfig, frontend: FrontEndConfig,
                  validation: tuple | None = None, log: Callable[[str], None] = print,
                  should_stop: Optional[Callable[[], bool]] = None) -> StudentResult:
    """Train a branch; ``validation`` = (whole crops, excerpt crops, collections) picks the kept step."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.monotonic()
    branch = build_branch(BranchConfig(n_mels=frontend.n_mels, channels=tuple(config.channels), dim=config.dim),
                          seed=config.seed)
    teacher_dim = tracks[0].teacher_patches.shape[1]
    head = nn.Linear(config.dim, teacher_dim)
    params = list(branch.parameters()) + list(head.parameters())
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=config.steps,
                                                   pct_start=0.1)
    contrast, distill, pair_loss = InfoNCELoss(config.temperature), CosineDistillationLoss(), ContrastiveLoss()
    maker = BatchMaker(tracks, config, frontend)
    result = StudentResult(branch=copy.deepcopy(branch))
    running: dict[str, float] = {}

    def checkpoint(step: int) -> None:
        entry = {"step": step, **{k: round(v / max(1, min(step, config.validate_every)), 4)
                                  for k, v in running.items()}}
        running.clear()
        if validation is not None:
            entry.update({f"val_{k}": round(v, 4) for k, v in validation_scores(branch, *validation).items()})
            if not (entry["val_score"] <= result.best_score):  # first, or better (NaN-safe)
                result.branch, result.best_step, result.best_score = copy.deepcopy(branch), step, entry["val_score"]
        else:
            result.branch, result.best_step = copy.deepcopy(branch), step
        entry["minutes"] = round((time.monotonic() - started) / 60, 1)
        result.history.append(entry)
        log(" ".join(f"{k}={v}" for k, v in entry.items()))

    branch.train()
    for step in range(1, config.steps + 1):
        anchors, views, targets, pairs = maker.batch()
        emb = branch(torch.cat([anchors, views]))
        emb_a, emb_v = emb[: len(anchors)], emb[len(anchors):]
        losses = {"contrast": contrast(emb_a, emb_v), "distill": distill(head(emb_a), targets)}
        ref, other, label, sim = (torch.tensor(col) for col in zip(*pairs))
        margin = torch.from_numpy(margin_for(sim.numpy(), config.margin_min, config.margin_max))
        losses["pairs"] = pair_loss(euclidean(emb_a[ref], emb_a[other]), label, margin)
        total = (config.contrast_weight * losses["contrast"] + config.distill_weight * losses["distill"]
                 + config.tag_pair_weight * losses["pairs"])
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()
        schedule.step()
        for k, v in losses.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
        if step % config.validate_every == 0 or step == config.steps:
            checkpoint(step)
        if should_stop is not None and should_stop():
            log(f"stopped at step {step}")
            checkpoint(step)
            break
    result.seconds = time.monotonic() - started
    result.branch.eval()
    return result
