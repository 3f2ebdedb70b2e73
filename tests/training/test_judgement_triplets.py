"""Issue 11: triplet mining from judgements and odd-one-out answers (hand-made cases), and a
fine-tune on judgements that separates a liked family from a disliked one."""

from __future__ import annotations

import numpy as np
import pytest

from songsim_desktop.core.progress import drive
from songsim_desktop.errors import SongsimError
from songsim_desktop.training.config import TrainConfig
from songsim_desktop.training.judgement_training import train_on_judgements, triplet_accuracy
from songsim_desktop.training.judgement_triplets import JudgementTripletMiner
from songsim_desktop.training.loop import embed_tracks


def as_set(t):
    return set(zip(t.anchor.tolist(), t.positive.tolist(), t.negative.tolist()))


def test_liked_and_disliked_results_of_one_reference_make_every_triplet():
    t = JudgementTripletMiner().mine([(1, 2, 1), (1, 3, 1), (1, 4, -1), (1, 5, -1)])
    assert as_set(t) == {(1, 2, 4), (1, 2, 5), (1, 3, 4), (1, 3, 5)} and t.source == ["judgement"] * 4


def test_dislikes_alone_use_the_reference_itself_as_positive_and_likes_alone_give_nothing():
    t = JudgementTripletMiner().mine([(1, 4, -1), (2, 5, 1), (2, 2, 1)])
    assert as_set(t) == {(1, 1, 4)}


def test_references_outside_the_library_are_skipped_and_odd_answers_kept_as_they_are():
    t = JudgementTripletMiner().mine([(None, 4, -1), (None, 5, 1)], [(7, 8, 9)])
    assert as_set(t) == {(7, 8, 9)} and t.source == ["odd-one-out"] and t.skipped == 2


def test_a_track_judged_both_ways_is_not_its_own_negative_and_the_cap_holds():
    t = JudgementTripletMiner().mine([(1, 2, 1), (1, 2, -1), (1, 3, -1)])
    assert as_set(t) == {(1, 2, 3)}
    many = [(1, 100 + i, 1) for i in range(10)] + [(1, 200 + i, -1) for i in range(10)]
    capped = JudgementTripletMiner(max_per_reference=7, seed=3).mine(many)
    assert len(capped) == 7 and len(as_set(capped)) == 7
    assert as_set(capped) == as_set(JudgementTripletMiner(max_per_reference=7, seed=3).mine(many))


def test_the_held_out_split_keeps_each_anchor_on_one_side():
    judged = [(a, 10 * a + 1, 1) for a in range(1, 7)] + [(a, 10 * a + 2, -1) for a in range(1, 7)]
    miner = JudgementTripletMiner()
    train, held = miner.split(miner.mine(judged), 0.34)
    assert len(train) + len(held) == 6 and len(held) == 2
    assert not set(train.anchor.tolist()) & set(held.anchor.tolist())


@pytest.mark.usefixtures("one_torch_thread")
def test_a_fine_tune_on_judgements_separates_the_liked_family_from_the_disliked(tagged_inputs):
    """References from one family; the listener likes a second family's tracks and dislikes a
    third's.  Before, the model places the disliked family nearer (chosen so); after, the liked one."""
    inputs, _ = tagged_inputs
    names = sorted(inputs)
    config = TrainConfig(epochs=4, batch_size=16, lr=3e-3, channels=(8, 16, 32, 32), embedding_dim=32,
                         use_tags=False, use_judgements=True, judgement_margin=0.5, val_fraction=0.25,
                         seed=0, device="cpu", keep_weight=0.0)  # the triplet loss alone (keep: tested below)
    from songsim_desktop.training.loop import _initial_branch

    branch = _initial_branch(config, 32, None)
    families = sorted({n.rsplit("-", 1)[0] for n in names})
    members = {f: [n for n in names if n.rsplit("-", 1)[0] == f] for f in families}
    vec = dict(zip(names, embed_tracks(branch, [inputs[n] for n in names])))

    def family_gap(ref, a, b):  # mean d(ref, b) - d(ref, a) over the families' tracks
        d = lambda f, g: np.mean([np.linalg.norm(vec[x] - vec[y]) for x in members[f] for y in members[g]])  # noqa
        return d(ref, b) - d(ref, a)

    ref = families[0]
    # liked = the family the untrained model finds farthest, disliked = the nearest: the hard case
    others = sorted(families[1:], key=lambda f: family_gap(ref, ref, f))
    disliked, liked = others[0], others[-1]
    assert family_gap(ref, liked, disliked) < 0
    ids = {n: i for i, n in enumerate(names)}
    judged = [(ids[r], ids[p], 1) for r in members[ref] for p in members[liked]]
    judged += [(ids[r], ids[n], -1) for r in members[ref] for n in members[disliked]]
    triplets = JudgementTripletMiner(max_per_reference=36).mine(judged)
    by_id = {ids[n]: inputs[n] for n in names if n.rsplit("-", 1)[0] in (ref, liked, disliked)}
    result = drive(train_on_judgements(by_id, triplets, {}, config, init_branch=branch))
    vec = dict(zip(names, embed_tracks(result.branch, [inputs[n] for n in names])))
    assert family_gap(ref, liked, disliked) > 0.05
    assert result.accuracy_after > result.accuracy_before and result.accuracy_after > 0.9
    assert len(result.history) == 4 and result.triplets_held_out > 0


def test_too_few_triplets_is_a_clear_error(tagged_inputs):
    inputs, _ = tagged_inputs
    names = sorted(inputs)[:3]
    triplets = JudgementTripletMiner().mine([(0, 1, 1), (0, 2, -1)])
    with pytest.raises(SongsimError, match="judgement triplets"):
        drive(train_on_judgements({i: inputs[n] for i, n in enumerate(names)}, triplets, {},
                                  TrainConfig(use_tags=False, use_judgements=True)))
    assert np.isnan(triplet_accuracy({}, triplets.subset([])))


@pytest.mark.usefixtures("one_torch_thread")
def test_keep_weight_holds_the_weights_near_the_parent(tagged_inputs):
    from songsim_desktop.training.loop import _initial_branch

    inputs, _ = tagged_inputs
    names = sorted(inputs)[:12]
    by_id = {i: inputs[n] for i, n in enumerate(names)}
    judged = [(0, 1, 1), (0, 6, -1), (2, 3, 1), (2, 8, -1), (4, 5, 1), (4, 10, -1), (7, 9, 1), (7, 11, -1)]
    triplets = JudgementTripletMiner().mine(judged)
    moved = {}
    for keep in (0.0, 100.0):
        config = TrainConfig(epochs=2, batch_size=4, lr=3e-3, channels=(8, 16, 32, 32), embedding_dim=32,
                             use_tags=False, use_judgements=True, keep_weight=keep, device="cpu")
        start = _initial_branch(config, 32, None)
        result = drive(train_on_judgements(by_id, triplets, {}, config, init_branch=start))
        moved[keep] = sum(float(((p - q) ** 2).sum().detach()) for p, q in zip(result.branch.parameters(), start.parameters()))
    assert moved[100.0] < 0.5 * moved[0.0]
