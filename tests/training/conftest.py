"""Synthesised, tagged log-mel inputs for the training tests (rendered once per session)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from songsim_desktop.core import synth
from songsim_desktop.core.features import FrontEndConfig, logmel_batch

# A small front end keeps the CPU tests fast: 32 mel bands, 64-frame (1.5 s) crops, 4 per track.
SMALL_FRONTEND = FrontEndConfig(n_mels=32, crop_frames=64, n_crops=4)
FAMILIES = [synth.Family(t, r) for t in ("sine", "saw", "noise", "bell") for r in ("straight", "drone")]


@pytest.fixture(scope="session")
def tagged_inputs():
    """48 tracks (6 per timbre x rhythm family), tagged {timbre, rhythm}: id -> crops, id -> tags."""
    fe = SMALL_FRONTEND
    inputs, tags = {}, {}
    for fi, family in enumerate(FAMILIES):
        for k in range(6):
            audio = synth.render(family, 3.0, sr=fe.sample_rate, seed=100 * fi + k)
            starts = np.linspace(0, len(audio) - fe.crop_samples, fe.n_crops).astype(int)
            track = f"{family.name}-{k}"
            inputs[track] = logmel_batch(np.stack([audio[s:s + fe.crop_samples] for s in starts]), fe)
            tags[track] = {family.timbre, family.rhythm}
    return inputs, tags


@pytest.fixture
def one_torch_thread():
    """The test machine is shared; one thread avoids oversubscription (results do not depend on it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
