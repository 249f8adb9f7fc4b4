"""Shared fixtures: every test gets its own UCLAB_HOME and database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh UCLAB_HOME (with its own SQLite database) for one test."""
    from core import db

    path = tmp_path / "uclab"
    monkeypatch.setenv("UCLAB_HOME", str(path))
    monkeypatch.delenv("UCLAB_DATABASE_URL", raising=False)
    db.reset_engines()
    yield path
    db.reset_engines()
