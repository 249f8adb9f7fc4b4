"""Succeeded encoder runs without training: a tiny model with a fresh head saved as a run's model.

``encoder_run("classification")`` (labels neg/pos) or ``encoder_run("token-classification")``
(PER/ORG/LOC tags) builds the head through the task adapter, saves it under ``runs/<id>/model``
and marks the run succeeded, as the worker leaves a finished run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from core.config import get_settings
from core.store import orm, runs
from core.store.db import session_scope

SENTENCES = [(["Anna", "paid", "Dell", "."], ["B-PER", "O", "B-ORG", "O"]),
             (["Bob", "shipped", "to", "Oslo"], ["B-PER", "O", "O", "B-LOC"])]


def _frame(task: str) -> pd.DataFrame:
    return pd.DataFrame([(t, g, s) for t, g in SENTENCES for s in ("train", "validation", "test")],
                        columns=["tokens", "tags", "split"])


def encoder_run(task: str, model_key: str = "local:tiny-bert") -> int:
    """The id of a succeeded run of `task` whose model folder holds the tiny encoder with a head."""
    from tiny_models import build_tiny_encoder

    from core.ml.tasks.base import TaskInputs
    from core.ml.tasks.registry import get_adapter
    from core.run_config import TrainConfig

    settings = get_settings()
    base = settings.models_dir / "tiny-bert"
    if not (base / "config.json").exists():
        build_tiny_encoder(base)
    frame = _frame(task)
    if task == "classification":  # a real Parquet file: exports measure on its test split
        from training_data import add_text_dataset, text_frame

        frame = text_frame(rows=40)
        dataset_id = add_text_dataset(frame)
    else:
        with session_scope(write=True) as s:
            ds = orm.Dataset(name=task, task=task, source_filename="x.csv", content_hash=task,
                             path="x.parquet", mapping={}, split_sizes={}, quality={}, row_count=len(frame))
            s.add(ds)
            s.flush()
            dataset_id = ds.id
    run = runs.create_run(dataset_id=dataset_id, model_key=model_key, task=task,
                          config={"max_length": 32}, seed=1)
    adapter = get_adapter(task)
    part = {name: frame[frame.split == name] for name in ("train", "validation", "test")}
    inputs = TaskInputs(task=task, train=part["train"], validation=part["validation"], test=part["test"],
                        model_dir=base, config=TrainConfig(max_length=32))
    bundle = adapter.build(inputs)
    folder = settings.runs_dir / str(run.id) / "model"
    adapter.save(bundle.model, bundle.processing_class, folder, bundle.meta)
    assert runs.claim_run(run.id, pid=1)
    runs.transition(run.id, "succeeded", reason="", output_dir=f"runs/{run.id}")
    return run.id


def causal_run(model_folder: Path, name: str = "support-bot") -> int:
    """The id of a succeeded causal-LM run whose saved model is a copy of `model_folder`."""
    from training_data import add_text_dataset

    settings = get_settings()
    run = runs.create_run(dataset_id=add_text_dataset(), model_key="local:tiny-chat", task="causal-lm",
                          config={}, seed=1, name=name)
    shutil.copytree(model_folder, settings.runs_dir / str(run.id) / "model")
    assert runs.claim_run(run.id, pid=1)
    runs.transition(run.id, "succeeded", reason="", output_dir=f"runs/{run.id}")
    return run.id
