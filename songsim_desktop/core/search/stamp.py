"""The JSON stamp beside a saved index (track index and section index): what it was built for.

A saved index is trusted only when its stamp names the same format, model and dimension, the
library fingerprint it must reflect, and the sha256 of its files; anything else means rebuild from
the library.  Both indexes check their stamps with :func:`check_stamp` and hash with :func:`sha256_of`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

from songsim_desktop.errors import IndexCorruptError


def read_stamp(stamp_path: Path) -> Optional[dict]:
    """The stamp's content, or None when it is missing or not JSON."""
    try:
        stamp = json.loads(Path(stamp_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def check_stamp(stamp_path: Path, *, index_path: Path, action: str, stamp_format: int, model_id: str, dim: int,
                fingerprint: Optional[str] = None) -> dict:
    """The stamp at ``stamp_path`` if it was made for this format, model, dimension and (when given)
    library ``fingerprint``; IndexCorruptError naming ``index_path`` otherwise."""
    stamp = read_stamp(stamp_path)
    if stamp is None:
        raise IndexCorruptError("its stamp file is missing or unreadable", path=index_path, action=action)
    if (stamp.get("format"), stamp.get("model_id"), stamp.get("dim")) != (stamp_format, model_id, dim):
        raise IndexCorruptError("it was built for another model or dimension", path=index_path, action=action)
    if fingerprint is not None and stamp.get("fingerprint") != fingerprint:
        raise IndexCorruptError("it is older than the library", path=index_path, action=action)
    return stamp


def sha256_of(*paths: Path) -> str:
    """One sha256 over the files' bytes, in order (read in 1 MB blocks)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
