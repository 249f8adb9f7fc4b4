"""Seed data for page tests by calling the services directly (no training is started)."""

from __future__ import annotations

import os

import pandas as pd

from core import datasets, runs, training
from core.entities import DatasetInfo, RunInfo

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


class NoLauncher:
    """A launcher that starts nothing: queued runs stay queued."""

    def __init__(self) -> None:
        self.launched: list[int] = []

    def launch(self, run_id: int) -> None:
        self.launched.append(run_id)


def seed_run(dataset_id: int, status: str = "running", step: int = 40, total: int = 100,
             reason: str = "") -> RunInfo:
    """A run in the given status with progress and a few train/validation metrics."""
    info = runs.create_run(dataset_id=dataset_id, model_key="minilm-l6", task="classification",
                           config=training.TrainConfig().to_dict(), seed=42)
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
