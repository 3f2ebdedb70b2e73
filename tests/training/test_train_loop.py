"""The training loop: it learns (val mAP rises), reports live progress, cancels, and checks its input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from songsim_desktop.core.progress import CancelToken
from songsim_desktop.errors import Cancelled, SongsimError
from songsim_desktop.training.config import TrainConfig
from songsim_desktop.training.loop import (average_precision, mean_average_precision, resolve_device,
                                           train)
from songsim_desktop.training.model import BranchConfig, build_branch

TINY = dict(channels=(8, 16, 32, 32), embedding_dim=32, batch_size=16, lr=3e-3, val_fraction=0.4,
            time_mask_frames=8, freq_mask_bands=4, threads=1)


def test_average_precision_by_hand():
    # ranking by distance: items 2 (rel), 0 (not), 1 (rel) -> AP = (1/1 + 2/3) / 2
    assert average_precision(np.array([0.5, 0.9, 0.1]), np.array([False, True, True])) == pytest.approx(5 / 6)
    vectors = np.array([[0.0], [1.0], [0.2], [5.0]])
    tags = [{"a"}, {"b"}, {"a"}, {"b"}]
    # 0: ranks 2(rel),1,3 -> 1 ; 1: ranks 2,0,3(rel) -> 1/3 ; 2: ranks 0(rel) -> 1 ; 3: ranks 1(rel) -> 1
    assert mean_average_precision(vectors, tags) == pytest.approx((1 + 1 / 3 + 1 + 1) / 4)
    assert mean_average_precision(vectors, tags, queries=[1]) == pytest.approx(1 / 3)
    assert math.isnan(mean_average_precision(vectors, [{"a"}, {"b"}, {"c"}, {"d"}]))


def test_training_on_synthesised_tagged_audio_beats_the_untrained_model(tagged_inputs):
    inputs, tags = tagged_inputs
    reports = []
    result = train(inputs, tags, TrainConfig(epochs=10, **TINY), progress=reports.append)
    assert result.val_map_after > result.val_map_before + 0.05, result.history
    assert not set(result.train_ids) & set(result.val_ids)
    assert len(result.history) == 10 and all(h["loss"] is not None for h in result.history)
    # Live progress: one report before training, one per step, one per epoch end.
    assert {r.stage for r in reports} == {"train"} and all(r.total == 10 for r in reports)
    assert reports[0].done == 0 and reports[0].extra["val_map"] == result.val_map_before
    steps = [r for r in reports if r.extra["batch"] > 0]
    assert len(steps) > 10 and all(r.extra["loss"] is not None for r in steps)
    ends = [r for r in reports if r.extra["batch"] == 0][1:]
    assert [r.done for r in ends] == list(range(1, 11))
    assert [r.extra["val_map"] for r in ends] == [h["val_map"] for h in result.history]
    assert ends[-1].extra["val_map_before"] == result.val_map_before


def test_triplet_option_trains_and_does_not_touch_the_starting_branch(tagged_inputs):
    inputs, tags = tagged_inputs
    start = build_branch(BranchConfig(n_mels=32, channels=(8, 16, 32, 32), dim=32), seed=9)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    config = TrainConfig(epochs=2, loss="triplet", max_steps_per_epoch=3, **TINY)
    result = train(inputs, tags, config, init_branch=start)
    assert len(result.history) == 2 and all(np.isfinite(h["loss"]) for h in result.history)
    assert all(torch.equal(before[k], v) for k, v in start.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in result.branch.state_dict().items())
    assert result.branch.config == start.config


def test_cancel_is_checked_at_every_step(tagged_inputs):
    inputs, tags = tagged_inputs
    cancel, seen = CancelToken(), []

    def on_progress(p):
        seen.append(p)
        if p.extra.get("batch") == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        train(inputs, tags, TrainConfig(epochs=3, **TINY), progress=on_progress, cancel=cancel)
    assert seen[-1].extra["batch"] == 2 and seen[-1].done == 0  # stopped at the next step


def test_too_few_tags_is_a_clear_error(tagged_inputs):
    inputs, _ = tagged_inputs
    one_tag = {t: {"music"} for t in inputs}
    with pytest.raises(SongsimError, match="at least 2 different tags"):
        train(inputs, one_tag, TrainConfig(epochs=1, **TINY))
    few = {t: {t.split("-")[0]} for t in list(inputs)[:3]}
    with pytest.raises(SongsimError, match="tagged tracks"):
        train(inputs, few, TrainConfig(epochs=1, **TINY))


def test_device_is_cpu_unless_cuda_is_present_and_allowed():
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(SongsimError, match="CUDA"):
            resolve_device("cuda")


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        TrainConfig(loss="hinge").validate()
    with pytest.raises(ValueError):
        TrainConfig(val_fraction=1.0).validate()
