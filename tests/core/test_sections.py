"""Section search (issue 10): a part of a track finds where else it sounds like that, and where."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songsim_desktop.core import decoding, synth
from songsim_desktop.core.library import sections as stored
from songsim_desktop.core.progress import drive
from songsim_desktop.core.search import section_index
from songsim_desktop.core.search.sections import aggregate
from songsim_desktop.core.service import SongsimService

from core.audio_factory import write_excerpt

from .test_jobs import copy_model_with_new_id

SR = 22050
SEGMENT_S = 15.0
FAMILIES = synth.all_families()


def write_composed(path: Path, parts: list[tuple[int, int]]) -> Path:
    """A track made of SEGMENT_S-long parts, each (family index, seed): its sections differ."""
    audio = np.concatenate([synth.render(FAMILIES[f % len(FAMILIES)], SEGMENT_S, SR, seed=s) for f, s in parts])
    sf.write(str(path), audio, SR)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Four 45 s tracks of three different parts each; track 'rep' repeats its first part at 30 s."""
    base = tmp_path_factory.mktemp("sections")
    music = base / "music"
    music.mkdir()
    made = [write_composed(music / f"t{i}.wav", [(3 * i + j, 10 * i + j) for j in range(3)]) for i in range(3)]
    made.append(write_composed(music / "rep.wav", [(9, 90), (10, 91), (9, 90)]))
    svc = SongsimService(base / "data")
    report = drive(svc.scan_job(music, workers=0))
    assert (report.added, report.failed) == (4, [])
    yield svc, made, base
    svc.close()



def row_of(svc, path: Path):
    return next(t for t in svc.tracks() if Path(t.path) == path.resolve())


def test_a_section_cut_from_a_track_finds_it_with_the_right_offset(library, tmp_path):
    svc, made, _ = library
    for src, start in ((made[1], 17.0), (made[2], 31.5), (made[0], 2.0)):
        clip = write_excerpt(src, tmp_path / f"clip-{src.stem}.wav", start, 10.0)
        result = svc.query_section(str(clip), k=3)
        best = result.matches[0]
        assert Path(best.path) == src.resolve(), [m.path for m in result.matches]
        assert abs(best.offset - start) <= 1.5, best.offset
        assert best.section_distance <= best.distance  # the best pair is never worse than the mean
        assert best.section_length == pytest.approx(10.0, abs=0.1)
        assert result.matches[0].distance < result.matches[1].distance


def test_a_time_range_of_a_library_track_leaves_the_track_out_by_default(library):
    svc, made, _ = library
    own = row_of(svc, made[3])
    by_default = svc.query_section(own.id, 0.0, 12.0, k=10)
    assert own.id not in [m.track_id for m in by_default.matches]
    assert len(by_default.matches) == 3
    # "where does this track repeat itself?": its first part comes back at 30 s, not at 0 (the range itself)
    repeats = svc.query_section(own.id, 0.0, 12.0, k=10, include_self=True)
    assert repeats.matches[0].track_id == own.id
    assert abs(repeats.matches[0].offset - 30.0) <= 1.5
    # the same through the file's path
    by_path = svc.query_section(str(made[3]), 0.0, 12.0, k=10)
    assert own.id not in [m.track_id for m in by_path.matches]


def test_sections_cover_the_whole_track_and_are_stored_compactly(library):
    svc, made, _ = library
    model = svc.active_model_id()
    starts, vectors = svc.library.track_sections(row_of(svc, made[0]).id, model)
    assert starts[0] == 0.0 and np.allclose(np.diff(starts)[:-1], 3.0, atol=0.11)
    assert starts[-1] + svc.active_model().frontend.crop_seconds >= 45.0 - 0.2  # the tail is covered
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    size, count, seconds = svc.library.section_storage(model)
    assert count >= 4 * 13 and size / (seconds / 60) < 6 * 1024  # the budget: 6 KB per minute


def test_quantised_vectors_stay_close_to_the_originals():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codes, scales = stored.quantise(vectors)
    back = stored.dequantise(codes, scales)
    assert codes.dtype == np.int8 and scales.dtype == np.float16
    assert np.linalg.norm(back - vectors, axis=1).max() < 0.02


def test_sections_survive_a_fine_tunes_re_embed_without_decoding(library, tmp_path, monkeypatch):
    svc, made, base = library
    before = svc.active_model_id()
    other = svc.register_model(copy_model_with_new_id(tmp_path, "tuned"))
    monkeypatch.setattr(decoding, "prepare_track", lambda *a: pytest.fail("decoded again"))
    monkeypatch.setattr(decoding.audio, "load", lambda *a, **k: pytest.fail("decoded again"))
    report = drive(svc.switch_model_job(other.id))
    assert (report.decoded, report.embedded) == (0, 4)
    try:
        assert svc.active_model_id() == other.id
        starts, _vectors = svc.library.track_sections(row_of(svc, made[1]).id, other.id)
        assert len(starts) >= 13
        result = svc.query_section(row_of(svc, made[1]).id, 17.0, 27.0, k=3, include_self=True)
        assert result.model_id == other.id and result.matches
    finally:
        monkeypatch.undo()
        drive(svc.switch_model_job(before))


def test_a_stale_or_damaged_section_index_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(section_index, "EXACT_LIMIT", 0)  # the hnswlib graph, not brute force
    music = tmp_path / "music"
    music.mkdir()
    first = write_composed(music / "a.wav", [(0, 1), (1, 2)])
    with SongsimService(tmp_path / "data") as svc:
        drive(svc.scan_job(music, workers=0))
        clip = write_excerpt(first, tmp_path / "clip.wav", 12.0, 8.0)
        assert [Path(m.path) for m in svc.query_section(str(clip)).matches] == [first.resolve()]
        index = svc.sections.index()
        stamp = json.loads(index.stamp_path.read_text())
        assert stamp["graph"] and index.path.exists()
        # Another track arrives: the saved index is stale and must not answer.
        second = write_composed(music / "b.wav", [(4, 5), (5, 6)])
        drive(svc.scan_job(music, workers=0))
        later = write_excerpt(second, tmp_path / "later.wav", 20.0, 8.0)
        assert Path(svc.query_section(str(later)).matches[0].path) == second.resolve()
        assert json.loads(index.stamp_path.read_text())["fingerprint"] != stamp["fingerprint"]
    # A damaged file on disk is rebuilt from the database at the next start.
    index.path.write_bytes(index.path.read_bytes()[:100])
    with SongsimService(tmp_path / "data") as svc:
        assert Path(svc.query_section(str(later)).matches[0].path) == second.resolve()


def test_aggregation_by_mean_needs_the_whole_range_to_match():
    # Track 1 matches one window perfectly and the others badly; track 2 matches every window well.
    owners = np.array([1, 1, 2, 2], dtype=np.int64)
    starts = np.array([0.0, 3.0, 10.0, 13.0], dtype=np.float32)
    labels = np.array([[0, 2, 1, 3], [2, 3, 1, 0], [3, 2, 1, 0]])
    dists = np.array([[0.05, 0.2, 0.9, 0.95], [0.2, 0.25, 0.9, 0.95], [0.2, 0.3, 0.9, 0.95]])
    offsets = np.array([0.0, 1.0, 2.0])
    mean = aggregate(labels, dists, owners, starts, offsets, "mean")
    best = aggregate(labels, dists, owners, starts, offsets, "best")
    assert [h.track_id for h in mean] == [2, 1] and [h.track_id for h in best] == [1, 2]
    assert mean[0].offset == pytest.approx(10.0)  # section at 10 s matched the window at +0 s


def test_section_reads_and_writes_go_by_index(tmp_path):
    from songsim_desktop.core.library import Library, ModelRecord

    from .test_library_queries import MODEL, assert_all_indexed, statements_during

    lib = Library(tmp_path / "library.sqlite3")
    lib.add_model(ModelRecord(MODEL, "m", str(tmp_path / "m.onnx"), 8))
    synth.fill_library(lib, str(tmp_path / "music"), 200, MODEL)
    ids = sorted(t.id for t in lib.tracks())
    unit = np.eye(8, dtype=np.float32)[:4]

    def work():
        with lib.transaction() as conn:
            for tid in ids[:16]:
                lib.put_sections(conn, tid, MODEL, [0.0, 3.0, 6.0, 9.0], unit)
        lib.track_sections(ids[3], MODEL)
        lib.sections(MODEL)
        lib.tracks_without_sections(MODEL)
        with lib.transaction() as conn:
            lib.forget_content(conn, ids[0])  # the trigger drops its sections with its vector

    assert_all_indexed(lib, statements_during(lib, work))
    assert lib.track_sections(ids[0], MODEL) is None and lib.track_sections(ids[1], MODEL) is not None
    lib.close()


def test_one_whole_decode_gives_read_crops_crops_and_caps_long_files(tmp_path):
    from songsim_desktop.core import audio
    from songsim_desktop.core.features import FrontEndConfig, logmel_batch
    from songsim_desktop.core.full_decode import decode_full

    cfg = FrontEndConfig()
    path = synth.write_track(tmp_path / "t.flac", FAMILIES[1], 40.0, sr=44100, seed=3)
    whole = decode_full(path, cfg)
    crops, info = audio.read_crops(path, cfg)
    # The track vector is unchanged: the same crops (to the resampler's edge effects, far below the music).
    assert np.abs(logmel_batch(whole.crops, cfg) - logmel_batch(crops, cfg)).mean() < 0.5
    assert whole.info.duration_s == pytest.approx(info.duration_s, abs=0.01)
    assert whole.full_logmel.shape[1] == pytest.approx(40.0 * cfg.sample_rate / cfg.hop_length, abs=3)
    # A file longer than the limit: sections for its start only, crops still over the whole file.
    capped = decode_full(path, cfg, limit_s=10.0)
    assert capped.full_logmel.shape[1] == pytest.approx(10.0 * cfg.sample_rate / cfg.hop_length, abs=3)
    assert np.abs(logmel_batch(capped.crops, cfg) - logmel_batch(crops, cfg)).mean() < 0.5
