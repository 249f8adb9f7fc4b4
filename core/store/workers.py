"""The workers table: each ``uclab worker`` process registers, beats, and says what it can run.

The app reads it to decide whether it must start a local worker itself (none is alive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from core.store.db import session_scope
from core.store.orm import Worker, utcnow
from core.store.processes import holder_alive, start_time, this_host

# A worker beats every few seconds; this much silence means it is gone.
WORKER_STALE_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class WorkerInfo:
    """A registered worker process."""

    id: int
    host: str
    pid: int
    slots: int
    gpus: list[int]
    device_class: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None


def _info(row: Worker) -> WorkerInfo:
    return WorkerInfo(id=row.id, host=row.host, pid=row.pid, slots=row.slots, gpus=list(row.gpus or []),
                      device_class=row.device_class, started_at=row.started_at,
                      heartbeat_at=row.heartbeat_at, stopped_at=row.stopped_at)


def register_worker(pid: int, *, slots: int, gpus: list[int], device_class: str) -> WorkerInfo:
    """Record a worker process of this host that has just started."""
    with session_scope(write=True) as s:
        row = Worker(host=this_host(), pid=pid, pid_started=start_time(pid), slots=slots, gpus=gpus,
                     device_class=device_class)
        s.add(row)
        s.flush()
        return _info(row)


def beat_worker(worker_id: int) -> None:
    """The worker is alive now."""
    with session_scope(write=True) as s:
        row = s.get(Worker, worker_id)
        if row is not None:
            row.heartbeat_at = utcnow()


def stop_worker(worker_id: int) -> None:
    """The worker has exited cleanly."""
    with session_scope(write=True) as s:
        row = s.get(Worker, worker_id)
        if row is not None:
            row.stopped_at = utcnow()


def live_workers(*, host: str | None = None, now: datetime | None = None) -> list[WorkerInfo]:
    """Workers not stopped, beating recently, and (on this host) whose process still lives."""
    now = now or utcnow()
    query = select(Worker).where(Worker.stopped_at.is_(None),
                                 Worker.heartbeat_at >= now - WORKER_STALE_AFTER).order_by(Worker.id)
    if host is not None:
        query = query.where(Worker.host == host)
    with session_scope() as s:
        rows = s.scalars(query).all()
        return [_info(r) for r in rows if holder_alive(r.pid, r.pid_started, r.host) is not False]
