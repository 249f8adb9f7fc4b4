"""What to tell a person about a run before any table: which run is best, whether a model has
learned anything, and the one-sentence verdict a manager can repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import task_specs
from core.entities import RunInfo
from core.task_specs import best_of
from core.tasks.baselines import SAVABLE
from core.tasks.intervals import wilson_interval
from core.text import labels

# Runs are compared on test (else validation) metrics the worker stored in the run's summary, by
# the rank metric of their task (core.task_specs).
# A classifier that gives one answer for at least this share of the test rows has not learned.
DEGENERATE_SHARE = 0.95


def headline_metric(task: str, metrics: dict[str, Any]) -> str | None:
    """The metric a sentence about a run speaks of (core.task_specs.headline_metric); runs are
    ranked by core.task_specs.rank_metric."""
    return task_specs.headline_metric(task, metrics)


def final_metrics(run: RunInfo) -> dict[str, Any]:
    """The run's test metrics, else its validation metrics, from its summary."""
    summary = run.summary or {}
    return dict(summary.get("test") or summary.get("validation") or {})


def best_run(runs: Sequence[RunInfo]) -> RunInfo | None:
    """The succeeded run with the best rank metric (core.task_specs.best_of); the newest run
    (the first listed) when none has one."""
    by_id = {run.id: run for run in runs}
    best = best_of((run.id, run.task, final_metrics(run)) for run in runs if run.status == "succeeded")
    if best is not None:
        return by_id[best]
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


def _majority_answer(metrics: dict[str, Any]) -> str | None:
    confusion, names = metrics.get("confusion_matrix") or [], list(metrics.get("labels") or [])
    if not confusion or not names:
        return None
    predicted = [sum(float(row[j]) for row in confusion) for j in range(len(names))]
    return str(names[max(range(len(names)), key=predicted.__getitem__)])


def _versus(key: str, value: float, name: str, other: dict[str, Any]) -> str | None:
    theirs = other.get(key)
    if not isinstance(theirs, int | float):
        return None
    what = labels.baseline_label(name, short=True)
    if name == "majority":
        answer = _majority_answer(other)
        what = f"always guessing '{answer}'" if answer else what
    elif "tfidf" in name:
        what = "a keyword model"
    diff = (theirs - value) if labels.lower_is_better(key) else (value - theirs)
    if labels.is_share(key):
        points = abs(diff) * 100
        amount = f"{points:.0f} points" if points >= 1 else "less than a point"
    else:
        amount = labels.number(abs(diff))
    if abs(diff) < 1e-12:
        return f"level with {what}"
    return f"{amount} {'better' if diff > 0 else 'worse'} than {what}"


def verdict_sentence(task: str, metrics: dict[str, Any], baselines: dict[str, dict[str, Any]],
                     split: str = "test") -> str:
    """The report's first sentence: the headline number, its gain over the baselines, its interval."""
    key = headline_metric(task, metrics)
    if key is None:
        return "This run has no evaluation yet, so there is no verdict."
    value = float(metrics[key])
    n = int(metrics.get("n") or 0)
    rows = f" on {n:,} {split} rows" if n else f" on the {split} split"
    if key == "accuracy":
        lead = f"The fine-tuned model gets the answer right {labels.percent(value)} of the time{rows}"
    elif key == "mae":
        lead = f"The fine-tuned model's predictions are off by {labels.number(value)} on average{rows}"
    else:
        shown = labels.metric_value(key, value)
        lead = f"The fine-tuned model reaches {labels.metric_label(key)} {shown}{rows}"
    ordered = sorted(baselines.items(), key=lambda item: item[0] == "majority")  # strongest first
    comparisons = [c for c in (_versus(key, value, name, m) for name, m in ordered) if c]
    sentence = lead + (" — " + ", ".join(comparisons) if comparisons else "") + "."
    if labels.is_share(key) and n:
        low, high = wilson_interval(value * n, n, z=1.96)
        sentence += f" 95 % interval {low * 100:.0f}–{high * 100:.0f} %."
    found = degenerate_from_metrics(metrics, split)
    if found is not None:
        sentence = found.sentence + " " + sentence
    return sentence


# --- When the best model is not a neural one ---------------------------------------------------
# Kept apart from the verdict wording above: a separate fact (which model wins) and its sentence.


@dataclass(frozen=True)
class BaselineWin:
    """A simple baseline that beats the fine-tuned model on the task's headline metric."""

    name: str
    metric: str
    baseline_value: float
    run_value: float

    @property
    def servable(self) -> bool:
        return self.name in SAVABLE

    def sentence(self, run_id: int | None = None) -> str:
        """'The best model here is not a neural one: …', with how to save and serve it."""
        what = labels.baseline_label(self.name)
        shown = labels.metric_label(self.metric)
        shown = shown[:1].lower() + shown[1:]
        text = (f"The best model here is not a neural one: the {what[:1].lower() + what[1:]} reaches "
                f"{shown} {labels.metric_value(self.metric, self.baseline_value)} against the fine-tuned "
                f"model's {labels.metric_value(self.metric, self.run_value)}.")
        if self.servable:
            run = str(run_id) if run_id is not None else "RUN_ID"
            text += (f" Ship it instead: `uclab baselines save {run}` keeps it (skops), and "
                     f"`uclab serve --run {run} --baseline` answers /v1/classify with it.")
        return text


def baseline_winner(task: str, metrics: dict[str, Any],
                    baselines: dict[str, dict[str, Any]]) -> BaselineWin | None:
    """The baseline that beats the run on its headline metric by the widest margin, if any does
    (the majority class is left out: beating it is the degenerate-model warning's job)."""
    key = headline_metric(task, metrics)
    if key is None:
        return None
    value = float(metrics[key])
    sign = -1.0 if labels.lower_is_better(key) else 1.0
    best: BaselineWin | None = None
    for name, other in baselines.items():
        theirs = other.get(key)
        if name in ("majority", "mean") or not isinstance(theirs, int | float) or isinstance(theirs, bool):
            continue
        if sign * (float(theirs) - value) > 1e-9 and (
                best is None or sign * (float(theirs) - best.baseline_value) > 0):
            best = BaselineWin(name=name, metric=key, baseline_value=float(theirs), run_value=value)
    return best
