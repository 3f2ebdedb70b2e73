"""Issue 11 core: judgement storage, instant re-ranking (Rocchio / fitted metric), steering sessions,
odd one out.  Vectors are hand-made where the behaviour is geometric; the service tests scan a
synthesised library."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from songsim_desktop.core import synth
from songsim_desktop.core.library import Library
from songsim_desktop.core.library.judgements import JudgementReference
from songsim_desktop.core.odd_one_out import OddOneOutRound, pick_round, uncertainty
from songsim_desktop.core.progress import drive
from songsim_desktop.core.search.feedback import FittedMetric, Rocchio
from songsim_desktop.core.service import SongsimService
from songsim_desktop.core.steering import SteeredQuery


def unit(*v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


# --- storage ----------------------------------------------------------------------------------------
@pytest.fixture
def lib(tmp_path):
    library = Library(tmp_path / "lib.sqlite3")
    with library.transaction() as conn:
        for i in range(1, 5):
            library.upsert_track(conn, path=str(tmp_path / f"t{i}.wav"), root_id=None, state="ok")
    yield library
    library.close()


def test_judgements_are_stored_replaced_undone_and_restored(lib):
    ids = [t.id for t in lib.tracks()]
    ref = JudgementReference(track_id=ids[0])
    first = lib.judge(ref, ids[1], 1, "model-a")
    lib.judge(ref, ids[2], -1, "model-a")
    assert [(j.result_track_id, j.sign) for j in lib.judgements(ref)] == [(ids[1], 1), (ids[2], -1)]
    replaced = lib.judgements(ref)[0]
    second = lib.judge(ref, ids[1], -1, "model-b")  # the latest opinion counts
    assert {(j.result_track_id, j.sign) for j in lib.judgements(ref)} == {(ids[1], -1), (ids[2], -1)}
    assert lib.unjudge(second) and not lib.unjudge(second)
    lib.restore_judgement(replaced)
    back = [j for j in lib.judgements(ref) if j.result_track_id == ids[1]]
    assert [(j.id, j.sign, j.model_id) for j in back] == [(first, 1, "model-a")]
    with pytest.raises(ValueError):
        lib.judge(ref, ids[1], 0, "model-a")


def test_a_reference_outside_the_library_is_kept_by_path_and_section(lib, tmp_path):
    ids = [t.id for t in lib.tracks()]
    whole = JudgementReference(path=str(tmp_path / "outside.wav"))
    section = JudgementReference(path=str(tmp_path / "outside.wav"), section_start=10.0, section_end=20.0)
    lib.judge(whole, ids[0], 1, "m")
    lib.judge(section, ids[0], -1, "m")
    assert [j.sign for j in lib.judgements(whole)] == [1]
    assert [(j.sign, j.reference.section_start) for j in lib.judgements(section)] == [(-1, 10.0)]
    rows = lib.judgement_rows()
    assert [r["reference"] for r in rows] == [str(tmp_path / "outside.wav")] * 2
    assert rows[0]["result"] == lib.track(ids[0]).path
    with pytest.raises(ValueError):
        JudgementReference()


def test_judgements_are_about_tracks_not_vectors_and_go_with_their_tracks(lib, tmp_path):
    ids = [t.id for t in lib.tracks()]
    lib.judge(JudgementReference(track_id=ids[0]), ids[1], 1, "old-model")
    lib.record_odd_one_out(ids[0], ids[1], ids[2], "old-model")
    lib.close()
    reopened = Library(tmp_path / "lib.sqlite3")  # a new model, a restart: still there
    assert len(reopened.judgements()) == 1 and len(reopened.odd_one_out_answers()) == 1
    with reopened.transaction() as conn:
        conn.execute("DELETE FROM tracks WHERE id = ?", (ids[2],))
    assert reopened.odd_one_out_answers() == [] and len(reopened.judgements()) == 1
    with pytest.raises(ValueError):
        reopened.record_odd_one_out(ids[0], ids[0], ids[1], "m")
    reopened.close()


def test_an_older_library_gains_the_judgement_tables(tmp_path):
    from songsim_desktop.core.library.schema import LIBRARY_MIGRATIONS
    from songsim_desktop.core.library.store import SqliteStore

    old = SqliteStore(tmp_path / "old.sqlite3", LIBRARY_MIGRATIONS[:2])
    old.close()
    lib = Library(tmp_path / "old.sqlite3")
    assert lib.schema_version == len(LIBRARY_MIGRATIONS)  # every later migration ran too
    assert lib.judgements() == []
    lib.close()
    with sqlite3.connect(tmp_path / "old.sqlite3") as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"judgements", "odd_one_out"} <= names


# --- re-ranking --------------------------------------------------------------------------------------
def test_rocchio_moves_the_query_toward_liked_and_away_from_disliked():
    q = unit(1, 0, 0)
    liked, disliked = np.array([unit(0, 1, 0)]), np.array([unit(0, 0, 1)])
    moved = Rocchio(beta=1.0, gamma=0.5).moved_query(q, liked, disliked)
    assert moved[1] > 0.4 and moved[2] < -0.2 and np.isclose(np.linalg.norm(moved), 1.0)
    assert np.allclose(Rocchio().moved_query(q, liked[:0], disliked[:0]), q)


def test_the_fitted_metric_weights_the_dimension_that_separates_liked_from_disliked():
    rng = np.random.default_rng(0)
    liked = np.c_[np.full(5, 1.0), rng.normal(0, 0.3, (5, 3))]
    disliked = np.c_[np.full(5, -1.0), rng.normal(0, 0.3, (5, 3))]
    w = FittedMetric(strength=4.0).weights(liked, disliked, 4)
    assert w[0] > 2 * w[1:].max() and np.isclose(w.mean(), 1.0)
    assert np.allclose(FittedMetric().weights(liked, disliked[:0], 4), 1.0)


def steered_fixture(reranker=None):
    """Query at the origin direction x; candidates in two groups: y-ish (the wanted ones, slightly
    farther) and z-ish (nearer in plain distance)."""
    vectors = np.array([unit(1, 0, 0.6), unit(1, 0, 0.7), unit(1, 0.8, 0), unit(1, 0.9, 0), unit(1, 0, 0.65),
                        unit(1, 0.85, 0)], dtype=np.float32)
    ids = np.arange(10, 16)
    return SteeredQuery(JudgementReference(track_id=1), unit(1, 0, 0), ids, vectors,
                        **({"reranker": reranker} if reranker else {}))


@pytest.mark.parametrize("reranker", [Rocchio(), FittedMetric()])
def test_a_judgement_reorders_the_candidates_and_reset_restores_the_plain_ranking(reranker):
    steered = steered_fixture(reranker)
    plain = [t for t, _ in steered.ranking()]
    assert plain[:3] == [10, 14, 11]  # z-ish tracks are nearer
    steered.judge(12, +1)
    steered.judge(10, -1)
    order = [t for t, _ in steered.ranking()]
    assert order[0] == 12 and order[-1] == 10
    assert set(order[1:3]) == {13, 15}  # the other y-ish tracks came up
    distances = dict(steered.ranking())
    assert np.isclose(distances[12], np.linalg.norm(steered.vectors[2] - steered.query), atol=1e-6)
    assert steered.undo() == 10 and steered.signs == {12: 1}
    steered.reset()
    assert [t for t, _ in steered.ranking()] == plain and not steered.can_undo and steered.undo() is None


def test_judging_again_and_undoing_restores_the_earlier_mark():
    steered = steered_fixture()
    steered.judge(12, 1)
    steered.judge(12, -1)
    assert steered.signs == {12: -1}
    steered.undo()
    assert steered.signs == {12: 1}
    with pytest.raises(KeyError):
        steered.judge(99, 1)


# --- odd one out -------------------------------------------------------------------------------------
def test_odd_one_out_picks_the_triple_the_model_cannot_tell_apart():
    # three equidistant tracks, and pairs of twins with an obvious outsider
    ids = np.arange(1, 8)
    vectors = np.array([[0, 0], [1, 0], [0.5, np.sqrt(3) / 2],  # equilateral: most unsure
                        [5, 5], [5, 5.05], [5.02, 5], [6, 6]], dtype=np.float64)
    rnd = pick_round(ids, vectors, np.random.default_rng(0))
    assert set(rnd.track_ids) == {1, 2, 3} and rnd.uncertainty > 0.99
    assert uncertainty(vectors[[3, 4, 6]]) < 0.2
    again = pick_round(ids, vectors, np.random.default_rng(0), frozenset({frozenset((1, 2, 3))}))
    assert set(again.track_ids) != {1, 2, 3}
    assert OddOneOutRound((4, 5, 7), 0.1).answer(7) == (4, 5, 7)
    with pytest.raises(ValueError):
        rnd.answer(42)


# --- the service: steering a real query ---------------------------------------------------------------
FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing"), synth.Family("bell", "drone")]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    base = tmp_path_factory.mktemp("steer")
    synth.write_library(base / "music", FAMILIES, 3, 6.0, suffixes=(".wav",))
    svc = SongsimService(base / "data")
    assert not drive(svc.scan_job(base / "music", workers=0)).failed
    yield svc
    svc.close()


def test_a_steering_session_stores_judgements_and_undo_takes_them_back(scanned):
    svc = scanned
    ref = svc.tracks()[0]
    session = svc.steer_track(ref.id)
    plain = session.result(k=8)
    assert [m.track_id for m in plain.matches] == [m.track_id for m in svc.query_track(ref.id, k=8).matches]
    last = plain.matches[-1].track_id
    session.judge(last, +1)
    steered = session.result(k=8)
    assert steered.matches[0].track_id == last and steered.matches[0].judgement == 1
    assert all(m.judgement is None for m in steered.matches[1:])
    stored = svc.library.judgements(session.steered.reference)
    assert [(j.result_track_id, j.sign, j.model_id) for j in stored] == [(last, 1, svc.active_model_id())]
    session.judge(last, -1)
    session.undo()
    assert [j.sign for j in svc.library.judgements(session.steered.reference)] == [1]
    session.undo()
    assert svc.library.judgements(session.steered.reference) == []
    assert [m.track_id for m in session.result(k=8).matches] == [m.track_id for m in plain.matches]
    session.judge(last, -1)
    session.reset()  # the plain ranking again; what was said stays stored (training data)
    assert [m.track_id for m in session.result(k=8).matches] == [m.track_id for m in plain.matches]
    assert len(svc.library.judgements(session.steered.reference)) == 1


def test_a_file_outside_the_library_is_steered_and_judged_by_path(scanned, tmp_path):
    svc = scanned
    outside = tmp_path / "outside.wav"
    synth.write_track(outside, FAMILIES[0], 6.0, seed=77)
    session = svc.steer_file(outside)
    assert session.steered.reference.track_id is None and session.steered.reference.path
    first = session.result(k=3).matches[0].track_id
    session.judge(first, 1)
    assert svc.library.judgements(session.steered.reference)[0].result_track_id == first


def test_an_odd_one_out_round_is_answered_into_a_triplet(scanned):
    svc = scanned
    rnd = svc.odd_one_out_round(np.random.default_rng(1))
    assert len(set(rnd.track_ids)) == 3
    svc.answer_odd_one_out(rnd, rnd.track_ids[2])
    (answer,) = svc.library.odd_one_out_answers()
    assert (answer.anchor_id, answer.positive_id, answer.odd_id) == rnd.track_ids
    assert set(svc.odd_one_out_round(np.random.default_rng(1)).track_ids) != set(rnd.track_ids)  # not asked twice


def test_without_autostore_the_ranking_moves_at_once_and_the_writes_follow_in_order(scanned):
    svc = scanned
    session = svc.steer_track(svc.tracks()[1].id, autostore=False)
    a, b = [m.track_id for m in session.result(k=8).matches][-2:]
    session.judge(a, 1)
    session.judge(b, -1)
    session.undo()
    assert session.result(k=8).matches[0].track_id == a  # re-ranked before anything is written
    assert svc.library.judgements(session.steered.reference) == []
    assert session.store() == 3 and session.store() == 0
    assert [(j.result_track_id, j.sign) for j in svc.library.judgements(session.steered.reference)] == [(a, 1)]


def test_a_disliked_result_stays_in_view_below_the_top_k(scanned):
    svc = scanned
    session = svc.steer_track(svc.tracks()[2].id)
    first = session.result(k=3).matches[0].track_id
    session.judge(first, -1)
    shown = session.result(k=3).matches
    assert len(shown) == 4 and shown[-1].track_id == first and shown[-1].judgement == -1
    assert first not in [m.track_id for m in shown[:3]]
