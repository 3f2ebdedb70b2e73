"""SongsimService: the one facade the CLI and the GUI call (docs/architecture.md, "Service API").

SKELETON: every public signature is final; bodies land as the library, index and embedder arrive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Generator, Iterable, Optional

from songsim_desktop.core.progress import CancelToken, Progress
from songsim_desktop.core.reports import (  # noqa: F401  (re-exported for callers)
    Match,
    ModelRecord,
    QueryResult,
    ReembedReport,
    ScanReport,
    TrackRow,
    TrainReport,
    similarity_percent,
)


class SongsimService:
    def __init__(self, data_dir: str | Path | None = None) -> None:
        raise NotImplementedError("SongsimService is a skeleton for now")

    def close(self) -> None:
        raise NotImplementedError

    # --- long jobs (generators yielding Progress) -------------------------------------------
    def scan_job(self, root: str | Path | None = None, cancel: Optional[CancelToken] = None,
                 workers: Optional[int] = None) -> Generator[Progress, None, ScanReport]:
        raise NotImplementedError

    def reembed_job(self, model_id: Optional[str] = None, cancel: Optional[CancelToken] = None
                    ) -> Generator[Progress, None, ReembedReport]:
        raise NotImplementedError

    def train_job(self, config, cancel: Optional[CancelToken] = None
                  ) -> Generator[Progress, None, TrainReport]:
        raise NotImplementedError

    # --- queries ------------------------------------------------------------------------------
    def query_file(self, path: str | Path, k: int = 10) -> QueryResult:
        raise NotImplementedError

    def query_track(self, track_id: int, k: int = 10) -> QueryResult:
        raise NotImplementedError

    # --- library ------------------------------------------------------------------------------
    def tracks(self) -> list[TrackRow]:
        raise NotImplementedError

    def track(self, track_id: int) -> TrackRow:
        raise NotImplementedError

    def roots(self) -> list[str]:
        raise NotImplementedError

    def remove_root(self, path: str | Path) -> None:
        raise NotImplementedError

    # --- tags ---------------------------------------------------------------------------------
    def add_tags(self, track_ids: Iterable[int], tags: Iterable[str], source: str = "user") -> None:
        raise NotImplementedError

    def remove_tags(self, track_ids: Iterable[int], tags: Iterable[str], source: str = "user") -> None:
        raise NotImplementedError

    def tag_counts(self) -> dict[str, int]:
        raise NotImplementedError

    def track_tags(self) -> dict[int, set[str]]:
        raise NotImplementedError

    def import_folder_tags(self) -> int:
        raise NotImplementedError

    # --- models -------------------------------------------------------------------------------
    def models(self) -> list[ModelRecord]:
        raise NotImplementedError

    def active_model(self):
        """-> embedder.ModelInfo of the active model."""
        raise NotImplementedError

    def set_active_model(self, model_id: str) -> None:
        raise NotImplementedError

    # --- reporting ------------------------------------------------------------------------------
    def status(self) -> dict:
        raise NotImplementedError

    def export_vectors(self, out_path: str | Path) -> int:
        raise NotImplementedError
