"""Registered models, the active one, and the small key/value settings table."""

from __future__ import annotations

import json
import sqlite3

from songsim_desktop.core.library.records import (
    ACTIVE_MODEL_KEY,
    ModelRecord,
    model_path_from_store,
    model_path_to_store,
)
from songsim_desktop.errors import LibraryError


class ModelsMixin:
    """The ``models`` and ``settings`` tables (mixed into :class:`Library`)."""

    # -- models ------------------------------------------------------------------------------
    def add_model(self, model: ModelRecord) -> None:
        """Register (or update the record of) a model."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO models(id, name, path, dim, parent_id, created_at, metrics, builtin)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name=excluded.name,"
                " path=excluded.path, dim=excluded.dim, parent_id=excluded.parent_id,"
                " created_at=excluded.created_at, metrics=excluded.metrics, builtin=excluded.builtin",
                (
                    model.id, model.name, model_path_to_store(str(model.path), self.path.parent), int(model.dim),
                    model.parent_id,
                    model.created_at, json.dumps(model.metrics), int(bool(model.builtin)),
                ),
            )

    def _model_from_row(self, row) -> ModelRecord:
        mid, name, path, dim, parent, created, metrics, builtin = row
        return ModelRecord(mid, name, model_path_from_store(path, self.path.parent), dim, parent, created,
                           json.loads(metrics or "{}"), bool(builtin))

    def models(self) -> list[ModelRecord]:
        """Every registered model, oldest first (the built-in default first among equals)."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT id, name, path, dim, parent_id, created_at, metrics, builtin FROM models"
                " ORDER BY builtin DESC, created_at, id"
            ).fetchall()
        return [self._model_from_row(r) for r in rows]

    def model(self, model_id: str) -> ModelRecord | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT id, name, path, dim, parent_id, created_at, metrics, builtin FROM models WHERE id = ?",
                (model_id,),
            ).fetchone()
        return None if row is None else self._model_from_row(row)

    def remove_model(self, model_id: str) -> None:
        """Forget a fine-tuned model and its vectors; the active model falls back to the built-in.

        The model file itself is left for the caller (service) to delete.
        """
        with self.transaction() as conn:
            row = conn.execute("SELECT builtin FROM models WHERE id = ?", (model_id,)).fetchone()
            if row is None:
                raise LibraryError("no such model", path=model_id, action="removing the model")
            if row[0]:
                raise LibraryError("the built-in model cannot be removed", path=model_id, action="removing the model")
            conn.execute("DELETE FROM vectors WHERE model_id = ?", (model_id,))
            conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            if self._setting(conn, ACTIVE_MODEL_KEY) == model_id:
                builtin = conn.execute("SELECT id FROM models WHERE builtin = 1 ORDER BY created_at LIMIT 1").fetchone()
                self._set_setting(conn, ACTIVE_MODEL_KEY, builtin[0] if builtin else None)

    def retire_builtin_model(self, model_id: str) -> None:
        """Forget a built-in model that is no longer shipped (its file was replaced) and its vectors."""
        with self.transaction() as conn:
            if self._setting(conn, ACTIVE_MODEL_KEY) == model_id:
                raise LibraryError("it is still the active model", path=model_id, action="retiring the model")
            conn.execute("DELETE FROM vectors WHERE model_id = ?", (model_id,))
            conn.execute("DELETE FROM models WHERE id = ? AND builtin = 1", (model_id,))

    def active_model_id(self) -> str | None:
        with self.read() as conn:
            return self._setting(conn, ACTIVE_MODEL_KEY)

    def set_active_model_id(self, model_id: str) -> None:
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM models WHERE id = ?", (model_id,)).fetchone() is None:
                raise LibraryError("no such model is registered", path=model_id, action="activating the model")
            self._set_setting(conn, ACTIVE_MODEL_KEY, model_id)

    # -- settings ----------------------------------------------------------------------------
    def setting(self, key: str, default: str | None = None) -> str | None:
        with self.read() as conn:
            value = self._setting(conn, key)
        return default if value is None else value

    def set_setting(self, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            self._set_setting(conn, key, value)

    @staticmethod
    def _setting(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _set_setting(conn: sqlite3.Connection, key: str, value: str | None) -> None:
        conn.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
