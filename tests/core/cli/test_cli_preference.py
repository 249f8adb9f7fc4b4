"""CLI: train --kind preference (DPO on a preference dataset), evaluate of a preference run, its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.training import queue, worker
from tests.preference_data import add_pairs_dataset
from tests.tiny_chat import build_tiny_chat_lm


@pytest.fixture
def setup(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    from core.inference.generation import clear_loaded
    from core.models import catalog

    monkeypatch.setattr(queue, "_launcher", worker.InlineLauncher())
    clear_loaded()
    key = catalog.add_local_model(str(build_tiny_chat_lm(tmp_path / "tiny-chat", seed=1))).key
    return key, add_pairs_dataset()


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_train_kind_preference_then_evaluate_it(setup, capsys: pytest.CaptureFixture[str]) -> None:
    key, dataset = setup
    run = _json(capsys, ["train", "--kind", "preference", "--dataset", str(dataset), "--model", key,
                         "--beta", "0.2", "--max-steps", "4", "--learning-rate", "1e-2", "--max-length", "64",
                         "--batch-size", "4", "--lora-rank", "4", "--eval-every", "2", "--wait"])
    assert run["status"] == "succeeded" and run["step"] == 4
    config = run["config"]
    assert (config["training_kind"], config["beta"], config["parent_run_id"], config["lora"]) == \
        ("preference", 0.2, None, True)
    assert "validation/reward_margin" in run["latest_metrics"]
    data = _json(capsys, ["evaluate", str(run["id"]), "--review"])
    assert data["kind"] == "preference" and data["split"] == "test" and data["pairs"]["pairs"] == 12
    assert data["parent"] == key and data["verdict"].startswith("The team's preferences")
    assert data["review_id"] and data["training"]["reward_margin"] is not None
    assert main(["evaluate", str(run["id"])]) == 0
    out = capsys.readouterr().out
    assert "preference accuracy of this run" in out and "DPO reward accuracy" in out


def test_preference_errors_are_one_sentence(setup, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.training_data import add_text_dataset

    key, dataset = setup
    text = add_text_dataset()
    cases = [
        (["train", "--kind", "preference", "--dataset", str(text), "--model", key],
         "holds no preference pairs"),
        (["train", "--kind", "preference", "--dataset", str(dataset)], "finished causal-LM run (--from-run)"),
        (["train", "--kind", "preference", "--dataset", str(dataset), "--from-run", "77"], "77"),
        (["train", "--dataset", str(dataset), "--from-run", "3", "--model", key], "add --kind preference"),
        (["train", "--kind", "preference", "--dataset", str(dataset), "--model", key, "--epochs", "1"],
         "--max-steps"),
    ]
    for argv, words in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and err.count("\n") == 1, err
