"""The same persistence code on PostgreSQL (set UCLAB_TEST_POSTGRES_URL to an empty database to run).

Example: UCLAB_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/uclab_test
(needs a driver in the venv, e.g. `pip install "psycopg[binary]"`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from core.data.datasets import SplitConfig, frame_to_parsed, list_datasets, save_dataset
from core.store import db, runs

URL = os.environ.get("UCLAB_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="UCLAB_TEST_POSTGRES_URL is not set")


@pytest.fixture
def pg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    engine = create_engine(URL)
    with engine.begin() as conn:  # start from an empty schema
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    monkeypatch.setenv("UCLAB_HOME", str(tmp_path / "uclab"))
    monkeypatch.setenv("UCLAB_DATABASE_URL", URL)
    db.reset_engines()
    yield tmp_path / "uclab"
    db.reset_engines()


def test_migrations_datasets_and_the_run_claim_work_on_postgresql(pg_home: Path) -> None:
    frame = pd.DataFrame({"text": [f"good {i}" if i % 2 else f"bad {i}" for i in range(40)],
                          "label": ["pos" if i % 2 else "neg" for i in range(40)]})
    saved = save_dataset(frame_to_parsed(frame, "x.csv"), {"text": "text", "label": "label"},
                         name="pg", task="classification", split=SplitConfig())
    assert [d.id for d in list_datasets()] == [saved.id]
    new = {"dataset_id": saved.id, "model_key": "minilm-l6", "task": "classification",
           "config": {}, "seed": 1}
    first, second = runs.create_run(**new), runs.create_run(**new)
    assert runs.claim_run(first.id, pid=os.getpid(), max_running=1)
    assert not runs.claim_run(second.id, pid=os.getpid(), max_running=1)  # no free slot
    assert runs.get_run(first.id).status == "running"
