"""CLI basics: --version, the five tasks in train --help, DataFrame results as records."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core import __version__
from core.cli import main, print_result
from core.entities import TASKS


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and __version__ in capsys.readouterr().out


def test_train_help_lists_every_task(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert len(TASKS) == 5 and all(task in text for task in TASKS)


def test_an_unknown_task_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["train", "--dataset", "1", "--model", "mlp", "--task", "tabulr"])
    assert stop.value.code == 2 and "invalid choice: 'tabulr'" in capsys.readouterr().err


def test_a_dataframe_result_prints_as_records(capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.DataFrame({"text": ["a", "b"], "p": [0.25, 0.75],
                          "when": pd.to_datetime(["2026-01-02", "2026-01-03"])})
    print_result({"rows": frame}, as_json=True)
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[0]["text"] == "a" and rows[1]["p"] == 0.75 and rows[0]["when"].startswith("2026-01-02")
