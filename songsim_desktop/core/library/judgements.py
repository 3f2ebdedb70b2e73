"""The listener's judgements of search results and odd-one-out answers (issue 11).

A judgement: for one reference (a library track, or a file outside the library, optionally one
section of it), one result track is "more like this" (+1) or "not like this" (-1).  Judging the
same (reference, result) again replaces the earlier judgement: the latest opinion counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from songsim_desktop.core.library.records import now_iso

LIKE, DISLIKE = 1, -1


@dataclass(frozen=True)
class JudgementReference:
    """What was queried: a library track (``track_id``) or a file outside it (``path``), and the
    section of it (seconds) when a section was queried."""

    track_id: Optional[int] = None
    path: Optional[str] = None
    section_start: Optional[float] = None
    section_end: Optional[float] = None

    def __post_init__(self):
        if self.track_id is None and not self.path:
            raise ValueError("a judgement reference needs a track id or a path")


@dataclass(frozen=True)
class Judgement:
    id: int
    reference: JudgementReference
    result_track_id: int
    sign: int  # +1 liked, -1 disliked
    made_at: str
    model_id: str


@dataclass(frozen=True)
class OddOneOutAnswer:
    """Of three tracks the listener heard, ``odd_id`` did not belong: a triplet (anchor, positive, odd)."""

    id: int
    anchor_id: int
    positive_id: int
    odd_id: int
    made_at: str
    model_id: str


_COLUMNS = ("id, reference_track_id, reference_path, section_start, section_end, result_track_id, sign, "
            "made_at, model_id")


def _judgement(row) -> Judgement:
    return Judgement(row[0], JudgementReference(row[1], row[2], row[3], row[4]), row[5], row[6], row[7], row[8])


def _reference_clause(ref: JudgementReference) -> tuple[str, list]:
    """WHERE clause matching exactly this reference (track or path, and the same section)."""
    if ref.track_id is not None:
        sql, params = "reference_track_id = ?", [int(ref.track_id)]
    else:
        sql, params = "reference_track_id IS NULL AND reference_path = ?", [ref.path]
    for column, value in (("section_start", ref.section_start), ("section_end", ref.section_end)):
        if value is None:
            sql += f" AND {column} IS NULL"
        else:
            sql += f" AND {column} = ?"
            params.append(float(value))
    return sql, params


class JudgementsMixin:
    """The ``judgements`` and ``odd_one_out`` tables (mixed into :class:`Library`)."""

    def judge(self, reference: JudgementReference, result_track_id: int, sign: int, model_id: str) -> int:
        """Store a judgement (replacing an earlier one of the same reference and result); its id."""
        if sign not in (LIKE, DISLIKE):
            raise ValueError(f"sign must be +1 or -1, not {sign!r}")
        where, params = _reference_clause(reference)
        path = None if reference.track_id is not None else reference.path
        with self.transaction() as conn:
            conn.execute(f"DELETE FROM judgements WHERE {where} AND result_track_id = ?",
                         params + [int(result_track_id)])
            cur = conn.execute(
                "INSERT INTO judgements(reference_track_id, reference_path, section_start, section_end, "
                "result_track_id, sign, made_at, model_id) VALUES (?,?,?,?,?,?,?,?)",
                (reference.track_id, path, reference.section_start, reference.section_end,
                 int(result_track_id), int(sign), now_iso(), model_id))
            return int(cur.lastrowid)

    def unjudge(self, judgement_id: int) -> bool:
        """Forget one judgement (undo); True when it existed."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM judgements WHERE id = ?", (int(judgement_id),)).rowcount > 0

    def restore_judgement(self, judgement: Judgement) -> None:
        """Put back a judgement exactly as it was (undoing a judgement that had replaced it)."""
        ref = judgement.reference
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO judgements(id, reference_track_id, reference_path, section_start, "
                "section_end, result_track_id, sign, made_at, model_id) VALUES (?,?,?,?,?,?,?,?,?)",
                (judgement.id, ref.track_id, ref.path, ref.section_start, ref.section_end,
                 judgement.result_track_id, judgement.sign, judgement.made_at, judgement.model_id))

    def judgements(self, reference: Optional[JudgementReference] = None) -> list[Judgement]:
        """All judgements (oldest first), or those of one reference."""
        sql, params = f"SELECT {_COLUMNS} FROM judgements", []
        if reference is not None:
            where, params = _reference_clause(reference)
            sql += f" WHERE {where}"
        with self.read() as conn:
            return [_judgement(r) for r in conn.execute(sql + " ORDER BY id", params)]

    def record_odd_one_out(self, anchor_id: int, positive_id: int, odd_id: int, model_id: str) -> int:
        if len({int(anchor_id), int(positive_id), int(odd_id)}) != 3:
            raise ValueError("an odd-one-out answer needs three different tracks")
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO odd_one_out(anchor_id, positive_id, odd_id, made_at, model_id) VALUES (?,?,?,?,?)",
                (int(anchor_id), int(positive_id), int(odd_id), now_iso(), model_id))
            return int(cur.lastrowid)

    def forget_odd_one_out(self, answer_id: int) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM odd_one_out WHERE id = ?", (int(answer_id),)).rowcount > 0

    def odd_one_out_answers(self) -> list[OddOneOutAnswer]:
        with self.read() as conn:
            rows = conn.execute("SELECT id, anchor_id, positive_id, odd_id, made_at, model_id "
                                "FROM odd_one_out ORDER BY id").fetchall()
        return [OddOneOutAnswer(*r) for r in rows]

    def judgement_rows(self) -> list[dict]:
        """Every judgement with the paths it names (the export: paths outlive track ids)."""
        sql = ("SELECT j.id, COALESCE(r.path, j.reference_path), j.section_start, j.section_end, t.path, j.sign, "
               "j.made_at, j.model_id FROM judgements j JOIN tracks t ON t.id = j.result_track_id "
               "LEFT JOIN tracks r ON r.id = j.reference_track_id ORDER BY j.id")
        keys = ("id", "reference", "section_start", "section_end", "result", "sign", "made_at", "model_id")
        with self.read() as conn:
            return [dict(zip(keys, row)) for row in conn.execute(sql)]
