"""k-fold cross-validation runs: one parent run (kind "cv") with k child runs (kind "fold").

The parent never trains: it is skipped by the queue and its status, step and summary are derived
from its children by `refresh_parent` (called from `service.kick_queue` and the worker, so every page poll,
CLI call and finished worker keeps it current). Each child is an ordinary run whose config carries
``task_options["cv"]`` = fold index, fold count and the fold's train/validation row positions in
the dataset frame; the worker builds the child's split from them with `fold_split`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.data import datasets
from core.entities import RunInfo, RunKind
from core.errors import ConfigError, RunStateError
from core.store import runs
from core.task_specs import tasks_where
from core.tasks.tabular import infer_target_kind
from core.training import queue
from core.training.folds import fold_frames, fold_strategy, make_folds, summarize_folds
from core.training.request import check_request

CV_KIND, FOLD_KIND = RunKind.CV, RunKind.FOLD
CV_TASKS = tasks_where("cross_validation")
RESUMABLE = ("interrupted", "cancelled", "failed")


def start_cv(request: Any, folds: int, launcher: Any = None) -> RunInfo:
    """Queue a k-fold cross-validation of a request (a `training.TrainRequest`); returns the parent run."""
    task, dataset = check_request(request)
    if task not in CV_TASKS:
        raise ConfigError(f"Cross-validation is available for {', '.join(CV_TASKS)} datasets, not {task}.")
    config = request.config
    config.validate()
    frame = datasets.load_dataset_frame(request.dataset_id)
    kind = infer_target_kind(frame["label"], dataset.mapping) if task == "tabular" else task
    fold_list = make_folds(frame, folds, kind, seed=config.seed)
    strategy = fold_strategy(frame[frame["split"] != "test"], kind)
    about = {"folds": folds, "strategy": strategy, "seed": config.seed}
    base = config.to_dict()
    name = request.name or f"{folds}-fold CV"
    parent = runs.create_run(dataset_id=request.dataset_id, model_key=request.model_key, task=task,
                             config={**base, "task_options": {**base["task_options"], "cv": about}},
                             seed=config.seed, name=name, kind=CV_KIND)
    runs.add_log(parent.id, f"Cross-validation: {folds} {strategy} folds of {task} with {request.model_key}.")
    for fold in fold_list:
        options = {**base["task_options"], "cv": {**about, **fold.to_dict()}}
        runs.create_run(dataset_id=request.dataset_id, model_key=request.model_key, task=task,
                        config={**base, "task_options": options}, seed=config.seed,
                        name=f"{name} · fold {fold.index + 1}/{folds}", kind=FOLD_KIND, parent_id=parent.id)
    queue.kick_queue(launcher)
    return refresh_parent(parent.id)


def fold_split(frame: pd.DataFrame, cv: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """train / validation / test frames of a fold run from its ``task_options["cv"]`` (for the worker)."""
    return fold_frames(frame, cv["train_rows"], cv["validation_rows"])


def children(parent_id: int) -> list[RunInfo]:
    """The fold runs of a cross-validation parent, in fold order."""
    # one query, not one per fold: parents are refreshed on every poll
    return runs.list_runs(parent_id=parent_id, oldest_first=True, limit=None)


def _derived_status(kids: list[RunInfo]) -> str:
    statuses = [k.status for k in kids]
    if not statuses or all(s == "queued" for s in statuses):
        return "queued"
    if any(s in ("queued", "running") for s in statuses):
        return "running"
    for verdict in ("failed", "interrupted", "cancelled"):
        if verdict in statuses:
            return verdict
    return "succeeded"


def refresh_parent(parent_id: int) -> RunInfo:
    """Bring a parent's status, step/total and summary (mean of each fold metric) up to date."""
    parent = runs.get_run(parent_id)
    kids = children(parent_id)
    if parent.kind != CV_KIND or not kids:
        return parent
    runs.update_progress(parent_id, heartbeat=False, step=sum(k.step for k in kids),
                         total_steps=sum(k.total_steps for k in kids),
                         elapsed_seconds=sum(k.elapsed_seconds for k in kids), summary=_summary(kids))
    target = _derived_status(kids)
    if target == parent.status:
        return runs.get_run(parent_id)
    if parent.status == "queued" and target != "running":
        runs.transition(parent_id, "running")  # the status machine goes through running
    elif parent.status in RESUMABLE and target in ("queued", "running"):
        runs.transition(parent_id, "queued", reason="")
        if target == "running":
            runs.transition(parent_id, "running")
        return runs.get_run(parent_id)
    reason = {"failed": "A fold failed; see its run for the reason.",
              "interrupted": "A fold was interrupted; resume to continue.",
              "cancelled": "Cancelled; resume to train the remaining folds."}.get(target, "")
    try:
        return runs.transition(parent_id, target, reason=reason)
    except RunStateError:
        return runs.get_run(parent_id)  # another process refreshed it first


def refresh_live_parents() -> list[int]:
    """Refresh every cross-validation parent that is not finished (cheap when there are none)."""
    ids = [r.id for r in runs.list_runs(kind=CV_KIND, status=("queued", "running"), limit=None)]
    for parent_id in ids:
        refresh_parent(parent_id)
    return ids


def cancel_cv(parent_id: int) -> RunInfo:
    """Cancel every live fold of a parent (queued ones at once, running ones after their step)."""
    kids = children(parent_id)
    # Queued folds first, so a fold finishing meanwhile cannot hand its slot to the next one.
    live = sorted((k for k in kids if k.is_live), key=lambda k: k.status != "queued")
    if not live:
        raise RunStateError(f"Run {parent_id} has no queued or running fold to cancel.")
    for kid in live:
        try:
            runs.request_cancel(kid.id)
        except RunStateError:
            continue  # it finished meanwhile
        runs.add_log(kid.id, "Cancel requested (the cross-validation was cancelled).")
    runs.add_log(parent_id, f"Cancel requested for {len(live)} folds.")
    return refresh_parent(parent_id)


def resume_cv(parent_id: int, launcher: Any = None) -> RunInfo:
    """Queue again every fold that was interrupted, cancelled or failed (from its last checkpoint)."""
    kids = [k for k in children(parent_id) if k.status in RESUMABLE]
    if not kids:
        raise RunStateError(f"Run {parent_id} has no interrupted, cancelled or failed fold to resume.")
    for kid in kids:
        runs.transition(kid.id, "queued", reason="", expect=[kid.status])
        runs.add_log(kid.id, "Resume requested (the cross-validation was resumed).")
    runs.add_log(parent_id, f"Resuming {len(kids)} folds.")
    refresh_parent(parent_id)
    queue.kick_queue(launcher)
    return refresh_parent(parent_id)


def _fold_metrics(kids: list[RunInfo], split: str) -> list[dict[str, Any]]:
    # "n" counts the rows scored: not a metric to average.
    return [{m: v for m, v in ((k.summary or {}).get(split) or {}).items() if m != "n"} for k in kids]


def _summary(kids: list[RunInfo]) -> dict[str, Any]:
    out: dict[str, Any] = {"folds": len(kids),
                           "folds_done": sum(k.status == "succeeded" for k in kids)}
    for split in ("validation", "test"):
        table = summarize_folds([m for m in _fold_metrics(kids, split) if m])
        if not table.empty:
            out[split] = dict(zip(table["metric"], table["mean"], strict=True))
            out[f"{split}_std"] = dict(zip(table["metric"], table["std"], strict=True))
    return out


def cv_summary(parent_id: int, split: str = "validation") -> pd.DataFrame:
    """Per metric: mean ± std over the folds and each fold's value, on each fold's held-out rows."""
    parent = runs.get_run(parent_id)
    if parent.kind != CV_KIND:
        raise ConfigError(f"Run {parent_id} is not a cross-validation run.")
    return summarize_folds(_fold_metrics(children(parent_id), split))


def cv_curves(parent_id: int) -> pd.DataFrame:
    """Every fold's training curves: the columns of `runs.metrics_frame` plus ``fold`` (1-based)."""
    frames = []
    for number, kid in enumerate(children(parent_id), start=1):
        frame = runs.metrics_frame(kid.id)
        frame.insert(0, "fold", number)
        frames.append(frame)
    columns = ["fold", "step", "epoch", "split", "name", "value"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
