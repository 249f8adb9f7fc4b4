"""`python -m core generate`: streams text, one JSON document with --json, history and re-runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.cli import main


def test_json_prints_one_document_with_the_stored_generation(tiny: str,
                                                             capsys: pytest.CaptureFixture) -> None:
    code = main(["generate", "--model", tiny, "--prompt", "Hello!", "--temperature", "0",
                 "--max-new-tokens", "8", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    record = json.loads(out)
    assert record["model_ref"] == tiny and record["mode"] == "chat" and record["id"] == 1
    assert record["settings"]["temperature"] == 0 and len(record["outputs"]) == 1


def test_streams_text_to_stdout_and_timings_to_stderr(tiny: str, capsys: pytest.CaptureFixture) -> None:
    code = main(["generate", "--model", tiny, "--prompt", "Hello!", "--seed", "3", "--max-new-tokens", "8",
                 "--num-return-sequences", "2"])
    captured = capsys.readouterr()
    assert code == 0
    assert "--- sequence 2 ---" in captured.out
    assert "tokens/s, seed 3; stored as generation 1]" in captured.err
    from core.inference.generation import get_generation

    first = get_generation(1).outputs[0]
    assert captured.out.startswith(first)
    assert main(["generate", "--rerun", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"][0] == first
    assert main(["generate", "--history", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [2, 1]


def test_bad_input_is_one_sentence_and_exit_code_2(tiny: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["generate", "--prompt", "Hi"]) == 2
    assert "Choose a model with --model KEY" in capsys.readouterr().err
    assert main(["generate", "--model", tiny, "--prompt", "Hi", "--num-return-sequences", "9"]) == 2
    assert capsys.readouterr().err.startswith("Error: The number of sequences must be between 1 and 5")
    assert main(["generate", "--run", "42", "--prompt", "Hi"]) == 2
    assert "no run with id 42" in capsys.readouterr().err


def test_history_export_escapes_formula_cells(home: Path, capsys: pytest.CaptureFixture) -> None:
    """Issue 16 item 5: `generate --history --export` goes through the one escaping function."""
    from core.store.db import session_scope
    from core.store.orm import Generation

    with session_scope(write=True) as s:
        s.add(Generation(model_ref="m", run_id=None, mode="prompt", prompt={"text": "=HYPERLINK(\"x\")"},
                         settings={"seed": 1}, outputs=["@SUM(A1)"], time_to_first_token=0.1,
                         tokens_per_second=2.0))
    out = home / "history.csv"
    assert main(["generate", "--history", "--export", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exported"] == 1
    row = next(csv.DictReader(out.open(encoding="utf-8")))
    assert row["prompt"] == "'=HYPERLINK(\"x\")" and row["output"] == "'@SUM(A1)"
