"""A local worker that stopped is no zombie child of the app: every kick of the queue reaps it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from local import wait_until

from core.training import queue


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return None


def test_a_stopped_local_worker_is_reaped() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    queue.LocalWorker._proc = proc
    try:
        wait_until(lambda: _state(proc.pid) == "Z", 30, "the child to exit")  # a zombie until reaped
        queue.LocalWorker.reap()
        assert queue.LocalWorker._proc is None and _state(proc.pid) is None
    finally:
        queue.LocalWorker._proc = None
        proc.poll()
