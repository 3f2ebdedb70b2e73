"""The Siamese network: one compact CNN branch, applied with shared weights to two log-mel crops.

After training the branch alone is the feature extractor that export.py turns into ONNX.  It is
sized for CPUs (~0.12 M parameters, ~0.06 GMAC per 6 s crop) because the whole library is embedded
on the user's laptop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from songsim_desktop.training.config import DEFAULT_CHANNELS


@dataclass(frozen=True)
class BranchConfig:
    """Everything needed to rebuild a Branch from a state dict (stored in the .pt beside each model)."""

    n_mels: int = 64
    channels: tuple = DEFAULT_CHANNELS
    dim: int = 128
    dropout: float = 0.1

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "BranchConfig":
        return cls(n_mels=int(data["n_mels"]), channels=tuple(int(c) for c in data["channels"]),
                   dim=int(data["dim"]), dropout=float(data.get("dropout", 0.1)))


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class Branch(nn.Module):
    """log-mel crop (batch, 1, n_mels, frames) in dB -> L2-normalised embedding (batch, dim).

    Input normalisation is per example (InstanceNorm over the whole image, no affine): dB values
    sit around -100..+20 and a gain change is a constant shift, so standardising each crop makes
    the embedding insensitive to playback level, and keeps working for any frame count.
    Global mean + max pooling over frequency and time makes the branch accept any crop length.
    """

    def __init__(self, config: BranchConfig | None = None):
        super().__init__()
        self.config = config or BranchConfig()
        self.input_norm = nn.InstanceNorm2d(1, affine=False, eps=1e-3)
        blocks, c_in = [], 1
        for c_out in self.config.channels:
            blocks.append(_conv_block(c_in, c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(self.config.dropout)
        self.project = nn.Linear(2 * c_in, self.config.dim)

    def pooled(self, logmel: torch.Tensor) -> torch.Tensor:
        """The trunk's features before the projection: global mean + max of the last block (batch, 2C)."""
        x = self.blocks(self.input_norm(logmel))
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        z = self.project(self.dropout(self.pooled(logmel)))
        # Explicit L2 normalisation (not F.normalize) so the exported graph is plain ops; the
        # epsilon keeps an all-zero input finite.
        return z / torch.sqrt((z * z).sum(dim=1, keepdim=True) + 1e-12)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_branch(config: BranchConfig | None = None, seed: int = 0) -> Branch:
    """A freshly initialised branch, identical for the same seed (reproducible untrained models)."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return Branch(config)
    finally:
        torch.random.set_rng_state(generator_state)


def euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean distance; the epsilon keeps the gradient finite when a == b."""
    return torch.sqrt(((a - b) ** 2).sum(dim=1) + 1e-12)


class SiameseNet(nn.Module):
    """The same branch (shared weights) on a reference and a "difference" crop."""

    def __init__(self, branch: Branch):
        super().__init__()
        self.branch = branch

    def forward(self, reference: torch.Tensor, other: torch.Tensor):
        # One pass over both halves: identical to two calls with shared weights, but BatchNorm sees
        # the whole batch and the CPU does one larger convolution instead of two small ones.
        both = self.branch(torch.cat([reference, other], dim=0))
        emb_ref, emb_other = both[: len(reference)], both[len(reference):]
        return emb_ref, emb_other, euclidean(emb_ref, emb_other)


def save_checkpoint(branch: Branch, path) -> None:
    """The .pt beside an exported model: weights + architecture, so fine-tuning continues from it."""
    torch.save({"format": 1, "branch_config": branch.config.to_dict(),
                "state_dict": {k: v.detach().cpu() for k, v in branch.state_dict().items()}}, str(path))


def load_checkpoint(path) -> Branch:
    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    branch = Branch(BranchConfig.from_dict(blob["branch_config"]))
    branch.load_state_dict(blob["state_dict"])
    return branch
