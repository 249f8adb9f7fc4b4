"""The run queue: the kick that marks dead runs interrupted and sees that queued runs get trained.

Workers take queued runs from the database: ``uclab worker`` daemons on any machine that shares
it, or, when none is alive, the local worker the app starts itself (``LocalWorker``:
``core.training.daemon --local``, in its own OS session, so closing the tab or restarting the app
never stops a run; it leaves when idle). The local worker trains ``UCLAB_MAX_RUNNING`` runs at
once (default 1). Tests and scripts may set a ``Launcher`` instead, which starts
``python -m core.training.worker RUN_ID`` per run (or runs it inline) while slots are free.
"""

from __future__ import annotations

import os
import subprocess
from typing import Protocol

from core import config
from core.config import get_settings
from core.run_folder import RunFolder
from core.store import runs, workers
from core.store.processes import start_time
from core.training import launch

ROOT = launch.ROOT
# How a run stopped by a worker's SIGTERM begins its status sentence: the worker puts it back in the
# queue (core.training.daemon), so nobody else may treat it as finished (a sweep's trial, for one).
REQUEUE_REASON = "Stopped by a termination signal"


class Launcher(Protocol):
    """Starts the worker for a queued run."""

    def launch(self, run_id: int) -> None: ...


class SubprocessLauncher:
    """``python -m core.training.worker RUN_ID`` detached in a new session, output in the run's worker.log."""

    _children: list[subprocess.Popen[bytes]] = []

    def launch(self, run_id: int) -> None:
        folder = RunFolder.of(get_settings().runs_dir, run_id)
        proc = launch.spawn(launch.worker_command(run_id), folder.worker_log, launch.worker_env())
        # Reap finished children so they do not linger as zombies in a long-lived app process.
        SubprocessLauncher._children = [p for p in self._children if p.poll() is None] + [proc]
        runs.update_progress(run_id, heartbeat=False, pid=proc.pid, pid_started=start_time(proc.pid))


class LocalWorker:
    """Starts this machine's worker daemon when no worker (on any machine) is alive."""

    IDLE_EXIT_S = 120.0  # a laptop keeps no idle process for long; the next kick starts it again
    _proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def reap() -> None:
        """Collect the exit status of a local worker that stopped (idle), so it is no zombie child of
        the app; called on every kick of the queue, not only when a new worker is needed."""
        proc = LocalWorker._proc
        if proc is not None and proc.poll() is not None:
            LocalWorker._proc = None
        SubprocessLauncher._children = [p for p in SubprocessLauncher._children if p.poll() is None]

    def ensure(self) -> bool:
        """Start the local worker if needed; whether one was started now."""
        if workers.live_workers():
            return False
        proc = LocalWorker._proc
        if proc is not None and proc.poll() is None:
            return False  # started a moment ago and still registering
        LocalWorker._proc = launch.spawn(launch.daemon_command(max_running(), self.IDLE_EXIT_S),
                                         get_settings().home / "worker.log", launch.worker_env())
        return True


_launcher: Launcher | None = None


def set_launcher(launcher: Launcher | None) -> None:
    """Use this launcher for every later start (None: the workers take the queue)."""
    global _launcher
    _launcher = launcher


def get_launcher() -> Launcher | None:
    """The launcher set for tests and scripts; None means the workers take the queue."""
    return _launcher


def max_running() -> int:
    """How many runs may train at once (UCLAB_MAX_RUNNING, default 1: a CPU has no room for two)."""
    return config.max_running()


def kick_queue(launcher: Launcher | None = None) -> list[int]:
    """Mark dead runs interrupted, then see that queued runs get trained; the ids a launcher started.

    Without a launcher the workers claim runs themselves; this only starts the local worker
    when runs are waiting and no worker is alive, and returns [].
    """
    runs.reap_stale()
    LocalWorker.reap()
    launcher = launcher or get_launcher()
    if launcher is None:
        if runs.queued_ids():
            LocalWorker().ensure()
        return []
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
