"""Rows for compare/report/export tests: a dataset, runs, metrics and stored predictions.

Inserted straight through the ORM so these tests do not depend on training anything.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.config import get_settings
from core.store import orm
from core.store.db import session_scope


def add_dataset(name: str = "reviews", task: str = "classification", rows: int = 40) -> int:
    """A dataset row with a small Parquet file (text, label, split) under UCLAB_HOME."""
    settings = get_settings()
    folder = settings.datasets_dir
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"text": [f"review number {i}" for i in range(rows)],
                          "label": ["good" if i % 2 else "bad" for i in range(rows)],
                          "split": (["train"] * (rows // 2) + ["validation"] * (rows // 4)
                                    + ["test"] * (rows - rows // 2 - rows // 4))})
    with session_scope(write=True) as s:
        count = len(s.query(orm.Dataset).all())
        path = folder / f"{name}-{count + 1}.parquet"
        frame.to_parquet(path)
        ds = orm.Dataset(name=name, version=count + 1, task=task, source_filename=f"{name}.csv",
                         content_hash=f"hash{count}", path=settings.relative(path),
                         mapping={"text": "text", "label": "label"},
                         split_sizes=frame["split"].value_counts().to_dict(),
                         quality={"findings": [{"severity": "warning", "code": "dupes",
                                                "message": "3 rows <b>repeat</b> the same text.",
                                                "count": 3, "example": None}], "stats": {}},
                         info={}, row_count=rows)
        s.add(ds)
        s.flush()
        return ds.id


def add_run(dataset_id: int, *, name: str = "", model_key: str = "minilm", task: str = "classification",
            config: dict[str, Any] | None = None, status: str = "succeeded", steps: int = 10,
            accuracy: float = 0.8, elapsed: float = 120.0, device: str = "cpu",
            output_dir: str = "") -> int:
    """A finished run with train/validation curves over `steps` steps and a test evaluation."""
    with session_scope(write=True) as s:
        run = orm.Run(dataset_id=dataset_id, model_key=model_key, task=task, name=name,
                      config=config or {"epochs": 3.0, "learning_rate": 5e-5, "batch_size": 16},
                      seed=42, status=status, step=steps, total_steps=steps, epoch=3.0,
                      elapsed_seconds=elapsed, device=device, output_dir=output_dir)
        s.add(run)
        s.flush()
        for step in range(1, steps + 1):
            s.add(orm.RunMetric(run_id=run.id, step=step, epoch=3.0 * step / steps, split="train",
                                name="loss", value=1.0 / step))
            if step % 2 == 0:
                s.add(orm.RunMetric(run_id=run.id, step=step, epoch=3.0 * step / steps,
                                    split="validation", name="accuracy", value=accuracy * step / steps))
        s.add(orm.Evaluation(run_id=run.id, split="test", model="run",
                             metrics={"accuracy": accuracy, "macro_f1": accuracy - 0.05, "loss": 1 - accuracy,
                                      "n": 10, "labels": ["bad", "good"],
                                      "confusion_matrix": [[4, 1], [1, 4]]}))
        return run.id


def add_predictions(run_id: int, labels: list[str], predicted: list[str], split: str = "test",
                    model: str = "run", texts: list[str] | None = None) -> None:
    """Stored predictions of a run (the evaluation engine's Parquet layout) on a split."""
    settings = get_settings()
    folder = settings.runs_dir / str(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"text": texts or [f"text {i}" for i in range(len(labels))],
                          "label": labels, "predicted": predicted})
    frame["correct"] = frame["label"] == frame["predicted"]
    frame["confidence"] = 0.9
    path = folder / f"predictions-{split}-{model}.parquet"
    frame.to_parquet(path)
    with session_scope(write=True) as s:
        ev = s.query(orm.Evaluation).filter_by(run_id=run_id, split=split, model=model).one_or_none()
        if ev is None:
            ev = orm.Evaluation(run_id=run_id, split=split, model=model, metrics={})
            s.add(ev)
        ev.predictions_path = settings.relative(path)


def finished_chat_run(dataset_id: int, key: str, weights: Any) -> int:
    """A succeeded causal-LM run whose saved model is a copy of `weights` (as the worker leaves it)."""
    import os
    import shutil

    from core.store import runs
    from core.training import service as training

    run = runs.create_run(dataset_id=dataset_id, model_key=key, task="causal-lm",
                          config=training.TrainConfig().to_dict(), seed=42)
    folder = get_settings().runs_dir / str(run.id)
    shutil.copytree(weights, folder / "model")
    runs.transition(run.id, "running", pid=os.getpid())
    runs.transition(run.id, "succeeded", output_dir=get_settings().relative(folder))
    return run.id
