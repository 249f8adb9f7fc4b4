"""Is more data worth it? Train the same setup on growing shares of the training split.

A learning curve is a parent run (``kind="learning-curve"``, no work of its own) and one child
run per fraction. Each child's config carries ``train_fraction`` and the matching
``max_train_rows``: the worker already samples ``max_train_rows`` training rows with the run's
seed (``core.training.worker.split_frames``: ``DataFrame.sample(n, random_state=seed)``), which is
deterministic and nested (the 10% rows are the first rows of the 25% sample), so the engine
needs no change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from core.entities import RunInfo, RunKind
from core.errors import ConfigError, NotFoundError
from core.results.evaluation import evidence_split
from core.run_config import TrainConfig
from core.store import evaluations, runs
from core.task_specs import rank_metric
from core.training import queue
from core.training.request import TrainRequest, check_request

DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
KIND = RunKind.LEARNING_CURVE
MIN_ROWS = 8


def _fractions(values: Sequence[float]) -> list[float]:
    try:
        fractions = sorted({round(float(f), 4) for f in values})
    except (TypeError, ValueError) as exc:
        raise ConfigError("Learning-curve fractions must be numbers such as 0.1, 0.25, 0.5, 1.") from exc
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ConfigError("Learning-curve fractions must be shares between 0 and 1, such as 0.1, 0.5, 1.")
    if len(fractions) > 10:
        raise ConfigError("A learning curve takes at most 10 fractions; each one is a full training run.")
    return fractions


def start_learning_curve(base: Any, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                         launcher: Any = None) -> RunInfo:
    """Queue one run per fraction of the training split under a parent run; return the parent."""
    task, dataset = check_request(base)  # the engine's own validation of a request
    base.config.validate()
    shares = _fractions(fractions)
    available = int((dataset.split_sizes or {}).get("train", 0))
    if base.config.max_train_rows:
        available = min(available, int(base.config.max_train_rows))
    rows = {f: max(1, round(f * available)) for f in shares}
    if rows[shares[0]] < MIN_ROWS:
        raise ConfigError(f"{shares[0]:.0%} of {available} training rows is only {rows[shares[0]]} rows; "
                          "use larger fractions or a bigger dataset.")
    name = base.name or f"{base.model_key} on {dataset.name}"
    parent = runs.create_run(dataset_id=base.dataset_id, model_key=base.model_key, task=task,
                             config={**base.config.to_dict(), "fractions": shares}, seed=base.config.seed,
                             name=f"Learning curve: {name}", kind=KIND)
    # The parent trains nothing: it goes straight to succeeded through the one transition function,
    # so the queue never hands it to a worker (a worker that was handed it finds it not queued).
    runs.transition(parent.id, "running")
    runs.transition(parent.id, "succeeded", reason=f"Queued {len(shares)} runs on "
                    + ", ".join(f"{rows[f]} rows" for f in shares) + ".")
    for f in shares:
        config = replace(base.config, max_train_rows=rows[f]).to_dict()
        config["train_fraction"] = f  # read back by learning_curve(); the worker uses max_train_rows
        child = runs.create_run(dataset_id=base.dataset_id, model_key=base.model_key, task=task,
                                config=config, seed=base.config.seed, name=f"{name} · {f:.0%} of train",
                                parent_id=parent.id)
        runs.add_log(child.id, f"Queued by learning curve {parent.id}: {rows[f]} training rows ({f:.0%}).")
    queue.kick_queue(launcher)
    return runs.get_run(parent.id)


def _children(parent_id: int) -> list[RunInfo]:
    try:
        parent = runs.get_run(int(parent_id))
    except NotFoundError:
        parent = None
    if parent is None or parent.kind != KIND:
        raise NotFoundError(f"There is no learning curve with id {parent_id}; pick one from the runs list.")
    return runs.list_runs(parent_id=parent.id, oldest_first=True, limit=None)


def learning_curve_runs(parent_id: int) -> pd.DataFrame:
    """The child runs of a learning curve: run_id, fraction, train_rows, status."""
    rows = [{"run_id": r.id, "fraction": r.config.get("train_fraction"),
             "train_rows": r.config.get("max_train_rows"), "status": r.status}
            for r in _children(parent_id)]
    return pd.DataFrame(rows, columns=["run_id", "fraction", "train_rows", "status"])


def learning_curve(parent_id: int) -> pd.DataFrame:
    """Metrics of the finished child runs: columns train_rows, metric, value (+ run_id, fraction, split)."""
    out: list[dict[str, Any]] = []
    kids = _children(parent_id)
    own = evaluations.list_evaluations([k.id for k in kids], model="run") if kids else []
    for child in kids:
        evals = {e.split: e.metrics for e in own if e.run_id == child.id}
        split = evidence_split(list(evals))
        if child.status != "succeeded" or split is None:
            continue
        for name, value in (evals[split] or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool) and name != "n":
                out.append({"train_rows": child.config.get("max_train_rows"), "metric": name,
                            "value": float(value), "run_id": child.id,
                            "fraction": child.config.get("train_fraction"), "split": split})
    columns = ["train_rows", "metric", "value", "run_id", "fraction", "split"]
    return pd.DataFrame(out, columns=columns).sort_values(["metric", "train_rows"]).reset_index(drop=True)


def headline_metric(parent_id: int, frame: pd.DataFrame | None = None) -> str | None:
    """The metric to plot for this learning curve (macro F1, RMSE, F1, perplexity... by task)."""
    frame = learning_curve(parent_id) if frame is None else frame
    try:
        task = runs.get_run(int(parent_id)).task
    except NotFoundError:
        task = ""
    present = {m: 0.0 for m in frame["metric"].unique()}
    return rank_metric(task, present) or (sorted(present)[0] if present else None)


def start_learning_curve_from_run(run_id: int, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                                  launcher: Any = None) -> RunInfo:
    """Queue a learning curve with the same dataset, model and settings as an existing run."""

    run = runs.get_run(run_id)
    if run.kind == KIND or run.parent_id is not None:
        raise ConfigError("Pick a normal run (not part of a learning curve) to repeat on less data.")
    config = {k: v for k, v in run.config.items() if k not in ("train_fraction", "fractions")}
    request = TrainRequest(dataset_id=run.dataset_id, model_key=run.model_key, task=run.task,
                           config=TrainConfig.from_dict(config), name=run.name)
    return start_learning_curve(request, fractions, launcher)


def list_learning_curves() -> list[RunInfo]:
    """Learning-curve parent runs, newest first."""
    return runs.list_runs(kind=KIND, limit=None)
