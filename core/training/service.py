"""Training service: start, queue, cancel and resume runs, estimate their cost, read their progress.

Starting a run writes a ``queued`` row and kicks the queue: a ``Launcher`` starts
``python -m core.training.worker RUN_ID`` in its own OS session, so closing the tab or restarting the app
never stops it. By default one run trains at a time (``UCLAB_MAX_RUNNING``); a worker that
finishes starts the next queued run, and every page load / CLI call kicks the queue too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from core.config import get_settings
from core.entities import RunInfo
from core.errors import ConfigError, RunStateError
from core.run_config import PRESETS, TrainConfig, field_help
from core.store import runs
from core.training.estimates import Estimate, estimate_run

__all__ = ["PRESETS", "Estimate", "InlineLauncher", "Launcher", "SubprocessLauncher", "TrainConfig",
           "TrainRequest", "cancel_run", "estimate_run", "field_help", "get_run", "kick_queue",
           "list_runs", "queue_position", "resume_run", "run_logs", "run_metrics", "start_run",
           "wait_for_run"]
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TrainRequest:
    """What a person asks for: a dataset version, a catalogue model and the settings."""

    dataset_id: int
    model_key: str
    config: TrainConfig = field(default_factory=TrainConfig)
    task: str | None = None    # defaults to the dataset's task
    name: str = ""


class Launcher(Protocol):
    """Starts the worker for a queued run."""

    def launch(self, run_id: int) -> None: ...


class SubprocessLauncher:
    """``python -m core.training.worker RUN_ID`` detached in a new session, output in the run's worker.log."""

    _children: list[subprocess.Popen[bytes]] = []

    def launch(self, run_id: int) -> None:
        settings = get_settings()
        run_dir = settings.runs_dir / str(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        # Passive OpenMP waiting: when other processes share the cores (the app server, a test
        # run), spinning threads made a 2-thread step 5-7x slower here; passive waiting does not.
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "UCLAB_HOME": str(settings.home),
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with open(run_dir / "worker.log", "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "core.training.worker", str(run_id)],
                                    cwd=ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        # Reap finished children so they do not linger as zombies in a long-lived app process.
        SubprocessLauncher._children = [p for p in self._children if p.poll() is None] + [proc]
        runs.update_progress(run_id, heartbeat=False, pid=proc.pid)


class InlineLauncher:
    """Runs the worker in this process and returns when it ends (tests, scripts)."""

    def launch(self, run_id: int) -> None:
        from core.training import worker

        worker.run(run_id)
        if runs.get_run(run_id).status == "queued":  # not claimed: free it for the next kick
            runs.update_progress(run_id, heartbeat=False, pid=None)


_launcher: Launcher | None = None


def set_launcher(launcher: Launcher | None) -> None:
    """Use this launcher for every later start (None restores the subprocess launcher)."""
    global _launcher
    _launcher = launcher


def get_launcher() -> Launcher:
    return _launcher or SubprocessLauncher()


def max_running() -> int:
    """How many runs may train at once (UCLAB_MAX_RUNNING, default 1: a CPU has no room for two)."""
    try:
        return max(1, int(os.environ.get("UCLAB_MAX_RUNNING", "1")))
    except ValueError:
        return 1


def kick_queue(launcher: Launcher | None = None) -> list[int]:
    """Mark dead runs interrupted, then start queued runs while slots are free; the ids started."""
    runs.reap_stale()
    from core.training.crossval import refresh_live_parents

    refresh_live_parents()  # cross-validation parents follow their folds' statuses
    launcher = launcher or get_launcher()
    started = []
    # A launched worker counts from the moment it is started, not only once it has claimed its run.
    free = max_running() - runs.running_count() - runs.launching_count()
    for run_id in runs.queued_ids():
        if free <= 0:
            break
        if runs.claim_launch(run_id, os.getpid()):
            launcher.launch(run_id)
            started.append(run_id)
            free -= 1
    return started


def _check_request(request: TrainRequest) -> tuple[str, Any]:
    from core.data.datasets import dataset_file, get_dataset
    from core.ml.tasks.base import TASK_MODULES
    from core.models import catalog
    from core.tasks.tabular import mlp_options

    dataset = get_dataset(request.dataset_id)
    dataset_file(dataset)  # its file must still be there
    task = request.task or dataset.task
    if task not in TASK_MODULES:
        raise ConfigError(f"Unknown task '{task}'. Choose one of: {', '.join(TASK_MODULES)}.")
    if task != dataset.task and {task, dataset.task} != {"classification", "regression"}:
        raise ConfigError(f"The dataset '{dataset.label}' is for {dataset.task}, not {task}; "
                          "choose a dataset of that task.")
    model = catalog.get_model(request.model_key)
    if model.tasks and task not in model.tasks:
        raise ConfigError(f"The model '{model.name}' cannot be trained for {task}; "
                          f"it supports {', '.join(model.tasks)}.")
    catalog.check_usable(model)
    if task == "tabular":
        mlp_options(request.config.task_options or {})
    return task, dataset


def start_run(request: TrainRequest, launcher: Launcher | None = None) -> RunInfo:
    """Queue a run and kick the queue; returns the run (queued, or already running/finished inline)."""
    task, _ = _check_request(request)
    request.config.validate()
    info = runs.create_run(dataset_id=request.dataset_id, model_key=request.model_key, task=task,
                           config=request.config.to_dict(), seed=request.config.seed, name=request.name)
    runs.add_log(info.id, f"Queued: {task} with {request.model_key}, preset {request.config.preset}.")
    kick_queue(launcher)
    return runs.get_run(info.id)


def cancel_run(run_id: int) -> RunInfo:
    """Stop a run: at once if queued, after the current step (with a checkpoint) if running."""
    if runs.get_run(run_id).kind == "cv":  # cancelling a cross-validation cancels its folds
        from core.training.crossval import cancel_cv

        return cancel_cv(run_id)
    info = runs.request_cancel(run_id)
    runs.add_log(run_id, "Cancel requested.")
    return info


def resume_run(run_id: int, launcher: Launcher | None = None) -> RunInfo:
    """Queue an interrupted, cancelled or failed run again; it continues from its last checkpoint."""
    info = runs.get_run(run_id)
    if info.kind == "cv":  # resuming a cross-validation resumes its unfinished folds
        from core.training.crossval import resume_cv

        return resume_cv(run_id, launcher)
    if info.status not in ("interrupted", "cancelled", "failed"):
        raise RunStateError(f"Run {run_id} is {info.status}; only an interrupted, cancelled or failed "
                            "run can be resumed.")
    checkpoint = runs.last_complete_checkpoint(get_settings().runs_dir / str(run_id) / "checkpoints")
    if info.status == "failed" and checkpoint is None:
        raise RunStateError(f"Run {run_id} failed before its first checkpoint; start a new run instead.")
    runs.transition(run_id, "queued", reason="", expect=[info.status])
    where = f"from {checkpoint.name}" if checkpoint else "from the start (no checkpoint was saved)"
    runs.add_log(run_id, f"Resume requested: continuing {where}.")
    kick_queue(launcher)
    return runs.get_run(run_id)


def get_run(run_id: int) -> RunInfo:
    """One run (kicking the queue first, so a dead worker shows as interrupted)."""
    kick_queue()
    return runs.get_run(run_id)


def list_runs(*, status: str | None = None, dataset_id: int | None = None,
              task: str | None = None, limit: int = 200) -> list[RunInfo]:
    """Runs, newest first (after kicking the queue)."""
    kick_queue()
    return runs.list_runs(status=status, dataset_id=dataset_id, task=task, limit=limit)


def run_metrics(run_id: int) -> pd.DataFrame:
    """Columns step, epoch, split (train/validation), name, value."""
    runs.get_run(run_id)
    return runs.metrics_frame(run_id)


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
        info = get_run(run_id)
        if not info.is_live:
            return info
        if deadline is not None and time.monotonic() > deadline:
            return info
        time.sleep(poll)
