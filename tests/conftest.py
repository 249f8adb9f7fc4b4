"""Shared fixtures: every test gets its own UCLAB_HOME and database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


POSTGRES_URL = os.environ.get("UCLAB_TEST_POSTGRES_URL", "")
# Test modules whose tests run on SQLite and on PostgreSQL (the store, the runs, the worker, the CLI).
# The model tests stay on SQLite only: the database adds nothing there but minutes.
BOTH_DATABASES = {"test_db", "test_runs", "test_worker_faults", "test_cli_runs", "test_cli_datasets",
                  "test_cli_generate", "test_postgres", "test_worker_daemon", "test_liveness",
                  "test_access_store", "test_cli_evaluate", "test_sweep_workers",
                  "test_corrections_store", "test_cli_preferences", "test_label_checks", "test_cli_relabel"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test of a BOTH_DATABASES module that uses ``home`` once per database."""
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if ("database" in metafunc.fixturenames and module in BOTH_DATABASES
            and not metafunc.definition.get_closest_marker("sqlite_only")):
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """Which database this test's ``home`` uses: "sqlite" unless parametrised."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql" and not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set UCLAB_TEST_POSTGRES_URL (.ci/run starts a PostgreSQL cluster).")
        pytest.skip("UCLAB_TEST_POSTGRES_URL is not set (scripts/postgres.sh start gives one)")
    return name


def empty_postgres_schema(url: str) -> None:
    """Drop every table of the test database (each test starts from an empty, unmigrated one)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str) -> Iterator[Path]:
    """A fresh UCLAB_HOME with its own empty database (SQLite under it, or the test PostgreSQL)."""
    from core.store import db

    path = tmp_path / "uclab"
    monkeypatch.setenv("UCLAB_HOME", str(path))
    if database == "postgresql":
        empty_postgres_schema(POSTGRES_URL)
        monkeypatch.setenv("UCLAB_DATABASE_URL", POSTGRES_URL)
    else:
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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line saying how the PostgreSQL half of the parametrised tests went (CI shows it)."""
    counts: dict[str, int] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if "[postgresql" in getattr(report, "nodeid", "") and report.when in ("call", "setup"):
                if outcome == "passed" and report.when == "setup":
                    continue
                counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        where = POSTGRES_URL.rsplit("@", 1)[-1] if POSTGRES_URL else "no server"
        terminalreporter.write_line("PostgreSQL-backed tests (" + where + "): "
                                    + ", ".join(f"{n} {k}" for k, n in counts.items()))
