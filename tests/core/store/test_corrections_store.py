"""The corrections table on SQLite and PostgreSQL: stored, listed by run or model, kinds checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import corrections
from tests import fake_runs


def test_corrections_are_stored_and_listed_by_run_and_model(home: Path, database: str) -> None:
    dataset_id = fake_runs.add_dataset()
    run_id = fake_runs.add_run(dataset_id, task="causal-lm")
    first = corrections.add_correction(kind="rewrite", prompt='[{"role": "user", "content": "Q"}]',
                                       chosen="better", rejected="worse", run_id=run_id,
                                       model_ref=f"run:{run_id}", place="playground", created_by="rev")
    corrections.add_correction(kind="thumbs", prompt='[{"role": "user", "content": "Q2"}]', chosen="up",
                               rejected="down", run_id=None, model_ref="smollm2", place="playground",
                               created_by="")
    rows = corrections.list_corrections()
    assert [r.kind for r in rows] == ["rewrite", "thumbs"] and rows[0].id == first
    assert rows[0].created_by == "rev" and rows[0].created_at is not None
    assert [r.chosen for r in corrections.list_corrections(run_id=run_id)] == ["better"]
    assert [r.chosen for r in corrections.list_corrections(model_ref="smollm2")] == ["up"]


def test_an_unknown_kind_is_refused_by_the_database(home: Path, database: str) -> None:
    with pytest.raises(Exception, match="(?i)check|constraint"):
        corrections.add_correction(kind="other", prompt="[]", chosen="a", rejected="b", run_id=None,
                                   model_ref="", place="", created_by="")
