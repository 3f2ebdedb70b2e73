"""The errors songsim raises on purpose.

Every message names what failed, on which file, while doing what, so that a user can act on it
("while decoding /music/a.mp3: file is empty (0 bytes)").  Code that catches a SongsimError may
show ``str(err)`` to the user as is.
"""

from __future__ import annotations

from pathlib import Path


class SongsimError(Exception):
    """Base class: an expected failure with a message fit for a user."""

    def __init__(self, reason: str, *, path: str | Path | None = None, action: str | None = None):
        self.reason = reason
        self.path = None if path is None else str(path)
        self.action = action
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = ""
        if self.action and self.path:
            where = f"while {self.action} {self.path}: "
        elif self.action:
            where = f"while {self.action}: "
        elif self.path:
            where = f"{self.path}: "
        return where + self.reason


class DecodeError(SongsimError):
    """The file could not be turned into audio samples (corrupt, empty, not audio, too short...)."""

    def __init__(self, reason: str, *, path: str | Path | None = None, action: str = "decoding"):
        super().__init__(reason, path=path, action=action)


class ModelError(SongsimError):
    """A model file is missing, unreadable, or lacks the metadata songsim needs."""


class LibraryError(SongsimError):
    """The library database cannot be opened, migrated or written."""


class IndexCorruptError(SongsimError):
    """The on-disk nearest-neighbour index is unreadable or does not match the database."""


class Cancelled(SongsimError):
    """Long work stopped because the user asked for it."""

    def __init__(self, reason: str = "cancelled by the user", **kw):
        super().__init__(reason, **kw)


class TrainingUnavailable(SongsimError):
    """Fine-tuning needs the optional 'train' extra (torch), which is not installed."""

    def __init__(self, reason: str | None = None):
        super().__init__(
            reason
            or "fine-tuning needs PyTorch, which is not installed. Install the training extra: "
            "pip install 'songsim-desktop[train]'"
        )
