"""Trackers: a run logged to a local MLflow folder and to TensorBoard, read back by their own readers."""

from __future__ import annotations

import socket

import pytest

from core.data.gallery import import_gallery
from core.ml import tracking
from core.run_config import TrainConfig
from core.training import service as training
from core.training.worker import InlineLauncher

SHORT = dict(max_steps=6, eval_every=3, early_stopping=False)


def _run(dataset_id: int, **overrides) -> int:
    config = TrainConfig.from_preset("full", task="tabular", **{**SHORT, **overrides})
    run = training.start_run(training.TrainRequest(dataset_id, "mlp", config),
                             launcher=InlineLauncher())
    assert run.status == "succeeded", run.status_reason
    return run.id


def test_a_run_reaches_a_local_mlflow_folder_and_tensorboard(home, monkeypatch):
    import mlflow
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("UCLAB_MLFLOW_TRACKING_URI", raising=False)
    run_id = _run(import_gallery("iris").id, report_to=["tensorboard", "mlflow"])

    where = training.run_tracking(run_id)
    assert set(where) == {"tensorboard", "mlflow"}
    assert where["mlflow"]["tracking_uri"] == f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    mlflow.set_tracking_uri(where["mlflow"]["tracking_uri"])
    try:
        found = mlflow.search_runs(experiment_names=[tracking.MLFLOW_EXPERIMENT])
    finally:
        mlflow.set_tracking_uri(None)
    assert len(found) == 1
    row = found.iloc[0]
    assert row["run_id"] == where["mlflow"]["run_id"] and row["tags.uclab.run_id"] == str(run_id)
    assert row["tags.mlflow.runName"] == f"uclab-run-{run_id}" and row["status"] == "FINISHED"
    assert row["metrics.eval_loss"] > 0 and row["params.learning_rate"] == "0.003"
    assert str(home / "mlflow" / "artifacts") in row["artifact_uri"]  # not in the working folder

    events = EventAccumulator(where["tensorboard"]["folder"])
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "eval/loss"} <= set(scalars)
    assert [e.step for e in events.Scalars("eval/loss")] == [3, 6]


def test_an_unreachable_tracking_url_is_left_out_with_a_sentence(home, monkeypatch):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: the connection is refused at once
    monkeypatch.setenv("UCLAB_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("UCLAB_REPORT_TO", "mlflow")  # the settings default, for every run
    run_id = _run(import_gallery("iris").id)
    logs = "\n".join(training.run_logs(run_id, 100))
    assert f"MLflow at http://127.0.0.1:{port} cannot be reached from this machine" in logs
    assert training.run_tracking(run_id) == {}


def test_trackers_are_off_by_default_and_names_are_checked(home, tmp_path, monkeypatch):
    from core.errors import ConfigError

    monkeypatch.delenv("UCLAB_REPORT_TO", raising=False)
    plan = tracking.plan_tracking([], 1, tmp_path, "", log=print)
    assert plan.report_to == [] and not (tmp_path / tracking.TRACKING_FILE).exists()
    assert TrainConfig(report_to="none").report_to == []
    assert TrainConfig(report_to="TensorBoard, mlflow").report_to == ["tensorboard", "mlflow"]
    with pytest.raises(ConfigError, match="Unknown tracker 'wandb'"):
        TrainConfig(report_to=["wandb"])


def test_a_folder_setting_becomes_a_local_database(tmp_path):
    assert tracking.mlflow_uri_for(str(tmp_path)) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert tracking.mlflow_uri_for("http://mlflow.example:5000") == "http://mlflow.example:5000"
    assert tracking.mlflow_uri_for("postgresql://u@db/mlflow") == "postgresql://u@db/mlflow"
