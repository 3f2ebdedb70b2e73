"""Aspect sliders and tempo/key filters: a scan stores tempo and key, and each slider moves the
ranking towards the tracks that share its aspect with the query (core/search/aspects.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf

from songsim_desktop.core import synth_music
from songsim_desktop.core.progress import drive
from songsim_desktop.core.reports import Match
from songsim_desktop.core.search import aspects
from songsim_desktop.core.search.aspects import AspectWeights, CandidateSet, Described, TrackFilter
from songsim_desktop.core.service import SongsimService
from core.tempo_key_library import SR, TRACKS, name_of, scanned_library, write_tracks

# The query shares exactly one aspect with each of groove, chords and timbre (core/tempo_key_library.py).
NAMES = ("query", "groove", "chords", "timbre", "other")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    svc = SongsimService(scanned_library(tmp_path_factory.mktemp("aspects"), NAMES))
    yield svc, {name_of(t.path): t.id for t in svc.tracks()}
    svc.close()


def test_a_scan_stores_tempo_and_key_and_queries_show_them(scanned):
    svc, ids = scanned
    stored = svc.library.descriptors()
    assert len(stored) == len(NAMES) and svc.status()["tempo_and_key"] == len(NAMES)
    for name in NAMES:
        bpm, tonic, mode, *_rest = TRACKS[name]
        d = stored[ids[name]]
        assert abs(d.tempo / bpm - 1) < 0.04 and (d.key_tonic, d.key_mode) == (tonic, mode), name
    match = next(m for m in svc.query_track(ids["query"], k=10).matches if m.track_id == ids["chords"])
    assert match.key == "C major" and abs(match.tempo - 150.0) < 6


def test_tracks_by_tempo_range(scanned):
    svc, ids = scanned
    assert sorted(svc.library.track_ids_by_tempo(140, 160)) == sorted([ids["chords"], ids["timbre"]])
    assert svc.library.track_ids_by_tempo(200, 300) == []


def test_a_model_switch_keeps_the_descriptors_without_recomputing_them(tmp_path, monkeypatch):
    from songsim_desktop.core.analysis import sample_hooks

    from .test_jobs import copy_model_with_new_id

    (tmp_path / "music").mkdir()
    sf.write(str(tmp_path / "music" / "a.wav"), synth_music.mix(110.0, 2, "minor", seconds=10.0, sr=SR), SR)
    svc = SongsimService(tmp_path / "data")
    try:
        drive(svc.scan_job(tmp_path / "music", workers=0))
        before = svc.library.descriptors()
        assert len(before) == 1

        def must_not_run(samples, sr):
            raise AssertionError("a model switch described the audio again")

        monkeypatch.setattr(sample_hooks, "HOOKS", [must_not_run])
        record = svc.register_model(copy_model_with_new_id(tmp_path, "other"))
        report = drive(svc.switch_model_job(record.id))
        assert report.embedded == 1 and svc.active_model().id == record.id
        after = svc.library.descriptors()
        (tid, old), = before.items()
        assert after[tid].tempo == old.tempo and after[tid].key_tonic == old.key_tonic
        assert np.array_equal(after[tid].harmony, old.harmony)
    finally:
        svc.close()


def ranked(candidates: CandidateSet, ids: dict, weights: str) -> list[str]:
    names = {v: k for k, v in ids.items()}
    return [names[m.track_id] for m in candidates.rank(AspectWeights.parse(weights), k=10)]


def test_each_slider_brings_the_track_sharing_its_aspect_first(scanned):
    svc, ids = scanned
    candidates = svc.aspect_candidates(ids["query"])
    assert len(candidates.matches) == len(NAMES) - 1
    assert ranked(candidates, ids, "rhythm=1")[0] == "groove"
    assert ranked(candidates, ids, "harmony=1")[0] == "chords"
    sound_only = ranked(candidates, ids, "sound=1")
    assert sound_only == [name_of(m.path) for m in svc.query_track(ids["query"], k=10).matches]


def test_a_query_file_outside_the_library_is_described_on_the_fly(scanned, tmp_path):
    svc, ids = scanned
    outside = write_tracks(tmp_path / "outside", ["chords"]) / "chords.wav"  # sounds like the library's chords
    candidates = svc.aspect_candidates(str(outside))
    assert candidates.query.code == "8B" and abs(candidates.query.tempo - 150.0) < 6
    assert ranked(candidates, ids, "harmony=1")[0] in ("chords", "query")  # both in C major


def test_filters_and_the_tempo_and_key_preset(scanned):
    svc, ids = scanned
    candidates = svc.aspect_candidates(ids["query"])
    names = {v: k for k, v in ids.items()}
    by_bpm = [names[m.track_id] for m in candidates.rank(track_filter=TrackFilter(bpm=(140, 160)), k=10)]
    assert sorted(by_bpm) == ["chords", "timbre"]
    halved = [names[m.track_id] for m in candidates.rank(track_filter=TrackFilter((66, 80), octave_aware=True))]
    assert sorted(halved) == ["chords", "other", "timbre"]  # 150 BPM is double 75; 70 is itself in range
    compatible = [names[m.track_id] for m in candidates.rank(track_filter=TrackFilter(compatible_with="8B"))]
    assert compatible == ["chords"]  # C major; F# minor (11A) and Eb major (5B) do not mix with 8B
    preset = aspects.match_tempo_and_key(candidates.query.tempo, candidates.query.code)
    assert candidates.rank(track_filter=preset) == []  # nothing else is at 96 BPM in a key that mixes with C


def sample_set(query_tempo=120.0) -> CandidateSet:
    """Three hand-made candidates: the nearest in sound is far in tempo and harmony, and vice versa."""
    def match(i, distance):
        return Match(i, f"/t{i}.wav", distance, 50.0, None, None)

    unit = np.eye(24, dtype=np.float32)
    pattern = np.linspace(0, 1, 32, dtype=np.float32)
    described = [Described(60.0, "3A", "x", pattern[::-1].copy(), unit[5]),
                 Described(121.0, "8B", "C major", pattern, unit[1]),
                 Described(None, None, None, None, None)]
    return CandidateSet([match(1, 0.1), match(2, 0.5), match(3, 0.3)], described,
                        Described(query_tempo, "8B", "C major", pattern, unit[0] + 0.9 * unit[1]))


def test_the_weights_mix_the_aspects_and_unknown_descriptors_rank_last():
    s = sample_set()
    assert [m.track_id for m in s.rank(AspectWeights(1, 0, 0))] == [1, 3, 2]
    assert [m.track_id for m in s.rank(AspectWeights(0, 1, 0))] == [2, 1, 3]
    assert [m.track_id for m in s.rank(AspectWeights(0, 0, 1))] == [2, 1, 3]
    ranked_matches = s.rank(AspectWeights(0, 1, 0))
    assert ranked_matches[0].tempo == 121.0 and ranked_matches[0].key == "C major"
    assert dataclasses.asdict(ranked_matches[0])["key"] == "C major"


def test_parsing_weights_and_bpm_ranges():
    assert AspectWeights.parse("sound=1,rhythm=0.5,harmony=0") == AspectWeights(1.0, 0.5, 0.0)
    assert AspectWeights.parse("harmony=2") == AspectWeights(0.0, 0.0, 2.0)
    for bad in ("tempo=1", "sound", "sound=x", "sound=-1", "sound=0"):
        with pytest.raises(ValueError):
            AspectWeights.parse(bad)
    assert aspects.parse_bpm_range("118-126") == (118.0, 126.0)
    for bad in ("126-118", "fast", "120"):
        with pytest.raises(ValueError):
            aspects.parse_bpm_range(bad)
