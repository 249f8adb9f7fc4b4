"""People's corrections of model answers in the database: a better answer, or thumbs up/down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.store import orm
from core.store.db import session_scope


@dataclass(frozen=True)
class CorrectionRow:
    """One stored correction: the prompt (JSON turns), the chosen and the rejected answer, and who."""

    id: int
    kind: str
    prompt: str
    chosen: str
    rejected: str
    run_id: int | None
    model_ref: str
    place: str
    created_at: datetime
    created_by: str


def _row(r: orm.Correction) -> CorrectionRow:
    return CorrectionRow(r.id, r.kind, r.prompt, r.chosen, r.rejected, r.run_id, r.model_ref, r.place,
                         r.created_at, r.created_by)


def add_correction(*, kind: str, prompt: str, chosen: str, rejected: str, run_id: int | None,
                   model_ref: str, place: str, created_by: str) -> int:
    """Store one correction; its id."""
    with session_scope(write=True) as s:
        row = orm.Correction(kind=kind, prompt=prompt, chosen=chosen, rejected=rejected, run_id=run_id,
                             model_ref=model_ref[:300], place=place[:32], created_by=created_by[:200])
        s.add(row)
        s.flush()
        return int(row.id)


def list_corrections(run_id: int | None = None, model_ref: str | None = None) -> list[CorrectionRow]:
    """Every correction (of one run or model), oldest first."""
    query = select(orm.Correction).order_by(orm.Correction.id)
    if run_id is not None:
        query = query.where(orm.Correction.run_id == int(run_id))
    if model_ref is not None:
        query = query.where(orm.Correction.model_ref == model_ref)
    with session_scope() as s:
        return [_row(r) for r in s.scalars(query)]
