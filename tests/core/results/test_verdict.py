"""Which run is best, and whether a classifier has learned anything."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from core.entities import RunInfo
from core.results import verdict


def _run(run_id: int, status: str, summary: dict, task: str = "classification") -> RunInfo:
    now = datetime.now(UTC)
    base = RunInfo(id=run_id, name="", dataset_id=1, parent_id=None, kind="train", model_key="m", task=task,
                   config={}, seed=1, status=status, status_reason="", pid=None, cancel_requested=False,
                   created_at=now, started_at=now, finished_at=now, heartbeat_at=now, step=1, total_steps=1,
                   epoch=1.0, samples_per_second=None, eta_seconds=None, elapsed_seconds=1.0, output_dir="",
                   last_checkpoint="", best_metric=None)
    return replace(base, summary=summary)


def test_best_run_is_the_best_succeeded_one_by_the_headline_metric() -> None:
    runs = [_run(3, "succeeded", {"test": {"accuracy": 0.518}}),
            _run(2, "failed", {"test": {"accuracy": 0.99}}),
            _run(1, "succeeded", {"test": {"accuracy": 0.871}})]
    assert verdict.best_run(runs).id == 1
    assert verdict.best_run([_run(4, "succeeded", {}), _run(3, "succeeded", {})]).id == 4  # newest
    lm = [_run(5, "succeeded", {"test": {"perplexity": 9.0}}, "causal-lm"),
          _run(6, "succeeded", {"test": {"perplexity": 4.0}}, "causal-lm")]
    assert verdict.best_run(lm).id == 6  # lower perplexity is better


def test_one_answer_for_nearly_every_row_is_degenerate() -> None:
    found = verdict.degenerate_answer([[50, 1], [47, 2]], ["fresh", "rotten"])
    assert found is not None and found.label == "fresh" and round(found.share, 2) == 0.97
    assert "it has not learned yet; train longer or raise the learning rate" in found.sentence
    assert verdict.degenerate_answer([[40, 10], [12, 38]], ["fresh", "rotten"]) is None
    # a test set that is itself 97 % one class: answering it is not evidence of a broken model
    assert verdict.degenerate_answer([[97, 0], [2, 1]], ["fresh", "rotten"]) is None
