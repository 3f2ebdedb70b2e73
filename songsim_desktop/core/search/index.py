"""The nearest-neighbour index over track vectors: a cache of the library database.

hnswlib with the 'l2' space, labels = track ids.  hnswlib returns squared distances; we return
their square root, the Euclidean distance the method prescribes (0..2 for unit vectors).

On disk: ``<index_dir>/<model_id>.hnsw`` plus a JSON stamp ``<model_id>.hnsw.json`` holding the
model id, dim, count, the library's ``vectors_fingerprint`` the file reflects, and the file's size
and sha256.  :meth:`VectorIndex.load_or_rebuild` loads the file only when the stamp matches the
library and the bytes match the stamp (hnswlib is C++ and may crash on a damaged file, so it never
sees one); otherwise it rebuilds from ``library.vectors(model_id)`` and saves.

Small libraries (up to ``exact_limit`` items) are answered by a brute-force scan: exact, and at
that size as fast as the graph.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import hnswlib
import numpy as np

from songsim_desktop import atomic
from songsim_desktop.core.search.hnsw_file import check_hnsw_file
from songsim_desktop.core.search.stamp import check_stamp, read_stamp, sha256_of
from songsim_desktop.errors import IndexCorruptError

if TYPE_CHECKING:  # only for annotations; the index never needs the library otherwise
    from songsim_desktop.core.library import Library

STAMP_FORMAT = 1
EXACT_LIMIT = 1000
TYPICAL_SAMPLE = 256  # tracks sampled for the library's distance scale: 32,640 pairs
# Graph parameters: M=16 / ef_construction=200 give recall ~0.99 at k=10 on 128-d vectors.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
MIN_EF = 64


class VectorIndex:
    """Track vectors of one model, searchable by Euclidean distance; safe to share between threads."""

    def __init__(self, index_dir: str | Path, model_id: str, dim: int, *, exact_limit: int = EXACT_LIMIT):
        if dim <= 0:
            raise ValueError(f"an index needs a positive vector dimension, got {dim}")
        self.index_dir = Path(index_dir)
        self.model_id = model_id
        self.dim = int(dim)
        self.exact_limit = exact_limit
        #: the library fingerprint this index reflects (set by build/load; saved in the stamp)
        self.fingerprint: str | None = None
        self._lock = threading.RLock()
        self._live: set[int] = set()
        self._index = self._new_hnsw(16)
        self._typical: tuple[int, np.ndarray] | None = None  # (size when sampled, sorted distances)
        #: track ids whose vectors were left out for holding NaN or infinity
        self.skipped: set[int] = set()

    # -- files -------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.index_dir / f"{self.model_id}.hnsw"

    @property
    def stamp_path(self) -> Path:
        return self.index_dir / f"{self.model_id}.hnsw.json"

    def _new_hnsw(self, capacity: int) -> hnswlib.Index:
        index = hnswlib.Index(space="l2", dim=self.dim)
        index.init_index(max_elements=max(16, capacity), ef_construction=HNSW_EF_CONSTRUCTION, M=HNSW_M)
        index.set_ef(MIN_EF)
        return index

    # -- content -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, track_id: int) -> bool:
        return int(track_id) in self._live

    def ids(self) -> np.ndarray:
        with self._lock:
            return np.array(sorted(self._live), dtype=np.int64)

    def _check(self, ids, vectors) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim == 1 and len(ids) == 1:
            vectors = vectors[None, :]
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dim):
            raise ValueError(
                f"index of model {self.model_id} needs {len(ids)} vectors of dim {self.dim}, got shape {vectors.shape}"
            )
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            # One bad vector must not make the whole library unsearchable: it is left out, and
            # its track named in ``skipped`` (the service reports it).
            self.skipped.update(int(i) for i in ids[~finite])
            ids, vectors = ids[finite], vectors[finite]
        # hnswlib keeps the last write of a label; make a batch's duplicates behave the same.
        _, last = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last)
        return ids[keep], vectors[keep]

    def build(self, ids, matrix) -> None:
        """Replace the whole content with these (id, vector) pairs."""
        self.skipped = set()
        ids, matrix = self._check(ids, matrix)
        index = self._new_hnsw(len(ids))
        if len(ids):
            index.add_items(matrix, ids)
        with self._lock:
            self._index = index
            self._live = {int(i) for i in ids}
            self._typical = None

    def add(self, ids, vectors) -> None:
        """Add vectors (or replace those of ids already present, deleted ones included)."""
        ids, vectors = self._check(ids, vectors)
        if not len(ids):
            return
        with self._lock:
            needed = self._index.element_count + len(ids)
            if needed > self._index.get_max_elements():
                self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
            self._index.add_items(vectors, ids)
            self._live.update(int(i) for i in ids)

    def remove(self, ids: Iterable[int]) -> int:
        """Take tracks out of search results; unknown ids are ignored.  Returns how many went."""
        removed = 0
        with self._lock:
            for track_id in (int(i) for i in ids):
                if track_id in self._live:
                    self._index.mark_deleted(track_id)
                    self._live.discard(track_id)
                    removed += 1
        return removed

    # -- search ------------------------------------------------------------------------------
    def query(self, vector, k: int, exclude_ids: Iterable[int] = ()) -> list[tuple[int, float]]:
        """The ``k`` nearest tracks as (track id, Euclidean distance), nearest first.

        Fewer than ``k`` when the index holds fewer; ``exclude_ids`` (e.g. the query track itself)
        never appear.
        """
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(f"index of model {self.model_id} has dim {self.dim}, the query vector has {query.shape[0]}")
        if k <= 0:
            return []
        with self._lock:
            excluded = {int(i) for i in exclude_ids} & self._live
            wanted = min(k + len(excluded), len(self._live))
            if wanted == 0:
                return []
            if len(self._live) <= self.exact_limit:
                labels, dists = self._exact(query, wanted)
            else:
                labels, dists = self._graph(query, wanted)
        found = [(int(t), float(d)) for t, d in zip(labels, dists) if int(t) not in excluded]
        return found[:k]

    def items(self, ids) -> np.ndarray:
        """The stored vectors of ``ids`` (all in the index), float32 (len(ids), dim)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._index.get_items(ids, return_type="numpy"), dtype=np.float32)

    def _exact(self, query: np.ndarray, wanted: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.fromiter(self._live, dtype=np.int64, count=len(self._live))
        matrix = np.asarray(self._index.get_items(ids, return_type="numpy"), dtype=np.float32)
        return exact_search(ids, matrix, query, wanted)

    def _graph(self, query: np.ndarray, wanted: int) -> tuple[np.ndarray, np.ndarray]:
        self._index.set_ef(max(MIN_EF, 2 * wanted))
        try:
            labels, squared = self._index.knn_query(query[None, :], k=wanted)
        except RuntimeError:
            # hnswlib cannot always fill k slots when many elements are marked deleted.
            return self._exact(query, wanted)
        return labels[0].astype(np.int64), np.sqrt(np.maximum(squared[0], 0.0))

    def typical_distances(self) -> np.ndarray:
        """Sorted distances between pairs of up to TYPICAL_SAMPLE tracks (a seeded sample).

        The library's own scale, for readable similarities (search.similarity_percent).  Cached
        until the index grows or shrinks by more than a tenth, so queries during a scan stay cheap.
        """
        with self._lock:
            count = len(self._live)
            if self._typical is not None and abs(count - self._typical[0]) <= self._typical[0] // 10:
                return self._typical[1]
            ids = np.array(sorted(self._live), dtype=np.int64)
            if len(ids) > TYPICAL_SAMPLE:
                ids = np.sort(np.random.default_rng(0).choice(ids, TYPICAL_SAMPLE, replace=False))
            distances = np.zeros(0, dtype=np.float32)
            if len(ids) >= 2:
                m = np.asarray(self._index.get_items(ids, return_type="numpy"), dtype=np.float64)
                squared = (m * m).sum(1)
                gram = squared[:, None] + squared[None, :] - 2.0 * (m @ m.T)
                upper = np.triu_indices(len(ids), 1)
                distances = np.sort(np.sqrt(np.maximum(gram[upper], 0.0))).astype(np.float32)
            self._typical = (count, distances)
            return distances

    # -- persistence -------------------------------------------------------------------------
    def save(self, fingerprint: str | None = None) -> None:
        """Write the index and its stamp atomically (temp file + os.replace).

        ``fingerprint``: the library's ``vectors_fingerprint`` this content reflects (default: the
        one it was built or loaded with).  The old stamp goes first, so a crash in between leaves
        an unstamped file that the next start rebuilds rather than trusts.
        """
        if fingerprint is not None:
            self.fingerprint = fingerprint
        try:
            self._save()
        except OSError as exc:
            hint = ("a folder is in the way: remove or rename it" if self.path.is_dir() or self.stamp_path.is_dir()
                    else f"cannot write it ({exc.strerror or exc}); check the data folder's space and permissions")
            raise IndexCorruptError(hint, path=self.path, action="saving the vector index") from None

    def _save(self) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(self.path) as tmp:
            with self._lock:
                self._index.save_index(str(tmp))
                count = len(self._live)
            digest = sha256_of(tmp)
            self.stamp_path.unlink(missing_ok=True)
        stamp = {
            "format": STAMP_FORMAT, "model_id": self.model_id, "dim": self.dim, "count": count,
            "fingerprint": self.fingerprint, "bytes": self.path.stat().st_size, "sha256": digest,
        }
        atomic.write_text(self.stamp_path, json.dumps(stamp, indent=1))

    def read_stamp(self) -> dict | None:
        return read_stamp(self.stamp_path)

    def load(self, expected_fingerprint: str | None = None) -> None:
        """Load the saved file; IndexCorruptError when missing, stale, damaged or for another model."""
        action = "loading the vector index"
        stamp = check_stamp(self.stamp_path, index_path=self.path, action=action, stamp_format=STAMP_FORMAT,
                            model_id=self.model_id, dim=self.dim, fingerprint=expected_fingerprint)
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise IndexCorruptError(f"cannot read it ({exc})", path=self.path, action=action) from exc
        if size != stamp.get("bytes") or sha256_of(self.path) != stamp.get("sha256"):
            raise IndexCorruptError("the file is truncated or damaged", path=self.path, action=action)
        if not isinstance(stamp.get("count"), int):
            raise IndexCorruptError("its stamp has no track count", path=self.path, action=action)
        check_hnsw_file(self.path, self.dim, stamp["count"])  # a forged stamp must not crash hnswlib
        index = hnswlib.Index(space="l2", dim=self.dim)
        try:
            index.load_index(str(self.path), max_elements=max(16, int(stamp["count"])))
            labels = np.asarray(index.get_ids_list(), dtype=np.int64)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"hnswlib cannot read it ({exc})", path=self.path, action=action) from exc
        # Deleted labels stay in hnswlib's list; a fresh build never has any, and saved files
        # come from builds or add/remove: find the live ones by asking for each label's vector.
        live = {int(i) for i in labels} if len(labels) == stamp["count"] else self._live_labels(index, labels)
        if len(live) != stamp["count"]:
            raise IndexCorruptError("it holds a different number of tracks than its stamp says", path=self.path, action=action)
        index.set_ef(MIN_EF)
        with self._lock:
            self._index = index
            self._live = live
            self._typical = None
            self.fingerprint = stamp.get("fingerprint")

    @staticmethod
    def _live_labels(index: hnswlib.Index, labels: np.ndarray) -> set[int]:
        live = set()
        for label in labels:
            try:
                index.get_items([int(label)])
                live.add(int(label))
            except RuntimeError:  # "Label not found": marked deleted
                pass
        return live

    def load_or_rebuild(self, library: "Library") -> "VectorIndex":
        """Load the saved index if it matches ``library``; else rebuild from it and save.  Returns self."""
        fingerprint = library.vectors_fingerprint(self.model_id)
        try:
            self.load(expected_fingerprint=fingerprint)
            return self
        except IndexCorruptError:
            pass
        # The fingerprint is read before the vectors: if the library changes in between, the
        # stamp is older than the content and the next start merely rebuilds again.
        ids, matrix = library.vectors(self.model_id)
        if matrix.shape[1] not in (0, self.dim):
            raise IndexCorruptError(
                f"the library holds vectors of dim {matrix.shape[1]} for this model, the index expects {self.dim}",
                path=self.path, action="rebuilding the vector index",
            )
        self.build(ids, matrix.reshape(len(ids), self.dim))
        try:
            self.save(fingerprint)
        except IndexCorruptError:
            if _writable(self.index_dir):
                raise
            self.fingerprint = fingerprint  # a read-only library: searched from memory, rebuilt each start
        return self


def load_or_rebuild(library: "Library", index_dir: str | Path, model_id: str, dim: int | None = None) -> VectorIndex:
    """The model's index, fresh with respect to ``library``; ``dim`` defaults to the registered model's."""
    if dim is None:
        record = library.model(model_id)
        if record is not None:
            dim = record.dim
        else:
            _, matrix = library.vectors(model_id)
            dim = matrix.shape[1]
    if not dim:
        raise IndexCorruptError(
            "the model is not registered and has no vectors, so its dimension is unknown",
            path=model_id, action="opening the vector index for model",
        )
    return VectorIndex(index_dir, model_id, dim).load_or_rebuild(library)


def exact_search(ids: np.ndarray, matrix: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: the ``k`` smallest Euclidean distances, ties broken by the smaller id."""
    diff = matrix.astype(np.float64) - query.astype(np.float64)[None, :]
    dists = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    order = np.lexsort((ids, dists))[:k]
    return ids[order], dists[order]


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (or, if it is missing, in its parent)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)
