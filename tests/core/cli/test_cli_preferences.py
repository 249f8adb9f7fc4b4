"""CLI: `preferences build --review ID [--judge]`, `--corrections`, `--from-references` and `show ID`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.results import preference_pairs as pp
from core.results import review


def _voted_review() -> int:
    review_id = review.create_review("Round 1", "base", "other", [f"prompt {i}" for i in range(5)],
                                     outputs_a=[f"A says {i}" for i in range(5)],
                                     outputs_b=[f"B says {i}" for i in range(5)], seed=2)
    for reviewer in ("ana", "bob"):
        while (item := review.next_item_for(reviewer, review_id)) is not None:
            review.vote(item.item_id, reviewer, "tie" if item.prompt == "prompt 0" else "a")
    return review_id


def test_build_from_a_review_and_show_it(home: Path, database: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    review_id = _voted_review()
    assert main(["preferences", "build", "--review", str(review_id), "--name", "Votes", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["name"] == "Votes" and built["pairs"] == 4
    assert built["source"]["source"] == "review" and built["source"]["ties_left_out"] == 1
    assert all(e["chosen"].startswith("A says") for e in built["examples"])
    assert main(["preferences", "show", str(built["dataset_id"])]) == 0
    text = capsys.readouterr().out
    assert ": 4 preference pairs — train" in text
    assert "votes in review #" in text and ". 5 items and 10 votes; 1 tied (left out); 4 pairs saved." \
        in text
    assert "chosen:   A says" in text


def test_build_from_corrections(home: Path, database: str, capsys: pytest.CaptureFixture[str]) -> None:
    pp.record_correction("What is 2+2?", "5", "4.", model_ref="base")
    assert main(["preferences", "build", "--corrections", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["source"]["source"] == "corrections" and built["examples"][0]["rejected"] == "5"


@pytest.mark.parametrize(("argv", "sentence"), [
    (["preferences", "build"], "Give one source of pairs"),
    (["preferences", "build", "--review", "1", "--corrections"], "Give one source of pairs"),
    (["preferences", "build", "--judge", "--corrections"], "add --review ID"),
    (["preferences", "build", "--from-references"], "add --run RUN"),
    (["preferences", "build", "--review", "999"], "no review with id 999"),
    (["preferences", "build", "--corrections"], "No correction is stored"),
])
def test_bad_requests_are_one_sentence_and_exit_2(home: Path, database: str,
                                                  capsys: pytest.CaptureFixture[str],
                                                  argv: list[str], sentence: str) -> None:
    assert main([*argv, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and sentence in captured.err and "Traceback" not in captured.err


def test_show_refuses_a_dataset_without_pairs(home: Path, database: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from tests import fake_runs

    dataset_id = fake_runs.add_dataset()
    assert main(["preferences", "show", str(dataset_id)]) == 2
    assert "holds no preference pairs" in capsys.readouterr().err


def test_datasets_add_detects_trl_pairs(home: Path, database: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"Q{i}?", "chosen": [{"role": "assistant", "content": f"A{i}"}], "rejected": "no"}
            for i in range(30)]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert main(["datasets", "add", str(path), "--name", "Pairs", "--task", "causal-lm", "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["mapping"]["format"] == "preference" and saved["row_count"] == 30
    assert main(["preferences", "show", str(saved["id"]), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["source"]["source"] == "upload" and shown["examples"][0]["rejected"] == "no"
