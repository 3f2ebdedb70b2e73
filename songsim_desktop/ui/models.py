"""Qt table models over the service's plain records: library tracks and search results.

Rows are ``core.reports.TrackRow`` / ``Match`` objects, read-only here.  ``TrackTableModel.update``
merges a fresh ``svc.tracks()`` list in place (changed rows emit dataChanged, new ones are
inserted), so the table fills while a scan runs without losing the selection or the scroll
position.  Sorting uses SORT_ROLE (numbers sort as numbers); filtering matches any column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from PySide6.QtCore import QAbstractTableModel, QMimeData, QModelIndex, QSortFilterProxyModel, Qt, QUrl
from PySide6.QtGui import QBrush, QColor

from songsim_desktop.ui.tempo_key import format_key, format_tempo, key_sort_value

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2  # the record itself

STATE_COLOURS = {"error": QColor("#d9534f"), "missing": QColor("#999999"), "pending": QColor("#c9a227")}


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def display_title(title: Optional[str], path: str) -> str:
    """Untagged files still need a readable name: fall back to the file name."""
    return title or Path(path).stem


class _RecordTableModel(QAbstractTableModel):
    COLUMNS: Sequence[str] = ()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[Any] = []

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def record(self, row: int):
        return self.rows[row]

    def flags(self, index):
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return ["text/uri-list", "text/plain"]

    def mimeData(self, indexes) -> QMimeData:  # noqa: N802
        """Dragging rows out of the window hands the files to a DAW or a file manager."""
        seen: list[str] = []
        for index in indexes:
            path = self.rows[index.row()].path
            if path not in seen:
                seen.append(path)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(p) for p in seen])
        mime.setText("\n".join(seen))
        return mime

    def supportedDragActions(self):  # noqa: N802
        return Qt.DropAction.CopyAction


class TrackTableModel(_RecordTableModel):
    COLUMNS = ("Title", "Artist", "Album", "Duration", "Genre", "Tags", "State", "Tempo", "Key")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._row_of: dict[int, int] = {}

    def update(self, tracks: Sequence[Any]) -> None:
        """Merge a fresh list of TrackRow: update changed rows, insert new ones, drop vanished ones."""
        fresh = {t.id: t for t in tracks}
        gone = [i for i, row in enumerate(self.rows) if row.id not in fresh]
        for i in reversed(gone):
            self.beginRemoveRows(QModelIndex(), i, i)
            del self.rows[i]
            self.endRemoveRows()
        self._row_of = {row.id: i for i, row in enumerate(self.rows)}
        for i, row in enumerate(self.rows):
            new = fresh[row.id]
            if new != row:
                self.rows[i] = new
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.COLUMNS) - 1))
        added = [t for t in tracks if t.id not in self._row_of]
        if added:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self.rows.extend(added)
            self.endInsertRows()
        self._row_of = {row.id: i for i, row in enumerate(self.rows)}

    def row_of(self, track_id: int) -> Optional[int]:
        return self._row_of.get(track_id)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        t = self.rows[index.row()]
        col = index.column()
        if role == ROW_ROLE:
            return t
        if role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
            if col == 0:
                return display_title(t.title, t.path)
            if col == 1:
                return t.artist or ""
            if col == 2:
                return t.album or ""
            if col == 3:
                return format_duration(t.duration_s) if role == Qt.ItemDataRole.DisplayRole else (t.duration_s or 0.0)
            if col == 4:
                return t.genre or ""
            if col == 5:
                return ", ".join(sorted(t.tags))
            if col == 6:
                return f"error: {t.error}" if t.state == "error" and t.error else t.state
            if col == 7:
                return format_tempo(t.tempo) if role == Qt.ItemDataRole.DisplayRole else (t.tempo or 0.0)
            if col == 8:
                return format_key(t.key) if role == Qt.ItemDataRole.DisplayRole else key_sort_value(t.key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{t.path}\n{t.error}" if t.error else t.path
        if role == Qt.ItemDataRole.ForegroundRole and col == 6 and t.state in STATE_COLOURS:
            return QBrush(STATE_COLOURS[t.state])
        return None


JUDGEMENT_MARKS = {1: "+ more like this", -1: "− not like this"}  # issue 11: a judged result's mark


class ResultTableModel(_RecordTableModel):
    COLUMNS = ("#", "Title", "Artist", "Distance", "Similarity", "Tags", "Best match", "Judged", "Tempo", "Key")

    def set_matches(self, matches: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = list(matches)
        self.endResetModel()

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        m = self.rows[index.row()]
        col = index.column()
        if role == ROW_ROLE:
            return m
        if role == SORT_ROLE:
            return (index.row() + 1, display_title(m.title, m.path), m.artist or "", m.distance,
                    m.similarity, ", ".join(m.tags), -1.0 if m.offset is None else m.offset,
                    -(m.judgement or 0), m.tempo or 0.0, key_sort_value(m.key))[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return str(index.row() + 1)
            if col == 1:
                return display_title(m.title, m.path)
            if col == 2:
                return m.artist or ""
            if col == 3:
                return f"{m.distance:.3f}"
            if col == 4:
                return f"{m.similarity:.0f} %"
            if col == 5:
                return ", ".join(sorted(m.tags))
            if col == 6:  # a section search's best-matching part (issue 10)
                return "" if m.offset is None else (f"{format_duration(m.offset)}–"
                                                    f"{format_duration(m.offset + (m.section_length or 0.0))}")
            if col == 7:
                return JUDGEMENT_MARKS.get(m.judgement, "")
            if col == 8:
                return format_tempo(m.tempo)
            if col == 9:
                return format_key(m.key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return m.path
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, 3, 4, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RecordFilterProxy(QSortFilterProxyModel):
    """Sort by SORT_ROLE and keep rows where any column contains the typed text (case-insensitive)."""

    def __init__(self, source: QAbstractTableModel, parent=None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.setSortRole(SORT_ROLE)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(True)
        self.row_filter: Optional[Callable[[Any], bool]] = None  # on the record: e.g. a tempo/key filter

    def set_row_filter(self, accepts: Optional[Callable[[Any], bool]]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10 (invalidateFilter is deprecated there)
            self.beginFilterChange()
            self.row_filter = accepts
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.row_filter = accepts
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row, source_parent) -> bool:  # noqa: N802 - Qt's name
        if self.row_filter is not None and not self.row_filter(self.sourceModel().record(source_row)):
            return False
        return super().filterAcceptsRow(source_row, source_parent)

    def set_filter_text(self, text: str) -> None:
        self.setFilterFixedString(text.strip())

    def record(self, proxy_row: int):
        return self.sourceModel().record(self.mapToSource(self.index(proxy_row, 0)).row())

