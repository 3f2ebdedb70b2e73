"""SQLite plumbing shared by the library database and the features cache.

`SqliteStore` gives each thread its own connection (sqlite3 connections must not be shared
between threads that run statements at the same time; the GUI thread and its workers both read
the library), runs every statement inside a transaction, applies an ordered list of migrations
at open, and turns raw ``sqlite3`` errors into :class:`LibraryError` messages that name the file
and the action.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from songsim_desktop.core.stored_text import from_stored, stored_params
from songsim_desktop.errors import LibraryError

Migration = Callable[[sqlite3.Connection], None]

# Long enough for a scan's writer and the GUI's readers to take turns without "database is locked".
BUSY_TIMEOUT_MS = 30_000


class SqliteStore:
    """One SQLite file: per-thread connections, transactions, migrations, clear errors."""

    #: what the file is, for messages ("library database", "features cache")
    kind = "database"

    def __init__(self, path: str | Path, migrations: Sequence[Migration]):
        self.path = Path(path)
        self._migrations = list(migrations)
        self._local = threading.local()
        # Weak: when a thread ends, its thread-local holder is dropped and closes its connection
        # (Qt's pool retires idle threads, so a long session would otherwise pile them up).
        self._holders: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        self._closed = False
        #: opened read-only: a backup on a read-only disk, a shared folder (searching works, writing says why not)
        self.read_only = self.path.exists() and not _writable(self.path)
        try:
            if self.read_only:
                self._check_version()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._migrate()
        except sqlite3.Error as exc:
            self.close()
            raise LibraryError(_describe(exc), path=self.path, action=f"opening the {self.kind}") from exc
        except LibraryError:
            self.close()
            raise

    @property
    def schema_version(self) -> int:
        """The version the code writes: one migration per version, applied in order."""
        return len(self._migrations)

    # -- connections -------------------------------------------------------------------------
    def _connection(self) -> "_ThreadConnection":
        if self._closed:
            raise LibraryError("it is closed", path=self.path, action=f"using the {self.kind}")
        holder = getattr(self._local, "holder", None)
        if holder is None:
            # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves.
            # check_same_thread=False only so close() may close every thread's connection.
            conn = self._open_read_only() if self.read_only else self._open(str(self.path), uri=False)
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA foreign_keys = ON")
                if not self.read_only:
                    conn.execute("PRAGMA journal_mode = WAL")
                    # In WAL mode NORMAL loses at most the last transactions on power loss, never consistency.
                    conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error:
                conn.close()
                raise
            holder = _ThreadConnection(conn)
            self._local.holder = holder
            with self._connections_lock:
                self._holders.add(holder)
        return holder

    @staticmethod
    def _open(target: str, uri: bool) -> sqlite3.Connection:
        # Every str goes in and out through stored_text, so a file name that is not UTF-8 is
        # stored losslessly (sqlite3 itself refuses its surrogate escapes).
        conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False, uri=uri, factory=_StoredTextConnection)
        conn.text_factory = _text_from_db
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """mode=ro reads the WAL too, but needs its -shm; where even that cannot be made (a read-only
        folder), immutable=1 reads the main file alone (a closed library has no WAL left)."""
        for flags in ("mode=ro", "immutable=1"):
            conn = self._open(f"{self.path.resolve().as_uri()}?{flags}", uri=True)
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.Error:
                conn.close()
        raise sqlite3.OperationalError("unable to open the database file read-only")

    def _check_version(self) -> None:
        with self.read() as conn:
            has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
            version = _read_version(conn) if has_meta else 0
        if version != self.schema_version:
            raise LibraryError(f"it is read-only and has schema version {version}, this songsim needs "
                               f"{self.schema_version}; open it once where it can be written", path=self.path,
                               action=f"opening the {self.kind}")

    @property
    def open_connections(self) -> int:
        """Connections currently open (one per thread that used the store and still runs)."""
        return len(self._holders)

    def close(self) -> None:
        """Close every thread's connection; later use raises LibraryError."""
        self._closed = True
        with self._connections_lock:
            holders = list(self._holders)
            self._holders.clear()
        for holder in holders:
            holder.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``with store.transaction() as conn:`` BEGIN IMMEDIATE ... COMMIT, ROLLBACK on exception.

        IMMEDIATE takes the write lock at once, so two writers queue (busy_timeout) instead of one
        failing half-way.  Nested use on the same thread joins the outer transaction.
        """
        with self._begin("BEGIN IMMEDIATE", "writing") as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees the same snapshot."""
        with self._begin("BEGIN DEFERRED", "reading") as conn:
            yield conn

    @contextmanager
    def _begin(self, begin_sql: str, verb: str) -> Iterator[sqlite3.Connection]:
        holder = self._connection()
        conn = holder.conn
        if holder.depth > 0:  # join the transaction already open on this thread
            holder.depth += 1
            try:
                yield conn
            finally:
                holder.depth -= 1
            return
        if self.read_only and verb == "writing":
            raise LibraryError("it is read-only (a read-only folder or disk): it can be searched but not changed",
                               path=self.path, action=f"{verb} the {self.kind}")
        try:
            conn.execute(begin_sql)
        except sqlite3.Error as exc:
            raise LibraryError(_describe(exc), path=self.path, action=f"{verb} the {self.kind}") from exc
        holder.depth = 1
        try:
            yield conn
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise LibraryError(_describe(exc), path=self.path, action=f"{verb} the {self.kind}") from exc
        except BaseException:
            self._rollback(conn)
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(conn)
                raise LibraryError(_describe(exc), path=self.path, action=f"{verb} the {self.kind}") from exc
        finally:
            holder.depth = 0

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    # -- migrations --------------------------------------------------------------------------
    def _migrate(self) -> None:
        """Bring the file to ``schema_version``, one migration (and one transaction) per step.

        The version is re-read inside each write transaction so two processes opening the same
        file at once cannot both apply a step.
        """
        while True:
            with self.transaction() as conn:
                version = _read_version(conn)
                if version > self.schema_version:
                    raise LibraryError(
                        f"it was written by a newer songsim (schema version {version}; this version "
                        f"understands up to {self.schema_version}). Update songsim, or point "
                        "SONGSIM_DATA_DIR at another folder.",
                        path=self.path,
                        action=f"opening the {self.kind}",
                    )
                if version == self.schema_version:
                    return
                self._migrations[version](conn)
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (str(version + 1),),
                )


class _StoredTextConnection(sqlite3.Connection):
    """A connection whose str parameters pass through stored_text.to_stored."""

    def execute(self, sql, parameters=()):
        return super().execute(sql, stored_params(parameters))

    def executemany(self, sql, seq_of_parameters):
        return super().executemany(sql, (stored_params(p) for p in seq_of_parameters))


def _text_from_db(raw: bytes) -> str:
    return from_stored(raw.decode("utf-8"))


def _writable(path: Path) -> bool:
    """Whether SQLite may write ``path`` and create its journal files beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


class _ThreadConnection:
    """One thread's connection and its transaction depth; closes the connection when dropped."""

    __slots__ = ("conn", "depth", "__weakref__")

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.depth = 0

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    def __del__(self) -> None:
        self.close()


def _read_version(conn: sqlite3.Connection) -> int:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row else 0
    except ValueError:
        raise LibraryError(f"its schema version {row[0]!r} is not a number", action="reading the schema version")


def _is_damage(exc: BaseException | None) -> bool:
    text = str(exc)
    return isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text)


def is_damaged_file_error(exc: LibraryError) -> bool:
    """True when opening failed because the file's content is broken (not e.g. a permission)."""
    return _is_damage(exc.__cause__)


def _describe(exc: sqlite3.Error) -> str:
    text = str(exc) or type(exc).__name__
    if _is_damage(exc):
        return f"the file is damaged or is not a songsim database ({text})"
    return text


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT the migration's transaction."""
    pending = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            conn.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {pending.strip()[:60]}")


