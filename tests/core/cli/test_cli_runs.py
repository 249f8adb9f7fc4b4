"""CLI: train --wait, runs list/show/cancel/resume, evaluate and predict, as one JSON document each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from training_data import add_text_dataset, tiny_model

from core.cli import main
from core.training import queue, worker


@pytest.fixture
def inline(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "_launcher", worker.InlineLauncher())


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_train_wait_then_list_show_evaluate_predict(inline: None, capsys: pytest.CaptureFixture[str]) -> None:
    key, dataset = tiny_model(), add_text_dataset()
    run = _json(capsys, ["train", "--dataset", str(dataset), "--model", key, "--max-steps", "4",
                         "--batch-size", "8", "--learning-rate", "1e-3", "--seed", "7", "--wait"])
    assert run["status"] == "succeeded" and run["step"] == 4 and run["seed"] == 7
    assert run["config"]["learning_rate"] == 1e-3 and "validation/accuracy" in run["latest_metrics"]
    listed = _json(capsys, ["runs", "list"])
    assert [r["id"] for r in listed] == [run["id"]]
    shown = _json(capsys, ["runs", "show", str(run["id"])])
    assert shown["pid"] and shown["samples_per_second"] and shown["log_tail"]
    evaluation = _json(capsys, ["evaluate", str(run["id"])])
    assert evaluation["split"] == "test" and "accuracy" in evaluation["metrics"]
    assert {b["name"] for b in evaluation["baselines"]} == {"majority", "tfidf_logreg"}
    preds = _json(capsys, ["predict", str(run["id"]), "--text", "great film", "--text", "dull"])
    assert [p["text"] for p in preds] == ["great film", "dull"] and {"label", "p:pos"} <= set(preds[0])
    assert main(["runs", "show", str(run["id"])]) == 0
    assert f"Run #{run['id']}" in capsys.readouterr().out


def test_bad_input_exits_2_with_one_sentence(inline: None, capsys: pytest.CaptureFixture[str]) -> None:
    key, dataset = tiny_model(), add_text_dataset()
    both = ["--epochs", "1", "--max-steps", "3"]
    assert main(["train", "--dataset", str(dataset), "--model", key, *both]) == 2
    assert capsys.readouterr().err.strip() == "Error: Give either --epochs or --max-steps, not both."
    assert main(["train", "--dataset", "99", "--model", key]) == 2
    assert main(["runs", "cancel", "42"]) == 2
    assert main(["evaluate", "42"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("Error:") == 3


def test_gain_is_positive_when_the_run_is_better() -> None:
    from core.results.evaluation import compute_gain, headline_keys

    gain = compute_gain("classification", {"accuracy": 0.8, "macro_f1": 0.7},
                        {"accuracy": 0.6, "macro_f1": 0.75})
    assert gain == pytest.approx({"accuracy": 0.2, "macro_f1": -0.05})
    gain = compute_gain("regression", {"r2": 0.5, "mae": 1.0, "rmse": 2.0},
                        {"r2": 0.0, "mae": 1.5, "rmse": 2.0})
    assert gain == pytest.approx({"r2": 0.5, "mae": 0.5, "rmse": 0.0})  # lower errors count as gains
    assert headline_keys("tabular", {"r2": 0.1, "mae": 2.0}) == ("r2", "mae")
