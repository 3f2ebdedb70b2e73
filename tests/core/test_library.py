"""The library database: schema and migrations, transactions, threads, and each table's API."""

from __future__ import annotations

import gc
import sqlite3
import threading

import numpy as np
import pytest

from songsim_desktop.core import library as library_module
from songsim_desktop.core.library import (
    FeatureCache,
    Library,
    ModelRecord,
    KnownTrack,
    normalise_tag,
)
from songsim_desktop.core.library.schema import LIBRARY_MIGRATIONS, library_v1
from songsim_desktop.errors import LibraryError


@pytest.fixture
def lib(tmp_path):
    library = Library(tmp_path / "library.sqlite3")
    yield library
    library.close()


def add_track(lib, root_id, path, state="ok", **kw):
    with lib.transaction() as conn:
        return lib.upsert_track(conn, path=str(path), root_id=root_id, state=state, **kw)


# -- opening, schema, migrations ----------------------------------------------------------------
def test_new_database_is_wal_with_foreign_keys_and_current_schema(lib):
    with lib.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            len(LIBRARY_MIGRATIONS))
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "roots", "tracks", "vectors", "tags", "models", "settings"} <= tables


def test_old_schema_is_migrated_in_order_and_keeps_data(tmp_path, monkeypatch):
    path = tmp_path / "library.sqlite3"
    monkeypatch.setattr(library_module, "LIBRARY_MIGRATIONS", [library_v1])  # a songsim of schema 1
    with Library(path) as old:
        root_id = old.add_root(tmp_path)

    def add_rating(conn):
        conn.execute("ALTER TABLE tracks ADD COLUMN rating INTEGER")

    monkeypatch.setattr(library_module, "LIBRARY_MIGRATIONS", [*LIBRARY_MIGRATIONS, add_rating])
    with Library(path) as new:
        assert new.schema_version == len(LIBRARY_MIGRATIONS) + 1
        with new.read() as conn:
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
            columns = {r[1] for r in conn.execute("PRAGMA table_info(tracks)")}
            indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert version == str(len(LIBRARY_MIGRATIONS) + 1) and "rating" in columns
        assert "tracks_by_state_path" in indexes and "tracks_by_state" not in indexes  # version 2 ran
        assert [r.id for r in new.roots()] == [root_id]


def test_newer_unknown_schema_version_is_refused_clearly(tmp_path):
    path = tmp_path / "library.sqlite3"
    Library(path).close()
    newer = len(LIBRARY_MIGRATIONS) + 1
    raw = sqlite3.connect(path)
    raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(newer),))
    raw.commit()
    raw.close()
    with pytest.raises(LibraryError) as err:
        Library(path)
    message = str(err.value)
    assert message.startswith(f"while opening the library database {path}:")
    assert f"schema version {newer}" in message and "newer songsim" in message


def test_garbage_file_gives_a_clear_library_error(tmp_path):
    path = tmp_path / "library.sqlite3"
    path.write_bytes(b"this is not sqlite at all " * 200)
    with pytest.raises(LibraryError) as err:
        Library(path)
    assert str(err.value).startswith(f"while opening the library database {path}:")
    assert "damaged" in str(err.value)
    assert isinstance(err.value.__cause__, sqlite3.DatabaseError)


def test_closed_library_refuses_work(tmp_path):
    library = Library(tmp_path / "library.sqlite3")
    library.close()
    with pytest.raises(LibraryError, match="closed"):
        library.roots()


# -- transactions and threads ---------------------------------------------------------------------
def test_transaction_rolls_back_everything_on_error(lib, tmp_path):
    root = lib.add_root(tmp_path)
    with pytest.raises(RuntimeError):
        with lib.transaction() as conn:
            lib.upsert_track(conn, path=str(tmp_path / "a.wav"), root_id=root)
            with lib.transaction() as inner:  # nested: joins the outer transaction
                lib.upsert_track(inner, path=str(tmp_path / "b.wav"), root_id=root)
            raise RuntimeError("boom")
    assert lib.tracks() == []


def test_sqlite_errors_inside_a_transaction_become_library_errors(lib):
    with pytest.raises(LibraryError, match="while writing the library database"):
        with lib.transaction() as conn:
            conn.execute("INSERT INTO tags(track_id, tag, source) VALUES (999, 'x', 'user')")  # no such track


def test_each_thread_gets_its_own_connection_and_all_writes_land(lib, tmp_path):
    root = lib.add_root(tmp_path)
    seen_connections, failures = set(), []
    all_written = threading.Barrier(4)

    def writer(n):
        try:
            for i in range(20):
                with lib.transaction() as conn:
                    lib.upsert_track(conn, path=str(tmp_path / f"t{n}-{i}.wav"), root_id=root)
                lib.tracks()  # reads interleave with the other threads' writes
            all_written.wait(timeout=60)  # all four alive at once: their connections coexist
            with lib.read() as conn:
                seen_connections.add(id(conn))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(seen_connections) == 4
    assert len(lib.tracks()) == 80
    gc.collect()
    assert lib.open_connections == 1  # the finished threads' connections were closed; ours stays


# -- roots and tracks -----------------------------------------------------------------------------
def test_roots_are_resolved_idempotent_and_removal_takes_their_tracks(lib, tmp_path):
    music, other = tmp_path / "music", tmp_path / "other"
    music.mkdir(), other.mkdir()
    root = lib.add_root(music)
    assert lib.add_root(tmp_path / "music" / ".." / "music") == root
    other_root = lib.add_root(other)
    doomed = add_track(lib, root, music / "a.wav")
    kept = add_track(lib, other_root, other / "b.wav")
    with lib.transaction() as conn:
        lib.put_vectors(conn, doomed, "m1", np.ones(4))
    lib.add_tags([doomed, kept], ["dark"])

    assert lib.remove_root(music) == 1
    assert [r.path for r in lib.roots()] == [str(other.resolve())]
    assert [t.id for t in lib.tracks()] == [kept]
    assert lib.vector_count("m1") == 0
    assert lib.tags_by_track() == {kept: {"dark"}}
    assert lib.remove_root(tmp_path / "never-added") == 0


def test_upsert_keeps_the_id_and_overwrites_fields(lib, tmp_path):
    root = lib.add_root(tmp_path)
    path = tmp_path / "Björk – Jóga.flac"  # unicode path
    first = add_track(lib, root, path, state="pending", size=10, mtime_ns=1)
    second = add_track(
        lib, root, path, size=20, mtime_ns=2, duration_s=180.5, format="FLAC",
        title="Jóga", artist="Björk", album="Homogenic", genre="Pop",
    )
    assert first == second
    record = lib.track_by_path(path)
    assert (record.id, record.size, record.mtime_ns, record.state, record.title) == (first, 20, 2, "ok", "Jóga")
    assert record.duration_s == pytest.approx(180.5)
    assert lib.track(first) == record
    assert lib.track(first + 100) is None and lib.track_by_path(tmp_path / "nope.wav") is None
    assert lib.tracks_under(str(tmp_path)) == [KnownTrack(str(path), 20, 2, "ok", first)]
    with pytest.raises(ValueError, match="unknown track state"):
        add_track(lib, root, path, state="great")


def test_states_counts_errors_and_missing(lib, tmp_path):
    root = lib.add_root(tmp_path)
    ok = add_track(lib, root, tmp_path / "ok.wav")
    bad = add_track(lib, root, tmp_path / "bad.mp3", state="error", error="while decoding bad.mp3: empty")
    gone = add_track(lib, root, tmp_path / "gone.wav")
    with lib.transaction() as conn:
        assert lib.mark_missing(conn, [gone]) == 1
    assert lib.state_counts() == {"pending": 0, "ok": 1, "error": 1, "missing": 1}
    assert lib.errors() == [(str(tmp_path / "bad.mp3"), "while decoding bad.mp3: empty")]
    assert [t.id for t in lib.tracks(states=["ok"])] == [ok]
    assert [t.id for t in lib.tracks(states=["error", "missing"])] == [bad, gone]


# -- vectors --------------------------------------------------------------------------------------
def test_vectors_round_trip_and_follow_track_states(lib, tmp_path):
    root = lib.add_root(tmp_path)
    rng = np.random.default_rng(1)
    ids = [add_track(lib, root, tmp_path / f"{i}.wav") for i in range(3)]
    vecs = rng.normal(size=(3, 8)).astype(np.float32)
    crops = rng.normal(size=(3, 5, 8)).astype(np.float32)
    with lib.transaction() as conn:
        for tid, vec, crop in zip(ids, vecs, crops):
            lib.put_vectors(conn, tid, "m1", vec, crop)
    got_ids, matrix = lib.vectors("m1")
    assert got_ids.dtype == np.int64 and matrix.dtype == np.float32
    assert got_ids.tolist() == ids
    np.testing.assert_array_equal(matrix, vecs)
    np.testing.assert_array_equal(lib.crop_vectors(ids[1], "m1"), crops[1])
    np.testing.assert_array_equal(lib.vector(ids[2], "m1"), vecs[2])
    assert lib.crop_vectors(ids[1], "other-model") is None

    with lib.transaction() as conn:
        lib.mark_missing(conn, [ids[0]])
    assert lib.vectors("m1")[0].tolist() == ids[1:]
    assert lib.vectors("m1", states=None)[0].tolist() == ids
    assert lib.vector_count("m1") == 2
    empty_ids, empty = lib.vectors("unknown")
    assert empty_ids.shape == (0,) and empty.shape == (0, 0)

    newcomer = add_track(lib, root, tmp_path / "new.wav")
    assert lib.tracks_without_vectors("m1") == [(newcomer, str(tmp_path / "new.wav"))]
    assert [i for i, _path in lib.tracks_without_vectors("m2")] == [ids[1], ids[2], newcomer]
    with pytest.raises(ValueError, match="dim"):
        with lib.transaction() as conn:
            lib.put_vectors(conn, newcomer, "m1", np.ones(8), np.ones((2, 4)))


def test_vectors_fingerprint_changes_exactly_when_the_index_must(lib, tmp_path):
    root = lib.add_root(tmp_path)
    a = add_track(lib, root, tmp_path / "a.wav")
    b = add_track(lib, root, tmp_path / "b.wav")
    seen = [lib.vectors_fingerprint("m1")]

    def changed():
        now = lib.vectors_fingerprint("m1")
        fresh = now not in seen
        seen.append(now)
        return fresh

    with lib.transaction() as conn:
        lib.put_vectors(conn, a, "m1", np.ones(4))
    assert changed()
    with lib.transaction() as conn:
        lib.put_vectors(conn, a, "m1", np.zeros(4))  # same count, new content
    assert changed()
    with lib.transaction() as conn:
        lib.mark_missing(conn, [a])
    assert changed()
    # Unrelated writes leave it alone: tags, another model, a track without vectors.
    lib.add_tags([a], ["x"])
    with lib.transaction() as conn:
        lib.put_vectors(conn, b, "m2", np.ones(4))
        lib.upsert_track(conn, path=str(tmp_path / "c.wav"), root_id=root, state="error")
    assert not changed()
    with lib.transaction() as conn:  # back from missing
        lib.upsert_track(conn, path=str(tmp_path / "a.wav"), root_id=root, state="ok")
    assert changed()
    # One track with a vector leaves, another gains one: same count, still a new fingerprint.
    count_before = lib.vector_count("m1")
    with lib.transaction() as conn:
        conn.execute("DELETE FROM tracks WHERE id = ?", (a,))
        lib.put_vectors(conn, b, "m1", np.ones(4))
    assert lib.vector_count("m1") == count_before
    assert changed()
    lib.remove_root(tmp_path)
    assert changed()


# -- tags -----------------------------------------------------------------------------------------
def test_tags_are_normalised_counted_and_kept_per_source(lib, tmp_path):
    root = lib.add_root(tmp_path)
    a = add_track(lib, root, tmp_path / "a.wav")
    b = add_track(lib, root, tmp_path / "b.wav")
    assert normalise_tag("  Dark \t  TECHNO ") == "dark techno"
    assert lib.add_tags([a, b], ["Dark  Techno", "dark techno", " ", "Live"]) == 4
    assert lib.add_tags([a], ["DARK TECHNO"]) == 0  # already there
    with lib.transaction() as conn:
        lib.replace_tags(conn, a, ["Live", "Piano"], "file")
        lib.replace_tags(conn, b, ["ambient"], "folder")
    assert lib.tags_by_track() == {a: {"dark techno", "live", "piano"}, b: {"dark techno", "live", "ambient"}}
    assert lib.tag_counts() == {"dark techno": 2, "live": 2, "ambient": 1, "piano": 1}
    assert lib.track(a).tags == ["dark techno", "live", "piano"]

    assert lib.remove_tags([a], ["live"]) == 1  # the user tag; the file tag stays
    assert "live" in lib.tags_by_track()[a]
    with lib.transaction() as conn:
        lib.replace_tags(conn, a, [], "file")
    assert lib.tags_by_track()[a] == {"dark techno"}
    with pytest.raises(ValueError, match="tag source"):
        lib.add_tags([a], ["x"], source="robot")


# -- models ---------------------------------------------------------------------------------------
def test_models_register_activate_and_remove(lib, tmp_path):
    builtin = ModelRecord("aaaa", "default", "models/songsim-default.onnx", 64, builtin=True,
                          created_at="2026-01-01T00:00:00+00:00")
    tuned = ModelRecord("bbbb", "tuned", str(tmp_path / "bbbb.onnx"), 64, parent_id="aaaa",
                        metrics={"precision@10": 0.61})
    lib.add_model(builtin)
    lib.add_model(tuned)
    assert [m.id for m in lib.models()] == ["aaaa", "bbbb"]
    assert lib.model("bbbb") == tuned
    assert lib.model("zzzz") is None
    assert lib.active_model_id() is None
    lib.set_active_model_id("bbbb")
    assert lib.active_model_id() == "bbbb"
    with pytest.raises(LibraryError, match="no such model"):
        lib.set_active_model_id("zzzz")

    track = add_track(lib, lib.add_root(tmp_path), tmp_path / "a.wav")
    with lib.transaction() as conn:
        lib.put_vectors(conn, track, "bbbb", np.ones(64))
    lib.remove_model("bbbb")
    assert lib.model("bbbb") is None and lib.vector_count("bbbb") == 0
    assert lib.active_model_id() == "aaaa"
    with pytest.raises(LibraryError, match="built-in model cannot be removed"):
        lib.remove_model("aaaa")


# -- the features cache ---------------------------------------------------------------------------
def test_feature_cache_stores_float16_crops_per_frontend(tmp_path):
    cache = FeatureCache(tmp_path / "features.sqlite3")
    rng = np.random.default_rng(2)
    crops = (rng.normal(size=(8, 64, 256)) * 20 - 40).astype(np.float32)
    cache.put(1, "front-a", crops)
    cache.put(2, "front-a", crops[:3])
    cache.put(1, "front-b", crops[:1])
    got = cache.get_many([1, 2, 3], "front-a")
    assert sorted(got) == [1, 2]
    assert got[1].dtype == np.float32 and got[1].shape == (8, 64, 256) and got[2].shape == (3, 64, 256)
    np.testing.assert_allclose(got[1], crops, rtol=1e-3, atol=0.05)  # float16 precision on dB values
    assert cache.get_many([1, 2], "front-b").keys() == {1}
    assert cache.delete([1]) == 2
    assert cache.get_many([1, 2], "front-a").keys() == {2}
    cache.close()


def test_damaged_feature_cache_is_set_aside_and_recreated(tmp_path):
    path = tmp_path / "features.sqlite3"
    path.write_bytes(b"\x00garbage" * 500)
    cache = FeatureCache(path)
    assert cache.get_many([1], "k") == {}
    cache.put(1, "k", np.zeros((1, 2, 3)))
    assert cache.get(1, "k") is not None
    assert (tmp_path / "features.sqlite3.damaged").read_bytes().startswith(b"\x00garbage")
    cache.close()


def test_fingerprints_are_never_reused(tmp_path):
    def history(lib):
        track = add_track(lib, lib.add_root(tmp_path), tmp_path / "a.wav")
        lib.add_model(ModelRecord("m1", "tuned", "m1.onnx", 4))
        with lib.transaction() as conn:
            lib.put_vectors(conn, track, "m1", np.ones(4))

    first = Library(tmp_path / "one.sqlite3")
    history(first)
    before_removal = first.vectors_fingerprint("m1")
    first.remove_model("m1")
    history(first)  # the same model registered and embedded again
    assert first.vectors_fingerprint("m1") != before_removal
    first.close()
    # A library recreated from scratch with the same history must not match old index stamps.
    (tmp_path / "one.sqlite3").rename(tmp_path / "old.sqlite3")
    again = Library(tmp_path / "one.sqlite3")
    history(again)
    assert again.vectors_fingerprint("m1") != before_removal
    again.close()


def test_feature_cache_from_a_newer_songsim_is_not_thrown_away(tmp_path):
    path = tmp_path / "features.sqlite3"
    FeatureCache(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(LibraryError, match="while opening the features cache .*schema version 9"):
        FeatureCache(path)
    assert not (tmp_path / "features.sqlite3.damaged").exists()
