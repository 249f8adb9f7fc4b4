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
    from core.store import db

    path = tmp_path / "uclab"
    monkeypatch.setenv("UCLAB_HOME", str(path))
    monkeypatch.delenv("UCLAB_DATABASE_URL", raising=False)
    db.reset_engines()
    yield path
    db.reset_engines()


@pytest.fixture(scope="session")
def tiny_chat_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer chat model with the ChatML template, saved once per test session."""
    from tests.tiny_chat import build_tiny_chat_lm

    return build_tiny_chat_lm(tmp_path_factory.mktemp("tiny-chat") / "tiny-chat")


@pytest.fixture
def tiny(home: Path, tiny_chat_folder: Path) -> Iterator[str]:
    """The tiny chat model registered in a fresh catalogue; yields its model reference."""
    from core.inference.generation import clear_loaded
    from core.models import catalog

    clear_loaded()
    yield catalog.add_local_model(str(tiny_chat_folder)).key
    clear_loaded()
