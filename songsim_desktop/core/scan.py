"""Finding the audio files of a music folder and deciding which of them need work.

The walk follows symlinks to folders (music libraries are often stitched together with them) but
remembers every folder by (st_dev, st_ino), so a link back up the tree cannot loop forever.  A
folder that cannot be listed is reported and skipped; the walk goes on.  A file is identified by
(size, mtime_ns): cheap to read and it changes whenever a tagger or an encoder rewrites the file.
Nothing here writes anything, least of all into the music folder.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Iterable, Optional

from songsim_desktop.core.audio import SUPPORTED_EXTENSIONS
from songsim_desktop.core.library import KnownTrack, normalise_root



@dataclass(frozen=True)
class FileIdentity:
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FoundFile:
    path: str
    size: int
    mtime_ns: int

    @property
    def identity(self) -> FileIdentity:
        return FileIdentity(self.size, self.mtime_ns)


@dataclass
class WalkResult:
    files: list[FoundFile] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (folder or file, message)
    unreadable_dirs: list[str] = field(default_factory=list)


def is_supported(name: str) -> bool:
    # AppleDouble companions ("._song.mp3") carry Finder metadata, not audio.
    if name.startswith("._"):
        return False
    # Compared in lower case: ".MP3" and ".Flac" are the same formats.
    return os.path.splitext(name)[1].lower() in SUPPORTED_EXTENSIONS


def identity_of(path: str | os.PathLike) -> FileIdentity:
    """(size, mtime_ns) of a file now, following symlinks; raises OSError like os.stat."""
    st = os.stat(path)
    return FileIdentity(st.st_size, st.st_mtime_ns)


def walk(root: str | os.PathLike) -> WalkResult:
    """Every supported audio file under ``root`` (sorted by path), and what could not be read."""
    result = WalkResult()
    top = os.fspath(root)
    try:
        top_stat = os.stat(top)
    except OSError as err:
        result.errors.append((top, f"while listing folder {top}: {err.strerror or err}"))
        result.unreadable_dirs.append(top)
        return result
    if not stat.S_ISDIR(top_stat.st_mode):
        result.errors.append((top, f"while listing folder {top}: not a folder"))
        result.unreadable_dirs.append(top)
        return result
    seen = {(top_stat.st_dev, top_stat.st_ino)}
    pending = [top]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as err:
            result.errors.append((folder, f"while listing folder {folder}: {err.strerror or err}"))
            result.unreadable_dirs.append(folder)
            continue
        for entry in entries:
            _visit(entry, result, seen, pending)
    result.files.sort(key=lambda f: f.path)
    return result


def _visit(entry: os.DirEntry, result: WalkResult, seen: set, pending: list[str]) -> None:
    try:
        if entry.is_dir(follow_symlinks=True):
            st = entry.stat(follow_symlinks=True)
            key = (st.st_dev, st.st_ino)
            if key not in seen:  # a symlink loop or a second link to a folder already walked
                seen.add(key)
                pending.append(entry.path)
            return
        if not is_supported(entry.name):
            return
        if not entry.is_file(follow_symlinks=True):
            if entry.is_symlink() and not os.path.exists(entry.path):
                result.errors.append((entry.path, f"while reading {entry.path}: broken symbolic link"))
            return
        st = entry.stat(follow_symlinks=True)
    except OSError as err:  # a dangling link, a file deleted under us, a permission problem
        if is_supported(entry.name):
            result.errors.append((entry.path, f"while reading {entry.path}: {err.strerror or err}"))
        return
    result.files.append(FoundFile(entry.path, st.st_size, st.st_mtime_ns))


@dataclass
class ScanPlan:
    root: str
    new: list[FoundFile] = field(default_factory=list)
    changed: list[FoundFile] = field(default_factory=list)
    unchanged: list[FoundFile] = field(default_factory=list)
    # Missing tracks back with the same identity and a vector (a remounted drive): no work to redo.
    restored: list[FoundFile] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # folders/files the walk could not read

    @property
    def to_process(self) -> list[FoundFile]:
        return self.new + self.changed


def _under(path: str, folders: Iterable[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def plan_from(root: str, walked: WalkResult, known: Iterable[KnownTrack],
              needs_vectors: Optional[set[str]] = None) -> ScanPlan:
    """Compare a walk with what the library knows.

    ``needs_vectors``: paths of tracks (ok or missing) that lack a vector for the active model; they
    are re-processed like changed files.  Tracks under a folder that could not be listed are neither
    rescanned nor marked vanished: an unreadable folder says nothing about whether they still exist.
    """
    known_by_path = {k.path: k for k in known}
    needs_vectors = needs_vectors or set()
    result = ScanPlan(root=root, errors=list(walked.errors))
    seen = set()
    errored = {p for p, _ in walked.errors}
    for found in walked.files:
        seen.add(found.path)
        old = known_by_path.get(found.path)
        if old is None:
            result.new.append(found)
        elif (old.size, old.mtime_ns) != (found.size, found.mtime_ns) or old.state == "pending":
            result.changed.append(found)
        elif old.state in ("ok", "missing") and found.path in needs_vectors:
            result.changed.append(found)
        elif old.state == "missing":
            result.restored.append(found)
        else:  # ok, or an error that would only fail again until the file changes
            result.unchanged.append(found)
    for path, old in known_by_path.items():
        if path in seen or old.state == "missing":
            continue
        if _under(path, walked.unreadable_dirs):
            continue
        # A file we could see but not stat (a dangling link) is reported, not declared vanished.
        if path in errored:
            continue
        result.vanished.append(path)
    return result


def plan(library, root: str | os.PathLike, model_id: Optional[str] = None) -> ScanPlan:
    """Walk ``root`` and sort its files into new / changed / unchanged / vanished for ``library``."""
    root_path = normalise_root(root)
    walked = walk(root_path)
    known = library.tracks_under(root_path)
    needs = library.paths_without_vectors(root_path, model_id) if model_id else None
    return plan_from(root_path, walked, known, needs)
