"""Persistence of scored answers: one ``answer_evaluations`` row per model × dataset split × prompt
kind, and its ``answer_examples`` (prompt, reference, answer, scores) in split order.

A baseline is cached by (dataset version, split, model, kind, shots, seed, examples): dataset
versions never change, so a stored row with the same key is the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, select

from core.errors import NotFoundError
from core.store.db import session_scope
from core.store.orm import AnswerEvaluation, AnswerExample

EXAMPLE_COLUMNS = ("position", "prompt", "reference", "answer")


@dataclass(frozen=True)
class AnswerEvaluationInfo:
    """A stored answer evaluation; ``examples_frame`` holds the per-example rows when asked for."""

    id: int
    dataset_id: int
    run_id: int | None
    model_ref: str
    split: str
    kind: str
    shots: int
    seed: int
    examples: int
    settings: dict[str, Any]
    metrics: dict[str, Any]
    seconds: float
    created_at: datetime | None
    examples_frame: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)

    def to_dict(self, *, rows: bool = True) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in ("id", "dataset_id", "run_id", "model_ref", "split", "kind",
                                               "shots", "seed", "examples", "settings", "metrics", "seconds")}
        data["created_at"] = self.created_at.isoformat(timespec="seconds") if self.created_at else None
        if rows:
            data["rows"] = self.examples_frame.to_dict(orient="records")
        return data


def _info(row: AnswerEvaluation, frame: pd.DataFrame | None = None) -> AnswerEvaluationInfo:
    return AnswerEvaluationInfo(
        id=row.id, dataset_id=row.dataset_id, run_id=row.run_id, model_ref=row.model_ref, split=row.split,
        kind=row.kind, shots=row.shots, seed=row.seed, examples=row.examples,
        settings=dict(row.settings or {}), metrics=dict(row.metrics or {}),
        seconds=row.seconds or 0.0, created_at=row.created_at,
        examples_frame=frame if frame is not None else pd.DataFrame())


def _frame(rows: list[AnswerExample]) -> pd.DataFrame:
    records = [{"position": r.position, "prompt": r.prompt, "reference": r.reference, "answer": r.answer,
                **(r.scores or {})} for r in rows]
    return pd.DataFrame(records) if records else pd.DataFrame(columns=list(EXAMPLE_COLUMNS))


def save_answer_evaluation(*, dataset_id: int, run_id: int | None, model_ref: str, split: str, kind: str,
                           shots: int, seed: int, settings: dict[str, Any], metrics: dict[str, Any],
                           seconds: float, rows: list[dict[str, Any]]) -> int:
    """Store an evaluation and its examples, replacing an older one with the same key; its id."""
    with session_scope(write=True) as s:
        old = select(AnswerEvaluation.id).where(
            AnswerEvaluation.dataset_id == dataset_id, AnswerEvaluation.split == split,
            AnswerEvaluation.model_ref == model_ref, AnswerEvaluation.kind == kind,
            AnswerEvaluation.shots == shots, AnswerEvaluation.seed == seed,
            AnswerEvaluation.examples == len(rows))
        old_ids = list(s.scalars(old if run_id is None else old.where(AnswerEvaluation.run_id == run_id)))
        if old_ids:
            s.execute(delete(AnswerExample).where(AnswerExample.evaluation_id.in_(old_ids)))
            s.execute(delete(AnswerEvaluation).where(AnswerEvaluation.id.in_(old_ids)))
        row = AnswerEvaluation(dataset_id=dataset_id, run_id=run_id, model_ref=model_ref, split=split,
                               kind=kind, shots=shots, seed=seed, examples=len(rows), settings=settings,
                               metrics=metrics, seconds=seconds)
        s.add(row)
        s.flush()
        s.add_all(AnswerExample(evaluation_id=row.id, position=int(r["position"]), prompt=str(r["prompt"]),
                                reference=str(r["reference"]), answer=str(r["answer"]),
                                scores={k: v for k, v in r.items() if k not in EXAMPLE_COLUMNS})
                  for r in rows)
        return row.id


def get_answer_evaluation(evaluation_id: int, *, with_rows: bool = True) -> AnswerEvaluationInfo:
    """One stored evaluation with its examples in split order."""
    with session_scope() as s:
        row = s.get(AnswerEvaluation, evaluation_id)
        if row is None:
            raise NotFoundError(f"There is no answer evaluation with id {evaluation_id}.")
        examples = list(s.scalars(select(AnswerExample).where(AnswerExample.evaluation_id == evaluation_id)
                                  .order_by(AnswerExample.position))) if with_rows else []
        return _info(row, _frame(examples) if with_rows else None)


def find_answer_evaluations(*, dataset_id: int | None = None, split: str | None = None,
                            run_id: int | None = None, model_ref: str | None = None,
                            kinds: tuple[str, ...] = (), shots: int | None = None, seed: int | None = None,
                            examples: int | None = None, baselines_only: bool = False
                            ) -> list[AnswerEvaluationInfo]:
    """Stored evaluations matching every given filter, newest first (without their examples)."""
    query = select(AnswerEvaluation).order_by(AnswerEvaluation.id.desc())
    for column, value in ((AnswerEvaluation.dataset_id, dataset_id), (AnswerEvaluation.split, split),
                          (AnswerEvaluation.run_id, run_id), (AnswerEvaluation.model_ref, model_ref),
                          (AnswerEvaluation.shots, shots), (AnswerEvaluation.seed, seed),
                          (AnswerEvaluation.examples, examples)):
        if value is not None:
            query = query.where(column == value)
    if kinds:
        query = query.where(AnswerEvaluation.kind.in_(kinds))
    if baselines_only:
        query = query.where(AnswerEvaluation.run_id.is_(None))
    with session_scope() as s:
        return [_info(row) for row in s.scalars(query)]


def timing_history(model_ref: str | None = None, kinds: tuple[str, ...] = (),
                   limit: int = 20) -> list[tuple[float, int, dict[str, Any]]]:
    """(seconds, examples, settings) of recent evaluations (of one model, of some kinds): for estimates."""
    query = select(AnswerEvaluation.seconds, AnswerEvaluation.examples, AnswerEvaluation.settings).where(
        AnswerEvaluation.examples > 0, AnswerEvaluation.seconds > 0).order_by(AnswerEvaluation.id.desc())
    if model_ref:
        query = query.where(AnswerEvaluation.model_ref == model_ref)
    if kinds:
        query = query.where(AnswerEvaluation.kind.in_(kinds))
    with session_scope() as s:
        return [(sec, n, dict(settings or {})) for sec, n, settings in s.execute(query.limit(limit))]


def update_example_scores(evaluation_id: int, scores: dict[int, dict[str, Any]],
                          metrics: dict[str, Any]) -> None:
    """Add scores to stored examples (by position) and summaries to the evaluation's metrics."""
    with session_scope(write=True) as s:
        row = s.get(AnswerEvaluation, evaluation_id)
        if row is None:
            raise NotFoundError(f"There is no answer evaluation with id {evaluation_id}.")
        merged = dict(row.metrics or {})
        merged["metrics"] = {**(merged.get("metrics") or {}), **metrics}
        row.metrics = merged
        for example in s.scalars(select(AnswerExample).where(AnswerExample.evaluation_id == evaluation_id)):
            if example.position in scores:
                example.scores = {**(example.scores or {}), **scores[example.position]}
