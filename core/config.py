"""Settings read from the environment, and the layout of files under UCLAB_HOME."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_UPLOAD_LIMIT_MB = 200
# What an upload may expand to once parsed (a 0.4 MB Parquet file can hold 20 M rows).
DEFAULT_MAX_ROWS = 2_000_000
DEFAULT_MAX_EXPANDED_MB = 1024
DEFAULT_MAX_CELLS = 5_000_000      # Excel workbooks: openpyxl parses about 100k cells a second
DEFAULT_PARSE_SECONDS = 60
TRACKERS = ("tensorboard", "mlflow")
# Work in progress (a zip being written, a staging folder, a Parquet file being saved) carries its
# owner in its name, ".NAME.part~HOST~PID[~...]", so a later start can tell a killed process's
# leftovers from another process's live work.
_WORK = re.compile(r"\.part~(?P<host>[^~/]+)~(?P<pid>\d+)(?:~.*)?$")
FOREIGN_LEFTOVER_S = 24 * 3600  # another machine's work in progress is left alone this long
UNMARKED_LEFTOVER_S = 3600  # leftovers of older versions (".zip.part", "tmp…", ".….tmp") after an hour


@dataclass(frozen=True)
class Settings:
    """Where the app keeps its files and which database it talks to."""

    home: Path
    database_url: str
    upload_limit_mb: int
    max_rows: int = DEFAULT_MAX_ROWS
    max_expanded_mb: int = DEFAULT_MAX_EXPANDED_MB
    max_cells: int = DEFAULT_MAX_CELLS
    parse_seconds: int = DEFAULT_PARSE_SECONDS
    # Trackers every run reports to unless it says otherwise (UCLAB_REPORT_TO, e.g. "tensorboard,mlflow").
    report_to: tuple[str, ...] = ()
    # Where MLflow runs go (UCLAB_MLFLOW_TRACKING_URI); empty: a local database under UCLAB_HOME/mlflow.
    mlflow_tracking_uri: str = ""

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def mlflow_target(self) -> str:
        """Where MLflow runs go: the setting (a URL, a database URI or a folder), else ``mlflow_dir``."""
        return self.mlflow_tracking_uri or str(self.mlflow_dir)

    @property
    def upload_limit_bytes(self) -> int:
        return self.upload_limit_mb * 1024 * 1024

    def resolve(self, relative: str | Path) -> Path:
        """Turn a path stored in the database (relative to home) into an absolute path."""
        return self.home / relative

    def relative(self, path: Path) -> str:
        """Turn an absolute path under home into the form the database stores."""
        return path.resolve().relative_to(self.home.resolve()).as_posix()


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def get_settings() -> Settings:
    """Read the settings from UCLAB_HOME, UCLAB_DATABASE_URL, UCLAB_UPLOAD_LIMIT_MB, the upload
    budgets UCLAB_MAX_ROWS, UCLAB_MAX_EXPANDED_MB, UCLAB_MAX_CELLS and UCLAB_PARSE_SECONDS,
    UCLAB_REPORT_TO and UCLAB_MLFLOW_TRACKING_URI (unknown tracker names are ignored)."""
    home = Path(os.environ.get("UCLAB_HOME") or Path.home() / ".uclab").expanduser().resolve()
    url = os.environ.get("UCLAB_DATABASE_URL") or f"sqlite:///{home / 'uclab.db'}"
    trackers = tuple(t for t in (os.environ.get("UCLAB_REPORT_TO") or "").replace(" ", "").lower().split(",")
                     if t in TRACKERS)
    return Settings(home=home, database_url=url,
                    upload_limit_mb=_env_int("UCLAB_UPLOAD_LIMIT_MB", DEFAULT_UPLOAD_LIMIT_MB),
                    max_rows=_env_int("UCLAB_MAX_ROWS", DEFAULT_MAX_ROWS),
                    max_expanded_mb=_env_int("UCLAB_MAX_EXPANDED_MB", DEFAULT_MAX_EXPANDED_MB),
                    max_cells=_env_int("UCLAB_MAX_CELLS", DEFAULT_MAX_CELLS),
                    parse_seconds=_env_int("UCLAB_PARSE_SECONDS", DEFAULT_PARSE_SECONDS),
                    report_to=trackers,
                    mlflow_tracking_uri=(os.environ.get("UCLAB_MLFLOW_TRACKING_URI") or "").strip())


def ensure_home(settings: Settings) -> None:
    """Create the folders the app writes to, and clear what killed exports and imports left there."""
    for folder in (settings.home, settings.datasets_dir, settings.runs_dir,
                   settings.models_dir, settings.reports_dir):
        folder.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(settings)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname() or "host")


def work_path(target: Path) -> Path:
    """Where to build ``target`` before it is moved into place: a hidden sibling naming this process."""
    return target.with_name(f".{target.name}.part~{_host()}~{os.getpid()}")


def staging_prefix() -> str:
    """The name prefix of a staging folder (``tempfile.TemporaryDirectory(prefix=...)``) of this process."""
    return f".staging.part~{_host()}~{os.getpid()}~"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _abandoned(path: Path, now: float) -> bool:
    try:
        age = now - path.lstat().st_mtime
    except OSError:
        return False
    found = _WORK.search(path.name)
    if found:
        if found["host"] != _host():
            return age > FOREIGN_LEFTOVER_S
        return int(found["pid"]) != os.getpid() and not _alive(int(found["pid"]))
    legacy = path.name.endswith(".zip.part") or (path.name.startswith(".") and path.name.endswith(".tmp")) \
        or (path.is_dir() and path.name.startswith("tmp") and path.parent.name == "exports")
    return legacy and age > UNMARKED_LEFTOVER_S


def sweep_leftovers(settings: Settings) -> list[Path]:
    """Remove the partial files and staging folders that killed exports and imports left under
    UCLAB_HOME (exports, datasets); returns what was removed."""
    removed = []
    now = time.time()
    for folder in (settings.home / "exports", settings.datasets_dir):
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for path in entries:
            if not _abandoned(path, now):
                continue
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
            except OSError:
                continue  # a read-only or vanished file: the next start tries again
    return removed

