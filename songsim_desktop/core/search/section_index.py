"""The section index: every section vector of the active model, searchable by Euclidean distance.

A cache of the library's ``sections`` table, like the track index (core/search/index.py): hnswlib
'l2' with one label per section (its row in :attr:`SectionIndex.owners` / :attr:`starts`), saved in
the data folder's index folder as ``<model_id>.sections.hnsw`` + ``.sections.npz`` (owner track and
start of each label) + a JSON stamp holding the model, dim, count, the library's
``sections_fingerprint`` (the vectors' fingerprint plus a counter of section writes, so sections
added by the backfill to tracks whose vectors did not change count too) and the files' sha256.  A stamp that does not match the library or the bytes means rebuild.

Up to ``exact_limit`` sections (a few hundred tracks) are searched by brute force: exact, and at
that size as fast as the graph.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import hnswlib
import numpy as np

from songsim_desktop import atomic
from songsim_desktop.core.library.sections import dequantise, quantise
from songsim_desktop.core.search.hnsw_file import check_hnsw_file
from songsim_desktop.core.search.stamp import check_stamp, sha256_of
from songsim_desktop.errors import IndexCorruptError

STAMP_FORMAT = 1
EXACT_LIMIT = 20000
# The graph holds each section projected on the library's first GRAPH_DIM principal axes (fitted
# on a sample at build time): half the memory of the full vectors, and it only has to *find* the
# candidate tracks; they are then scored exactly with the full 128-d int8 codes (search.sections).
# M=12 and the projection keep 10,000 four-minute tracks (790,000 sections) under 600 MB with
# recall@10 of the aggregated ranking above 0.98 (bench/bench_sections.py); ef is 2k per query.
GRAPH_DIM = 64
PCA_SAMPLE = 20000
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
        # With the graph: the sections' int8 codes and scales, memory-mapped from the saved file, to
        # re-score a query's candidate tracks exactly (hnswlib's get_items costs ~20 us per vector).
        self._codes: np.ndarray | None = None
        self._scales: np.ndarray | None = None
        # The graph's projection: x -> (x - centre) @ axes, (dim,) and (dim, graph dim).
        self._centre = np.zeros(self.dim, dtype=np.float32)
        self._axes = np.eye(self.dim, dtype=np.float32)
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
    def codes_path(self) -> Path:
        return self.index_dir / f"{self.model_id}.sections.codes"  # two .npy arrays back to back

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
            self.fit_projection(vectors)
            hnsw = self.new_graph(len(owners))
            hnsw.add_items(self.project(vectors), np.arange(len(owners)))
        codes, scales = quantise(vectors) if hnsw is not None else (None, None)
        with self._lock:
            self.owners = owners
            self.starts = np.asarray(starts, dtype=np.float32).reshape(-1)
            self._hnsw = hnsw
            self._vectors = None if hnsw is not None else vectors
            self._codes, self._scales = codes, scales
            self._typical = None

    def fit_projection(self, vectors: np.ndarray) -> None:
        """The graph's axes: the first GRAPH_DIM principal axes of (a seeded sample of) ``vectors``."""
        if self.dim <= GRAPH_DIM:
            return
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(len(vectors), min(len(vectors), PCA_SAMPLE), replace=False)].astype(np.float64)
        centre = sample.mean(axis=0)
        _, _, rows = np.linalg.svd(sample - centre, full_matrices=False)
        self._centre, self._axes = centre.astype(np.float32), rows[:GRAPH_DIM].T.astype(np.float32)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((np.asarray(vectors, dtype=np.float32) - self._centre) @ self._axes)

    def new_graph(self, capacity: int) -> hnswlib.Index:
        hnsw = hnswlib.Index(space="l2", dim=self._axes.shape[1])
        hnsw.init_index(max_elements=max(1, capacity), ef_construction=HNSW_EF_CONSTRUCTION, M=HNSW_M)
        return hnsw

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
            labels, squared = self._hnsw.knn_query(self.project(queries), k=k)
        # Distances in the projection: they rank candidates; search.sections.rerank scores them exactly.
        return labels.astype(np.int64), np.sqrt(np.maximum(squared, 0.0))

    def vectors(self, labels) -> np.ndarray:
        with self._lock:
            labels = np.asarray(labels, dtype=np.int64)
            if self._hnsw is None:
                return self._vectors[labels]
            return dequantise(np.asarray(self._codes[labels]), np.asarray(self._scales[labels]))

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
                    with atomic.atomic_path(self.codes_path) as tmp:
                        with open(tmp, "wb") as fh:  # uncompressed .npy members: memory-mappable
                            np.save(fh, np.asarray(self._codes))
                            np.save(fh, np.asarray(self._scales))
                else:
                    self.path.unlink(missing_ok=True)
                    self.codes_path.unlink(missing_ok=True)
                buffer = io.BytesIO()
                np.savez(buffer, owners=self.owners, starts=self.starts, centre=self._centre, axes=self._axes,
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
        return sha256_of(*((self.labels_path, self.path, self.codes_path) if self._hnsw is not None
                           else (self.labels_path,)))

    def load(self, expected_fingerprint: str) -> None:
        """Load the saved files; IndexCorruptError when missing, stale, damaged or for another model."""
        action = "loading the section index"
        stamp = check_stamp(self.stamp_path, index_path=self.path, action=action, stamp_format=STAMP_FORMAT,
                            model_id=self.model_id, dim=self.dim, fingerprint=expected_fingerprint)
        graph = bool(stamp.get("graph"))
        self._hnsw = hnswlib.Index(space="l2", dim=self.dim) if graph else None  # for _digest's file list
        try:
            if self._digest() != stamp.get("sha256"):
                raise IndexCorruptError("its files are truncated or damaged", path=self.path, action=action)
            with np.load(self.labels_path, allow_pickle=False) as saved:
                owners, starts, vectors = saved["owners"], saved["starts"], saved["vectors"]
                centre, axes = saved["centre"].astype(np.float32), saved["axes"].astype(np.float32)
        except (OSError, ValueError, KeyError) as exc:
            self._hnsw = None
            raise IndexCorruptError(f"cannot read it ({exc})", path=self.path, action=action) from None
        count = int(stamp.get("count", -1))
        if (len(owners) != count or len(starts) != count or (not graph and vectors.shape != (count, self.dim))
                or centre.shape != (self.dim,) or axes.ndim != 2 or axes.shape[0] != self.dim):
            self._hnsw = None
            raise IndexCorruptError("it holds another number of sections than its stamp says", path=self.path,
                                    action=action)
        hnsw = None
        if graph:
            check_hnsw_file(self.path, axes.shape[1], count)  # a forged stamp must not crash hnswlib
            hnsw = hnswlib.Index(space="l2", dim=axes.shape[1])
            hnsw.load_index(str(self.path), max_elements=count)
            codes, scales = _mapped_codes(self.codes_path, count, self.dim)
        with self._lock:
            self.owners, self.starts = owners.astype(np.int64), starts.astype(np.float32)
            self._hnsw, self._vectors = hnsw, None if graph else vectors.astype(np.float32)
            self._centre, self._axes = centre, axes
            if graph:
                self._codes, self._scales = codes, scales
            self._typical = None
            self.fingerprint = expected_fingerprint

    def load_or_rebuild(self, library) -> "SectionIndex":
        fingerprint = library.sections_fingerprint(self.model_id)
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


def _mapped_codes(path: Path, count: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The codes file's two arrays, memory-mapped (only the pages a query touches become resident)."""
    with open(path, "rb") as fh:
        shapes = []
        for _ in range(2):
            version = np.lib.format.read_magic(fh)
            shape, _order, dtype = np.lib.format._read_array_header(fh, version)
            shapes.append((fh.tell(), shape, dtype))
            fh.seek(int(np.prod(shape)) * dtype.itemsize, 1)
    (codes_at, codes_shape, codes_type), (scales_at, scales_shape, scales_type) = shapes
    if codes_shape != (count, dim) or scales_shape != (count,):
        raise IndexCorruptError("its codes do not match its stamp", path=path, action="loading the section index")
    codes = np.memmap(path, dtype=codes_type, mode="r", offset=codes_at, shape=codes_shape)
    scales = np.memmap(path, dtype=scales_type, mode="r", offset=scales_at, shape=scales_shape)
    return codes, scales


def exact_knn(matrix: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: each query's ``k`` nearest rows of ``matrix`` (labels, Euclidean distances)."""
    squared = (queries * queries).sum(1)[:, None] + (matrix * matrix).sum(1)[None, :] - 2.0 * queries @ matrix.T
    k = min(k, matrix.shape[0])
    part = np.argpartition(squared, k - 1, axis=1)[:, :k]
    rows = np.arange(len(queries))[:, None]
    order = np.argsort(squared[rows, part], axis=1)
    labels = part[rows, order]
    return labels.astype(np.int64), np.sqrt(np.maximum(squared[rows, labels], 0.0))
