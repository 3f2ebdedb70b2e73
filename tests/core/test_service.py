"""SongsimService end to end: scan a synthesised library, query it, keep it in step with the disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from songsim_desktop.core import synth
from songsim_desktop.core.progress import drive
from songsim_desktop.core.search import similarity_percent
from songsim_desktop.core.service import SongsimService
from songsim_desktop.errors import LibraryError, ModelError, SongsimError

from core.audio_factory import write_excerpt

from .test_jobs import copy_model_with_new_id

# Tonal families: two tracks of one family differ in melody, key and tempo, so an excerpt has one
# right answer.  (Two noise drones are near-identical by design; they would test nothing here.)
FAMILIES = [synth.Family("sine", "straight"), synth.Family("saw", "swing"),
            synth.Family("pluck", "sparse"), synth.Family("bell", "straight")]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A scanned library of 4 families x 2 tracks of 16 s (shared: tests here only read it)."""
    base = tmp_path_factory.mktemp("svc")
    made = synth.write_library(base / "music", FAMILIES, 2, 16.0, suffixes=(".wav", ".flac"))
    svc = SongsimService(base / "data")
    report = drive(svc.scan_job(base / "music", workers=0))
    assert (report.added, report.failed) == (len(made), [])
    yield svc, made, base
    svc.close()



def test_a_10_second_excerpt_finds_its_track_first(library, tmp_path):
    svc, made, _ = library
    for src in list(made)[::3]:  # three tracks of three families
        result = svc.query_file(write_excerpt(src, tmp_path / f"cut-{src.stem}.wav", 3.0, 10.0), k=3)
        assert result.model_id == svc.active_model_id()
        assert Path(result.matches[0].path) == src.resolve(), [m.path for m in result.matches]


def test_the_reference_is_never_its_own_match(library):
    svc, made, _ = library
    rows = {Path(r.path): r for r in svc.tracks()}
    src = next(iter(made))
    by_file = svc.query_file(src, k=len(made))
    assert len(by_file.matches) == len(made) - 1
    assert rows[src.resolve()].id not in [m.track_id for m in by_file.matches]
    by_track = svc.query_track(rows[src.resolve()].id, k=len(made))
    assert [m.track_id for m in by_track.matches] == [m.track_id for m in by_file.matches]
    distances = [m.distance for m in by_track.matches]
    assert distances == sorted(distances) and 0.0 <= distances[0] <= 2.0
    typical = svc.index().typical_distances()
    for m in by_track.matches:
        assert m.similarity == pytest.approx(similarity_percent(m.distance, typical))
    scores = [m.similarity for m in by_track.matches]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    # its sibling of the same family is the nearest
    assert made[Path(by_track.matches[0].path)] == made[src]


def test_a_library_track_is_queried_by_its_stored_vector_without_decoding(library, monkeypatch):
    svc, made, _ = library
    monkeypatch.setattr(type(svc.embedder()), "embed_file", lambda *a: pytest.fail("decoded the reference"))
    src = list(made)[1]
    assert svc.query_file(src, k=2).matches


def test_the_same_file_through_a_symlink_is_still_excluded(library, tmp_path):
    svc, made, _ = library
    src = list(made)[2]
    link = tmp_path / "link.wav"
    os.symlink(src, link)
    assert src.resolve() not in [Path(m.path) for m in svc.query_file(link, k=len(made)).matches]


def test_similarity_is_readable_and_clamped():
    """Without a library scale: the absolute 100 * (1 - d/2) of unit vectors, clamped."""
    assert (similarity_percent(0.0), similarity_percent(1.0), similarity_percent(2.0)) == (100.0, 50.0, 0.0)
    assert similarity_percent(2.5) == 0.0 and similarity_percent(-0.1) == 100.0
    assert similarity_percent(1.0, np.array([0.5, 1.5])) == 50.0  # two pairs are too few to be a scale


def test_similarity_is_the_share_of_library_pairs_farther_apart():
    typical = np.array([0.1, 0.2, 0.3, 0.4])  # the library's pair distances, sorted
    assert similarity_percent(0.05, typical) == 100.0  # closer than every pair
    assert similarity_percent(0.25, typical) == 50.0  # closer than 0.3 and 0.4
    assert similarity_percent(0.3, typical) == 25.0  # a tie is not "closer"
    assert similarity_percent(0.9, typical) == 0.0
    # the same distance reads differently in a tight library and in a spread one
    assert similarity_percent(0.05, typical / 10) == 0.0


def test_status_tracks_and_export(library, tmp_path):
    svc, made, base = library
    status = svc.status()
    assert status["counts"]["ok"] == len(made) and status["vectors"] == len(made)
    assert status["roots"] == [str((base / "music").resolve())] == svc.roots()
    assert status["model_id"] == svc.active_model().id and status["errors"] == []
    row = svc.tracks()[0]
    assert svc.track(row.id) == row and row.state == "ok" and row.format
    with pytest.raises(LibraryError):
        svc.track(99999)
    count = svc.export_vectors(tmp_path / "v.npz")
    data = np.load(tmp_path / "v.npz")
    assert count == len(made) and data["vectors"].shape == (len(made), svc.active_model().dim)
    assert sorted(data["paths"].tolist()) == sorted(str(p.resolve()) for p in made)
    assert str(data["model_id"]) == svc.active_model_id()
    np.testing.assert_allclose(np.linalg.norm(data["vectors"], axis=1), 1.0, atol=1e-5)


def test_the_default_model_is_registered_builtin_and_active(library):
    svc, _, _ = library
    (default,) = [m for m in svc.models() if m.builtin]
    assert default.active and default.id == svc.active_model().id == svc.default_model_id
    with pytest.raises(ModelError):
        svc.switch_model_job("0123456789abcdef")  # refused at once, before any work


def test_a_missing_folder_is_refused_before_any_work(tmp_path):
    svc = SongsimService()
    with pytest.raises(SongsimError, match="not a folder"):
        svc.scan_job(tmp_path / "nope")
    assert svc.roots() == [] and svc.data_dir == Path(os.environ["SONGSIM_DATA_DIR"])
    svc.close()


@pytest.fixture
def small(tmp_path):
    made = synth.write_library(tmp_path / "music", FAMILIES[:2], 2, 7.0, suffixes=(".wav",))
    svc = SongsimService()
    drive(svc.scan_job(tmp_path / "music", workers=0))
    yield svc, made, tmp_path / "music"
    svc.close()


def test_incremental_rescan_updates_the_index(small):
    svc, made, folder = small
    paths = sorted(made)
    changed, gone, kept = paths[0], paths[1], paths[2]
    ids = {Path(r.path): r.id for r in svc.tracks()}
    before = svc.library.vector(ids[changed.resolve()], svc.active_model_id())
    index = svc.index()
    synth.write_track(changed, made[changed], 7.0, seed=777)
    os.utime(changed, ns=(1, 10**18))  # a different mtime even on a coarse clock
    gone.unlink()
    added = synth.write_track(folder / "new" / "new.wav", FAMILIES[2], 7.0, seed=5)

    report = drive(svc.scan_job(folder, workers=0))
    assert (report.added, report.updated, report.unchanged, report.missing) == (1, 1, 2, 1)
    after = svc.library.vector(ids[changed.resolve()], svc.active_model_id())
    assert not np.allclose(before, after)
    assert svc.track(ids[gone.resolve()]).state == "missing"
    result = svc.query_track(ids[kept.resolve()], k=10)
    assert ids[gone.resolve()] not in [m.track_id for m in result.matches]
    assert str(added.resolve()) in [m.path for m in result.matches]
    # the index was updated in place (not rebuilt) and holds exactly the ok tracks
    assert svc.index() is index
    assert sorted(index.ids().tolist()) == sorted(r.id for r in svc.tracks() if r.state == "ok")
    assert len(index) == 4 and index.fingerprint == svc.library.vectors_fingerprint(svc.active_model_id())
    # the file comes back: it is found again
    synth.write_track(gone, made[gone], 7.0, seed=1)
    report = drive(svc.scan_job(None, workers=0))  # None: every known root
    assert report.updated == 1 and svc.track(ids[gone.resolve()]).state == "ok"


def test_a_folder_that_vanishes_and_comes_back_is_restored_without_decoding(small, tmp_path, monkeypatch):
    svc, made, folder = small
    ids = {r.id: r.scanned_at for r in svc.library.tracks()}
    folder.rename(tmp_path / "unplugged")
    folder.mkdir()  # an empty mount point
    report = drive(svc.scan_job(folder, workers=0))
    assert report.missing == len(made) and len(svc.index()) == 0
    folder.rmdir()
    (tmp_path / "unplugged").rename(folder)
    monkeypatch.setattr("songsim_desktop.core.decoding.prepare_track", lambda *a: pytest.fail("decoded again"))
    report = drive(svc.scan_job(folder, workers=0))
    assert (report.updated, report.added, report.missing) == (len(made), 0, 0)
    assert {r.id: r.scanned_at for r in svc.library.tracks() if r.state == "ok"} == ids
    assert len(svc.query_track(next(iter(ids)), k=10).matches) == len(made) - 1


def test_index_survives_a_restart_and_follows_outside_changes(small):
    svc, made, folder = small
    model_id = svc.active_model_id()
    idx = svc.index()
    assert idx.path.is_file() and idx.fingerprint == svc.library.vectors_fingerprint(model_id)
    other = SongsimService(svc.data_dir)  # e.g. the CLI while the GUI is open
    tid = other.tracks()[0].id
    other.remove_root(folder)
    other.close()
    assert svc.tracks() == []
    with pytest.raises(LibraryError):
        svc.query_track(tid, k=5)
    assert len(svc.index()) == 0


def test_tags_and_folder_tags(small):
    svc, made, folder = small
    ids = [r.id for r in svc.tracks()]
    svc.add_tags(ids[:2], ["Dark", " ambient "])
    svc.add_tags(ids[2:3], ["dark"])
    assert svc.tag_counts() == {"dark": 3, "ambient": 2}
    svc.remove_tags(ids[:1], ["dark"])
    assert svc.track(ids[0]).tags == ["ambient"]
    assert svc.import_folder_tags() == len(made)
    by_path = {Path(r.path): set(r.tags) for r in svc.tracks()}
    for path, family in made.items():
        assert family.name in by_path[path.resolve()]
    new = synth.write_track(folder / "extra-folder" / "x.wav", FAMILIES[0], 7.0, seed=9)
    drive(svc.scan_job(folder, workers=0))  # later scans keep tagging by folder
    assert "extra-folder" in next(r.tags for r in svc.tracks() if r.path == str(new.resolve()))


def test_switching_models_and_reembedding(small, tmp_path):
    svc, made, _ = small
    record = svc.register_model(copy_model_with_new_id(tmp_path, "mine"))
    assert not record.builtin and not record.active
    report = drive(svc.switch_model_job(record.id))
    assert (report.embedded, report.from_cache, report.decoded) == (len(made), len(made), 0)
    assert svc.active_model().id == record.id and svc.index().model_id == record.id
    assert len(svc.index()) == len(made)  # every track embedded before it became active
    result = svc.query_track(svc.tracks()[0].id, k=2)
    assert result.model_id == record.id and len(result.matches) == 2


def test_remove_root_forgets_its_tracks_and_cached_features(small):
    svc, made, folder = small
    ids = [r.id for r in svc.tracks()]
    key = svc.active_model().frontend.key()
    assert len(svc.features.get_many(ids, key)) == len(ids)
    svc.remove_root(folder)
    assert svc.tracks() == [] and svc.roots() == []
    assert svc.features.get_many(ids, key) == {}
    assert shutil.disk_usage(folder)  # the music itself is untouched
    assert all(p.is_file() for p in made)


def test_queries_during_a_scan_see_each_committed_batch_without_a_rebuild(small, monkeypatch):
    monkeypatch.setattr("songsim_desktop.core.jobs.COMMIT_EVERY", 1)
    """The GUI may query while a scan runs: the index follows every commit instead of being rebuilt."""
    svc, made, folder = small
    kept = next(r.id for r in svc.tracks() if r.state == "ok")
    index = svc.index()
    start = len(index)
    for i in range(3):
        synth.write_track(folder / "more" / f"more-{i}.wav", FAMILIES[i], 7.0, seed=60 + i)
    monkeypatch.setattr("songsim_desktop.core.search.tracks.load_or_rebuild",
                        lambda *a, **k: pytest.fail("the index was rebuilt during the scan"))
    sizes = []
    for _progress in svc.scan_job(folder, workers=0):  # driven as the GUI's worker does
        result = svc.query_track(kept, k=50)
        sizes.append(len(result.matches))
    assert svc.index() is index and len(index) == start + 3
    assert sizes[-1] == start + 2  # every ok track but the reference itself
    assert sizes[0] < sizes[-1]  # the first answers came before the last batch was committed


def test_decoder_chatter_goes_to_the_log_not_the_terminal(tmp_path, capfd):
    """libmpg123 prints an 'error' for each MP3 seek without its bit reservoir (the samples are fine)."""
    for i in range(2):
        synth.write_track(tmp_path / "music" / f"t{i}.mp3", FAMILIES[i], 30.0, seed=i)
    with SongsimService(tmp_path / "data") as svc:
        report = drive(svc.scan_job(tmp_path / "music", workers=1))
        # A scan decodes each file once from start to end (issue 10): no seeks.  A query of a file
        # outside the library reads the model's crops by seeking, in this very process.
        svc.query_file(synth.write_track(tmp_path / "outside.mp3", FAMILIES[2], 30.0, seed=5), k=1)
    assert (report.added, report.failed) == (2, [])
    assert "libmpg123" not in capfd.readouterr().err
    assert "libmpg123" in (tmp_path / "data" / "logs" / "decoders.log").read_text()


def test_tracks_back_after_a_model_switch_get_vectors_for_the_active_model(tmp_path):
    """Issue 9, bug 1: a folder unplugged during a model switch comes back searchable.

    Unplug a sub-folder (its tracks go missing), re-embed with another model and activate it
    through the service, plug the folder back, rescan: the returning tracks must get vectors of
    the active model and the index must find them.
    """
    music = tmp_path / "music"
    synth.write_library(music / "stays", FAMILIES[:2], 1, 7.0, suffixes=(".wav",))
    synth.write_library(music / "drive", FAMILIES[2:], 1, 7.0, suffixes=(".wav",))
    with SongsimService(tmp_path / "data") as svc:
        drive(svc.scan_job(music, workers=0))
        away = tmp_path / "unplugged"
        shutil.move(str(music / "drive"), str(away))
        assert drive(svc.scan_job(None, workers=0)).missing == 2

        other = svc.register_model(copy_model_with_new_id(tmp_path, "other"))
        drive(svc.switch_model_job(other.id))

        shutil.move(str(away), str(music / "drive"))
        report = drive(svc.scan_job(None, workers=0))
        assert report.failed == [] and report.updated == 2

        back = [r for r in svc.tracks() if "drive" in Path(r.path).parts]
        assert len(back) == 2 and {r.state for r in back} == {"ok"}
        for row in back:
            assert svc.library.vector(row.id, other.id) is not None, row.path
            assert row.id in svc.index()
        assert len(svc.query_track(back[0].id, k=10).matches) == 3
