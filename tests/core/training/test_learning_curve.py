"""Learning curve: a parent run, one child per fraction, deterministic nested subsets, the curve."""

from __future__ import annotations

import pandas as pd
import pytest
from fake_runs import add_dataset
from training_data import RecordingLauncher

from core.errors import ConfigError, NotFoundError
from core.run_config import TrainConfig
from core.store import orm
from core.store.db import session_scope
from core.training import learning_curve as lc
from core.training.service import TrainRequest


@pytest.fixture
def request_(home) -> TrainRequest:
    ds = add_dataset(rows=400)  # 200 training rows
    return TrainRequest(dataset_id=ds, model_key="minilm-l6", config=TrainConfig(epochs=1.0, seed=7))


def test_start_queues_one_child_per_fraction(request_) -> None:
    launcher = RecordingLauncher()
    parent = lc.start_learning_curve(request_, launcher=launcher)
    assert parent.kind == "learning-curve" and parent.status == "succeeded"  # it trains nothing itself
    children = lc.learning_curve_runs(parent.id)
    assert children["fraction"].tolist() == [0.1, 0.25, 0.5, 1.0]
    assert children["train_rows"].tolist() == [20, 50, 100, 200]
    assert set(children["status"]) == {"queued"}
    assert launcher.launched == [children["run_id"].iloc[0]]  # the queue starts the first child only
    with session_scope() as s:
        rows = s.query(orm.Run).filter(orm.Run.parent_id == parent.id).all()
        assert all(r.seed == 7 and r.config["epochs"] == 1.0 for r in rows)


def test_the_worker_subsamples_each_child_deterministically_and_nested(request_) -> None:
    from core.training.worker import split_frames

    parent = lc.start_learning_curve(request_, fractions=(0.25, 0.5), launcher=RecordingLauncher())
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(300)],
                          "split": ["train"] * 200 + ["validation"] * 50 + ["test"] * 50})
    samples = []
    with session_scope() as s:
        for child in s.query(orm.Run).filter(orm.Run.parent_id == parent.id).order_by(orm.Run.id):
            config = TrainConfig.from_dict(child.config)
            first, again = split_frames(frame, config), split_frames(frame, config)
            assert first["train"]["text"].tolist() == again["train"]["text"].tolist()
            samples.append(first["train"]["text"].tolist())
    assert [len(x) for x in samples] == [50, 100]
    assert samples[0] == samples[1][:50]  # the smaller share is part of the larger one


def test_learning_curve_reads_finished_children(request_) -> None:
    parent = lc.start_learning_curve(request_, fractions=(0.1, 0.5, 1.0), launcher=RecordingLauncher())
    ids = lc.learning_curve_runs(parent.id)["run_id"].tolist()
    with session_scope(write=True) as s:
        for run_id, f1 in zip(ids[:2], (0.6, 0.8), strict=True):  # the last one is still queued
            s.get(orm.Run, run_id).status = "succeeded"
            s.add(orm.Evaluation(run_id=run_id, split="test", model="run",
                                 metrics={"macro_f1": f1, "accuracy": f1 + 0.05, "n": 30, "labels": ["a"]}))
    curve = lc.learning_curve(parent.id)
    f1 = curve[curve["metric"] == "macro_f1"]
    assert f1["train_rows"].tolist() == [20, 100] and f1["value"].tolist() == pytest.approx([0.6, 0.8])
    assert set(curve["metric"]) == {"macro_f1", "accuracy"}
    assert lc.headline_metric(parent.id, curve) == "macro_f1"


def test_bad_fractions_and_ids(request_) -> None:
    with pytest.raises(ConfigError):
        lc.start_learning_curve(request_, fractions=(0.0, 1.5), launcher=RecordingLauncher())
    with pytest.raises(ConfigError, match="only 2 rows"):
        lc.start_learning_curve(request_, fractions=(0.01, 1.0), launcher=RecordingLauncher())
    with pytest.raises(NotFoundError):
        lc.learning_curve(999)
    with session_scope() as s:
        assert s.query(orm.Run).count() == 0  # nothing was stored by the refused requests


def test_start_from_an_existing_run_reuses_its_settings(request_) -> None:
    from fake_runs import add_run

    run_id = add_run(request_.dataset_id, model_key="minilm-l6", name="base",
                     config=TrainConfig(epochs=2.0, learning_rate=1e-4, seed=7).to_dict())
    parent = lc.start_learning_curve_from_run(run_id, fractions=(0.5, 1.0), launcher=RecordingLauncher())
    with session_scope() as s:
        children = s.query(orm.Run).filter(orm.Run.parent_id == parent.id).all()
        assert [c.config["learning_rate"] for c in children] == [1e-4, 1e-4]
        assert [c.config["train_fraction"] for c in children] == [0.5, 1.0]
    assert [p.id for p in lc.list_learning_curves()] == [parent.id]
    with pytest.raises(ConfigError):
        lc.start_learning_curve_from_run(children[0].id, launcher=RecordingLauncher())
