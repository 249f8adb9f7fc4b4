"""The tabular adapter through the real training engine: progress, curves, cancel, resume, evaluation."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

from core.ml.tasks.base import TaskInputs
from core.ml.tasks.registry import get_adapter
from core.run_config import TrainConfig
from core.store import runs
from core.store.db import session_scope
from core.store.orm import Dataset
from core.training.engine import train


def sk_parts(loader, seed: int = 0) -> tuple[dict[str, pd.DataFrame], dict]:
    data = loader(as_frame=True)
    frame = data.frame.rename(columns={"target": "label"})
    if loader is load_iris:
        frame["label"] = [str(data.target_names[i]) for i in data.target]
    order = np.random.default_rng(seed).permutation(len(frame))
    n_train, n_val = int(0.7 * len(frame)), int(0.15 * len(frame))
    idx = {"train": order[:n_train], "validation": order[n_train:n_train + n_val],
           "test": order[n_train + n_val:]}
    return ({k: frame.iloc[v].reset_index(drop=True) for k, v in idx.items()},
            {"features": list(data.feature_names)})


_names = itertools.count()


def make_run(config: TrainConfig) -> int:
    with session_scope(write=True) as s:
        row = Dataset(name=f"sk-{next(_names)}", version=1, task="tabular", source_filename="sk.csv",
                      content_hash="x", path="datasets/sk.parquet", mapping={}, split_sizes={},
                      quality={}, info={}, row_count=1)
        s.add(row)
        s.flush()
        dataset_id = row.id
    run_id = runs.create_run(dataset_id=dataset_id, model_key="mlp", task="tabular",
                             config=config.to_dict(), seed=config.seed).id
    runs.transition(run_id, "running")
    return run_id


def inputs(parts, mapping, config, tmp_path) -> TaskInputs:
    return TaskInputs(task="tabular", train=parts["train"], validation=parts["validation"],
                      test=parts["test"], model_dir=tmp_path / "unused", config=config,
                      dataset_info={"mapping": mapping})


CONFIG = dict(epochs=15, batch_size=16, learning_rate=1e-2, warmup_ratio=0.0, weight_decay=1e-4,
              task_options={"hidden_sizes": [32, 32], "dropout": 0.1})


def test_iris_through_the_engine_with_curves_evaluation_and_reload(home, tmp_path):
    parts, mapping = sk_parts(load_iris)
    config = TrainConfig(**CONFIG)
    run_id = make_run(config)
    adapter = get_adapter("tabular")
    outcome = train(run_id, inputs(parts, mapping, config, tmp_path), adapter, home / "runs" / "1")
    assert outcome.status == "succeeded", outcome.reason
    curves = runs.metrics_frame(run_id)
    assert {("train", "loss"), ("validation", "loss"), ("validation", "accuracy")} <= set(
        zip(curves["split"], curves["name"], strict=True))
    info = runs.get_run(run_id)
    assert info.step == info.total_steps == outcome.global_step and info.last_checkpoint

    metrics, preds = adapter.evaluate(outcome.model, outcome.bundle.processing_class, parts["test"],
                                      outcome.bundle.meta, config)
    assert metrics["accuracy"] >= 0.9 and metrics["confusion_matrix"] and "roc" in metrics
    assert {"label", "predicted", "confidence", "correct", "p:setosa"} <= set(preds.columns)
    importance = metrics["feature_importance"]
    assert importance["split"] == "validation" and set(importance["features"]) == set(mapping["features"])
    assert max(importance["importance"]) > 0.05  # shuffling the petal measures hurts

    out = tmp_path / "model"
    adapter.save(outcome.model, outcome.bundle.processing_class, out, outcome.bundle.meta)
    model, pre, meta = get_adapter("tabular").load(out)
    again, _ = get_adapter("tabular").evaluate(model, pre, parts["test"], meta, config)
    assert again["accuracy"] == metrics["accuracy"]

    baselines = dict((name, m) for name, m, _ in adapter.baselines(parts["train"], parts["test"]))
    assert set(baselines) == {"logistic_regression", "hist_gradient_boosting"}
    assert baselines["logistic_regression"]["accuracy"] >= 0.85


def test_diabetes_regression_beats_the_mean(home, tmp_path):
    parts, mapping = sk_parts(load_diabetes)
    config = TrainConfig(**{**CONFIG, "batch_size": 32, "learning_rate": 3e-3, "weight_decay": 1e-2})
    run_id = make_run(config)
    adapter = get_adapter("tabular")
    outcome = train(run_id, inputs(parts, mapping, config, tmp_path), adapter, home / "runs" / "1")
    assert outcome.status == "succeeded"
    metrics, preds = adapter.evaluate(outcome.model, outcome.bundle.processing_class, parts["test"],
                                      outcome.bundle.meta, config)
    assert metrics["r2"] > 0.2 and "residual_histogram" in metrics  # the mean predictor scores <= 0
    assert {"label", "predicted", "error"} <= set(preds.columns)
    assert metrics["feature_importance"]["metric"] == "r2"
    names = [name for name, _, _ in adapter.baselines(parts["train"], parts["test"])]
    assert names == ["linear_regression", "hist_gradient_boosting"]


def test_cancel_then_resume_from_the_checkpoint(home, tmp_path):
    parts, mapping = sk_parts(load_iris)
    config = TrainConfig(**{**CONFIG, "epochs": 10, "eval_every": 5})
    run_id = make_run(config)
    runs.request_cancel(run_id)  # seen at the end of the first step
    run_dir = home / "runs" / str(run_id)
    first = train(run_id, inputs(parts, mapping, config, tmp_path), get_adapter("tabular"), run_dir)
    assert first.status == "cancelled" and first.global_step == 1
    checkpoint = runs.last_complete_checkpoint(run_dir / "checkpoints")
    assert checkpoint is not None and (checkpoint / "preprocessor.json").exists()

    runs.transition(run_id, "cancelled")
    runs.transition(run_id, "queued")
    runs.transition(run_id, "running")
    second = train(run_id, inputs(parts, mapping, config, tmp_path), get_adapter("tabular"), run_dir,
                   resume_from=checkpoint)
    assert second.status == "succeeded" and second.global_step == runs.get_run(run_id).total_steps > 1


def test_bad_options_and_single_class_are_refused(home, tmp_path):
    from core.errors import ConfigError

    parts, mapping = sk_parts(load_iris)
    adapter = get_adapter("tabular")
    with pytest.raises(ConfigError, match="Hidden sizes"):
        adapter.check(inputs(parts, mapping, TrainConfig(task_options={"hidden_sizes": [0]}), tmp_path))
    with pytest.raises(ConfigError, match="too small for the tabular MLP"):
        adapter.check(inputs(parts, mapping, TrainConfig(), tmp_path))  # a transformer's 5e-5
    one = {k: v.assign(label="setosa") for k, v in parts.items()}
    with pytest.raises(ConfigError, match="only one class"):
        adapter.check(inputs(one, mapping, TrainConfig(**CONFIG), tmp_path))
