"""Evaluation metrics with scikit-learn (never ``evaluate.load``, which needs the network).

Every result is JSON-ready: floats (NaN/inf become None), lists and dicts, so it can be stored
in ``evaluations.metrics`` and drawn by the evaluation page without recomputation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

MAX_CURVE_POINTS = 201


def clean(value: Any) -> Any:
    """Turn numpy scalars into floats and NaN/inf into None, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    """Keep at most MAX_CURVE_POINTS evenly spaced points of aligned curve arrays (ends kept)."""
    n = len(arrays[0])
    if n <= MAX_CURVE_POINTS:
        return [np.asarray(a, dtype=float).round(5).tolist() for a in arrays]
    idx = np.unique(np.linspace(0, n - 1, MAX_CURVE_POINTS).round().astype(int))
    return [np.asarray(a, dtype=float)[idx].round(5).tolist() for a in arrays]


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str],
                           proba: np.ndarray | None = None, *, curves: bool = True) -> dict[str, Any]:
    """Accuracy, P/R/F1 (macro/micro/weighted), per-class report, confusion matrix and curves.

    ``y_true``/``y_pred`` are class indices into ``labels``; ``proba`` is (n, n_classes).
    """
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    ids = list(range(len(labels)))
    out: dict[str, Any] = {"accuracy": skm.accuracy_score(y_true, y_pred), "n": int(len(y_true))}
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=ids, average=avg,
                                                         zero_division=0)
        out.update({f"{avg}_precision": p, f"{avg}_recall": r, f"{avg}_f1": f})
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0)
    out["per_class"] = [{"label": lab, "precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]}
                        for i, lab in enumerate(labels)]
    out["labels"] = list(labels)
    out["confusion_matrix"] = skm.confusion_matrix(y_true, y_pred, labels=ids).tolist()
    if proba is not None and curves and len(y_true):
        out.update(probability_metrics(y_true, y_pred, np.asarray(proba, dtype=float), labels))
    return clean(out)


def probability_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray,
                        labels: Sequence[str]) -> dict[str, Any]:
    """One-vs-rest ROC and PR curves with AUC, a calibration curve and a confidence histogram."""
    roc: dict[str, Any] = {}
    pr: dict[str, Any] = {}
    for i, lab in enumerate(labels):
        positive = (y_true == i).astype(int)
        if positive.min() == positive.max():  # a class absent (or alone) here has no curve
            continue
        fpr, tpr, _ = skm.roc_curve(positive, proba[:, i])
        fpr_t, tpr_t = _thin(fpr, tpr)
        roc[lab] = {"fpr": fpr_t, "tpr": tpr_t, "auc": skm.auc(fpr, tpr)}
        prec, rec, _ = skm.precision_recall_curve(positive, proba[:, i])
        prec_t, rec_t = _thin(prec, rec)
        pr[lab] = {"precision": prec_t, "recall": rec_t,
                   "auc": skm.average_precision_score(positive, proba[:, i])}
    out: dict[str, Any] = {"roc": roc, "pr": pr}
    if roc:
        out["roc_auc_macro"] = float(np.mean([c["auc"] for c in roc.values()]))
        out["pr_auc_macro"] = float(np.mean([c["auc"] for c in pr.values()]))
    confidence = proba.max(axis=1)
    correct = (y_pred == y_true).astype(int)
    out["calibration"] = calibration_curve(confidence, correct)
    out["confidence_histogram"] = confidence_histogram(confidence, correct)
    return out


def calibration_curve(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Mean confidence vs accuracy in equal-width confidence bins, and the expected calibration error."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    mean_conf, accuracy, counts = [], [], []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        mean_conf.append(float(confidence[mask].mean()))
        accuracy.append(float(correct[mask].mean()))
        counts.append(int(mask.sum()))
        ece += mask.mean() * abs(mean_conf[-1] - accuracy[-1])
    return {"confidence": mean_conf, "accuracy": accuracy, "count": counts, "ece": float(ece)}


def confidence_histogram(confidence: np.ndarray, correct: np.ndarray, bins: int = 20) -> dict[str, Any]:
    """Counts of correct and wrong predictions per confidence bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    right, _ = np.histogram(confidence[correct == 1], bins=edges)
    wrong, _ = np.histogram(confidence[correct == 0], bins=edges)
    return {"edges": edges.round(4).tolist(), "correct": right.tolist(), "wrong": wrong.tolist()}


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, Any]:
    """MAE, RMSE, R² and a residual histogram."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    residual = y_pred - y_true
    out: dict[str, Any] = {
        "mae": skm.mean_absolute_error(y_true, y_pred) if len(y_true) else None,
        "rmse": math.sqrt(skm.mean_squared_error(y_true, y_pred)) if len(y_true) else None,
        "r2": skm.r2_score(y_true, y_pred) if len(y_true) > 1 else None,
        "n": int(len(y_true)),
    }
    if len(residual) and np.isfinite(residual).all():
        counts, edges = np.histogram(residual, bins=20)
        out["residual_histogram"] = {"edges": edges.round(6).tolist(), "count": counts.tolist()}
    return clean(out)


def gain(model_value: float | None, baseline_value: float | None) -> float | None:
    """The model's metric minus a baseline's (None when either is missing)."""
    if model_value is None or baseline_value is None:
        return None
    return float(model_value) - float(baseline_value)
