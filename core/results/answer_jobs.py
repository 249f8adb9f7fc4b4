"""Answer evaluations started from the app run in a background thread, never in the page's script.

One job per key (for example ``baselines:<dataset>:<split>``): starting it again while it runs
returns the running job. A page polls ``get_job`` and shows its progress; the result lands in
the store (``core.store.answers``), so a finished job needs nothing else to be read back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import UserError


@dataclass
class AnswerJob:
    """A running or finished evaluation: progress as done/total, an error sentence when it failed."""

    key: str
    started_at: float = field(default_factory=time.time)
    done: int = 0
    total: int = 0
    error: str = ""
    finished: bool = False
    thread: threading.Thread | None = None

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def wait(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


_jobs: dict[str, AnswerJob] = {}
_lock = threading.Lock()


def start_job(key: str, work: Callable[[Callable[[int, int], None]], Any]) -> AnswerJob:
    """Run ``work(progress)`` in a background thread under ``key`` unless that job is running already."""
    with _lock:
        job = _jobs.get(key)
        if job is not None and not job.finished:
            return job
        job = _jobs[key] = AnswerJob(key)

    def run() -> None:
        try:
            work(job.progress)
        except UserError as exc:
            job.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown as one sentence on the page
            first = str(exc).splitlines()[0] if str(exc) else ""
            job.error = f"The evaluation failed: {type(exc).__name__}: {first}"
        finally:
            job.finished = True

    job.thread = threading.Thread(target=run, name=f"answers-{key}", daemon=True)
    job.thread.start()
    return job


def get_job(key: str) -> AnswerJob | None:
    """The job started under ``key`` in this process, running or finished."""
    with _lock:
        return _jobs.get(key)


def forget_job(key: str) -> None:
    """Drop a finished job (its result stays stored)."""
    with _lock:
        job = _jobs.get(key)
        if job is not None and job.finished:
            del _jobs[key]
