"""Engines, sessions and start-up migrations.

SQLite gets WAL, a busy timeout and foreign keys on every connection. Read-write sessions
open with ``BEGIN IMMEDIATE`` so a read-then-write transaction never fails to upgrade its
lock (a deferred transaction in WAL mode gets SQLITE_BUSY despite the timeout).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings, ensure_home, get_settings
from core.errors import DatabaseFileError

BUSY_TIMEOUT_MS = 20_000
WRITE_LOCK_KEY = 0x55434C  # PostgreSQL advisory lock that serialises write transactions
SQLITE_HEADER = b"SQLite format 3\x00"
LOW_DISK_BYTES = 1024 * 1024  # below this, a failure to open is blamed on the full disk
_engines: dict[tuple[str, bool], Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def _make_engine(url: str, *, immediate: bool) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000,
                                              "check_same_thread": False})
    configure_sqlite(engine, immediate=immediate)
    return engine


def configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    """The connection rules above, on an SQLite engine (ours, or one a library made, such as Optuna's:
    its trial hand-out reads then writes, and two processes would otherwise both take one trial).
    Connections already in the engine's pool are closed so every later one follows them."""
    engine.dispose()

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


def get_engine(settings: Settings | None = None, *, write: bool = False) -> Engine:
    """The engine for the configured database, migrated to the latest schema on first use."""
    settings = settings or get_settings()
    url = settings.database_url
    with _lock:
        if url not in _migrated:
            check_database_file(settings)
            try:
                migrate(settings)
            except DatabaseFileError:
                raise
            except Exception as exc:
                if not url.startswith("sqlite"):
                    raise
                path = _sqlite_path(url)
                raise (_unavailable(path, exc) or _refusal(path, f"cannot be opened ({_first_line(exc)})")) \
                    from exc
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


def _sqlite_path(url: str) -> Path | None:
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0][:160] if text else type(exc).__name__).rstrip(".")


def _refusal(path: Path | None, problem: str) -> DatabaseFileError:
    return DatabaseFileError(
        f"The database file {path} {problem}, so Use Case Lab did not start and changed nothing; "
        f"restore it from a backup, or move it aside (for example to {path}.broken) to start "
        "with an empty database.")


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY) or not os.access(folder, os.W_OK)
    except OSError:
        return False


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _unavailable(path: Path | None, exc: BaseException) -> DatabaseFileError | None:
    """The true cause when a healthy database cannot be opened here (a read-only folder, a full disk,
    no permission, another program holding it), or None when the file itself may be at fault."""
    if path is None:
        return None
    folder, reason = path.parent, _first_line(exc)
    kept = "nothing was changed, and this is no sign of damage to the database"
    if _read_only(folder) or (path.exists() and not os.access(path, os.W_OK)):
        return DatabaseFileError(
            f"The database {path} cannot be opened for writing because {folder} is read-only ({reason}); "
            f"{kept}. Make the folder writable (check the mount or the permissions), or set UCLAB_HOME to a "
            "writable folder.")
    free = _free_bytes(folder)
    message = str(exc).lower()
    if "full" in message or isinstance(exc, OSError) and exc.errno == errno.ENOSPC \
            or (free is not None and free < LOW_DISK_BYTES):
        shown = f"{free / 2**20:.1f} MB free" if free is not None else "no space left"
        return DatabaseFileError(
            f"The disk holding the database {path} is full ({shown}), so it cannot be opened ({reason}); "
            f"{kept}. Free some space on that disk and start again.")
    if "locked" in message or "busy" in message:
        return DatabaseFileError(
            f"The database {path} is locked by another program ({reason}); {kept}. Close the other "
            "program (or wait for it) and start again.")
    if "permission" in message or isinstance(exc, PermissionError):
        return DatabaseFileError(
            f"The database {path} cannot be opened: permission denied ({reason}); {kept}. Give this user "
            f"read and write access to {folder} and the files in it.")
    return None


def check_database_file(settings: Settings) -> None:
    """Refuse an SQLite file that is empty, not SQLite, damaged, or another program's database,
    before anything could write to it (an empty file would silently become a new database)."""
    path = _sqlite_path(settings.database_url)
    if path is None or not path.exists():
        return
    size = path.stat().st_size
    if size == 0:
        raise _refusal(path, "is empty (0 bytes) where a database was expected")
    with open(path, "rb") as handle:
        header = handle.read(16)
    if header != SQLITE_HEADER:
        raise _refusal(path, "is not an SQLite database")
    try:
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA query_only=1")
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        raise (_unavailable(path, exc) or _refusal(path, f"is damaged ({_first_line(exc)})")) from exc
    if verdict != "ok":
        raise _refusal(path, f"is damaged ({verdict[:160]})")
    if tables and "alembic_version" not in tables:
        raise _refusal(path, "holds another program's tables, not a Use Case Lab database")


def reset_engines() -> None:
    """Forget cached engines (tests switch UCLAB_HOME between cases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()
