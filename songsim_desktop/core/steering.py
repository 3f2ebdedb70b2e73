"""Steering a search by listening (issue 11): judge results, the list re-orders at once.

:class:`SteeredQuery` holds a candidate set -- (track id, vector) pairs, a few hundred nearest
tracks from the index -- and the query vector.  Each judgement re-ranks the candidates with a
re-ranker from core/search/feedback.py (no training, no index query: a few hundred dot products),
so it stays far under 100 ms at any library size.  Judge, undo and reset change only this object;
the caller (service / GUI) stores judgements in the library.

It knows nothing of where the query vector came from, so a section query (issue 10) plugs in by
building a SteeredQuery from its own query vector and its own candidates (track ids with the
vectors it ranks by, e.g. each track's best-matching section vector); ``reference`` carries the
section so the stored judgements name it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from songsim_desktop.core.library.judgements import JudgementReference
from songsim_desktop.core.search import feedback

# How many nearest tracks a steered query may re-order: judgements move the query, and the tracks it
# moves toward are almost always among these (bench_feedback measures it on real music).
CANDIDATES = 300


@dataclass
class SteeredQuery:
    reference: JudgementReference
    query: np.ndarray  # (dim,) the unsteered query vector
    ids: np.ndarray  # (n,) int64 candidate track ids, in plain-ranking order
    vectors: np.ndarray  # (n, dim) float32 their vectors
    reranker: object = feedback.DEFAULT
    signs: dict = field(default_factory=dict)  # track id -> +1 / -1
    _undo: list = field(default_factory=list)  # (track id, previous sign or None)

    def __post_init__(self):
        self.ids = np.asarray(self.ids, dtype=np.int64)
        self.vectors = np.asarray(self.vectors, dtype=np.float32).reshape(len(self.ids), -1)
        self.query = np.asarray(self.query, dtype=np.float32).reshape(-1)
        self._row = {int(t): i for i, t in enumerate(self.ids)}
        self.signs = {int(t): int(s) for t, s in self.signs.items() if int(t) in self._row}

    # -- judging -------------------------------------------------------------------------------
    def judge(self, track_id: int, sign: int) -> None:
        """Mark a candidate liked (+1) or disliked (-1); the ranking follows at once."""
        track_id = int(track_id)
        if sign not in (1, -1):
            raise ValueError(f"sign must be +1 or -1, not {sign!r}")
        if track_id not in self._row:
            raise KeyError(f"track {track_id} is not among this query's candidates")
        self._undo.append((track_id, self.signs.get(track_id)))
        self.signs[track_id] = sign

    def undo(self) -> Optional[int]:
        """Take back the last judgement; the track id it concerned (None when nothing to undo)."""
        if not self._undo:
            return None
        track_id, previous = self._undo.pop()
        if previous is None:
            self.signs.pop(track_id, None)
        else:
            self.signs[track_id] = previous
        return track_id

    def reset(self) -> None:
        """Back to the plain ranking (forgets this session's judgements and their undo history)."""
        self.signs.clear()
        self._undo.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    # -- ranking -------------------------------------------------------------------------------
    def plain_distances(self) -> np.ndarray:
        return np.linalg.norm(self.vectors - self.query, axis=1)

    def ranking(self, k: Optional[int] = None) -> list[tuple[int, float]]:
        """(track id, distance to the query) nearest first by the steered order.

        The distance shown stays the plain one (what the similarity % means); only the order
        follows the judgements.  Liked tracks come first, disliked ones last: the listener said so.
        """
        plain = self.plain_distances()
        if self.signs:
            rows = {self._row[t]: s for t, s in self.signs.items()}
            steered = np.asarray(self.reranker.distances(self.query, self.vectors, rows), dtype=np.float64)
            verdict = np.zeros(len(self.ids))
            for row, sign in rows.items():
                verdict[row] = -sign
            order = np.lexsort((steered, verdict))
        else:
            order = np.argsort(plain, kind="stable")
        if k is not None:
            order = order[:k]
        return [(int(self.ids[i]), float(plain[i])) for i in order]


class SteeringSession:
    """One steered query with its judgements stored in the library.

    ``judge`` re-ranks at once and stores the judgement (replacing an earlier one of the same reference
    and result); ``undo`` takes the last one back in both places (restoring a judgement it replaced);
    ``reset`` returns to the plain ranking.  Stored judgements stay after a reset: they remain what the
    listener said, and fine-tuning learns from them.

    With ``autostore=False`` (the GUI) the ranking changes at once and the library writes wait in
    order until :meth:`store` runs (on a worker: a write may wait for a scan's transaction, and the
    GUI thread must not).
    """

    def __init__(self, library, search, steered: SteeredQuery, model_id: str, real_ref: str = "",
                 autostore: bool = True):
        self.library, self.search, self.steered = library, search, steered
        self.model_id, self.real_ref, self.autostore = model_id, real_ref, autostore
        self._stored: list = []  # per stored judgement of this session: (its id, the judgement it replaced)
        self._pending: list = []  # library writes not done yet, in order
        self._lock = threading.Lock()

    def judge(self, track_id: int, sign: int) -> None:
        self.steered.judge(track_id, sign)  # raises before anything is queued when not a candidate
        self._queue(("judge", int(track_id), int(sign)))

    def undo(self) -> Optional[int]:
        track_id = self.steered.undo()
        if track_id is not None:
            self._queue(("undo",))
        return track_id

    def reset(self) -> None:
        self.steered.reset()
        self._queue(("reset",))

    def _queue(self, op: tuple) -> None:
        with self._lock:
            self._pending.append(op)
        if self.autostore:
            self.store()

    def store(self) -> int:
        """Do the queued library writes, in order; how many were done.  Safe from any thread."""
        reference = self.steered.reference
        with self._lock:
            done = 0
            while self._pending:
                op = self._pending.pop(0)
                if op[0] == "judge":
                    replaced = next((j for j in self.library.judgements(reference) if j.result_track_id == op[1]), None)
                    self._stored.append((self.library.judge(reference, op[1], op[2], self.model_id), replaced))
                elif op[0] == "undo" and self._stored:
                    new_id, replaced = self._stored.pop()
                    self.library.unjudge(new_id)
                    if replaced is not None:
                        self.library.restore_judgement(replaced)
                elif op[0] == "reset":
                    self._stored.clear()
                done += 1
            return done

    @property
    def can_undo(self) -> bool:
        return self.steered.can_undo

    def result(self, k: int = 10):
        """The steered ranking as a QueryResult; each Match carries its judgement (+1, -1 or None).

        The top ``k``, then the disliked tracks that fell below it: they stay in view with their
        mark, so the listener sees what was said and can take it back."""
        from songsim_desktop.core.reports import QueryResult

        ranking = self.steered.ranking()
        shown = ranking[:k] + [(t, d) for t, d in ranking[k:] if self.steered.signs.get(t) == -1]
        matches = self.search.to_matches(shown, self.real_ref)
        for m in matches:
            m.judgement = self.steered.signs.get(m.track_id)
        label = self.steered.reference.path or str(self.steered.reference.track_id)
        return QueryResult(label, self.model_id, matches)


def open_session(library, search, reference: JudgementReference, vector, exclude: set, model_id: str,
                 real_ref: str = "", candidates: int = CANDIDATES, reranker=None,
                 autostore: bool = True) -> SteeringSession:
    """A steering session over the ``candidates`` nearest tracks of ``vector`` in the active index."""
    index = search.index()
    ids = np.array([t for t, _ in index.query(vector, candidates, exclude_ids=exclude)], dtype=np.int64)
    steered = SteeredQuery(reference, vector, ids, index.items(ids), reranker or feedback.DEFAULT)
    return SteeringSession(library, search, steered, model_id, real_ref, autostore)
