"""Dataset versions in the database: immutable rows pointing at a Parquet file under UCLAB_HOME."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from core.entities import DatasetInfo
from core.errors import NotFoundError
from core.store import orm
from core.store.db import session_scope


def to_info(row: orm.Dataset) -> DatasetInfo:
    return DatasetInfo(id=row.id, name=row.name, version=row.version, task=row.task,
                       source_filename=row.source_filename, content_hash=row.content_hash,
                       path=row.path, mapping=dict(row.mapping), split_sizes=dict(row.split_sizes),
                       quality=dict(row.quality), info=dict(row.info or {}), row_count=row.row_count,
                       created_at=row.created_at, created_by=row.created_by or "")


def save_version(*, name: str, digest: str, mapping: dict[str, Any], split: dict[str, Any],
                 write_file: Callable[[], str], **fields: Any) -> DatasetInfo:
    """The existing version with this name, content, mapping and split, or a new one.

    One write transaction: look for the same version, then `write_file()` (which returns the
    file's path relative to UCLAB_HOME), then the row with the next version number. `fields` are
    the remaining columns (task, source_filename, split_sizes, quality, info, row_count).
    """
    with session_scope(write=True) as session:
        for row in session.scalars(select(orm.Dataset).where(
                orm.Dataset.name == name, orm.Dataset.content_hash == digest)):
            if row.mapping == mapping and (row.info or {}).get("split") == split:
                return to_info(row)
        path = write_file()
        version = session.scalar(select(func.max(orm.Dataset.version)).where(orm.Dataset.name == name)) or 0
        row = orm.Dataset(name=name, version=version + 1, content_hash=digest, path=path, mapping=mapping,
                          **fields)
        session.add(row)
        session.flush()
        return to_info(row)


def list_datasets(limit: int | None = None) -> list[DatasetInfo]:
    """Every saved version (or the `limit` newest), newest first."""
    query = select(orm.Dataset).order_by(orm.Dataset.created_at.desc(), orm.Dataset.id.desc())
    with session_scope() as session:
        return [to_info(r) for r in session.scalars(query.limit(limit) if limit else query)]


def get_dataset(dataset_id: int) -> DatasetInfo:
    """One saved version by id; NotFoundError if there is none."""
    with session_scope() as session:
        row = session.get(orm.Dataset, int(dataset_id))
        if row is None:
            raise NotFoundError(f"There is no dataset with id {dataset_id}; pick one from the "
                                "datasets list.")
        return to_info(row)


def versions_named(name: str) -> list[DatasetInfo]:
    """The versions saved under a name, newest first."""
    with session_scope() as session:
        return [to_info(r) for r in session.scalars(select(orm.Dataset).where(orm.Dataset.name == name)
                                                    .order_by(orm.Dataset.version.desc()))]
