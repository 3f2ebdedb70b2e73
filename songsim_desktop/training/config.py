"""Training settings (torch-free, so the GUI and the CLI can build one without importing torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

# The shipped default's conv widths (models/MODEL_CARD.md: chosen on the validation packages within
# the per-track cost budget, which counts a vector every 3 s of every track); new models start from
# them.  Here, not in model.py, so that reading a config never imports torch.
DEFAULT_CHANNELS = (16, 32, 64, 128)

# The one list of training objectives users choose from (the GUI, the CLI, the settings); each name
# is a class in objectives.OBJECTIVES, kept here too so that listing them needs no torch.
LOSSES = ("contrastive", "triplet")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    epochs: int = 8
    loss: str = "contrastive"  # one of LOSSES
    batch_size: int = 32  # pairs (or triplets) per optimiser step
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.2  # share of tracks held out (split by track, never by crop)
    seed: int = 0
    device: str = "auto"  # "auto" = CUDA when present, else CPU
    # Where fine-tuning takes its tags from (user tags are always used).
    use_folder_tags: bool = False
    use_file_tags: bool = True
    # Pair sampling, as the method prescribes: per reference track, itself + n_positives drawn from
    # its `neighbours` most similar tracks, and n_negatives drawn from its `neighbours` least similar.
    neighbours: int = 10
    n_positives: int = 4
    n_negatives: int = 5
    # Weight of the self-positive pair (another crop of the reference itself) in the contrastive
    # loss, relative to 1 for every other pair.  1 = all pairs equal.  Pretraining on few
    # collections raises it: same-track positives generalise to unseen music, while the top-10
    # positives alone pull whole training collections together.
    self_positive_weight: float = 1.0
    # Contrastive margin grows as two tracks share less: m = min + (max - min) * (1 - similarity).
    margin_min: float = 0.5
    margin_max: float = 1.5
    # Augmentation of cached log-mel crops.
    gain_db: float = 6.0  # uniform constant dB shift in [-gain_db, +gain_db]
    time_mask_frames: int = 32  # SpecAugment time mask width (torchaudio TimeMasking param)
    freq_mask_bands: int = 8  # SpecAugment frequency mask width (FrequencyMasking param)
    roll: bool = True  # random circular time shift of the crop
    # Model size (used when training from scratch; fine-tuning keeps the parent's architecture).
    embedding_dim: int = 128
    channels: tuple = DEFAULT_CHANNELS
    # Optional cap on optimiser steps per epoch (None = one pass over the sampled pairs).
    max_steps_per_epoch: Optional[int] = None
    # CPU threads for torch during training (None = torch's default).  On a shared or small
    # machine one thread avoids oversubscription, which is several times slower than one core.
    threads: Optional[int] = None
    name: str = "fine-tuned"
    # What fine-tuning learns from (issue 11): the library's tags (contrastive pairs, or triplets by
    # `loss`), the listener's judgements (triplet loss on judgement triplets), or both at once.
    use_tags: bool = True
    use_judgements: bool = False
    judgement_margin: float = 0.2  # triplet margin on judgement triplets (chosen in bench_feedback)
    tag_loss_weight: float = 1.0  # weight of the tag loss when learning from judgements and tags together
    # L2-SP (judgement fine-tunes only): keep_weight * sum((w - w_start)^2) holds the weights near the
    # parent's, so a few hundred judgements of some collections do not reshape the space for the music
    # nobody judged.  1.0 chosen on the validation split (bench_feedback.py): without it, judging two
    # collections cost the two unjudged ones 0.055 mAP; with 1.0, +0.003 (and more gain than 3.0).
    keep_weight: float = 1.0

    def validate(self) -> "TrainConfig":
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, not {self.device!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError("val_fraction must be between 0 and 1")
        if not (self.use_tags or self.use_judgements):
            raise ValueError("fine-tuning needs tags, judgements or both to learn from")
        if not 0.0 <= self.margin_min <= self.margin_max:
            raise ValueError("need 0 <= margin_min <= margin_max")
        return self

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data
