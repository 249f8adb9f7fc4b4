"""Run trackers through transformers' own integrations: TensorBoard event files and MLflow.

Off unless a run (``TrainConfig.report_to``) or the setting ``UCLAB_REPORT_TO`` asks. TensorBoard
writes ``runs/<id>/tensorboard``; MLflow logs to a local database under ``UCLAB_HOME/mlflow`` or to
``UCLAB_MLFLOW_TRACKING_URI``. A remote tracking URL that does not answer within a few seconds is
left out with one sentence in the run's log, so an offline machine never waits on the network;
MLflow's own usage telemetry is switched off. Where a run's logs went is written to
``runs/<id>/tracking.json`` for its page.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

TRACKING_FILE = "tracking.json"
MLFLOW_EXPERIMENT = "use-case-lab"
REACH_TIMEOUT_S = 3.0


@dataclass
class TrackingPlan:
    """Which integrations a run reports to, the environment they read, and what the run page shows."""

    report_to: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    run_name: str = ""


def _is_remote(uri: str) -> bool:
    return urlparse(uri).scheme in ("http", "https", "databricks")


def reachable(uri: str, timeout: float = REACH_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the URI's host opens within `timeout` seconds."""
    parsed = urlparse(uri)
    if parsed.scheme == "databricks" or not parsed.hostname:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def plan_tracking(trackers: list[str], run_id: int, run_dir: Path, mlflow_uri: str,
                  log: Callable[[str], Any] = print) -> TrackingPlan:
    """The plan for a run's trackers (an empty plan reports nowhere); writes ``tracking.json``."""
    plan = TrackingPlan(run_name=f"uclab-run-{run_id}")
    mlflow_uri = mlflow_uri_for(mlflow_uri)
    if "tensorboard" in trackers:
        folder = run_dir / "tensorboard"
        plan.report_to.append("tensorboard")
        plan.env["TENSORBOARD_LOGGING_DIR"] = str(folder)
        plan.info["tensorboard"] = {"folder": str(folder), "command": f"tensorboard --logdir {folder}"}
    if "mlflow" in trackers:
        if _is_remote(mlflow_uri) and not reachable(mlflow_uri):
            log(f"MLflow at {mlflow_uri} cannot be reached from this machine, so this run is not logged "
                "there; its metrics are still in the app.")
        elif not _is_remote(mlflow_uri) and not _local_experiment(mlflow_uri, log):
            pass
        else:
            plan.report_to.append("mlflow")
            plan.env.update({"MLFLOW_TRACKING_URI": mlflow_uri, "MLFLOW_EXPERIMENT_NAME": MLFLOW_EXPERIMENT,
                             "MLFLOW_TAGS": json.dumps({"uclab.run_id": str(run_id)}),
                             "MLFLOW_DISABLE_TELEMETRY": "true", "HF_MLFLOW_LOG_ARTIFACTS": "false"})
            plan.info["mlflow"] = {"tracking_uri": mlflow_uri, "experiment": MLFLOW_EXPERIMENT,
                                   "run_name": plan.run_name}
    if plan.info:
        write_info(run_dir, plan.info)
    return plan


def mlflow_uri_for(setting: str) -> str:
    """A tracking URI MLflow accepts: a URL or database URI as given; a folder becomes a SQLite file in it.

    (MLflow 3 refuses its old folder store, so a folder holds ``mlflow.db`` and ``artifacts/``.)
    """
    parsed = urlparse(setting)
    if parsed.scheme and parsed.scheme != "file" and len(parsed.scheme) > 1:  # "C:" is a drive
        return setting
    folder = Path(parsed.path if parsed.scheme == "file" else setting).expanduser()
    return f"sqlite:///{folder.resolve() / 'mlflow.db'}"


def _local_experiment(uri: str, log: Callable[[str], Any]) -> bool:
    """Create the experiment, artifacts beside a local database (not in the working folder); False if
    MLflow cannot be set up there (said in one sentence: the run trains all the same)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    database = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    try:
        import mlflow

        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        client = mlflow.MlflowClient(tracking_uri=uri)
        if client.get_experiment_by_name(MLFLOW_EXPERIMENT) is None:
            folder = database.parent.resolve() if database is not None else Path.cwd()
            try:
                client.create_experiment(MLFLOW_EXPERIMENT, artifact_location=(folder / "artifacts").as_uri())
            except Exception:  # noqa: BLE001 - another run may have created it meanwhile
                if client.get_experiment_by_name(MLFLOW_EXPERIMENT) is None:
                    raise
    except Exception as exc:  # noqa: BLE001 - tracking is optional: say why and train on
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        log(f"MLflow could not be set up at {uri} ({first}), so this run is not logged there.")
        return False
    return True


def write_info(run_dir: Path, info: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / TRACKING_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")


def read_info(run_dir: Path) -> dict[str, Any]:
    """What ``tracking.json`` says about a run's trackers (empty when it reported nowhere)."""
    path = run_dir / TRACKING_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


@contextmanager
def tracking_env(plan: TrackingPlan) -> Iterator[None]:
    """The integrations' environment variables for the length of a training."""
    before = {k: os.environ.get(k) for k in plan.env}
    os.environ.update(plan.env)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def mlflow_run_recorder(run_dir: Path, info: dict[str, Any]) -> Any:
    """A TrainerCallback adding the MLflow run id to ``tracking.json`` once transformers' MLflow
    callback has started the run (transformers is imported here, so pages can read tracking.json)."""
    from transformers import TrainerCallback

    class MlflowRunRecorder(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            import mlflow

            active = mlflow.active_run()
            if active is not None and state.is_world_process_zero:
                info["mlflow"]["run_id"] = active.info.run_id
                write_info(run_dir, info)

    return MlflowRunRecorder()
