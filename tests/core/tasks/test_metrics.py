"""Evaluation metrics: known values on small hand-made predictions, JSON-ready output."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.tasks import metrics as M


def test_classification_metrics_match_hand_counts() -> None:
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    out = M.classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["micro_f1"] == pytest.approx(4 / 6)
    assert out["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    per_class = {row["label"]: row for row in out["per_class"]}
    assert per_class["b"]["precision"] == pytest.approx(2 / 3) and per_class["b"]["recall"] == 1.0
    assert per_class["c"]["support"] == 2
    assert out["macro_f1"] == pytest.approx(np.mean([0.5, 0.8, 2 / 3]))
    assert "roc" not in out  # no probabilities, no curves


def test_curves_calibration_and_histogram_from_probabilities() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    proba[np.arange(300), y_true] += 1.5  # informative scores
    proba /= proba.sum(1, keepdims=True)
    out = M.classification_metrics(y_true, proba.argmax(1), ["x", "y", "z"], proba)
    assert set(out["roc"]) == {"x", "y", "z"} and 0.8 < out["roc_auc_macro"] <= 1.0
    assert len(out["roc"]["x"]["fpr"]) <= M.MAX_CURVE_POINTS
    assert out["roc"]["x"]["fpr"][0] == 0.0 and out["roc"]["x"]["tpr"][-1] == 1.0
    assert 0 < out["pr"]["y"]["auc"] <= 1
    assert sum(out["calibration"]["count"]) == 300 and 0 <= out["calibration"]["ece"] <= 1
    hist = out["confidence_histogram"]
    assert sum(hist["correct"]) + sum(hist["wrong"]) == 300 and len(hist["edges"]) == 21
    json.dumps(out)  # stored as JSON as it is


def test_a_class_absent_from_the_split_has_no_curve() -> None:
    proba = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0]])
    out = M.classification_metrics([0, 1, 0], [0, 1, 0], ["a", "b", "c"], proba)
    assert set(out["roc"]) == {"a", "b"}
    assert out["per_class"][2]["support"] == 0


def test_regression_metrics() -> None:
    out = M.regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 4.0])
    assert out["mae"] == pytest.approx(0.25)
    assert out["rmse"] == pytest.approx(math.sqrt(0.125))
    assert out["r2"] == pytest.approx(1 - 0.5 / 5)
    assert sum(out["residual_histogram"]["count"]) == 4


def test_clean_turns_nan_and_numpy_into_json_values() -> None:
    cleaned = M.clean({"a": np.float32(0.5), "b": float("nan"), "c": [np.int64(3), float("inf")]})
    assert cleaned == {"a": 0.5, "b": None, "c": [3, None]}
    assert M.gain(0.8, 0.7) == pytest.approx(0.1) and M.gain(None, 0.7) is None
