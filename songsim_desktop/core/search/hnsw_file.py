"""Check a saved hnswlib index file before hnswlib reads it.

hnswlib is C++ and trusts its files: a damaged or hand-forged file whose stamp was forged too (so
the size and sha256 checks in core.search.index pass) can make it allocate absurd memory or follow a
neighbour id out of bounds and crash the whole process.  This module parses the file in Python
(hnswlib's ``saveIndex`` layout, ``hnswalg.h``) and checks every number hnswlib would trust against
what the database says the index must hold: the model's dimension and the stamped track count.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from songsim_desktop.errors import IndexCorruptError

# offsetLevel0, max_elements, cur_element_count, size_data_per_element, label_offset, offsetData,
# maxlevel (int), enterpoint_node (uint32), maxM, maxM0, M, mult (double), ef_construction.
_HEADER = struct.Struct("<6QiI3QdQ")
_ID = 4  # tableint: uint32
_LIST_HEAD = 4  # linklistsizeint: uint32 whose low 16 bits count the neighbours
_LABEL = 8  # labeltype: size_t
_MAX_LEVEL = 64  # levels are ~log(n)/log(M): never near this


def check_hnsw_file(path: str | Path, dim: int, count: int) -> None:
    """IndexCorruptError unless ``path`` is a well-formed hnswlib 'l2' index of ``dim``-d float32
    vectors holding ``count`` live elements (or more, counting deleted ones), all neighbour ids in
    range and all vectors finite."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _corrupt(path, f"cannot read it ({exc.strerror or exc})") from None
    if len(data) < _HEADER.size:
        raise _corrupt(path, "it is shorter than an hnswlib header")
    (offset_level0, max_elements, n, size_per_element, label_offset, offset_data, max_level, entry,
     max_m, max_m0, m, mult, _ef) = _HEADER.unpack_from(data)
    links0 = max_m0 * _ID + _LIST_HEAD
    expected = {
        "offsetLevel0": (offset_level0, 0), "offsetData": (offset_data, links0),
        "label_offset": (label_offset, links0 + dim * 4), "size_data_per_element": (size_per_element,
                                                                                    links0 + dim * 4 + _LABEL),
        "maxM": (max_m, m), "maxM0": (max_m0, 2 * m),
    }
    for name, (found, wanted) in expected.items():
        if found != wanted:
            raise _corrupt(path, f"its header says {name}={found}, a {dim}-d index needs {wanted}")
    if not (2 <= m <= 1024 and n <= max_elements and count <= n and -1 <= max_level < _MAX_LEVEL
            and np.isfinite(mult) and (n == 0 or entry < n)):
        raise _corrupt(path, f"its header is inconsistent (M={m}, elements {n} of {max_elements}, "
                             f"expected {count} live, top level {max_level}, entry point {entry})")
    end0 = _HEADER.size + n * size_per_element
    if len(data) < end0 + n * 4:
        raise _corrupt(path, "it is shorter than its header says")
    level0 = np.frombuffer(data, dtype=np.uint8, count=n * size_per_element, offset=_HEADER.size)
    level0 = level0.reshape(n, size_per_element)
    _check_links(path, level0[:, :links0], max_m0, n, "level 0")
    vectors = level0[:, offset_data:label_offset].copy().view(np.float32)
    if not np.isfinite(vectors).all():
        raise _corrupt(path, "it holds vectors with NaN or infinity")
    _check_upper_levels(path, data, end0, n, max_m * _ID + _LIST_HEAD, max_m, max_level)


def _check_links(path, blocks: np.ndarray, max_count: int, n: int, where: str) -> None:
    """``blocks``: rows of (uint32 count, max_count uint32 neighbour ids)."""
    words = blocks.copy().view(np.uint32)
    counts = words[:, 0] & 0xFFFF
    if (counts > max_count).any():
        raise _corrupt(path, f"a {where} neighbour list is longer than its maximum {max_count}")
    used = np.arange(max_count)[None, :] < counts[:, None]
    if (words[:, 1:][used] >= n).any():
        raise _corrupt(path, f"a {where} neighbour id points past the {n} elements")


def _check_upper_levels(path, data: bytes, offset: int, n: int, list_bytes: int, max_m: int,
                        max_level: int) -> None:
    """Each element: a uint32 byte size, then that many bytes of (levels x list_bytes) lists.

    Everything after the header is whole uint32 words, so sizes are read through a word view
    (a Python loop over n elements: fast enough, ~0.1 s per 10,000 tracks at worst)."""
    if (len(data) - offset) % 4:
        raise _corrupt(path, "its length is not a whole number of 4-byte words")
    words = memoryview(data)[offset:].cast("I")
    position, upper = 0, []
    for _ in range(n):
        if position >= len(words):
            raise _corrupt(path, "it is shorter than its header says")
        size = words[position]
        levels, rest = divmod(size, list_bytes)
        if rest or levels > max_level:
            raise _corrupt(path, "an element's upper-level links are malformed")
        if size:
            upper.append((offset + 4 * (position + 1), levels))
        position += 1 + size // 4
    if position != len(words):
        raise _corrupt(path, f"its {4 * (len(words) - position)} last bytes belong to no element")
    for start, levels in upper:
        block = np.frombuffer(data, dtype=np.uint8, count=levels * list_bytes, offset=start)
        _check_links(path, block.reshape(levels, list_bytes), max_m, n, "upper level")


def _corrupt(path, reason: str) -> IndexCorruptError:
    return IndexCorruptError(reason, path=path, action="checking the vector index")
