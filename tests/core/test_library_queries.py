"""The queries a scan runs per batch and a search runs per query read by index, never a whole table.

Every statement the library runs during those operations is recorded (sqlite3's trace callback on
the library's own connection) and its ``EXPLAIN QUERY PLAN`` checked: a ``SCAN`` of a table means
the cost grows with the library, which made scans quadratic (issue 9, bug 4).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from songsim_desktop.core import job_store, scan, synth
from songsim_desktop.core.analysis import TrackVectors
from songsim_desktop.core.decoding import PreparedTrack
from songsim_desktop.core.library import Library, ModelRecord
from songsim_desktop.core.reports import ScanReport

MODEL = "m"
PACKAGE = Path(__file__).resolve().parents[2] / "songsim_desktop"
SQL = re.compile(r"\.execute(many|script)?\(|^\s*(import|from) sqlite3\b", re.MULTILINE)


@pytest.fixture
def filled(tmp_path):
    """A library of two folders (300 + 50 synthetic tracks) with vectors of one model."""
    lib = Library(tmp_path / "library.sqlite3")
    lib.add_model(ModelRecord(MODEL, "m", str(tmp_path / "m.onnx"), 8))
    paths = synth.fill_library(lib, str(tmp_path / "music"), 300, MODEL)
    synth.fill_library(lib, str(tmp_path / "other"), 50, MODEL, seed=1)
    yield lib, str(tmp_path / "music"), paths
    lib.close()


def statements_during(lib, work) -> list[str]:
    """The SQL statements (parameters bound) that ``work()`` ran on this thread's connection."""
    ran: list[str] = []
    with lib.read() as conn:
        conn.set_trace_callback(ran.append)
    try:
        work()
    finally:
        with lib.read() as conn:
            conn.set_trace_callback(None)
    skip = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "--")  # "--" marks trigger bodies
    return list(dict.fromkeys(s for s in ran if not s.lstrip().upper().startswith(skip)))


def query_plan(lib, sql: str) -> list[str]:
    with lib.read() as conn:
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]


def assert_all_indexed(lib, statements: list[str]) -> None:
    assert statements, "nothing was recorded: the trace missed the library's connection"
    for sql in statements:
        plan = query_plan(lib, sql)
        scans = [step for step in plan if step.startswith("SCAN")]
        assert not scans, f"{sql[:160]}\n  reads a whole table: {plan}"
        if "path >= " in sql:  # a folder's tracks: the path range must drive the search
            assert any("path>?" in step for step in plan), f"{sql[:160]}\n  ignores the path range: {plan}"


def test_a_rescan_plans_from_its_own_folder_by_index(filled):
    lib, root, paths = filled
    os.makedirs(root)  # an empty folder: every track of it vanished, none of the other folder's
    plan = None

    def rescan():
        nonlocal plan
        plan = scan.plan(lib, root, MODEL)

    ran = statements_during(lib, rescan)
    assert_all_indexed(lib, ran)
    assert sorted(plan.vanished) == paths
    assert any("path >= " in sql for sql in ran)


def test_a_scan_batch_commits_and_marks_by_index(filled):
    lib, root, paths = filled
    batch = [PreparedTrack(p, 7, 7, None, {"genre": "Dub; Techno"}) for p in paths[:16]]
    vectors = [(np.ones(8, np.float32), np.ones((2, 8), np.float32))] * len(batch)
    analysed = [(TrackVectors(SimpleNamespace(info=SimpleNamespace(id=MODEL))), vectors)]  # results as given
    report = ScanReport()

    def one_batch():
        job_store.commit_prepared(lib, None, None, 1, root, batch, analysed, folder_tags=True,
                                  report=report, known_paths=set(paths))
        job_store.mark_missing(lib, paths[20:30])
        job_store.restore(lib, paths[20:30])

    assert_all_indexed(lib, statements_during(lib, one_batch))
    assert report.updated == 16
    assert lib.tags_by_track(sources=("file",))[lib.track_ids([paths[0]])[paths[0]]] == {"dub", "techno"}


def test_a_query_reads_its_tracks_and_vectors_by_index(filled):
    lib, _root, paths = filled

    def one_query():
        track = lib.track_by_path(paths[3])
        lib.vector(track.id, MODEL)
        lib.vectors_fingerprint(MODEL)
        for tid in range(1, 11):  # the matches shown
            lib.track(tid)

    assert_all_indexed(lib, statements_during(lib, one_query))


def test_the_check_catches_a_whole_table_read(filled):
    lib, _root, _paths = filled
    with pytest.raises(AssertionError, match="reads a whole table"):
        assert_all_indexed(lib, ["SELECT path, id FROM tracks"])  # what job_store.track_ids used to run


def test_only_the_library_package_speaks_sql():
    library_dir = PACKAGE / "core" / "library"
    speaking = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                if not p.is_relative_to(library_dir) and SQL.search(p.read_text(encoding="utf-8"))}
    assert speaking == set(), speaking
    assert SQL.search((library_dir / "tracks.py").read_text(encoding="utf-8"))  # the pattern does match SQL
