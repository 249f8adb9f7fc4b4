"""Training service: start, cancel and resume runs, estimate their cost, read their progress.

Starting a run writes a ``queued`` row and kicks the queue (``core.training.queue``), whose
launcher starts the worker process; the pages and the CLI only read what the worker writes.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pandas as pd

from core.config import get_settings
from core.data import relabel
from core.entities import RunInfo, RunKind
from core.errors import ConfigError, RunStateError
from core.run_config import PREFERENCE, PRESETS, TrainConfig, field_help
from core.run_folder import RunFolder
from core.store import runs
from core.training import queue
from core.training.crossval import cancel_cv, refresh_live_parents, resume_cv
from core.training.estimates import Estimate, estimate_run
from core.training.preference_runs import (
    check_preference_request,
    is_preference_dataset,
    parent_of,
    parent_options,
    preference_request,
)
from core.training.prepare import trained_on
from core.training.queue import (
    Launcher,
    LocalWorker,
    SubprocessLauncher,
    get_launcher,
    max_running,
    set_launcher,
)
from core.training.request import TrainRequest, check_request

__all__ = ["Estimate", "Launcher", "LocalWorker", "PRESETS", "SubprocessLauncher", "TrainConfig",
           "TrainRequest", "cancel_run", "delete_run", "estimate_run", "field_help", "get_launcher",
           "get_run", "is_preference_dataset", "kick_queue", "list_runs", "max_running", "parent_of",
           "parent_options", "preference_request", "queue_position", "resume_run",
           "run_logs", "run_metrics", "run_tracking", "seen_in_training", "set_launcher", "start_run",
           "sweep", "train_again", "wait_for_run"]


def seen_in_training(run: RunInfo, split: str) -> str:
    """A sentence when `split`'s scores are not held out because the run trained on those rows (a
    sweep's final run learns from validation too); '' for a held-out split."""
    if split == "validation" and trained_on(run.config, split):
        return (f"Run {run.id} trained on the validation rows too (a sweep's final run), so its validation "
                "scores are measured on rows it learned from, not held out: read the test split.")
    return ""


def sweep() -> list[int]:
    """Mark runs whose process is gone as interrupted and bring cross-validation parents up to date."""
    reaped = runs.reap_stale()
    refresh_live_parents()
    return reaped


def kick_queue(launcher: Launcher | None = None) -> list[int]:
    """Bring cross-validation parents up to date with their folds, then kick the queue; the ids started
    by a launcher (without one, the workers claim runs and this returns [])."""
    refresh_live_parents()
    return queue.kick_queue(launcher)


def start_run(request: TrainRequest, launcher: Launcher | None = None) -> RunInfo:
    """Queue a run and kick the queue; returns the run (queued, or already running/finished inline)."""
    task, _ = check_request(request)
    check_preference_request(request)
    request.config.validate()
    info = runs.create_run(dataset_id=request.dataset_id, model_key=request.model_key, task=task,
                           config=request.config.to_dict(), seed=request.config.seed, name=request.name,
                           created_by=request.created_by)
    parent = request.config.parent_run_id
    what = (f"preference training (DPO, beta {request.config.beta}) on top of "
            + (f"run {parent}" if parent is not None else request.model_key)
            if request.config.training_kind == PREFERENCE else f"{task} with {request.model_key}")
    runs.add_log(info.id, f"Queued: {what}, preset {request.config.preset}.")
    kick_queue(launcher)
    return runs.get_run(info.id)


def train_again(dataset_id: int, *, created_by: str = "", launcher: Launcher | None = None) -> RunInfo:
    """Start a run on a version made by fixing labels, with the settings of the run whose evaluation
    the fixes were checked on (its model, task and configuration); a ConfigError when the version
    records no such run."""
    step = relabel.lineage(dataset_id)[-1]
    if step.parent_id is None or step.from_run is None:
        raise ConfigError(f"Dataset version {dataset_id} was not made from labels checked on a run, so "
                          "there are no settings to train again with; start a run on the Fine-tuning page.")
    parent = runs.get_run(step.from_run)
    config = dict(parent.config or {})
    options = dict(config.get("task_options") or {})
    options.pop("cv", None)  # a fold's rows belong to the old version
    config["task_options"] = options
    name = f"{parent.name or f'run {parent.id}'} on v{step.version}"[:200]
    return start_run(TrainRequest(dataset_id=dataset_id, model_key=parent.model_key,
                                  config=TrainConfig.from_dict(config), task=parent.task, name=name,
                                  created_by=created_by), launcher)


def cancel_run(run_id: int) -> RunInfo:
    """Stop a run: at once if queued, after the current step (with a checkpoint) if running."""
    if runs.get_run(run_id).kind == RunKind.CV:  # cancelling a cross-validation cancels its folds
        return cancel_cv(run_id)
    info = runs.request_cancel(run_id)
    runs.add_log(run_id, "Cancel requested.")
    return info


def resume_run(run_id: int, launcher: Launcher | None = None) -> RunInfo:
    """Queue an interrupted, cancelled or failed run again; it continues from its last checkpoint."""
    info = runs.get_run(run_id)
    if info.kind == RunKind.CV:  # resuming a cross-validation resumes its unfinished folds
        return resume_cv(run_id, launcher)
    if info.status not in ("interrupted", "cancelled", "failed"):
        raise RunStateError(f"Run {run_id} is {info.status}; only an interrupted, cancelled or failed "
                            "run can be resumed.")
    checkpoint = RunFolder.of(get_settings().runs_dir, run_id).last_checkpoint()
    if info.status == "failed" and checkpoint is None:
        raise RunStateError(f"Run {run_id} failed before its first checkpoint; start a new run instead.")
    runs.transition(run_id, "queued", reason="", expect=[info.status])
    where = f"from {checkpoint.name}" if checkpoint else "from the start (no checkpoint was saved)"
    runs.add_log(run_id, f"Resume requested: continuing {where}.")
    kick_queue(launcher)
    return runs.get_run(run_id)


def delete_run(run_id: int) -> list[int]:
    """Delete a finished run (and its folds) with its files under UCLAB_HOME; the ids deleted."""
    ids = runs.delete_run(run_id)
    for gone in ids:
        shutil.rmtree(RunFolder.of(get_settings().runs_dir, gone).root, ignore_errors=True)
    return ids


def get_run(run_id: int) -> RunInfo:
    """One run (after a sweep, so a dead worker shows as interrupted; a read starts no process)."""
    sweep()
    return runs.get_run(run_id)


def list_runs(*, status: str | None = None, dataset_id: int | None = None,
              task: str | None = None, limit: int = 200) -> list[RunInfo]:
    """Runs, newest first (after a sweep; a read starts no process: the app's start, the Fine-tuning
    page and the worker daemons kick the queue)."""
    sweep()
    return runs.list_runs(status=status, dataset_id=dataset_id, task=task, limit=limit)


def run_metrics(run_id: int) -> pd.DataFrame:
    """Columns step, epoch, split (train/validation), name, value."""
    runs.get_run(run_id)
    return runs.metrics_frame(run_id)


def run_tracking(run_id: int) -> dict[str, Any]:
    """Where the run's trackers logged it: ``{"tensorboard": {"folder", "command"}, "mlflow":
    {"tracking_uri", "experiment", "run_name", "run_id"}}`` (empty when it reported nowhere)."""
    from core.ml.tracking import read_info

    runs.get_run(run_id)
    return read_info(RunFolder.of(get_settings().runs_dir, run_id).root)


def run_logs(run_id: int, tail: int = 50) -> list[str]:
    """The last log lines of a run, oldest first."""
    runs.get_run(run_id)
    return runs.log_tail(run_id, tail)


def queue_position(run_id: int) -> int:
    """1 = starts next; 0 = not waiting."""
    return runs.queue_position(run_id)


def wait_for_run(run_id: int, timeout: float | None = None, poll: float = 1.0) -> RunInfo:
    """The run once it is no longer queued or running (or as it is when the timeout passes)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        kick_queue()  # the caller waits for this run: see that it gets trained
        info = runs.get_run(run_id)
        if not info.is_live:
            return info
        if deadline is not None and time.monotonic() > deadline:
            return info
        time.sleep(poll)
