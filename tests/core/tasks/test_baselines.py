"""Baselines: trained on the training rows, judged on the test rows, beaten by nothing simpler."""

from __future__ import annotations

from training_data import text_frame

from core.tasks.baselines import fit_baselines


def _parts(task: str) -> tuple:
    frame = text_frame(rows=200, task=task)
    return frame[frame["split"] == "train"], frame[frame["split"] == "test"]


def test_classification_baselines_majority_and_tfidf() -> None:
    train, test = _parts("classification")
    results = {name: (metrics, preds)
               for name, metrics, preds in fit_baselines("classification", train, test)}
    assert set(results) == {"majority", "tfidf_logreg"}
    majority, tfidf = results["majority"][0], results["tfidf_logreg"][0]
    assert 0.4 <= majority["accuracy"] <= 0.6  # balanced labels
    assert tfidf["accuracy"] > 0.95  # the label follows the words
    preds = results["tfidf_logreg"][1]
    assert list(preds.columns) == ["text", "label", "predicted", "confidence", "correct"]
    assert len(preds) == len(test) and preds["correct"].mean() == tfidf["accuracy"]


def test_regression_baselines_mean_and_ridge() -> None:
    train, test = _parts("regression")
    results = {name: metrics for name, metrics, _ in fit_baselines("regression", train, test)}
    assert set(results) == {"mean", "tfidf_ridge"}
    assert results["tfidf_ridge"]["mae"] < results["mean"]["mae"]
    assert results["mean"]["r2"] <= 0.05


def test_no_baselines_without_rows_or_for_other_tasks() -> None:
    train, test = _parts("classification")
    assert fit_baselines("classification", train, test.iloc[:0]) == []
    assert fit_baselines("causal-lm", train, test) == []
