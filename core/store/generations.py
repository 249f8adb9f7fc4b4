"""The generation history: every prompt, its settings and what the model wrote."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.errors import NotFoundError
from core.generation_settings import GenerationRecord
from core.store.db import session_scope
from core.store.orm import Generation


def _record(row: Generation) -> GenerationRecord:
    settings = dict(row.settings or {})
    stats = settings.pop("stats", {}) or {}
    return GenerationRecord(id=row.id, model_ref=row.model_ref, run_id=row.run_id, mode=row.mode,
                            prompt=dict(row.prompt or {}), settings=settings, outputs=list(row.outputs or []),
                            time_to_first_token=row.time_to_first_token,
                            tokens_per_second=row.tokens_per_second, created_at=row.created_at, stats=stats)


def add_generation(**values: Any) -> GenerationRecord:
    """Store one generation (the columns of the ``generations`` table) and return it."""
    with session_scope(write=True) as s:
        row = Generation(**values)
        s.add(row)
        s.flush()
        return _record(row)


def list_generations(limit: int = 100, model_ref: str | None = None,
                     run_id: int | None = None) -> list[GenerationRecord]:
    """Stored generations, newest first."""
    query = select(Generation).order_by(Generation.id.desc()).limit(limit)
    if model_ref:
        query = query.where(Generation.model_ref == model_ref)
    if run_id is not None:
        query = query.where(Generation.run_id == run_id)
    with session_scope() as s:
        return [_record(row) for row in s.scalars(query)]


def get_generation(generation_id: int) -> GenerationRecord:
    """One stored generation (NotFoundError when the id names nothing)."""
    with session_scope() as s:
        row = s.get(Generation, generation_id)
        if row is None:
            raise NotFoundError(f"There is no generation with id {generation_id}; list the history to see "
                                "the ids.")
        return _record(row)
