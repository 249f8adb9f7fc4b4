"""CLI: `evaluate RUN --answers --prompt-baselines --json` and `evaluate --model KEY --dataset ID --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.cli import main
from core.data import datasets
from tests.fake_runs import finished_chat_run


def _pairs() -> int:
    frame = pd.DataFrame({"prompt": [f"What is item {i}?" for i in range(24)],
                          "completion": [f"Item {i} is a fruit." for i in range(24)]})
    mapping = {"prompt": "prompt", "completion": "completion", "format": "prompt_completion"}
    return datasets.save_dataset(datasets.frame_to_parsed(frame, "pairs.csv"), mapping, name="pairs",
                                 task="causal-lm", split=datasets.SplitConfig(0.2, 0.25, 1)).id


_finished_run = finished_chat_run


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[dict, str]:
    assert main([*argv, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_evaluate_a_catalogue_model_without_training(tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    dataset_id = _pairs()
    data, err = _json(capsys, ["evaluate", "--model", tiny, "--dataset", str(dataset_id), "--examples", "4",
                               "--shots", "1"])
    assert "About" in err and "for 4 examples" in err  # the time it takes is said before it starts
    assert [(e["kind"], e["shots"]) for e in data["evaluations"]] == [("zero_shot", 0), ("few_shot", 1)]
    rows = data["evaluations"][0]["rows"]
    assert len(rows) == 4 and {"prompt", "reference", "answer", "token_f1", "chrf"} <= set(rows[0])
    assert data["evaluations"][0]["metrics"]["metrics"]["chrf"]["mean"] == pytest.approx(
        sum(r["chrf"] for r in rows) / 4)


def test_evaluate_run_carries_answers_and_prompt_baselines_with_gains(
        tiny: str, tiny_chat_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset_id = _pairs()
    run_id = _finished_run(dataset_id, tiny, tiny_chat_folder)
    data, _ = _json(capsys, ["evaluate", str(run_id)])
    assert data["answer_quality"] is None and "no scored answers" in data["answer_quality_note"]
    data, _ = _json(capsys, ["evaluate", str(run_id), "--answers", "--prompt-baselines", "--examples", "5",
                             "--shots", "2"])
    quality = data["answer_quality"]
    assert quality["examples"] == 5 and len(quality["rows"]) == 5 and quality["headline"] == "rouge_l"
    assert [b["kind"] for b in quality["baselines"]] == ["zero_shot", "few_shot"]
    gain = quality["baselines"][0]["gains"]["token_f1"]
    assert gain["n"] == 5 and gain["low"] <= gain["mean"] <= gain["high"]
    # the fine-tuned folder here is the base model itself, so the zero-shot gain is exactly zero
    assert gain["mean"] == pytest.approx(0.0)
    assert main(["evaluate", str(run_id)]) == 0
    assert "gain in rouge_l" in capsys.readouterr().out


def test_evaluate_needs_a_run_or_a_model(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate"]) == 2
    assert "Give a run id" in capsys.readouterr().err
    assert main(["evaluate", "3", "--model", "smollm2-135m-instruct"]) == 2
    assert main(["evaluate", "--model", "minilm-l6", "--dataset", str(_pairs())]) == 2
    assert "encoder" in capsys.readouterr().err
