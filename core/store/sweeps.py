"""Sweep persistence: the sweep rows (the Optuna study itself lives in Optuna's own tables).

``claim_trial_slot`` is the one place that lets a process hand out a new trial: a
compare-and-set on ``asked``, so two workers advancing a sweep together never exceed its budget
or its parallel bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from core.errors import NotFoundError
from core.store.db import session_scope
from core.store.orm import Sweep, utcnow

RUNNING = "running"
FINISHED = "finished"


@dataclass(frozen=True)
class SweepInfo:
    """A sweep as the pages and the CLI see it."""

    id: int
    study_name: str
    dataset_id: int
    model_key: str
    task: str
    metric: str
    direction: str
    space: str
    base_config: dict[str, Any]
    n_trials: int | None
    minutes: float | None
    parallel: int
    asked: int
    status: str
    created_at: datetime
    finished_at: datetime | None
    created_by: str = ""
    final_run_id: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def is_live(self) -> bool:
        return self.status == RUNNING

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("created_at", "finished_at"):
            d[key] = d[key].isoformat(timespec="seconds") if d[key] else None
        return d


def _info(row: Sweep) -> SweepInfo:
    return SweepInfo(id=row.id, study_name=row.study_name, dataset_id=row.dataset_id, model_key=row.model_key,
                     task=row.task, metric=row.metric, direction=row.direction, space=row.space,
                     base_config=dict(row.base_config or {}), n_trials=row.n_trials, minutes=row.minutes,
                     parallel=row.parallel, asked=row.asked, status=row.status, created_at=row.created_at,
                     finished_at=row.finished_at, created_by=row.created_by or "",
                     final_run_id=row.final_run_id, summary=dict(row.summary or {}))


def create_sweep(*, study_name: str, dataset_id: int, model_key: str, task: str, metric: str, direction: str,
                 space: str, base_config: dict[str, Any], n_trials: int | None, minutes: float | None,
                 parallel: int, created_by: str = "") -> SweepInfo:
    with session_scope(write=True) as s:
        row = Sweep(study_name=study_name, dataset_id=dataset_id, model_key=model_key, task=task,
                    metric=metric, direction=direction, space=space, base_config=base_config,
                    n_trials=n_trials, minutes=minutes, parallel=parallel, asked=0, status=RUNNING,
                    created_by=created_by, summary={})
        s.add(row)
        s.flush()
        return _info(row)


def get_sweep(sweep_id: int) -> SweepInfo:
    with session_scope() as s:
        row = s.get(Sweep, sweep_id)
        if row is None:
            raise NotFoundError(f"There is no sweep with id {sweep_id}. `uclab sweep list` shows them.")
        return _info(row)


def list_sweeps(*, dataset_id: int | None = None, limit: int = 100) -> list[SweepInfo]:
    with session_scope() as s:
        q = select(Sweep).order_by(Sweep.id.desc()).limit(limit)
        if dataset_id is not None:
            q = q.where(Sweep.dataset_id == dataset_id)
        return [_info(r) for r in s.scalars(q)]


def live_sweep_ids() -> list[int]:
    with session_scope() as s:
        return list(s.scalars(select(Sweep.id).where(Sweep.status == RUNNING).order_by(Sweep.id)))


def claim_trial_slot(sweep_id: int, seen_asked: int) -> bool:
    """Count one more trial handed out, if nobody else did since `seen_asked` was read."""
    with session_scope(write=True) as s:
        done = s.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.asked == seen_asked,
                                             Sweep.status == RUNNING)
                         .values(asked=seen_asked + 1))
        return bool(done.rowcount)


def release_trial_slot(sweep_id: int) -> None:
    """Give back one slot claimed for a trial the study then failed to hand out."""
    with session_scope(write=True) as s:
        s.execute(update(Sweep).where(Sweep.id == sweep_id, Sweep.asked > 0).values(asked=Sweep.asked - 1))


def update_sweep(sweep_id: int, **fields: Any) -> SweepInfo:
    """Set fields (status, summary, final_run_id); finishing stamps finished_at."""
    with session_scope(write=True) as s:
        row = s.get(Sweep, sweep_id)
        if row is None:
            raise NotFoundError(f"There is no sweep with id {sweep_id}.")
        for key, value in fields.items():
            setattr(row, key, value)
        if fields.get("status") == FINISHED and row.finished_at is None:
            row.finished_at = utcnow()
        s.flush()
        return _info(row)
