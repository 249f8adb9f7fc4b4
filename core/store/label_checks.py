"""Label checks in the database: who said a row's label is right or wrong (and what it should be).

One row per (dataset version, row, person): a person's later check of a row replaces their earlier
one; two people's checks of one row both stay, so a disagreement is shown, never merged silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.store.db import session_scope
from core.store.orm import LabelCheck, utcnow


@dataclass(frozen=True)
class LabelCheckInfo:
    """One stored check: ``new_value`` None means "the label is right"."""

    id: int
    dataset_id: int
    row: int
    split: str
    old_value: Any
    new_value: Any
    reviewer: str
    reason: str
    run_id: int | None
    checked_at: datetime

    @property
    def says_wrong(self) -> bool:
        return self.new_value is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checked_at"] = self.checked_at.isoformat(timespec="seconds")
        return d


def _info(row: LabelCheck) -> LabelCheckInfo:
    return LabelCheckInfo(id=row.id, dataset_id=row.dataset_id, row=row.row, split=row.split,
                          old_value=row.old_value, new_value=row.new_value, reviewer=row.reviewer or "",
                          reason=row.reason or "", run_id=row.run_id, checked_at=row.checked_at)


def save_check(*, dataset_id: int, row: int, split: str, old_value: Any, new_value: Any, reviewer: str,
               reason: str = "", run_id: int | None = None) -> LabelCheckInfo:
    """Store a person's check of a row, replacing their earlier check of the same row."""
    with session_scope(write=True) as s:
        found = s.scalars(select(LabelCheck).where(
            LabelCheck.dataset_id == dataset_id, LabelCheck.row == row,
            LabelCheck.reviewer == reviewer)).one_or_none()
        if found is None:
            found = LabelCheck(dataset_id=dataset_id, row=row, reviewer=reviewer)
            s.add(found)
        found.split, found.old_value, found.new_value = split, old_value, new_value
        found.reason, found.run_id, found.checked_at = reason, run_id, utcnow()
        s.flush()
        return _info(found)


def list_checks(dataset_id: int) -> list[LabelCheckInfo]:
    """Every check of a dataset version, by row then oldest first."""
    with session_scope() as s:
        rows = s.scalars(select(LabelCheck).where(LabelCheck.dataset_id == dataset_id)
                         .order_by(LabelCheck.row, LabelCheck.checked_at, LabelCheck.id))
        return [_info(r) for r in rows]


def delete_check(dataset_id: int, row: int, reviewer: str) -> bool:
    """Withdraw a person's check of a row; whether there was one."""
    with session_scope(write=True) as s:
        found = s.scalars(select(LabelCheck).where(
            LabelCheck.dataset_id == dataset_id, LabelCheck.row == row,
            LabelCheck.reviewer == reviewer)).one_or_none()
        if found is None:
            return False
        s.delete(found)
        return True
