"""Stored evaluations: one row per run, split and model (the run itself or a baseline), with its
metrics as JSON and the path of its predictions file relative to UCLAB_HOME."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.store import orm
from core.store.db import session_scope


@dataclass(frozen=True)
class EvaluationRow:
    """One stored evaluation. ``model`` is ``run`` for the run's own model, else a baseline's name."""

    id: int
    run_id: int
    split: str
    model: str
    metrics: dict[str, Any]
    predictions_path: str


def _row(r: orm.Evaluation) -> EvaluationRow:
    return EvaluationRow(id=r.id, run_id=r.run_id, split=r.split, model=r.model,
                         metrics=dict(r.metrics or {}), predictions_path=r.predictions_path or "")


def replace_evaluation(run_id: int, split: str, model: str, metrics: dict[str, Any],
                       predictions_path: str) -> None:
    """Store one evaluation, replacing an older one of the same run, split and model."""
    with session_scope(write=True) as s:
        for old in s.scalars(select(orm.Evaluation).where(
                orm.Evaluation.run_id == run_id, orm.Evaluation.split == split,
                orm.Evaluation.model == model)):
            s.delete(old)
        s.add(orm.Evaluation(run_id=run_id, split=split, model=model, metrics=metrics,
                             predictions_path=predictions_path))


def list_evaluations(run_ids: int | Sequence[int], *, split: str | None = None,
                     model: str | None = None) -> list[EvaluationRow]:
    """The evaluations of one or several runs, oldest first."""
    ids = [int(run_ids)] if isinstance(run_ids, int) else [int(i) for i in run_ids]
    query = select(orm.Evaluation).where(orm.Evaluation.run_id.in_(ids)).order_by(orm.Evaluation.id)
    if split is not None:
        query = query.where(orm.Evaluation.split == split)
    if model is not None:
        query = query.where(orm.Evaluation.model == model)
    with session_scope() as s:
        return [_row(r) for r in s.scalars(query)]
