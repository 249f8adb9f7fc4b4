"""The run queue: launchers that start ``python -m core.training.worker RUN_ID`` and the kick that
marks dead runs interrupted and starts queued runs while slots are free.

Each worker runs in its own OS session, so closing the tab or restarting the app never stops it.
By default one run trains at a time (``UCLAB_MAX_RUNNING``); a worker that finishes kicks the
queue, and so does every page load and CLI call that reads runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from core.config import get_settings
from core.store import runs

ROOT = Path(__file__).resolve().parents[2]


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
