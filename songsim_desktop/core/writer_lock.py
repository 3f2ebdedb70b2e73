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

Background work that the user did not ask for (the backfill, core/backfill.py) holds it with a
``give_way`` token: another writer of this process then cancels that token and waits (up to
``GIVE_WAY_WAIT_S``) for the lock instead of being refused, so a scan or a model switch started
while the backfill runs simply goes first; the backfill keeps what it committed and resumes later.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

from songsim_desktop.core.progress import CancelToken
from songsim_desktop.errors import LibraryError

LOCK_FILENAME = "writer.lock"
# How long a writer waits for a holder that gives way to stop (it stops at its next step: a file).
GIVE_WAY_WAIT_S = 60.0

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


class WriterBusy(LibraryError):
    """Another writer holds the lock (``str()`` says who)."""


class WriterLock:
    """The writer lock of one data folder, as held by this process."""

    def __init__(self, data_dir: str | os.PathLike):
        self.path = Path(data_dir) / LOCK_FILENAME
        self._guard = threading.Condition()
        self._owner: int | None = None  # thread id
        self._depth = 0
        self._fd = -1
        self._give_way: Optional[CancelToken] = None
        #: writers of this process waiting for a holder that gives way
        self.waiting = 0

    @contextlib.contextmanager
    def hold(self, task: str, give_way: Optional[CancelToken] = None) -> Iterator[None]:
        """Hold the lock for ``task`` (e.g. "a scan"); WriterBusy at once if another writer holds it.

        ``give_way``: cancelled when another thread of this process asks for the lock, which then
        waits for this holder to stop instead of failing."""
        self._acquire(task, give_way)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, task: str, give_way: Optional[CancelToken] = None) -> None:
        me = threading.get_ident()
        with self._guard:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is not None and self._give_way is not None:
                self._give_way.cancel()  # the holder stops at its next step and releases
                self.waiting += 1
                try:
                    self._guard.wait_for(lambda: self._owner is None, timeout=GIVE_WAY_WAIT_S)
                finally:
                    self.waiting -= 1
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
            self._fd, self._owner, self._depth, self._give_way = fd, me, 1, give_way

    def _release(self) -> None:
        with self._guard:
            self._depth -= 1
            if self._depth == 0:
                fd, self._fd, self._owner, self._give_way = self._fd, -1, None, None
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                os.close(fd)  # closing the descriptor releases the OS lock
                self._guard.notify_all()

    def _busy(self, task: str, holder: str) -> WriterBusy:
        return WriterBusy(f"another songsim is already writing to this library ({holder or 'unknown'}); "
                          "wait for it to finish or stop it, then run this again (searching works meanwhile)",
                          path=self.path.parent, action=f"starting {task} in the data folder")


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return ""
