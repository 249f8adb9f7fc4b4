"""Cross-validation runs: a parent with k fold runs, derived status, cancel cascade, resume, summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from training_data import RecordingLauncher

from core.data import gallery
from core.errors import ConfigError
from core.results import evaluation
from core.run_config import TrainConfig
from core.store import runs
from core.training import crossval, worker
from core.training import service as training


@pytest.fixture
def iris(home):
    return gallery.import_gallery("iris")


def request(dataset_id: int, **config) -> training.TrainRequest:
    settings = dict(epochs=8, batch_size=16, learning_rate=1e-2, warmup_ratio=0.0,
                    task_options={"hidden_sizes": [16]})
    return training.TrainRequest(dataset_id=dataset_id, model_key="mlp",
                                 config=TrainConfig(**{**settings, **config}))


def test_start_cv_creates_a_parent_and_k_fold_runs(iris):
    launcher = RecordingLauncher()
    parent = crossval.start_cv(request(iris.id), 5, launcher)
    assert (parent.kind, parent.status, parent.task) == ("cv", "queued", "tabular")
    assert parent.config["task_options"]["cv"] == {"folds": 5, "strategy": "stratified", "seed": 42}
    kids = crossval.children(parent.id)
    assert [k.kind for k in kids] == ["fold"] * 5 and {k.parent_id for k in kids} == {parent.id}
    cvs = [k.config["task_options"]["cv"] for k in kids]
    assert [c["fold"] for c in cvs] == [0, 1, 2, 3, 4]
    assert kids[0].config["task_options"]["hidden_sizes"] == [16]  # the user's options survive
    validation = [set(c["validation_rows"]) for c in cvs]
    assert sum(map(len, validation)) == len(set().union(*validation))  # folds do not overlap
    assert launcher.launched == [kids[0].id]  # one slot: the first fold starts, never the parent
    assert parent.id not in runs.queued_ids()


def test_parent_status_follows_the_folds(iris):
    parent = crossval.start_cv(request(iris.id), 3, RecordingLauncher())
    kids = crossval.children(parent.id)
    runs.transition(kids[0].id, "running")
    assert crossval.refresh_parent(parent.id).status == "running"
    for kid in kids:
        if runs.get_run(kid.id).status == "queued":
            runs.transition(kid.id, "running")
        runs.transition(kid.id, "succeeded", summary={"validation": {"accuracy": 0.9 + kid.id % 3 / 100}})
    done = crossval.refresh_parent(parent.id)
    assert done.status == "succeeded" and done.summary["folds_done"] == 3
    assert done.summary["validation"]["accuracy"] == pytest.approx(np.mean(
        [0.9 + k.id % 3 / 100 for k in kids]))
    table = crossval.cv_summary(parent.id).set_index("metric")
    assert list(table.columns[-3:]) == ["fold 1", "fold 2", "fold 3"]
    assert table.loc["accuracy", "std"] > 0 and "±" in table.loc["accuracy", "mean ± std"]


def test_cancelling_the_parent_cancels_every_fold_and_resume_requeues_them(iris):
    parent = crossval.start_cv(request(iris.id), 3, RecordingLauncher())
    kids = crossval.children(parent.id)
    runs.transition(kids[0].id, "running")
    training.cancel_run(parent.id)
    statuses = [runs.get_run(k.id) for k in kids]
    assert statuses[0].cancel_requested and statuses[0].status == "running"
    assert [s.status for s in statuses[1:]] == ["cancelled", "cancelled"]
    assert runs.get_run(parent.id).status == "running"  # until the running fold has stopped
    runs.transition(kids[0].id, "cancelled")
    assert crossval.refresh_parent(parent.id).status == "cancelled"

    resumed = training.resume_run(parent.id, RecordingLauncher())
    assert resumed.status == "queued"
    assert [runs.get_run(k.id).status for k in kids] == ["queued"] * 3


def test_cli_folds_starts_a_cross_validation_with_mlp_defaults(iris, capsys):
    from core.cli import main

    training.set_launcher(RecordingLauncher())
    try:
        assert main(["train", "--dataset", str(iris.id), "--model", "mlp", "--folds", "4", "--json"]) == 0
    finally:
        training.set_launcher(None)
    shown = json.loads(capsys.readouterr().out)
    parent = runs.get_run(shown["id"])
    assert parent.kind == "cv" and len(crossval.children(parent.id)) == 4
    assert parent.config["learning_rate"] == 3e-3 and parent.config["epochs"] == 200.0
    assert parent.config["early_stopping"] is True


def test_text_classification_folds_train_with_the_text_adapter(home):
    from training_data import add_text_dataset, text_frame, tiny_model

    key, dataset_id = tiny_model(), add_text_dataset(text_frame(rows=60))
    training.set_launcher(worker.InlineLauncher())
    try:
        parent = crossval.start_cv(training.TrainRequest(
            dataset_id=dataset_id, model_key=key,
            config=TrainConfig(max_steps=4, batch_size=8, learning_rate=1e-3, max_length=16)), 3)
    finally:
        training.set_launcher(None)
    parent = training.get_run(parent.id)
    assert parent.status == "succeeded" and parent.config["task_options"]["cv"]["strategy"] == "stratified"
    for kid in crossval.children(parent.id):
        cv = kid.config["task_options"]["cv"]
        assert kid.summary["validation"]["n"] == len(cv["validation_rows"])  # the fold's rows were used
    table = crossval.cv_summary(parent.id)
    assert "accuracy" in set(table["metric"]) and "n" not in set(table["metric"])


def test_bad_requests_are_refused(iris):
    with pytest.raises(ConfigError, match="from 3 to 10"):
        crossval.start_cv(request(iris.id), 2, RecordingLauncher())
    with pytest.raises(ConfigError, match="not a cross-validation"):
        crossval.cv_summary(runs.create_run(dataset_id=iris.id, model_key="mlp", task="tabular",
                                            config={}, seed=1).id)


def test_three_fold_cv_of_iris_trains_every_fold_with_the_worker(iris):
    training.set_launcher(worker.InlineLauncher())
    try:
        parent = crossval.start_cv(request(iris.id), 3)
    finally:
        training.set_launcher(None)
    parent = training.get_run(parent.id)
    assert parent.status == "succeeded", [runs.log_tail(k.id) for k in crossval.children(parent.id)]
    table = crossval.cv_summary(parent.id).set_index("metric")
    assert table.loc["accuracy", "folds"] == 3 and table.loc["accuracy", "mean"] >= 0.8
    assert {"fold 1", "fold 2", "fold 3"} <= set(table.columns)
    curves = crossval.cv_curves(parent.id)
    assert set(curves["fold"]) == {1, 2, 3} and "loss" in set(curves["name"])
    test_table = crossval.cv_summary(parent.id, split="test")
    assert "accuracy" in set(test_table["metric"])  # every fold is also scored on the held-out test rows

    fold = evaluation.get_evaluation(crossval.children(parent.id)[0].id, "test")
    assert set(fold.headline) == {"accuracy", "macro_f1"}
    assert {b.title for b in fold.baselines} == {"Logistic regression", "Histogram gradient boosting"}
    assert all(b.gain["accuracy"] is not None for b in fold.baselines)
    assert fold.metrics["feature_importance"]["split"] == "validation"
