"""Atomic file writes: a temp file in the target's folder, then ``os.replace`` over the target.

Readers (and a crash at any moment) see either the old file or the whole new one, never half of
it.  The temp file lives in the same folder because ``os.replace`` is atomic only within one file
system, and starts with a dot so a music-folder scan or a file dialog does not pick it up.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# mkstemp creates 0600; what we write (settings, indexes, playlists, models) is not secret.
FILE_MODE = 0o644


@contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """``with atomic_path(target) as tmp:`` write ``tmp`` by any means (a library that wants a path,
    or ``open``); when the block ends without an exception ``tmp`` replaces ``target``, otherwise it
    is removed and the target is untouched.

    ``durable``: fsync the file before the rename (settings: a power cut must not leave an empty
    file where the old one was; caches need not pay for it).
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = False) -> Path:
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, durable: bool = False) -> Path:
    """Write ``text`` as UTF-8, atomically."""
    return write_bytes(path, text.encode("utf-8"), durable=durable)
