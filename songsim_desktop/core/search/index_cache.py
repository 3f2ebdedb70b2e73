"""The active model's index held in memory, reloaded when the library changed behind it.

Track search (core/search/tracks.py) and section search (core/search/sections.py) each keep one
index of the active model: read the active model at every call (a model switch takes effect at
once), and load or rebuild the index when it is for another model or its fingerprint is no longer
the library's.  This is that rule, once, under a lock (the GUI thread and workers share it).
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, Optional, Protocol, TypeVar


class StampedIndex(Protocol):
    model_id: str
    fingerprint: Optional[str]


Index = TypeVar("Index", bound=StampedIndex)


class ActiveIndexCache(Generic[Index]):
    """``ActiveIndexCache(active_model_id, fingerprint, load)``.

    ``fingerprint(model_id)`` is the library's current stamp for what the index must hold;
    ``load(model_id)`` loads the saved index or rebuilds it from the library (an index whose
    ``model_id`` and ``fingerprint`` say what it reflects).
    """

    def __init__(self, active_model_id: Callable[[], str], fingerprint: Callable[[str], str],
                 load: Callable[[str], Index]) -> None:
        self._active_model_id = active_model_id
        self._fingerprint = fingerprint
        self._load = load
        #: held while the index is read or replaced; callers that update it in place take it too
        self.lock = threading.RLock()
        self._index: Optional[Index] = None

    def get(self) -> Index:
        """The active model's index, reloaded/rebuilt when the library changed behind our back."""
        model_id = self._active_model_id()
        with self.lock:
            idx = self._index
            if idx is None or idx.model_id != model_id or idx.fingerprint != self._fingerprint(model_id):
                idx = self._index = self._load(model_id)
            return idx

    @property
    def loaded(self) -> Optional[Index]:
        """The index in memory (None before the first query or after ``invalidate``); take ``lock``."""
        return self._index

    def invalidate(self) -> None:
        """Forget the loaded index (the model or the library changed wholesale); the next ``get``
        loads or rebuilds it from the library."""
        with self.lock:
            self._index = None
