"""Search: everything that ranks tracks (docs/architecture.md, "Search").

Today the nearest tracks of the active model (:class:`TrackSearch` over a :class:`VectorIndex`)
and the readable similarity scale; the section index, feedback re-ranking, aspect weights and
duplicate detection belong here too.
"""

from songsim_desktop.core.search.index import VectorIndex, exact_search, load_or_rebuild
from songsim_desktop.core.search.similarity import MIN_TYPICAL_PAIRS, similarity_percent
from songsim_desktop.core.search.tracks import TrackSearch

__all__ = ["MIN_TYPICAL_PAIRS", "TrackSearch", "VectorIndex", "exact_search", "load_or_rebuild",
           "similarity_percent"]
