"""Engines, sessions and start-up migrations.

SQLite gets WAL, a busy timeout and foreign keys on every connection. Read-write sessions
open with ``BEGIN IMMEDIATE`` so a read-then-write transaction never fails to upgrade its
lock (a deferred transaction in WAL mode gets SQLITE_BUSY despite the timeout).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings, ensure_home, get_settings

BUSY_TIMEOUT_MS = 20_000
WRITE_LOCK_KEY = 0x55434C  # PostgreSQL advisory lock that serialises write transactions
_engines: dict[tuple[str, bool], Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def _make_engine(url: str, *, immediate: bool) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000,
                                              "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def get_engine(settings: Settings | None = None, *, write: bool = False) -> Engine:
    """The engine for the configured database, migrated to the latest schema on first use."""
    settings = settings or get_settings()
    url = settings.database_url
    with _lock:
        if url not in _migrated:
            migrate(settings)
            _migrated.add(url)
        key = (url, write)
        if key not in _engines:
            _engines[key] = _make_engine(url, immediate=write)
        return _engines[key]


@contextmanager
def session_scope(settings: Settings | None = None, *, write: bool = False) -> Iterator[Session]:
    """A short transaction: committed on success, rolled back on error."""
    engine = get_engine(settings, write=write)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        if write and engine.dialect.name == "postgresql":
            # The same one-writer-at-a-time rule SQLite gets from BEGIN IMMEDIATE, so
            # read-then-write steps (claiming a queued run against the free slots) stay atomic.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
        yield session


def migrate(settings: Settings) -> None:
    """Apply Alembic migrations once, under a file lock so two processes starting together are safe."""
    from alembic import command
    from alembic.config import Config

    ensure_home(settings)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    with FileLock(str(settings.home / ".migrate.lock"), timeout=120):
        command.upgrade(cfg, "head")


def reset_engines() -> None:
    """Forget cached engines (tests switch UCLAB_HOME between cases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()
