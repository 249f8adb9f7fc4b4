"""Tabular baselines (linear model, histogram gradient boosting), scores and permutation importance.

Pure scikit-learn: the baselines are trained on the same training rows as the run, with the same
Preprocessor, and judged on the same split, so the run's numbers have something to beat.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from core.errors import DatasetError
from core.tasks.tabular import LABEL, Preprocessor, infer_target_kind

SMALL_TABLE_ROWS = 20_000
BASELINE_TITLES = {
    "logistic_regression": "Logistic regression",
    "linear_regression": "Linear regression (ridge)",
    "hist_gradient_boosting": "Histogram gradient boosting",
}


@dataclass(frozen=True)
class BaselineResult:
    """One baseline's metrics per split and its predictions on the last split scored."""

    name: str
    title: str
    metrics: dict[str, dict[str, float]]
    predictions: pd.DataFrame


def score_predictions(kind: str, y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, float]:
    """accuracy + macro F1 (classification) or R², MAE, RMSE (regression)."""
    from sklearn import metrics

    if kind == "classification":
        true, pred = [str(v) for v in y_true], [str(v) for v in y_pred]
        return {"accuracy": float(metrics.accuracy_score(true, pred)),
                "macro_f1": float(metrics.f1_score(true, pred, average="macro", zero_division=0))}
    true_f, pred_f = np.asarray(y_true, float), np.asarray(y_pred, float)
    return {"r2": float(metrics.r2_score(true_f, pred_f)) if len(true_f) > 1 else float("nan"),
            "mae": float(metrics.mean_absolute_error(true_f, pred_f)),
            "rmse": float(np.sqrt(metrics.mean_squared_error(true_f, pred_f)))}


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that have a target value (rows without one are never trained or scored)."""
    return frame[frame[LABEL].notna()]


def target_values(frame: pd.DataFrame, kind: str) -> np.ndarray:
    """The target as str labels (classification) or floats (regression)."""
    if kind == "classification":
        return frame[LABEL].astype(str).to_numpy(object)
    return pd.to_numeric(frame[LABEL], errors="coerce").to_numpy(float)


def fit_baseline_models(train: pd.DataFrame, feature_types: dict[str, str], kind: str,
                        seed: int = 42) -> tuple[Preprocessor, dict[str, Any]]:
    """The preprocessor and the two fitted baselines (linear, gradient boosting) for the training rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    train = labelled(train)
    if train.empty:
        raise DatasetError("The training split has no rows with a target; add labelled rows and try again.")
    pre = Preprocessor.fit(train, feature_types)
    x_train, y_train = pre.transform(train), target_values(train, kind)
    if kind == "classification" and len(set(y_train)) < 2:
        raise DatasetError("The training split has only one class; a classifier needs at least two.")
    if kind == "classification":
        models: dict[str, Any] = {"logistic_regression": LogisticRegression(max_iter=2000),
                                  "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=seed)}
    else:
        models = {"linear_regression": Ridge(alpha=1.0),
                  "hist_gradient_boosting": HistGradientBoostingRegressor(random_state=seed)}
    # On small tables OpenMP threads only spin against the other processes of a 2-core machine.
    with threadpool_limits(limits=1 if len(train) < SMALL_TABLE_ROWS else None):
        for model in models.values():
            model.fit(x_train, y_train)
    return pre, models


def train_baselines(train: pd.DataFrame, scored: dict[str, pd.DataFrame], feature_types: dict[str, str],
                    kind: str | None = None, seed: int = 42) -> list[BaselineResult]:
    """Fit the linear baseline and gradient boosting on `train`, score them on each frame in `scored`."""
    kind = kind or infer_target_kind(labelled(train)[LABEL])
    pre, models = fit_baseline_models(train, feature_types, kind, seed)
    results = []
    for name, model in models.items():
        metrics: dict[str, dict[str, float]] = {}
        predictions = pd.DataFrame()
        for split, frame in scored.items():
            frame = labelled(frame)
            if frame.empty:
                continue
            pred = model.predict(pre.transform(frame))
            truth = target_values(frame, kind)
            metrics[split] = score_predictions(kind, truth, pred)
            predictions = pd.DataFrame({"label": truth, "predicted": pred}, index=frame.index)
        results.append(BaselineResult(name, BASELINE_TITLES[name], metrics, predictions))
    return results


def permutation_importance(predict: Callable[[pd.DataFrame], Sequence[Any]], frame: pd.DataFrame,
                           features: Sequence[str], kind: str, n_repeats: int = 5,
                           seed: int = 42) -> pd.DataFrame:
    """How much the score drops when each raw feature column is shuffled (validation rows).

    Columns are shuffled before preprocessing, so a one-hot encoded category counts as one feature.
    The score is accuracy (classification) or R² (regression); a larger drop means more important.
    """
    frame = labelled(frame).reset_index(drop=True)
    if len(frame) < 2:
        return pd.DataFrame(columns=["feature", "importance", "std", "metric"])
    metric = "accuracy" if kind == "classification" else "r2"
    truth = target_values(frame, kind)
    base = score_predictions(kind, truth, predict(frame))[metric]
    rng = np.random.default_rng(seed)
    rows = []
    for col in features:
        drops = []
        for _ in range(n_repeats):
            shuffled = frame.copy()
            shuffled[col] = frame[col].to_numpy()[rng.permutation(len(frame))]
            drops.append(base - score_predictions(kind, truth, predict(shuffled))[metric])
        rows.append({"feature": col, "importance": float(np.mean(drops)),
                     "std": float(np.std(drops)), "metric": metric})
    out = pd.DataFrame(rows)
    return out.sort_values("importance", ascending=False, ignore_index=True)
