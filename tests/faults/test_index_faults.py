"""Issue 14: a hand-forged index file whose stamp matches must never reach hnswlib (C++: it
trusts the file and may crash the whole process); it is refused and rebuilt from the database."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from songsim_desktop.core import synth
from songsim_desktop.core.search.hnsw_file import check_hnsw_file
from songsim_desktop.core.search.index import VectorIndex
from songsim_desktop.core.progress import drive
from songsim_desktop.core.service import SongsimService
from songsim_desktop.errors import IndexCorruptError

REPO = Path(__file__).resolve().parents[2]
HEADER = struct.Struct("<6QiI3QdQ")

QUERY = """
import json, sys
from songsim_desktop.core.service import SongsimService
with SongsimService(sys.argv[1]) as svc:
    print(json.dumps([m.path for m in svc.query_file(sys.argv[2], k=5).matches]))
"""


def forge_stamp(index_path: Path) -> None:
    """Make the stamp vouch for the file as it now is (size and sha256)."""
    stamp_path = index_path.with_name(index_path.name + ".json")
    stamp = json.loads(stamp_path.read_text())
    data = index_path.read_bytes()
    stamp.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    stamp_path.write_text(json.dumps(stamp))


def far_neighbour(data: bytearray, elements: int = 1) -> None:
    """The first level-0 neighbour of each of the first ``elements`` points far out of bounds."""
    size = struct.unpack_from("<Q", data, 24)[0]
    for element in range(elements):
        struct.pack_into("<II", data, HEADER.size + element * size, 1, 0x7FFFFFF0)


def far_entry_point(data: bytearray) -> None:
    struct.pack_into("<I", data, 52, 0x7FFFFFF0)


def scanned_library(tmp_path: Path, per_family: int) -> tuple[Path, list[Path]]:
    """(data folder, tracks) of a freshly scanned little library."""
    music = tmp_path / "music"
    made = sorted(synth.write_library(music, [synth.Family("sine", "straight"), synth.Family("saw", "swing")],
                                      per_family, 6.5))
    data_dir = tmp_path / "data"
    with SongsimService(data_dir) as svc:
        drive(svc.scan_job(music, workers=0))
    return data_dir, made


def test_a_forged_index_with_a_matching_stamp_is_rebuilt_from_the_database(tmp_path):
    data_dir, made = scanned_library(tmp_path, 3)
    with SongsimService(data_dir) as svc:
        index_path = svc.index().path
        expected = [m.path for m in svc.query_file(made[0], k=5).matches]
    forged = bytearray(index_path.read_bytes())
    far_neighbour(forged)
    index_path.write_bytes(bytes(forged))
    forge_stamp(index_path)
    run = subprocess.run([sys.executable, "-c", QUERY, str(data_dir), str(made[0])], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout) == expected
    assert index_path.read_bytes() != bytes(forged)  # refused, rebuilt and saved


GRAPH_QUERY = """
import sys
import numpy as np
from songsim_desktop.core.search.index import VectorIndex
from songsim_desktop.errors import IndexCorruptError
index = VectorIndex(sys.argv[1], "m", 16)
try:
    index.load("fp")
except IndexCorruptError as err:
    print(err)
    sys.exit(0)
print(index.query(np.ones(16, np.float32), 5))
"""


@pytest.mark.parametrize("forge", [lambda data: far_neighbour(data, 1500), far_entry_point])
def test_a_forged_graph_is_refused_before_hnswlib_can_crash_on_it(tmp_path, forge):
    """Big enough to be searched through the graph (small ones are scanned exactly)."""
    index = VectorIndex(tmp_path, "m", 16)
    index.build(np.arange(1500), np.random.default_rng(0).normal(size=(1500, 16)).astype(np.float32))
    index.save("fp")
    forged = bytearray(index.path.read_bytes())
    forge(forged)
    index.path.write_bytes(bytes(forged))
    forge_stamp(index.path)
    # in a child process: hnswlib on such a file dies of SIGSEGV, taking the app with it
    run = subprocess.run([sys.executable, "-c", GRAPH_QUERY, str(tmp_path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.startswith(f"while checking the vector index {index.path}: ")


def test_the_check_accepts_what_hnswlib_writes_and_names_what_is_wrong(tmp_path):
    index = VectorIndex(tmp_path, "m", 8)
    index.build(np.arange(300), np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32))
    index.remove([5, 6])
    index.save("f")
    check_hnsw_file(index.path, 8, 298)
    with pytest.raises(IndexCorruptError, match="a 16-d index needs"):
        check_hnsw_file(index.path, 16, 298)  # the database's model has another dimension
    with pytest.raises(IndexCorruptError, match="expected 301 live"):
        check_hnsw_file(index.path, 8, 301)  # the database counts more tracks than the file holds
    data = bytearray(index.path.read_bytes())
    far_neighbour(data)
    index.path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="neighbour id points past the 300 elements"):
        check_hnsw_file(index.path, 8, 298)


def test_a_stored_nan_vector_is_left_out_and_reported_and_queries_keep_working(tmp_path):
    """A library written before the guards (or damaged on disk) may already hold a NaN vector."""
    import sqlite3

    data_dir, made = scanned_library(tmp_path, 2)
    with SongsimService(data_dir) as svc:
        victim = svc.library.track_by_path(str(made[1].resolve()))
        dim = svc.active_model().dim
    with sqlite3.connect(data_dir / "library.sqlite3") as conn:
        conn.execute("UPDATE vectors SET vector = ? WHERE track_id = ?",
                     (np.full(dim, np.nan, "<f4").tobytes(), victim.id))
    with SongsimService(data_dir) as svc:
        matches = svc.query_file(made[0], k=10).matches
        assert sorted(m.path for m in matches) == sorted(str(p.resolve()) for p in made[2:])
        assert all(np.isfinite(m.distance) for m in matches)
        [(path, reason)] = svc.status()["errors"]
        assert path == victim.path and "its stored vector holds NaN or infinity" in reason
