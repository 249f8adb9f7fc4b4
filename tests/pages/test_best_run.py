"""Every screen names the same best run (issue 26): the evaluation page, the verdict and the report.

The two runs disagree by metric on purpose: the newer one has the higher accuracy, the older one
the higher macro F1. Before the task specs the pages ranked by accuracy and the report by macro
F1, so the report detailed another run than the one the evaluation page opened on.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from core import task_specs
from core.results import evaluation, report, verdict
from core.store import runs
from core.training import service as training
from tests.pages.seed import save_reviews, seed_run


def _finished(dataset_id: int, accuracy: float, macro_f1: float) -> int:
    run = seed_run(dataset_id, status="running")
    metrics = {"accuracy": accuracy, "macro_f1": macro_f1, "n": 8, "labels": ["fresh", "rotten"],
               "confusion_matrix": [[4, 0], [1, 3]]}
    runs.transition(run.id, "succeeded", summary={"test": {"accuracy": accuracy, "macro_f1": macro_f1}})
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(8)], "label": ["fresh", "rotten"] * 4,
                          "predicted": ["fresh", "rotten"] * 4, "confidence": 0.8, "correct": y == y})
    evaluation.store_evaluation(run.id, "test", "run", metrics, frame)
    return run.id


def test_report_and_evaluation_page_name_the_same_best_run(open_page: Callable[..., AppTest]) -> None:
    dataset = save_reviews()
    balanced = _finished(dataset.id, accuracy=0.85, macro_f1=0.80)
    lopsided = _finished(dataset.id, accuracy=0.90, macro_f1=0.55)  # newer, higher accuracy

    finished = training.list_runs(status="succeeded")
    assert verdict.best_run(finished).id == balanced
    page = report.build_report([lopsided, balanced])
    detailed = re.search(r"<h2>The best run against the baselines</h2><p><b>Run (\d+)", page)
    assert detailed is not None and int(detailed.group(1)) == balanced

    at = open_page("evaluation")
    assert not at.exception
    assert at.selectbox(key="evaluation_run").value == balanced


def test_every_task_has_one_spec_with_a_ranking_direction() -> None:
    from core.entities import TASKS

    assert tuple(s.task for s in task_specs.SPECS) == TASKS
    assert task_specs.rank_metric("classification", {"accuracy": 0.9, "macro_f1": 0.5}) == "macro_f1"
    assert task_specs.rank_metric("causal-lm", {"loss": 2.0}) == "loss"
    assert task_specs.get_spec("causal-lm").directions == {"perplexity": False, "loss": False}
    # lower perplexity wins; on a tie the newest (largest id) wins; no metric, no best
    lm = [(1, "causal-lm", {"perplexity": 4.0}), (2, "causal-lm", {"perplexity": 9.0})]
    assert task_specs.best_of(lm) == 1
    assert task_specs.best_of([(1, "regression", {"rmse": 1.0}), (2, "regression", {"rmse": 1.0})]) == 2
    assert task_specs.best_of([(1, "classification", {})]) is None
    # the sentence speaks of the displayed headline: accuracy, though macro F1 ranks
    assert task_specs.headline_metric("classification", {"accuracy": 0.9, "macro_f1": 0.5}) == "accuracy"
    assert task_specs.headline_metric("tabular", {"r2": 0.5, "rmse": 1.0}) == "r2"
