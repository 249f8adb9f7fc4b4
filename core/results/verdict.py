"""What to tell a person about a run before any table: which run is best, whether a model has
learned anything, and the one-sentence verdict a manager can repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.entities import RunInfo
from core.text import labels

# The metric that ranks runs of a task (the first present wins); runs are compared on test
# (else validation) metrics the worker stored in the run's summary.
HEADLINE = {"classification": ("accuracy", "macro_f1"), "tabular": ("accuracy", "r2", "rmse"),
            "regression": ("r2", "rmse", "mae"), "token-classification": ("entity_f1", "token_accuracy"),
            "causal-lm": ("perplexity", "loss")}
# A classifier that gives one answer for at least this share of the test rows has not learned.
DEGENERATE_SHARE = 0.95


def headline_metric(task: str, metrics: dict[str, Any]) -> str | None:
    """The metric a task's runs are ranked by, among those present."""
    for name in HEADLINE.get(task, ("accuracy", "r2", "f1")):
        if isinstance(metrics.get(name), int | float) and not isinstance(metrics.get(name), bool):
            return name
    return None


def final_metrics(run: RunInfo) -> dict[str, Any]:
    """The run's test metrics, else its validation metrics, from its summary."""
    summary = run.summary or {}
    return dict(summary.get("test") or summary.get("validation") or {})


def best_run(runs: Sequence[RunInfo]) -> RunInfo | None:
    """The succeeded run with the best headline metric; the newest run when none has one."""
    scored = []
    for run in runs:
        metrics = final_metrics(run) if run.status == "succeeded" else {}
        key = headline_metric(run.task, metrics)
        if key is not None:
            sign = -1.0 if labels.lower_is_better(key) else 1.0
            scored.append((sign * float(metrics[key]), run.id, run))
    if scored:
        return max(scored, key=lambda item: (item[0], item[1]))[2]
    return runs[0] if runs else None


@dataclass(frozen=True)
class Degenerate:
    """A classifier that answers (nearly) always the same class."""

    label: str
    share: float
    rows: int
    split: str

    @property
    def sentence(self) -> str:
        how = "only ever answers" if self.share >= 0.995 else "almost only answers"
        return (f"This model {how} '{self.label}' ({labels.percent(self.share)} of the {self.rows:,} "
                f"{self.split} rows) — it has not learned yet; train longer or raise the learning rate.")


def degenerate_answer(confusion: Sequence[Sequence[float]], class_names: Sequence[str],
                      split: str = "test") -> Degenerate | None:
    """Degenerate when one predicted class covers >= 95 % of the rows while over 5 % truly belong
    to other classes (rows of the matrix are true classes, columns predicted ones)."""
    if not confusion or len(class_names) < 2:
        return None
    predicted = [sum(float(row[j]) for row in confusion) for j in range(len(class_names))]
    actual = [sum(float(v) for v in row) for row in confusion]
    total = sum(predicted)
    if total <= 0:
        return None
    top = max(range(len(predicted)), key=predicted.__getitem__)
    share = predicted[top] / total
    others = 1.0 - actual[top] / total
    if share >= DEGENERATE_SHARE and others > 1.0 - DEGENERATE_SHARE:
        return Degenerate(label=str(class_names[top]), share=share, rows=int(total), split=split)
    return None


def degenerate_from_metrics(metrics: dict[str, Any], split: str = "test") -> Degenerate | None:
    """The check above on a stored evaluation's metrics (confusion matrix and labels)."""
    return degenerate_answer(metrics.get("confusion_matrix") or [], list(metrics.get("labels") or []),
                             split)
