"""One writer per data folder: an advisory lock taken by scans, re-embeds and fine-tunes.

Two scans of one library (two ``songsim index``, or the GUI and the CLI) would both decode and
embed everything, and race each other's commits.  SQLite keeps the data consistent but not the
work shared, so a writer first takes an exclusive lock on ``<data>/writer.lock``; the second one
is told at once who holds it and exits.  Readers (query, status, export) never take it: WAL lets
them read while a scan writes.

The lock is the OS's (``flock`` on POSIX, ``msvcrt.locking`` on Windows): it is released when the
holding process dies, even by kill -9, so a crash never leaves a stale lock behind.  It is
re-entrant within one thread (a fine-tune re-embeds inside its own lock) and exclusive between
threads of one process too (the GUI cannot start a scan while a fine-tune runs).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Iterator

from songsim_desktop.errors import LibraryError

LOCK_FILENAME = "writer.lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:  # BlockingIOError on POSIX, PermissionError on Windows
        return False


class WriterLock:
    """The writer lock of one data folder, as held by this process."""

    def __init__(self, data_dir: str | os.PathLike):
        self.path = Path(data_dir) / LOCK_FILENAME
        self._guard = threading.Lock()
        self._owner: int | None = None  # thread id
        self._depth = 0
        self._fd = -1

    @contextlib.contextmanager
    def hold(self, task: str) -> Iterator[None]:
        """Hold the lock for ``task`` (e.g. "a scan"); LibraryError at once if another writer holds it."""
        self._acquire(task)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, task: str) -> None:
        me = threading.get_ident()
        with self._guard:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is not None:
                raise self._busy(task, "another task of this window")
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise LibraryError(f"cannot create its lock file ({err.strerror or err}); a read-only library "
                                   "can be searched but not changed", path=self.path.parent,
                                   action=f"starting {task} in the data folder") from None
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                raise self._busy(task, holder)
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()}: {task} since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
            self._fd, self._owner, self._depth = fd, me, 1

    def _release(self) -> None:
        with self._guard:
            self._depth -= 1
            if self._depth == 0:
                fd, self._fd, self._owner = self._fd, -1, None
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                os.close(fd)  # closing the descriptor releases the OS lock

    def _busy(self, task: str, holder: str) -> LibraryError:
        return LibraryError(f"another songsim is already writing to this library ({holder or 'unknown'}); "
                            "wait for it to finish or stop it, then run this again (searching works meanwhile)",
                            path=self.path.parent, action=f"starting {task} in the data folder")


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return ""
