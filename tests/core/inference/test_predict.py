"""Predictions of a trained run (typed texts and a file) and the CSV export that escapes formulas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from training_data import add_text_dataset, tiny_model

from core.errors import ConfigError, RunStateError
from core.inference import predict
from core.run_config import TrainConfig
from core.store import runs
from core.text.spreadsheet import escape_cell
from core.training import queue, worker
from core.training import service as training


@pytest.fixture
def trained(home: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(queue, "_launcher", worker.InlineLauncher())
    predict.clear_cache()
    run = training.start_run(training.TrainRequest(add_text_dataset(), tiny_model(),
                                                   TrainConfig(max_steps=2, batch_size=8)))
    assert run.status == "succeeded", run.status_reason
    return run.id


def test_predict_texts_gives_labels_probabilities_and_latency(trained: int) -> None:
    out = predict.predict_texts(trained, ["the film was great", "the film was awful and dull"])
    assert list(out.columns) == ["text", "label", "confidence", "p:neg", "p:pos", "latency_ms"]
    assert set(out["label"]) <= {"neg", "pos"}
    assert (out[["p:neg", "p:pos"]].sum(axis=1) - 1).abs().max() < 1e-5
    assert (out["confidence"] == out[["p:neg", "p:pos"]].max(axis=1)).all()
    assert (out["latency_ms"] > 0).all()


def test_predict_file_appends_predictions_to_the_rows(trained: int) -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "review": ["good", None, "=HYPERLINK(\"x\")"]})
    out = predict.predict_file(trained, frame, "review")
    assert list(out.columns[:2]) == ["id", "review"] and "predicted" in out and len(out) == 3
    with pytest.raises(ConfigError, match="no column 'text'. Columns found: id, review"):
        predict.predict_file(trained, frame, "text")


def test_bad_requests(trained: int) -> None:
    with pytest.raises(ConfigError, match="at least one text"):
        predict.predict_texts(trained, ["  "])
    queued = runs.create_run(dataset_id=1, model_key="m", task="classification", config={}, seed=1)
    with pytest.raises(RunStateError, match="has no trained model yet"):
        predict.predict_texts(queued.id, ["hello"])


def test_csv_export_escapes_formula_cells() -> None:
    frame = pd.DataFrame({"text": ["=1+1", "+cmd", "-2 apples", "@SUM(A1)", "plain", "\tTab"],
                          "score": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0]})
    lines = predict.to_csv_bytes(frame).decode("utf-8").splitlines()
    assert lines[0] == "text,score"
    assert lines[1:] == ["'=1+1,-1.5", "'+cmd,2.0", "'-2 apples,3.0", "'@SUM(A1),4.0", "plain,5.0",
                         "'\tTab,6.0"]
    assert escape_cell(-3) == -3  # numbers stay numbers


def test_a_carriage_return_cannot_start_an_unescaped_formula_row() -> None:
    """Found by the issue 16 walk: an unquoted CR split a cell into a new formula row."""
    import csv
    import io

    data = predict.to_csv_bytes(pd.DataFrame({"t": ["a\r=HYPERLINK(\"http://e\")", "\rx"]})).decode()
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert rows == [["t"], ["a\r=HYPERLINK(\"http://e\")"], ["'\rx"]]
    for line in data.replace("\r\n", "\n").split("\n"):
        assert not line.startswith(("=", "+", "-", "@"))
