"""Evaluations of a run and of its baselines: stored by the worker, read by pages, CLI and reports.

Each evaluation is an ``evaluations`` row (metrics as JSON, curves included) plus a Parquet file
of predictions under the run's folder (``runs/<id>/eval/<model>-<split>.parquet``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.config import get_settings
from core.errors import NotFoundError, UserError
from core.run_folder import RunFolder
from core.store import evaluations
from core.store.runs import get_run
from core.task_specs import get_spec, headline_task, higher_is_better
from core.tasks.baselines import BASELINE_TITLES
from core.tasks.tabular_baselines import BASELINE_TITLES as TABULAR_TITLES


def headline_keys(task: str, metrics: dict[str, Any]) -> tuple[str, ...]:
    """The headline metrics of a task; for other tasks, inferred from the keys that are present."""
    spec = get_spec(task)
    if spec is not None and spec.headline:
        return spec.headline
    for keys in (("accuracy", "macro_f1"), ("r2", "mae", "rmse"), ("f1", "precision", "recall")):
        if keys[0] in metrics:
            return tuple(k for k in keys if k in metrics)
    return ()


@dataclass(frozen=True)
class BaselineSummary:
    """A baseline's metrics and the run's gain over it (positive = the run is better)."""

    name: str
    title: str
    metrics: dict[str, Any]
    gain: dict[str, float | None]


@dataclass(frozen=True)
class EvaluationResult:
    """Everything the evaluation page draws for one run on one split."""

    run_id: int
    split: str
    task: str
    metrics: dict[str, Any]
    per_class: pd.DataFrame
    confusion_matrix: list[list[int]]
    labels: list[str]
    curves: dict[str, Any]
    predictions: pd.DataFrame
    baselines: list[BaselineSummary] = field(default_factory=list)

    @property
    def headline(self) -> dict[str, Any]:
        """The few numbers worth a big font: accuracy and macro F1, or R², MAE and RMSE."""
        task = headline_task(self.task, self.metrics)
        spec = get_spec(task)
        return {k: self.metrics.get(k) for k in (spec.headline if spec else ()) if k in self.metrics}

    def misclassified(self, true_label: str | None = None, predicted: str | None = None) -> pd.DataFrame:
        """Wrong predictions, most confident first, optionally filtered by true and predicted class."""
        frame = self.predictions
        if "correct" not in frame:
            return frame.sort_values("error", key=abs, ascending=False) if "error" in frame else frame
        wrong = frame[~frame["correct"].astype(bool)]
        if true_label is not None:
            wrong = wrong[wrong["label"] == true_label]
        if predicted is not None:
            wrong = wrong[wrong["predicted"] == predicted]
        return wrong.sort_values("confidence", ascending=False)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "split": self.split, "task": self.task,
                "metrics": {k: v for k, v in self.metrics.items() if not isinstance(v, dict | list)},
                "per_class": self.per_class.to_dict(orient="records"),
                "confusion_matrix": self.confusion_matrix, "labels": self.labels,
                "baselines": [{"name": b.name, "title": b.title, "metrics": {
                    k: v for k, v in b.metrics.items() if not isinstance(v, dict | list)},
                    "gain": b.gain} for b in self.baselines]}


def store_evaluation(run_id: int, split: str, model: str, metrics: dict[str, Any],
                     predictions: pd.DataFrame) -> None:
    """Save one evaluation (replacing an older one of the same run, split and model)."""
    settings = get_settings()
    folder = RunFolder.of(settings.runs_dir, run_id).eval
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model}-{split}.parquet"
    predictions.to_parquet(path, index=False)
    evaluations.replace_evaluation(run_id, split, model, metrics, settings.relative(path))


def _rows(run_id: int, split: str) -> dict[str, tuple[dict[str, Any], str]]:
    stored = evaluations.list_evaluations(run_id, split=split)
    return {e.model: (e.metrics, e.predictions_path) for e in stored}


def read_predictions(run_id: int, split: str = "test", model: str = "run") -> pd.DataFrame:
    """The stored predictions (one row per example) of a run's evaluation on a split."""
    stored = evaluations.list_evaluations(run_id, split=split, model=model)
    if not stored or not stored[-1].predictions_path:
        raise UserError(f"Run {run_id} has no stored predictions on the {split} split; "
                        "wait for it to finish or evaluate it first.")
    file = get_settings().resolve(stored[-1].predictions_path)
    if not file.exists():
        raise UserError(f"The predictions file of run {run_id} is missing; evaluate the run again.")
    return pd.read_parquet(file)


def evidence_split(splits: Sequence[str]) -> str | None:
    """The split whose figures a run is judged by: test when it was evaluated there, else validation."""
    return next((s for s in ("test", "validation") if s in splits), None)


def compute_gain(task: str, model_metrics: dict[str, Any],
                 baseline: dict[str, Any]) -> dict[str, float | None]:
    """Per headline metric: run minus baseline, sign flipped for errors so positive always means better."""
    out: dict[str, float | None] = {}
    for key in headline_keys(task, model_metrics):
        a, b = model_metrics.get(key), baseline.get(key)
        if a is None or b is None:
            out[key] = None
        else:
            out[key] = (a - b) if higher_is_better(key) else (b - a)
    return out


def get_evaluation(run_id: int, split: str = "test") -> EvaluationResult:
    """The stored evaluation of a run on a split, with its baselines and the gain over each."""
    run = get_run(run_id)
    rows = _rows(run_id, split)
    if "run" not in rows:
        raise NotFoundError(f"Run {run_id} has no evaluation on the {split} split yet; "
                            "it is written when the run succeeds.")
    metrics, path = rows.pop("run")
    file = get_settings().resolve(path) if path else None
    predictions = pd.read_parquet(file) if file and file.exists() else pd.DataFrame()
    per_class = pd.DataFrame(metrics.get("per_class", []),
                             columns=["label", "precision", "recall", "f1", "support"])
    curves = {k: metrics[k] for k in ("roc", "pr", "calibration", "confidence_histogram",
                                      "residual_histogram") if k in metrics}

    titles = {**TABULAR_TITLES, **BASELINE_TITLES}
    baselines = [BaselineSummary(name=name, title=titles.get(name, name), metrics=m,
                                 gain=compute_gain(headline_task(run.task, metrics), metrics, m))
                 for name, (m, _) in rows.items()]
    if run.task == "classification":  # SmolLM2 prompted, when its cached baseline exists
        from core.results.answer_quality import label_baseline_rows

        llm = [BaselineSummary(name=name, title=title, metrics=m, gain=gain)
               for name, title, m, gain in label_baseline_rows(run.dataset_id, split, predictions)]
        at = next((i for i, b in enumerate(baselines) if b.name.startswith("tfidf")), len(baselines))
        baselines[at:at] = llm  # the strongest classic baseline (TF-IDF) stays last
    return EvaluationResult(run_id=run_id, split=split, task=run.task, metrics=metrics, per_class=per_class,
                            confusion_matrix=metrics.get("confusion_matrix", []),
                            labels=list(metrics.get("labels", [])), curves=curves,
                            predictions=predictions, baselines=baselines)


def evaluation_splits(run_id: int) -> list[str]:
    """The splits this run has a stored evaluation on."""
    return sorted({e.split for e in evaluations.list_evaluations(run_id, model="run")})
