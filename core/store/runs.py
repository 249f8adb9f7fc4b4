"""Run persistence: rows, the one status transition function, progress, metrics, logs, the queue.

Every write is its own short transaction. Read-then-write transactions start with
``BEGIN IMMEDIATE`` (``session_scope(write=True)``) so two processes never both claim a run.
The status machine: queued -> running -> succeeded | failed | cancelled, + interrupted when the
process vanished; failed, cancelled and interrupted runs may go back to queued (resume).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select, update

from core.entities import RunInfo, RunKind
from core.errors import NotFoundError, RunStateError

# The checkpoint marker lives with the run folder's layout; re-exported for the store's callers.
from core.run_folder import COMPLETE_MARKER, last_complete_checkpoint, mark_complete  # noqa: F401
from core.store.db import session_scope
from core.store.orm import Evaluation, Generation, Run, RunLog, RunMetric, RunStatus, utcnow
from core.store.processes import holder_alive, process_alive, start_time, this_host

S = RunStatus
ALLOWED: dict[str, set[str]] = {
    S.QUEUED: {S.RUNNING, S.CANCELLED, S.FAILED},
    S.RUNNING: {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.INTERRUPTED},
    S.FAILED: {S.QUEUED},
    S.CANCELLED: {S.QUEUED},
    S.INTERRUPTED: {S.QUEUED},
    S.SUCCEEDED: set(),
}
TERMINAL = {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.INTERRUPTED}
STALE_AFTER = timedelta(seconds=60)
# A heartbeat this old means the worker is hung or its pid was reused by another process.
HUNG_AFTER = timedelta(minutes=15)
# Runs that never train themselves (a cross-validation parent): their status follows their child
# runs (core.training.crossval), so the queue, the slot count and the reaper skip them.
GROUP_KINDS = (RunKind.CV.value,)
PROGRESS_FIELDS = {"step", "total_steps", "epoch", "samples_per_second", "eta_seconds",
                   "elapsed_seconds", "last_checkpoint", "best_metric", "output_dir", "pid",
                   "library_versions", "device", "summary", "host", "pid_started"}


def _info(row: Run) -> RunInfo:
    return RunInfo(
        id=row.id, name=row.name, dataset_id=row.dataset_id, parent_id=row.parent_id, kind=row.kind,
        model_key=row.model_key, task=row.task, config=dict(row.config or {}), seed=row.seed,
        status=row.status, status_reason=row.status_reason or "", pid=row.pid,
        cancel_requested=bool(row.cancel_requested), created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at, heartbeat_at=row.heartbeat_at,
        step=row.step or 0, total_steps=row.total_steps or 0, epoch=row.epoch or 0.0,
        samples_per_second=row.samples_per_second, eta_seconds=row.eta_seconds,
        elapsed_seconds=row.elapsed_seconds or 0.0, output_dir=row.output_dir or "",
        last_checkpoint=row.last_checkpoint or "", best_metric=row.best_metric,
        summary=dict(row.summary or {}), library_versions=dict(row.library_versions or {}),
        device=row.device or "", host=row.host or "", device_class=row.device_class or "any",
        processes=row.processes or 1, created_by=row.created_by or "")


def _row(session: Any, run_id: int) -> Run:
    row = session.get(Run, run_id)
    if row is None:
        raise NotFoundError(f"There is no run with id {run_id}. List the runs to see their ids.")
    return row


def create_run(*, dataset_id: int, model_key: str, task: str, config: dict[str, Any], seed: int,
               name: str = "", kind: str = RunKind.TRAIN, parent_id: int | None = None,
               created_by: str = "") -> RunInfo:
    """Insert a queued run and return it (its device class and process count come from `config`)."""
    with session_scope(write=True) as s:
        row = Run(dataset_id=dataset_id, model_key=model_key, task=task, config=config, seed=seed,
                  name=name, kind=kind, parent_id=parent_id, status=S.QUEUED.value,
                  device_class=str(config.get("device") or "any"),
                  processes=int(config.get("processes") or 1), created_by=created_by)
        s.add(row)
        s.flush()
        if not name:
            row.name = f"run-{row.id}"
        return _info(row)


def transition(run_id: int, to: str, *, reason: str | None = None,
               expect: Iterable[str] | None = None, **fields: Any) -> RunInfo:
    """Move a run to status `to` (the only place statuses change); raise RunStateError if not allowed.

    `expect` narrows the statuses the run may be in; `fields` are progress fields set with it.
    """
    to = S(to)
    with session_scope(write=True) as s:
        row = _row(s, run_id)
        current = S(row.status)
        if to not in ALLOWED[current] or (expect is not None and current not in set(expect)):
            raise RunStateError(f"Run {run_id} is {current.value}, so it cannot become {to.value}.")
        now = utcnow()
        row.status = to.value
        if reason is not None:
            row.status_reason = reason
        if to == S.RUNNING:
            # A resumed run keeps the moment it first started ("started" must not jump).
            row.started_at, row.heartbeat_at, row.finished_at = row.started_at or now, now, None
        elif to == S.QUEUED:
            row.finished_at, row.cancel_requested, row.pid = None, False, None
            row.host, row.pid_started = "", None
            row.status_reason = reason or ""
        elif to in TERMINAL:
            row.finished_at = now
            row.eta_seconds = None
        _set(row, fields)
        return _info(row)


def _set(row: Run, fields: dict[str, Any]) -> None:
    unknown = set(fields) - PROGRESS_FIELDS
    if unknown:
        raise ValueError(f"Not a run progress field: {sorted(unknown)}")
    for key, value in fields.items():
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        setattr(row, key, value)


def _holder(pid: int, host: str | None, pid_started: float | None) -> dict[str, Any]:
    """The columns that say which process holds a run (a local pid gets its start time)."""
    host = host or this_host()
    if pid_started is None and host == this_host():
        pid_started = start_time(pid)
    return {"pid": pid, "host": host, "pid_started": pid_started}


def _row_holder_alive(row: Run) -> bool | None:
    return holder_alive(row.pid, row.pid_started, row.host or "")


def claim_run(run_id: int, pid: int, *, max_running: int | None = 1, host: str | None = None,
              pid_started: float | None = None) -> bool:
    """Atomically move a queued run to running for process `pid` (False if taken or no slot free)."""
    holder = _holder(pid, host, pid_started)
    with session_scope(write=True) as s:
        if max_running is not None:
            running = s.scalar(select(func.count()).select_from(Run)
                               .where(Run.status == S.RUNNING.value, Run.id != run_id,
                                      Run.kind.not_in(GROUP_KINDS)))
            if running >= max_running:
                return False
        now = utcnow()
        result = s.execute(update(Run).where(Run.id == run_id, Run.status == S.QUEUED.value)
                           .values(status=S.RUNNING.value, started_at=func.coalesce(Run.started_at, now),
                                   heartbeat_at=now,
                                   finished_at=None, status_reason="", **holder))
        return result.rowcount == 1


def claim_next(pid: int, *, device_classes: Sequence[str], max_processes: int,
               host: str | None = None, pid_started: float | None = None) -> RunInfo | None:
    """Atomically take the oldest queued run this worker can train, as running; None if there is none.

    Skips runs that need another device class or more processes, and runs a live local launcher
    is starting. One write transaction (BEGIN IMMEDIATE / the advisory lock), so two workers
    asking at the same instant never get one run.
    """
    holder = _holder(pid, host, pid_started)
    with session_scope(write=True) as s:
        candidates = s.scalars(select(Run).where(
            Run.status == S.QUEUED.value, Run.kind.not_in(GROUP_KINDS),
            Run.device_class.in_(list(device_classes)), Run.processes <= max_processes)
            .order_by(Run.id).limit(50)).all()
        for row in candidates:
            if row.pid and _row_holder_alive(row) is not False:
                continue  # reserved by a launcher that is still starting its worker
            now = utcnow()
            row.status, row.started_at, row.heartbeat_at = S.RUNNING.value, now, now
            row.finished_at, row.status_reason = None, ""
            for key, value in holder.items():
                setattr(row, key, value)
            return _info(row)
    return None


def take_over(run_id: int, pid: int) -> bool:
    """The worker child started for a claimed run records itself as the run's process."""
    with session_scope(write=True) as s:
        row = s.get(Run, run_id)
        if row is None or row.status != S.RUNNING or row.cancel_requested:
            return False
        for key, value in _holder(pid, None, None).items():
            setattr(row, key, value)
        row.heartbeat_at = utcnow()
        return True


def claim_launch(run_id: int, launcher_pid: int) -> bool:
    """Reserve a queued run for one launch, so two kicks of the queue never start it twice."""
    with session_scope(write=True) as s:
        row = s.get(Run, run_id)
        if row is None or row.status != S.QUEUED or (row.pid and _row_holder_alive(row) is not False):
            return False
        for key, value in _holder(launcher_pid, None, None).items():
            setattr(row, key, value)
        return True


def update_progress(run_id: int, *, heartbeat: bool = True, **fields: Any) -> bool:
    """Set progress fields (and the heartbeat); returns whether cancel has been requested."""
    with session_scope(write=True) as s:
        row = _row(s, run_id)
        _set(row, fields)
        if heartbeat:
            row.heartbeat_at = utcnow()
        return bool(row.cancel_requested)


def heartbeat(run_id: int) -> None:
    """Mark the run's worker as alive now."""
    with session_scope(write=True) as s:
        s.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow()))


def is_cancel_requested(run_id: int) -> bool:
    """Whether someone asked this run to stop."""
    with session_scope() as s:
        return bool(s.scalar(select(Run.cancel_requested).where(Run.id == run_id)))


def request_cancel(run_id: int) -> RunInfo:
    """Ask a live run to stop: a queued run is cancelled at once, a running one at its next step."""
    with session_scope(write=True) as s:
        row = _row(s, run_id)
        if row.status not in (S.QUEUED, S.RUNNING):
            raise RunStateError(f"Run {run_id} is {row.status}; "
                                "only a queued or running run can be cancelled.")
        row.cancel_requested = True
        if row.status == S.QUEUED:
            row.status, row.finished_at = S.CANCELLED.value, utcnow()
            row.status_reason = "Cancelled before it started."
        return _info(row)


def delete_run(run_id: int) -> list[int]:
    """Delete a finished run, its child runs and their metrics, logs and evaluations; the ids deleted."""
    with session_scope(write=True) as s:
        row = _row(s, run_id)
        ids = [run_id, *s.scalars(select(Run.id).where(Run.parent_id == run_id))]
        live = s.scalars(select(Run.id).where(Run.id.in_(ids), Run.status.in_([S.QUEUED, S.RUNNING]))).all()
        if live:
            raise RunStateError(f"Run {row.id} is still queued or running; cancel it before deleting it.")
        for table in (RunMetric, RunLog, Evaluation):
            s.execute(delete(table).where(table.run_id.in_(ids)))
        s.execute(update(Generation).where(Generation.run_id.in_(ids)).values(run_id=None))
        s.execute(delete(Run).where(Run.id.in_(ids[1:])))
        s.execute(delete(Run).where(Run.id == run_id))
        return ids


def add_metrics(run_id: int, step: int, epoch: float | None, split: str, values: dict[str, Any]) -> None:
    """Store numeric metrics at a step; NaN and inf are stored as NULL (shown as missing)."""
    rows = []
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        value = float(value)
        rows.append(RunMetric(run_id=run_id, step=int(step), epoch=epoch, split=split, name=name,
                              value=value if math.isfinite(value) else None))
    if rows:
        with session_scope(write=True) as s:
            # A resumed run trains the steps after its checkpoint again: their rows are replaced.
            s.execute(delete(RunMetric).where(RunMetric.run_id == run_id, RunMetric.step == int(step),
                                              RunMetric.split == split,
                                              RunMetric.name.in_([r.name for r in rows])))
            s.add_all(rows)


def drop_metrics_after(run_id: int, step: int) -> None:
    """Forget metric rows logged after `step` (a resume from that step's checkpoint redoes them)."""
    with session_scope(write=True) as s:
        s.execute(delete(RunMetric).where(RunMetric.run_id == run_id, RunMetric.step > int(step)))


def add_log(run_id: int, message: str, level: str = "info") -> None:
    """Append a line to the run's log (shown as the log tail)."""
    with session_scope(write=True) as s:
        s.add(RunLog(run_id=run_id, level=level, message=message[:4000]))


def get_run(run_id: int) -> RunInfo:
    """One run, or NotFoundError."""
    with session_scope() as s:
        return _info(_row(s, run_id))


def list_runs(*, status: str | Sequence[str] | None = None, dataset_id: int | None = None,
              task: str | None = None, kind: str | None = None, parent_id: int | None = None,
              top_level: bool = False, ids: Sequence[int] | None = None, oldest_first: bool = False,
              limit: int | None = 200) -> list[RunInfo]:
    """Runs, newest first (or oldest first), filtered by any of the arguments given.

    ``top_level`` keeps runs without a parent; ``ids`` keeps only those runs.
    """
    query = select(Run).order_by(Run.id if oldest_first else Run.id.desc())
    if status:
        query = query.where(Run.status.in_([status] if isinstance(status, str) else list(status)))
    if dataset_id is not None:
        query = query.where(Run.dataset_id == dataset_id)
    if task:
        query = query.where(Run.task == task)
    if kind:
        query = query.where(Run.kind == kind)
    if parent_id is not None:
        query = query.where(Run.parent_id == parent_id)
    if top_level:
        query = query.where(Run.parent_id.is_(None))
    if ids is not None:
        query = query.where(Run.id.in_([int(i) for i in ids]))
    with session_scope() as s:
        return [_info(r) for r in s.scalars(query.limit(limit) if limit else query)]


def metrics_frame(run_id: int) -> pd.DataFrame:
    """All metrics of a run: columns step, epoch, split, name, value (ordered by step)."""
    return metrics_of([run_id]).drop(columns=["run_id"])


def metrics_of(run_ids: Sequence[int]) -> pd.DataFrame:
    """All metrics of several runs: columns run_id, step, epoch, split, name, value (by run, then step)."""
    with session_scope() as s:
        rows = s.execute(select(RunMetric.run_id, RunMetric.step, RunMetric.epoch, RunMetric.split,
                                RunMetric.name, RunMetric.value)
                         .where(RunMetric.run_id.in_([int(i) for i in run_ids]))
                         .order_by(RunMetric.run_id, RunMetric.step, RunMetric.id)).all()
    return pd.DataFrame(rows, columns=["run_id", "step", "epoch", "split", "name", "value"])


def log_tail(run_id: int, tail: int = 50) -> list[str]:
    """The last `tail` log lines, oldest first."""
    with session_scope() as s:
        rows = s.execute(select(RunLog.created_at, RunLog.level, RunLog.message)
                         .where(RunLog.run_id == run_id).order_by(RunLog.id.desc()).limit(tail)).all()
    return [f"{t:%H:%M:%S} {lvl.upper():5} {msg}" for t, lvl, msg in reversed(rows)]


def queued_ids() -> list[int]:
    """Queued runs in the order they will start."""
    with session_scope() as s:
        return list(s.scalars(select(Run.id).where(Run.status == S.QUEUED.value, Run.kind.not_in(GROUP_KINDS))
                              .order_by(Run.id)))


def queue_position(run_id: int) -> int:
    """1 for the next run to start, 2 for the one after...; 0 when the run is not queued."""
    ids = queued_ids()
    return ids.index(run_id) + 1 if run_id in ids else 0


def running_count() -> int:
    """How many runs are running now."""
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(Run).where(
            Run.status == S.RUNNING.value, Run.kind.not_in(GROUP_KINDS))))


def launching_count() -> int:
    """Queued runs whose worker is being started (a live local process holds them)."""
    with session_scope() as s:
        rows = s.execute(select(Run.pid, Run.pid_started, Run.host)
                         .where(Run.status == S.QUEUED.value, Run.pid.is_not(None))).all()
    return sum(1 for pid, started, host in rows if holder_alive(pid, started, host or ""))


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists on this host and is not a zombie."""
    return process_alive(pid)


def reap_stale(max_silence: timedelta = STALE_AFTER, *, now: datetime | None = None) -> list[int]:
    """Mark running runs whose worker is gone as interrupted; the ids reaped.

    A holder on this host is checked by pid and start time, so a dead or reused pid is seen at
    once; a live one is reaped only when hung (silent for HUNG_AFTER). A holder on another host
    is reaped when its heartbeat is older than `max_silence`.
    """
    now = now or utcnow()
    with session_scope() as s:
        candidates = s.execute(select(Run.id, Run.pid, Run.pid_started, Run.host, Run.heartbeat_at,
                                      Run.started_at)
                               .where(Run.status == S.RUNNING.value, Run.kind.not_in(GROUP_KINDS))).all()
    reaped = []
    for run_id, pid, started_at, host, beat, started in candidates:
        last = beat or started or now
        silence = now - last
        alive = holder_alive(pid, started_at, host or "")
        if alive is None:  # on another machine: only its heartbeat can tell
            if silence < max_silence:
                continue
            what = f"process {pid} on {host} silent"
        elif alive:
            if silence < HUNG_AFTER:
                continue
            what = f"process {pid} hung"
        else:
            what = f"process {pid} gone"
        reason = (f"The training process stopped unexpectedly (no heartbeat since {last:%Y-%m-%d %H:%M:%S} "
                  f"UTC, {what}). Resume it to continue from the last checkpoint.")
        try:
            transition(run_id, S.INTERRUPTED, reason=reason, expect=[S.RUNNING])
        except RunStateError:
            continue  # it finished between our read and our write
        add_log(run_id, reason, "error")
        reaped.append(run_id)
    return reaped
