"""The teacher-student recipe's parts: the split rule, the teacher's cache, the two new losses, batches."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from songsim_desktop.core.features import FrontEndConfig
from songsim_desktop.training import corpus
from songsim_desktop.training.corpus import CorpusSplit, CorpusTrack, PreparedTrack, split_corpus
from songsim_desktop.training.losses import CosineDistillationLoss, InfoNCELoss
from songsim_desktop.training.teacher import cache_name, load_teacher, top_tags


def _tracks(layout: dict[str, dict[str, int]]) -> list[PreparedTrack]:
    out = []
    for package, collections in layout.items():
        for collection, count in collections.items():
            for i in range(count):
                rel = f"{package}/{collection}/{i}.ogg"
                out.append(PreparedTrack(CorpusTrack(rel, Path(rel), collection, package), 60.0, Path("x.npy")))
    return out


def _packages(tracks) -> set[str]:
    return {t.track.package for t in tracks}


def test_split_rule_keeps_packages_whole_and_honours_the_previous_round():
    evaluable = {f"game{i}-data": {f"game{i}": 6 + i} for i in range(9)}
    layout = {**evaluable,
              "hedgewars-data": {"hedgewars": 26},  # held out by the previous round: always test
              "supertuxkart-data": {"supertuxkart": 30},  # the previous default trained on it: never scored
              "multi-data": {"a": 10, "b": 10},  # several collections: training
              "tiny-data": {"tiny": 5},  # too few to score: training
              "huge-data": {"huge": 60}}  # one soundtrack would dominate: training
    split = split_corpus(_tracks(layout))
    assert isinstance(split, CorpusSplit)
    test, val, train = _packages(split.test), _packages(split.validation), _packages(split.train)
    assert not (test & val or test & train or val & train)
    assert "hedgewars-data" in test
    assert {"supertuxkart-data", "multi-data", "tiny-data", "huge-data"} <= train
    # the nine evaluable packages are dealt out test, validation, training in the salted hash order
    order = sorted(evaluable, key=lambda p: corpus.hashlib.sha256((corpus.SPLIT_SALT + p).encode()).hexdigest())
    assert test - {"hedgewars-data"} == set(order[0::3])
    assert val == set(order[1::3]) and set(order[2::3]) <= train
    # the rule does not depend on the order tracks come in
    again = split_corpus(list(reversed(_tracks(layout))))
    assert _packages(again.test) == test and _packages(again.validation) == val
    with pytest.raises(ValueError):
        split.part("holdout")


def test_teacher_cache_is_read_aligned_and_summarised(tmp_path):
    audio = tmp_path / "song.ogg"
    labels = np.array(["rock", "pop", "jazz", "ambient"])
    max_pool = np.arange(4 * 3, dtype=np.float32).reshape(4, 3)
    taggram = np.array([[0.9, 0.1, 0.5, 0.0]] * 4, dtype=np.float32)
    np.savez(tmp_path / cache_name(audio), max_pool=max_pool.astype(np.float16), taggram=taggram.astype(np.float16),
             starts_s=np.array([0.0, 30.0, 60.0, 90.0], np.float32), seconds_model=np.float32(0.8),
             seconds_total=np.float32(1.0), labels=labels)
    assert load_teacher(tmp_path, tmp_path / "other.ogg") is None
    out = load_teacher(tmp_path, audio)
    assert out.labels == ("rock", "pop", "jazz", "ambient") and out.seconds_model == pytest.approx(0.8)
    assert list(out.patch_at([0.0, 14.0, 16.0, 200.0])) == [0, 0, 1, 3]  # nearest computed patch
    np.testing.assert_allclose(out.peer_vector(2), max_pool[[0, 2]].mean(0))  # 2 spread over 4: 1st and 3rd
    np.testing.assert_allclose(out.peer_vector(), max_pool.mean(0))  # fewer patches than 10: all
    assert top_tags(out.track_tags(), out.labels, 2) == {"teacher:rock", "teacher:jazz"}


def test_infonce_matches_a_hand_computation():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    t = 0.5
    z = torch.cat([a, b])
    sims = (z @ z.T).tolist()
    expected = 0.0
    for i, partner in enumerate([2, 3, 0, 1]):  # crop i's positive is its track's other crop
        others = [math.exp(sims[i][k] / t) for k in range(4) if k != i]
        expected += -math.log(math.exp(sims[i][partner] / t) / sum(others))
    assert float(InfoNCELoss(t)(a, b)) == pytest.approx(expected / 4, rel=1e-5)
    # identical views of well separated tracks cost less than views swapped between tracks
    assert float(InfoNCELoss(t)(a, a)) < float(InfoNCELoss(t)(a, a.flip(0)))


def test_cosine_distillation_matches_a_hand_computation():
    pred = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    target = torch.tensor([[2.0, 0.0], [-4.0, 3.0]])  # same direction; orthogonal
    assert float(CosineDistillationLoss()(pred, target)) == pytest.approx(((1 - 1.0) + (1 - 0.0)) / 2, abs=1e-6)
    assert float(CosineDistillationLoss()(pred, -pred)) == pytest.approx(2.0, abs=1e-6)


def test_batches_follow_the_method_and_carry_teacher_targets():
    from songsim_desktop.training.student import BatchMaker, StudentConfig, StudentTrack

    cfg = FrontEndConfig()
    rng = np.random.default_rng(0)
    tracks = [StudentTrack(key=str(i), logmel=rng.uniform(-80, 0, (cfg.n_mels, 400)).astype(np.float16),
                           patch_frames=np.array([0, 129, 258]),
                           teacher_patches=np.full((3, 5), float(i), np.float32) + np.arange(3)[:, None],
                           tags={f"t{i % 3}", "all" if i % 2 else "odd"})
              for i in range(24)]
    config = StudentConfig(refs_per_batch=2, seed=1)
    maker = BatchMaker(tracks, config, cfg)
    anchors, views, targets, pairs = maker.batch()
    assert anchors.shape == views.shape == (20, 1, cfg.n_mels, config.crop_frames)
    assert targets.shape == (20, 5) and len(pairs) == 18  # per reference 4 positive + 5 negative pairs
    for ref, other, label, sim in pairs:
        assert ref in (0, 10) and other != ref
        assert label in (0.0, 1.0) and 0.0 <= sim <= 1.0
    # a positive is among the reference's 10 most similar: never less similar than a negative of it
    for base in (0, 10):
        pos = [s for r, _, y, s in pairs if r == base and y == 1.0]
        neg = [s for r, _, y, s in pairs if r == base and y == 0.0]
        assert min(pos) >= max(neg)
    # each anchor is cut exactly at a teacher patch (up to its gain shift), and its target is that patch's
    for anchor, target in zip(anchors.numpy()[:, 0], targets.numpy()):
        found = [(t, p) for t in tracks for p, f in enumerate(t.patch_frames)
                 if np.std(anchor - t.logmel[:, f: f + config.crop_frames].astype(np.float32)) < 1e-3]
        assert len(found) == 1
        track, patch = found[0]
        np.testing.assert_array_equal(target, track.teacher_patches[patch])
