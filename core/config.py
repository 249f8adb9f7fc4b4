"""Settings read from the environment, and the layout of files under UCLAB_HOME."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_UPLOAD_LIMIT_MB = 200


@dataclass(frozen=True)
class Settings:
    """Where the app keeps its files and which database it talks to."""

    home: Path
    database_url: str
    upload_limit_mb: int

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
    def upload_limit_bytes(self) -> int:
        return self.upload_limit_mb * 1024 * 1024

    def resolve(self, relative: str | Path) -> Path:
        """Turn a path stored in the database (relative to home) into an absolute path."""
        return self.home / relative

    def relative(self, path: Path) -> str:
        """Turn an absolute path under home into the form the database stores."""
        return path.resolve().relative_to(self.home.resolve()).as_posix()


def get_settings() -> Settings:
    """Read the settings from UCLAB_HOME, UCLAB_DATABASE_URL and UCLAB_UPLOAD_LIMIT_MB."""
    home = Path(os.environ.get("UCLAB_HOME") or Path.home() / ".uclab").expanduser().resolve()
    url = os.environ.get("UCLAB_DATABASE_URL") or f"sqlite:///{home / 'uclab.db'}"
    try:
        limit = int(os.environ.get("UCLAB_UPLOAD_LIMIT_MB", DEFAULT_UPLOAD_LIMIT_MB))
    except ValueError:
        limit = DEFAULT_UPLOAD_LIMIT_MB
    return Settings(home=home, database_url=url, upload_limit_mb=max(1, limit))


def ensure_home(settings: Settings) -> None:
    """Create the folders the app writes to."""
    for folder in (settings.home, settings.datasets_dir, settings.runs_dir,
                   settings.models_dir, settings.reports_dir):
        folder.mkdir(parents=True, exist_ok=True)
