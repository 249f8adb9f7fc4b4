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
DEFAULT_CPU_USD_PER_HOUR = 0.10  # a small cloud VM with 2–4 cores
DEFAULT_GPU_USD_PER_HOUR = 2.50  # one data-centre GPU, on demand

# The environment variables the app reads; this module is the only one that names them (issue 26).
HOME_VARIABLE = "UCLAB_HOME"
DATABASE_URL_VARIABLE = "UCLAB_DATABASE_URL"
UPLOAD_LIMIT_VARIABLE = "UCLAB_UPLOAD_LIMIT_MB"
MAX_ROWS_VARIABLE = "UCLAB_MAX_ROWS"
MAX_EXPANDED_VARIABLE = "UCLAB_MAX_EXPANDED_MB"
MAX_CELLS_VARIABLE = "UCLAB_MAX_CELLS"
PARSE_SECONDS_VARIABLE = "UCLAB_PARSE_SECONDS"
REPORT_TO_VARIABLE = "UCLAB_REPORT_TO"
MLFLOW_VARIABLE = "UCLAB_MLFLOW_TRACKING_URI"
MAX_RUNNING_VARIABLE = "UCLAB_MAX_RUNNING"
API_KEY_VARIABLE = "UCLAB_API_KEY"
HOST_VARIABLE = "UCLAB_HOST"
SMOLLM2_DIR_VARIABLE = "UCLAB_SMOLLM2_DIR"
ALLOW_ANONYMOUS_LAN_VARIABLE = "UCLAB_ALLOW_ANONYMOUS_LAN"
CPU_USD_VARIABLE = "UCLAB_CPU_USD_PER_HOUR"
GPU_USD_VARIABLE = "UCLAB_GPU_USD_PER_HOUR"
JUDGE_URL_VARIABLE = "UCLAB_JUDGE_URL"
JUDGE_MODEL_VARIABLE = "UCLAB_JUDGE_MODEL"
JUDGE_KEY_ENV_VARIABLE = "UCLAB_JUDGE_KEY_ENV"
JUDGE_API_KEY_VARIABLE = "UCLAB_JUDGE_API_KEY"
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
    home = Path(os.environ.get(HOME_VARIABLE) or Path.home() / ".uclab").expanduser().resolve()
    url = os.environ.get(DATABASE_URL_VARIABLE) or f"sqlite:///{home / 'uclab.db'}"
    trackers = tuple(t for t in (os.environ.get(REPORT_TO_VARIABLE) or "").replace(" ", "").lower().split(",")
                     if t in TRACKERS)
    return Settings(home=home, database_url=url,
                    upload_limit_mb=_env_int(UPLOAD_LIMIT_VARIABLE, DEFAULT_UPLOAD_LIMIT_MB),
                    max_rows=_env_int(MAX_ROWS_VARIABLE, DEFAULT_MAX_ROWS),
                    max_expanded_mb=_env_int(MAX_EXPANDED_VARIABLE, DEFAULT_MAX_EXPANDED_MB),
                    max_cells=_env_int(MAX_CELLS_VARIABLE, DEFAULT_MAX_CELLS),
                    parse_seconds=_env_int(PARSE_SECONDS_VARIABLE, DEFAULT_PARSE_SECONDS),
                    report_to=trackers,
                    mlflow_tracking_uri=(os.environ.get(MLFLOW_VARIABLE) or "").strip())


# Settings read at call time (tests and users change them while a process lives).

def max_running() -> int:
    """How many runs may train at once (UCLAB_MAX_RUNNING, default 1: a CPU has no room for two)."""
    try:
        return max(1, int(os.environ.get(MAX_RUNNING_VARIABLE, "1")))
    except ValueError:
        return 1


def api_key() -> str | None:
    """The server's API key from UCLAB_API_KEY, or None."""
    return (os.environ.get(API_KEY_VARIABLE) or "").strip() or None


def host_override() -> str | None:
    """The machine name runs and workers record, when UCLAB_HOST sets one."""
    return os.environ.get(HOST_VARIABLE) or None


def smollm2_dir() -> str | None:
    """UCLAB_SMOLLM2_DIR: an already converted SmolLM2 folder, when set."""
    return os.environ.get(SMOLLM2_DIR_VARIABLE) or None


def allow_anonymous_lan() -> bool:
    """UCLAB_ALLOW_ANONYMOUS_LAN=1: the app may serve the LAN without sign-in."""
    return os.environ.get(ALLOW_ANONYMOUS_LAN_VARIABLE) == "1"


def usd_per_hour(gpu: bool) -> float:
    """The hardware price per hour the report uses (UCLAB_GPU_USD_PER_HOUR / UCLAB_CPU_USD_PER_HOUR)."""
    name, default = ((GPU_USD_VARIABLE, DEFAULT_GPU_USD_PER_HOUR) if gpu
                     else (CPU_USD_VARIABLE, DEFAULT_CPU_USD_PER_HOUR))
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def judge_endpoint() -> tuple[str, str, str | None] | None:
    """(base URL, model, API key or None) from UCLAB_JUDGE_URL, UCLAB_JUDGE_MODEL and the key in the
    variable named by UCLAB_JUDGE_KEY_ENV (default UCLAB_JUDGE_API_KEY); None when no judge is set."""
    url = os.environ.get(JUDGE_URL_VARIABLE, "").strip()
    model = os.environ.get(JUDGE_MODEL_VARIABLE, "").strip()
    if not url or not model:
        return None
    key = os.environ.get(os.environ.get(JUDGE_KEY_ENV_VARIABLE, JUDGE_API_KEY_VARIABLE) or "", "") or None
    return url, model, key


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

