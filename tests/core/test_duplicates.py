"""The duplicate finder on a synthesised library with planted copies: it finds exactly them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import soxr

from songsim_desktop.core import synth
from songsim_desktop.core.duplicates import CropSectionSource, Sections, duplicates_job
from songsim_desktop.core.duplicates.candidates import brute_force_pairs, candidate_pairs
from songsim_desktop.core.duplicates.fingerprint import SAMPLE_RATE, align, fingerprint_samples
from songsim_desktop.core.progress import CancelToken, drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.errors import Cancelled

SR = 22050
FAMILIES = [synth.Family("saw", "swing"), synth.Family("pluck", "sparse"), synth.Family("bell", "straight")]


def _write(path, audio, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr)
    return str(path)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Originals, their planted copies (expected groups) and look-alikes that must stay apart."""
    base = tmp_path_factory.mktemp("dups")
    music = base / "music"
    groups: list[set[str]] = []
    for i, family in enumerate(FAMILIES[:2]):
        song = synth.render(family, 30.0, SR, seed=10 + i)
        d = music / f"album-{i}"
        group = {
            _write(d / "master.flac", song),
            _write(d / "copy.mp3", song),
            _write(d / "copy.ogg", song),
            _write(d / "copy-16k.wav", soxr.resample(song, SR, 16000), 16000),
            _write(d / "trimmed.wav", song[5 * SR:]),
            _write(d / "padded.wav", np.concatenate([np.zeros(2 * SR), song, np.zeros(3 * SR)]).astype(np.float32)),
            _write(d / "quieter.flac", (song * 0.3).astype(np.float32)),
            _write(d / "loop-excerpt.wav", song[8 * SR: 20 * SR]),  # contained in the full mix
        }
        groups.append(group)
        # The same album: other songs of the same instrument and rhythm (different recordings).
        for j in range(2):
            _write(d / f"other-song-{j}.wav", synth.render(family, 30.0, SR, seed=100 + 10 * i + j))
    # One loop family: two different tracks that open with the same 8 s loop.
    loop = synth.render(FAMILIES[2], 8.0, SR, seed=7)
    for j in range(2):
        rest = synth.render(FAMILIES[2], 22.0, SR, seed=200 + j)
        _write(music / "loops" / f"loop-track-{j}.wav", np.concatenate([loop, rest]).astype(np.float32))
    svc = SongsimService(base / "data")
    report = drive(svc.scan_job(music, workers=0))
    assert report.failed == []
    yield svc, groups, music
    svc.close()


def _found(report) -> list[set[str]]:
    return [set(g.paths) for g in report.groups]


def test_finds_exactly_the_planted_copies(planted):
    svc, groups, _ = planted
    report = drive(svc.duplicates_job())
    found = _found(report)
    assert sorted(map(sorted, found)) == sorted(map(sorted, groups))
    for group in report.groups:
        keeper = next(c for c in group.copies if c.track_id == group.keeper_id)
        # lossless, full rate, nothing cut (the quieter FLAC is as good a master, by these facts)
        assert keeper.path.endswith(("master.flac", "quieter.flac"))
        assert "aligned sections match" in group.reason()
        offsets = sorted(abs(e.offset_s) for e in group.evidence)
        assert offsets[0] < 0.1 and any(abs(o - 5.0) < 0.1 or abs(o - 2.0) < 0.1 or abs(o - 8.0) < 0.1
                                        for o in offsets)


def test_a_not_duplicates_mark_is_remembered_across_rescans(planted):
    svc, groups, music = planted
    first = sorted(groups[0])
    pair = [p for p in first if p.endswith(("master.flac", "copy.mp3"))]
    svc.mark_not_duplicates(first)  # the whole group is "not duplicates"
    drive(svc.scan_job(music, workers=0))  # a rescan (nothing changed) ...
    with SongsimService(svc.data_dir) as again:  # ... and another process opening the library
        try:
            report = drive(again.duplicates_job())
            assert not any(set(pair) <= g for g in _found(report))
            assert any(groups[1] == g for g in _found(report))
            assert report.ignored >= len(first) - 1
        finally:
            again.mark_not_duplicates(first, marked=False)  # the module's other tests expect the group
    assert any(groups[0] == g for g in _found(drive(svc.duplicates_job())))


def test_export_csv_and_json_and_nothing_is_touched(planted, tmp_path):
    svc, groups, music = planted
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in music.rglob("*") if p.is_file()}
    report = drive(svc.duplicates_job())
    report.export(tmp_path / "dups.json")
    report.export(tmp_path / "dups.csv")
    data = json.loads((tmp_path / "dups.json").read_text())
    assert len(data["groups"]) == len(groups)
    assert sum(c["keep"] for g in data["groups"] for c in g["copies"]) == len(groups)
    lines = (tmp_path / "dups.csv").read_text().splitlines()
    assert lines[0].startswith("group,keep,path") and len(lines) == 1 + sum(len(g) for g in groups)
    after = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in music.rglob("*") if p.is_file()}
    assert after == before


def test_the_job_can_be_cancelled(planted):
    svc, _, _ = planted
    cancel = CancelToken()
    job = svc.duplicates_job(cancel)
    next(job)
    cancel.cancel()
    with pytest.raises(Cancelled):
        drive(job, cancel=cancel)


def test_fingerprint_aligns_a_trimmed_copy_and_rejects_another_song():
    song = synth.render(FAMILIES[0], 20.0, SAMPLE_RATE, seed=1)
    other = synth.render(FAMILIES[0], 20.0, SAMPLE_RATE, seed=2)
    full, trimmed = fingerprint_samples(song), fingerprint_samples(song[3 * SAMPLE_RATE:])
    same = align(full, trimmed)
    assert abs(same.offset_s - 3.0) < 0.05 and same.matching > 0.9 and same.coverage > 0.9
    different = align(full, fingerprint_samples(other))
    assert different.matching < 0.8 or different.coverage < 0.8


def test_candidate_graph_agrees_with_brute_force():
    rng = np.random.default_rng(0)
    sections = {}
    for track in range(400):  # 3,200 sections: past the exact limit, so the hnswlib graph answers
        v = rng.standard_normal((8, 16)).astype(np.float32)
        sections[track] = Sections(v / np.linalg.norm(v, axis=1, keepdims=True), np.arange(8, dtype=np.float32))
    for copy, original in enumerate(range(0, 40, 2)):  # 20 near copies
        noisy = sections[original].vectors + 0.01 * rng.standard_normal((8, 16)).astype(np.float32)
        sections[1000 + copy] = Sections(noisy / np.linalg.norm(noisy, axis=1, keepdims=True),
                                         sections[original].starts_s)
    exact = brute_force_pairs(sections, 0.2)
    assert {(o, 1000 + c) for c, o in enumerate(range(0, 40, 2))} <= exact
    assert candidate_pairs(sections, 0.2) == exact


def test_crop_sections_are_placed_where_the_scan_took_them(planted):
    svc, _, _ = planted
    source = CropSectionSource(svc.library, svc.active_model_id(), svc.active_model().frontend)
    sections = source.sections()
    assert len(sections) == len(svc.tracks())
    some = next(iter(sections.values()))
    assert some.vectors.shape[0] == svc.active_model().frontend.n_crops
    assert np.all(np.diff(some.starts_s) > 0)
