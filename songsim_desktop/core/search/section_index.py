"""The section index: every section vector of the active model, searchable by Euclidean distance.

A cache of the library's ``sections`` table, like the track index (core/search/index.py): hnswlib
'l2' with one label per section (its row in :attr:`SectionIndex.owners` / :attr:`starts`), saved in
the data folder's index folder as ``<model_id>.sections.hnsw`` + ``.sections.npz`` (owner track and
start of each label) + a JSON stamp holding the model, dim, count, the library's
``vectors_fingerprint`` (sections are written and dropped with the vectors, so it covers them) and
the files' sha256.  A stamp that does not match the library or the bytes means rebuild.

Up to ``exact_limit`` sections (a few hundred tracks) are searched by brute force: exact, and at
that size as fast as the graph.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from pathlib import Path

import hnswlib
import numpy as np

from songsim_desktop import atomic
from songsim_desktop.core.search.hnsw_file import check_hnsw_file
from songsim_desktop.errors import IndexCorruptError

STAMP_FORMAT = 1
EXACT_LIMIT = 20000
# M=12 keeps 10,000 four-minute tracks (790,000 sections) under 600 MB with recall@10 of the
# aggregated ranking above 0.98 (bench/bench_sections.py); ef is raised per query to 2k.
HNSW_M = 12
HNSW_EF_CONSTRUCTION = 100
MIN_EF = 64
TYPICAL_SAMPLE = 512  # sections sampled for the readable similarity scale


class SectionIndex:
    """Section vectors of one model with their owner track and start time; thread-safe."""

    def __init__(self, index_dir: str | Path, model_id: str, dim: int, *, exact_limit: int | None = None):
        self.index_dir = Path(index_dir)
        self.model_id = model_id
        self.dim = int(dim)
        self.exact_limit = EXACT_LIMIT if exact_limit is None else exact_limit
        self.fingerprint: str | None = None
        self.owners = np.zeros(0, dtype=np.int64)
        self.starts = np.zeros(0, dtype=np.float32)
        self._vectors: np.ndarray | None = None  # kept only for exact search (small libraries)
        self._hnsw: hnswlib.Index | None = None
        self._typical: np.ndarray | None = None
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        return self.index_dir / f"{self.model_id}.sections.hnsw"

    @property
    def labels_path(self) -> Path:
        return self.index_dir / f"{self.model_id}.sections.npz"

    @property
    def stamp_path(self) -> Path:
        return self.index_dir / f"{self.model_id}.sections.json"

    def __len__(self) -> int:
        return len(self.owners)

    # -- content -----------------------------------------------------------------------------
    def build(self, owners, starts, vectors) -> None:
        owners = np.asarray(owners, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(owners), self.dim)
        hnsw = None
        if len(owners) > self.exact_limit:
            hnsw = hnswlib.Index(space="l2", dim=self.dim)
            hnsw.init_index(max_elements=len(owners), ef_construction=HNSW_EF_CONSTRUCTION, M=HNSW_M)
            hnsw.add_items(vectors, np.arange(len(owners)))
        with self._lock:
            self.owners = owners
            self.starts = np.asarray(starts, dtype=np.float32).reshape(-1)
            self._hnsw = hnsw
            self._vectors = None if hnsw is not None else vectors
            self._typical = None

    def knn(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """For each query row, its ``k`` nearest sections: (labels (m, k) int64, distances (m, k)).
        Fewer columns when the index holds fewer sections."""
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            k = min(k, len(self.owners))
            if k == 0:
                return np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32)
            if self._hnsw is None:
                return exact_knn(self._vectors, queries, k)
            self._hnsw.set_ef(max(MIN_EF, 2 * k))
            labels, squared = self._hnsw.knn_query(queries, k=k)
        return labels.astype(np.int64), np.sqrt(np.maximum(squared, 0.0))

    def vectors(self, labels) -> np.ndarray:
        with self._lock:
            if self._hnsw is None:
                return self._vectors[np.asarray(labels, dtype=np.int64)]
            return np.asarray(self._hnsw.get_items(np.asarray(labels, dtype=np.int64)), dtype=np.float32)

    def typical_distances(self) -> np.ndarray:
        """Sorted distances between sections of different tracks (a seeded sample): the scale of
        the readable similarity (search.similarity_percent), as the track index has its own."""
        with self._lock:
            if self._typical is None:
                n = len(self.owners)
                labels = np.sort(np.random.default_rng(0).choice(n, min(n, TYPICAL_SAMPLE), replace=False)) \
                    if n else np.zeros(0, np.int64)
                m = self.vectors(labels).astype(np.float64) if len(labels) else np.zeros((0, self.dim))
                gram = (m * m).sum(1)[:, None] + (m * m).sum(1)[None, :] - 2 * m @ m.T
                i, j = np.triu_indices(len(labels), 1)
                other = self.owners[labels][i] != self.owners[labels][j]
                self._typical = np.sort(np.sqrt(np.maximum(gram[i, j][other], 0.0))).astype(np.float32)
            return self._typical

    # -- persistence -------------------------------------------------------------------------
    def save(self, fingerprint: str) -> None:
        """Write graph, labels and stamp atomically; the stamp goes last (and first on the way out)."""
        self.fingerprint = fingerprint
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            self.stamp_path.unlink(missing_ok=True)
            with self._lock:
                if self._hnsw is not None:
                    with atomic.atomic_path(self.path) as tmp:
                        self._hnsw.save_index(str(tmp))
                else:
                    self.path.unlink(missing_ok=True)
                buffer = io.BytesIO()
                np.savez(buffer, owners=self.owners, starts=self.starts,
                         vectors=self._vectors if self._hnsw is None else np.zeros((0, self.dim), np.float32))
                with atomic.atomic_path(self.labels_path) as tmp:
                    Path(tmp).write_bytes(buffer.getvalue())
            stamp = {"format": STAMP_FORMAT, "model_id": self.model_id, "dim": self.dim, "count": len(self.owners),
                     "graph": self._hnsw is not None, "fingerprint": fingerprint, "sha256": self._digest()}
            atomic.write_text(self.stamp_path, json.dumps(stamp, indent=1))
        except OSError as exc:
            raise IndexCorruptError(f"cannot write it ({exc.strerror or exc})", path=self.path,
                                    action="saving the section index") from None

    def _digest(self) -> str:
        digest = hashlib.sha256()
        for path in (self.labels_path, self.path) if self._hnsw is not None else (self.labels_path,):
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()

    def load(self, expected_fingerprint: str) -> None:
        """Load the saved files; IndexCorruptError when missing, stale, damaged or for another model."""
        action = "loading the section index"
        try:
            stamp = json.loads(self.stamp_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise IndexCorruptError("its stamp file is missing or unreadable", path=self.path, action=action) from None
        if (stamp.get("format"), stamp.get("model_id"), stamp.get("dim")) != (STAMP_FORMAT, self.model_id, self.dim):
            raise IndexCorruptError("it was built for another model or dimension", path=self.path, action=action)
        if stamp.get("fingerprint") != expected_fingerprint:
            raise IndexCorruptError("it is older than the library", path=self.path, action=action)
        graph = bool(stamp.get("graph"))
        self._hnsw = hnswlib.Index(space="l2", dim=self.dim) if graph else None  # for _digest's file list
        try:
            if self._digest() != stamp.get("sha256"):
                raise IndexCorruptError("its files are truncated or damaged", path=self.path, action=action)
            with np.load(self.labels_path, allow_pickle=False) as saved:
                owners, starts, vectors = saved["owners"], saved["starts"], saved["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            self._hnsw = None
            raise IndexCorruptError(f"cannot read it ({exc})", path=self.path, action=action) from None
        count = int(stamp.get("count", -1))
        if len(owners) != count or len(starts) != count or (not graph and vectors.shape != (count, self.dim)):
            self._hnsw = None
            raise IndexCorruptError("it holds another number of sections than its stamp says", path=self.path,
                                    action=action)
        hnsw = None
        if graph:
            check_hnsw_file(self.path, self.dim, count)  # a forged stamp must not crash hnswlib
            hnsw = hnswlib.Index(space="l2", dim=self.dim)
            hnsw.load_index(str(self.path), max_elements=count)
        with self._lock:
            self.owners, self.starts = owners.astype(np.int64), starts.astype(np.float32)
            self._hnsw, self._vectors = hnsw, None if graph else vectors.astype(np.float32)
            self._typical = None
            self.fingerprint = expected_fingerprint

    def load_or_rebuild(self, library) -> "SectionIndex":
        fingerprint = library.vectors_fingerprint(self.model_id)
        try:
            self.load(fingerprint)
            return self
        except IndexCorruptError:
            pass
        owners, starts, vectors = library.sections(self.model_id)
        self.build(owners, starts, vectors.reshape(len(owners), self.dim))
        try:
            self.save(fingerprint)
        except IndexCorruptError:
            self.fingerprint = fingerprint  # a read-only data folder: searched from memory
        return self


def exact_knn(matrix: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: each query's ``k`` nearest rows of ``matrix`` (labels, Euclidean distances)."""
    squared = (queries * queries).sum(1)[:, None] + (matrix * matrix).sum(1)[None, :] - 2.0 * queries @ matrix.T
    k = min(k, matrix.shape[0])
    part = np.argpartition(squared, k - 1, axis=1)[:, :k]
    rows = np.arange(len(queries))[:, None]
    order = np.argsort(squared[rows, part], axis=1)
    labels = part[rows, order]
    return labels.astype(np.int64), np.sqrt(np.maximum(squared[rows, labels], 0.0))
