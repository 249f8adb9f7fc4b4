"""Which process holds a run: a host name, a pid and the pid's start time (psutil).

A pid alone lies twice: after a crash it may already belong to another program, and on
another machine it means nothing. With its start time a dead or reused pid is seen at once;
a process on another host is judged by its heartbeat only.
"""

from __future__ import annotations

import os
import socket

import psutil

from core import config

# Start times are floats from the kernel's clock ticks; two reads of one process agree closely.
START_TIME_SLACK_S = 1.0


def this_host() -> str:
    """This machine's name as runs and workers record it (UCLAB_HOST overrides it)."""
    return config.host_override() or socket.gethostname()


def start_time(pid: int | None = None) -> float | None:
    """When process `pid` (default: this one) started, or None if there is no such process."""
    try:
        return psutil.Process(pid or os.getpid()).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def process_alive(pid: int | None, started: float | None = None) -> bool:
    """Whether `pid` is a live, non-zombie process on this host (and the same one, if `started`)."""
    if not pid or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) <= START_TIME_SLACK_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def holder_alive(pid: int | None, started: float | None, host: str) -> bool | None:
    """True/False for a holder on this host (or of unknown host); None when it lives elsewhere
    or no pid was recorded (then only the heartbeat can tell)."""
    if not pid or (host and host != this_host()):
        return None
    return process_alive(pid, started)
