"""Seed data for page tests by calling the services directly (no training is started)."""

from __future__ import annotations

import os

import pandas as pd

from core.data import datasets
from core.entities import DatasetInfo, RunInfo
from core.store import runs
from core.training import service as training
from tests.training_data import RecordingLauncher

WORDS = {"fresh": ["wonderful", "moving", "brilliant", "charming", "funny", "warm", "great"],
         "rotten": ["dull", "boring", "painful", "flat", "predictable", "messy", "tired"]}


def reviews_frame(n: int = 60) -> pd.DataFrame:
    """A small two-class text frame (deterministic)."""
    rows = []
    for i in range(n):
        label = "fresh" if i % 2 == 0 else "rotten"
        words = WORDS[label]
        rows.append({"text": f"A {words[i % 7]} and {words[(i + 3) % 7]} film, take {i}", "label": label})
    return pd.DataFrame(rows)


def save_reviews(name: str = "reviews") -> DatasetInfo:
    """Save the small review frame as a classification dataset version."""
    parsed = datasets.frame_to_parsed(reviews_frame(), "reviews.csv")
    return datasets.save_dataset(parsed, {"text": "text", "label": "label"}, name=name,
                                 task="classification", split=datasets.SplitConfig(0.2, 0.2, 1))


NoLauncher = RecordingLauncher  # queued runs stay queued


def seed_run(dataset_id: int, status: str = "running", step: int = 40, total: int = 100,
             reason: str = "", task: str = "classification", options: dict | None = None) -> RunInfo:
    """A run in the given status with progress and a few train/validation metrics (`options`: its
    task options, e.g. a sweep's final run's)."""
    info = runs.create_run(dataset_id=dataset_id, model_key="minilm-l6", task=task,
                           config=training.TrainConfig(task_options=options or {}).to_dict(), seed=42)
    runs.transition(info.id, "running", pid=os.getpid(), step=step, total_steps=total, epoch=step / 50,
                    samples_per_second=12.5, eta_seconds=60.0, elapsed_seconds=45.0)
    for s in (10, 20, 30, 40):
        runs.add_metrics(info.id, s, s / 50, "train", {"loss": 1.0 / s, "learning_rate": 5e-5})
    runs.add_metrics(info.id, 20, 0.4, "validation", {"loss": 0.4, "accuracy": 0.7, "macro_f1": 0.68})
    runs.add_metrics(info.id, 40, 0.8, "validation", {"loss": 0.3, "accuracy": 0.8, "macro_f1": 0.79})
    runs.add_log(info.id, "Training started.")
    if status != "running":
        runs.transition(info.id, status, reason=reason)
    return runs.get_run(info.id)


def seed_evaluation(run_id: int, task: str = "classification", split: str = "test") -> None:
    """Store a small evaluation of the run on `split` and two baselines (as the worker would)."""
    import numpy as np

    from core.results import evaluation
    from core.tasks import metrics as M

    texts = [f"review number {i}" for i in range(8)]
    if task == "regression":
        y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
        pred = y + np.array([0.5, -0.5, 0.2, 1.5, -0.1, 0.0, -2.0, 0.3])
        frame = pd.DataFrame({"text": texts, "label": y, "predicted": pred, "error": pred - y})
        evaluation.store_evaluation(run_id, split, "run", M.regression_metrics(y, pred), frame)
        mean = np.full_like(y, y.mean())
        evaluation.store_evaluation(run_id, split, "mean", M.regression_metrics(y, mean),
                                    frame.assign(predicted=mean))
        return
    labels = ["fresh", "rotten"]
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    proba1 = np.array([0.1, 0.2, 0.7, 0.3, 0.9, 0.8, 0.4, 0.6])
    proba = np.stack([1 - proba1, proba1], axis=1)
    pred = proba.argmax(1)
    frame = pd.DataFrame({"text": texts, "label": [labels[i] for i in y],
                          "predicted": [labels[i] for i in pred], "confidence": proba.max(1)})
    frame["correct"] = frame["label"] == frame["predicted"]
    evaluation.store_evaluation(run_id, split, "run", M.classification_metrics(y, pred, labels, proba),
                                frame)
    majority = np.zeros_like(y)
    evaluation.store_evaluation(run_id, split, "majority",
                                M.classification_metrics(y, majority, labels, curves=False),
                                frame.assign(predicted="fresh"))


def seed_ner_evaluation(run_id: int) -> None:
    """Store a token-classification evaluation of three sentences, one entity missed, one of the wrong type.

    The metrics are built like core.ml.tasks.token_classification.score_predictions, without torch.
    """
    from core.results import evaluation
    from core.tasks import ner_eval

    tokens = [["Anna", "paid", "Acme"], ["Bob", "<b>met</b>", "Oslo"], ["Acme", "ships"]]
    gold = [["B-PER", "O", "B-ORG"], ["B-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "B-ORG"], ["B-PER", "O", "B-ORG"], ["O", "O"]]
    report = ner_eval.entity_report(gold, pred)
    confusion = ner_eval.token_confusion(gold, pred, by_type=True)
    metrics = {**ner_eval.report_metrics(report), "token_accuracy": 6 / 8,
               "report": report.reset_index().to_dict("records"),
               "per_class": ner_eval.f1_by_type(report).rename(columns={"type": "label"}).to_dict("records"),
               "labels": [str(c) for c in confusion.columns],
               "confusion_matrix": confusion.to_numpy().astype(int).tolist()}
    frame = pd.DataFrame({"text": [" ".join(t) for t in tokens], "tokens": tokens, "tags": gold,
                          "predicted": pred, "correct": [g == p for g, p in zip(gold, pred, strict=True)]})
    evaluation.store_evaluation(run_id, "test", "run", metrics, frame)


def save_labelled_reviews(rows: int = 100) -> DatasetInfo:
    """A two-class review dataset whose test rows a run's stored predictions can line up with."""
    frame = pd.DataFrame([{"text": f"A {'great' if i % 2 else 'dull'} film number {i}",
                           "label": ["fresh", "rotten"][i % 2]} for i in range(rows)])
    return datasets.save_dataset(datasets.frame_to_parsed(frame, "reviews.csv"),
                                 {"text": "text", "label": "label"}, name="reviews", task="classification",
                                 split=datasets.SplitConfig(0.2, 0.2, 5))


def seed_predicted_run(dataset_id: int, predicted: list[str], name: str = "", model_key: str = "minilm-l6",
                       config: training.TrainConfig | None = None) -> RunInfo:
    """A succeeded run whose stored test predictions are `predicted`, in the order of the test rows."""
    import numpy as np

    from core.results.evaluation import store_evaluation
    from core.tasks import metrics as M

    config = config or training.TrainConfig(max_steps=7, learning_rate=3e-5)
    info = runs.create_run(dataset_id=dataset_id, model_key=model_key, task="classification",
                           config=config.to_dict(), seed=42, name=name)
    runs.transition(info.id, "running")
    runs.transition(info.id, "succeeded")
    test = datasets.load_dataset_frame(dataset_id, "test")
    frame = pd.DataFrame({"text": test["text"].astype(str), "label": test["label"].astype(str),
                          "predicted": predicted, "confidence": np.linspace(0.99, 0.5, len(test))})
    frame["correct"] = frame["label"] == frame["predicted"]
    labels = ["fresh", "rotten"]
    y_true = np.array([labels.index(v) for v in frame["label"]])
    y_pred = np.array([labels.index(v) for v in frame["predicted"]])
    proba = np.stack([1 - y_pred * 0.8 - 0.1, y_pred * 0.8 + 0.1], axis=1)
    store_evaluation(info.id, "test", "run", M.classification_metrics(y_true, y_pred, labels, proba), frame)
    return runs.get_run(info.id)
