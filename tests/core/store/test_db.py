"""Persistence: pragmas on every connection, migrations on empty and existing databases."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from core.config import get_settings
from core.errors import DatabaseFileError
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


def _real_database(home: Path) -> bytes:
    with db.session_scope(write=True) as session:
        session.add(Dataset(name="kept", task="classification", source_filename="a.csv",
                            content_hash="x" * 64, path="datasets/a.parquet", mapping={},
                            split_sizes={}, quality={}, info={}, row_count=3))
    db.reset_engines()
    with sqlite3.connect(home / "uclab.db") as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return (home / "uclab.db").read_bytes()


def _foreign_database(path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE notes (body TEXT)")


@pytest.mark.sqlite_only  # damages the SQLite file itself
@pytest.mark.parametrize("damage", ["zero-bytes", "not-sqlite", "bad-header", "truncated", "foreign"])
def test_item10_a_broken_database_is_refused_with_a_sentence_and_never_touched(
        home: Path, damage: str, capsys: pytest.CaptureFixture) -> None:
    """Issue 16 item 10: five broken databases; each gets one sentence naming the file, and its
    bytes stay exactly as they were (a zero-byte file used to become a new empty database)."""
    from core.cli import main

    path = home / "uclab.db"
    good = _real_database(home)
    for extra in (home / "uclab.db-wal", home / "uclab.db-shm"):
        extra.unlink(missing_ok=True)
    if damage == "zero-bytes":
        path.write_bytes(b"")
    elif damage == "not-sqlite":
        path.write_bytes(b"id,name\n1,a\n" * 100)
    elif damage == "bad-header":
        path.write_bytes(b"SQLite format 2\x00" + good[16:])
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2 + 100])
    else:
        path.unlink()
        _foreign_database(path)
    before = path.read_bytes()
    db.reset_engines()
    with pytest.raises(DatabaseFileError, match=r"The database file .*uclab\.db .*move it aside"):
        db.get_engine()
    assert main(["datasets", "list"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert path.read_bytes() == before
