"""Persistence: pragmas on every connection, migrations on empty and existing databases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from core.config import get_settings
from core.store import db
from core.store.orm import Dataset, Run, RunStatus

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.sqlite_only
def test_every_connection_gets_wal_busy_timeout_and_foreign_keys(home: Path) -> None:
    for write in (False, True):
        with db.session_scope(write=write) as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert session.execute(text("PRAGMA busy_timeout")).scalar() == db.BUSY_TIMEOUT_MS


def test_migrations_create_the_schema_on_an_empty_database(home: Path, database: str) -> None:
    with db.session_scope() as session:
        version = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    tables = set(inspect(db.get_engine()).get_table_names())
    assert version is not None
    assert {"datasets", "runs", "run_metrics", "run_logs", "evaluations", "generations"} <= tables
    assert (home / "uclab.db").exists() == (database == "sqlite")


def test_migrating_an_existing_database_keeps_its_rows(home: Path) -> None:
    with db.session_scope(write=True) as session:
        session.add(Dataset(name="kept", task="classification", source_filename="a.csv",
                            content_hash="x" * 64, path="datasets/a.parquet", mapping={},
                            split_sizes={}, quality={}, info={}, row_count=3))
    db.reset_engines()
    db.migrate(get_settings())  # a second start on the same file is a no-op
    with db.session_scope() as session:
        assert session.scalars(select(Dataset.name)).all() == ["kept"]


def test_foreign_keys_are_enforced(home: Path) -> None:
    raised = False
    try:
        with db.session_scope(write=True) as session:
            session.add(Run(dataset_id=999, model_key="m", task="classification", config={},
                            status=RunStatus.QUEUED.value))
    except Exception as exc:  # noqa: BLE001
        raised = "FOREIGN KEY" in str(exc).upper()
    assert raised


def test_status_is_constrained_to_the_enum(home: Path) -> None:
    with db.session_scope(write=True) as session:
        session.add(Dataset(name="d", task="classification", source_filename="a.csv",
                            content_hash="y" * 64, path="p", mapping={}, split_sizes={},
                            quality={}, info={}, row_count=1))
    with pytest.raises(IntegrityError):
        with db.session_scope(write=True) as session:
            session.execute(text(
                "INSERT INTO runs (dataset_id, model_key, task, config, seed, status, status_reason,"
                " cancel_requested, created_at, step, total_steps, epoch, elapsed_seconds, output_dir,"
                " last_checkpoint, summary, library_versions, device, name, kind)"
                " VALUES (1, 'm', 'classification', '{}', 1, 'bogus', '', false, '2026-01-01', 0, 0, 0, 0,"
                " '', '', '{}', '{}', '', '', 'train')"))


def test_two_processes_starting_at_once_migrate_safely(home: Path) -> None:
    code = "from core.store import db; db.get_engine(); print('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-500:] for o in outs]
    with db.session_scope() as session:
        assert session.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
