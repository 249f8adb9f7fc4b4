"""The long-running worker: ``uclab worker [--slots N] [--gpus 0,1]``.

It registers in the shared database, beats, sweeps runs whose process is gone, and claims the
queued runs it can train (its device class, enough free GPUs for the run's processes), each in
a child process: ``python -m core.training.worker RUN_ID --claimed``, or that module under
``accelerate launch`` when the run asks for several processes. A child that dies is seen at
once and its run interrupted; a finished child frees its slot and the next queued run starts
without waiting for anyone to load a page. SIGTERM (or Ctrl-C) stops the children at their next
step with a checkpoint, puts their runs back in the queue, and exits 0.

The app starts one of these (``--idle-exit``) on its own machine when no worker is alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from filelock import FileLock, Timeout

from core.config import get_settings
from core.entities import RunInfo
from core.entities import RunStatus as S
from core.errors import UserError
from core.run_folder import RunFolder
from core.store import runs, workers
from core.store.processes import this_host
from core.training import launch
from core.training.queue import REQUEUE_REASON
from core.training.sweep import advance_live_sweeps

ROOT = launch.ROOT
POLL_S = 1.0
BEAT_EVERY_S = 5.0
MAX_CPU_PROCESSES = 64
SWEEP_EVERY_S = 3.0  # how often a worker moves running sweeps on (tells finished trials, asks new ones)


@dataclass
class Child:
    """One run being trained by a child process of this worker."""

    run_id: int
    proc: subprocess.Popen[bytes]
    gpus: list[int] = field(default_factory=list)
    signalled: bool = False


def child_command(run_id: int, processes: int) -> list[str]:
    """The command that trains one claimed run (core.training.launch.worker_command)."""
    return launch.worker_command(run_id, claimed=True, processes=processes)


def child_env(gpus: list[int]) -> dict[str, str]:
    """A child's environment: a CPU run, or a CPU worker, sees no GPU at all; a GPU run sees only
    its own GPUs (core.training.launch.worker_env)."""
    return launch.worker_env(gpus)


class WorkerDaemon:
    """Claims and trains queued runs until stopped (or idle for `idle_exit` seconds)."""

    def __init__(self, *, slots: int = 1, gpus: list[int] | None = None,
                 idle_exit: float | None = None, poll: float = POLL_S) -> None:
        if slots < 1:
            raise UserError("--slots must be at least 1.")
        self.slots = slots
        self.gpus = list(gpus or [])
        self.device_class = "gpu" if self.gpus else "cpu"
        self.idle_exit = idle_exit
        self.poll = poll
        self.children: dict[int, Child] = {}
        self.stopping = False
        self.worker_id: int | None = None
        self._last_beat = self._idle_since = self._last_sweep = 0.0

    # -- what this worker can take -------------------------------------------------------------
    def free_gpus(self) -> list[int]:
        busy = {g for child in self.children.values() for g in child.gpus}
        return [g for g in self.gpus if g not in busy]

    def claim(self) -> RunInfo | None:
        if self.device_class == "gpu":
            free = self.free_gpus()
            if not free:  # CPU runs could still go, but a GPU box keeps its slots for GPU work
                return None
            return runs.claim_next(os.getpid(), device_classes=("any", "gpu", "cpu"),
                                   max_processes=len(free))
        return runs.claim_next(os.getpid(), device_classes=("any", "cpu"),
                               max_processes=MAX_CPU_PROCESSES)

    def start(self, info: RunInfo) -> None:
        on_gpu = self.device_class == "gpu" and info.device_class != "cpu"
        gpus = self.free_gpus()[:max(1, info.processes)] if on_gpu else []
        folder = RunFolder.of(get_settings().runs_dir, info.id)
        command = child_command(info.id, info.processes)
        where = f"GPU {','.join(map(str, gpus))}" if gpus else "CPU"
        runs.add_log(info.id, f"Claimed by the worker on {this_host()} (pid {os.getpid()}): "
                              f"{info.processes} process{'es' if info.processes > 1 else ''} on {where}.")
        proc = launch.spawn(command, folder.worker_log, child_env(gpus))
        self.children[info.id] = Child(info.id, proc, gpus)

    def start_or_fail(self, info: RunInfo) -> None:
        try:
            self.start(info)
        except OSError as exc:  # the child could not even start: say so instead of holding the run
            reason = f"The worker on {this_host()} could not start the training process: {exc}."
            runs.transition(info.id, S.FAILED, reason=reason, expect=[S.RUNNING])
            runs.add_log(info.id, reason, "error")

    # -- children that ended -------------------------------------------------------------------
    def collect(self) -> None:
        for run_id, child in list(self.children.items()):
            code = child.proc.poll()
            if code is None:
                continue
            del self.children[run_id]
            self.after_child(run_id, code)

    def after_child(self, run_id: int, code: int) -> None:
        info = runs.get_run(run_id)
        if info.status == S.RUNNING:  # the child died without ending its run
            reason = (f"The training process ended without finishing the run (exit code {code}). "
                      "Resume it to continue from the last checkpoint.")
            try:
                runs.transition(run_id, S.INTERRUPTED, reason=reason, expect=[S.RUNNING])
                runs.add_log(run_id, reason, "error")
            except UserError:
                pass
        elif (self.stopping and info.status == S.CANCELLED
              and info.status_reason.startswith(REQUEUE_REASON)):
            runs.transition(run_id, S.QUEUED, reason="", expect=[S.CANCELLED])
            runs.add_log(run_id, f"Back in the queue: the worker on {this_host()} was stopped; "
                                 "the next worker continues from the last checkpoint.")

    # -- the loop ------------------------------------------------------------------------------
    def stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        info = workers.register_worker(os.getpid(), slots=self.slots, gpus=self.gpus,
                                       device_class=self.device_class)
        self.worker_id = info.id
        print(f"Worker {info.id} on {info.host} (pid {info.pid}): {self.slots} slot(s), "
              f"{'GPUs ' + ','.join(map(str, self.gpus)) if self.gpus else 'CPU'}; "
              f"database {get_settings().database_url.split('@')[-1]}.", file=sys.stderr, flush=True)
        runs.reap_stale()  # a sweep at start: runs whose process died while nothing watched
        self._last_beat = self._idle_since = time.monotonic()
        self._last_sweep = 0.0
        try:
            while True:
                try:
                    if self.tick():
                        return 0
                except Exception as exc:  # noqa: BLE001 - e.g. the database briefly locked or away
                    # A worker that died here would leave its sweep and its queue to nobody; the next
                    # tick tries again (its children train on, their runs record for themselves).
                    print(f"The worker's loop failed and goes on at its next tick: {exc}",
                          file=sys.stderr, flush=True)
                time.sleep(self.poll)
        finally:
            workers.stop_worker(info.id)

    def tick(self) -> bool:
        """One turn of the loop: collect ended children, move sweeps on, claim queued runs, beat;
        True when the worker should exit (stopped with no child left, or idle past `idle_exit`)."""
        ended = len(self.children)
        self.collect()
        if not self.stopping and (len(self.children) < ended
                                  or time.monotonic() - self._last_sweep >= SWEEP_EVERY_S):
            self.advance_sweeps()
            self._last_sweep = time.monotonic()
        if self.stopping:
            if not self.children:
                return True
            self.terminate_children()
        else:
            runs.reap_stale()
            # Read first: a write transaction every second would only compete with writers.
            waiting = len(self.children) < self.slots and bool(runs.queued_ids())
            while waiting and len(self.children) < self.slots and (claimed := self.claim()):
                self.start_or_fail(claimed)
        now = time.monotonic()
        if self.children:
            self._idle_since = now
        elif self.idle_exit is not None and now - self._idle_since > self.idle_exit:
            return True
        if now - self._last_beat >= BEAT_EVERY_S:
            workers.beat_worker(self.worker_id)
            self._last_beat = now
        return False

    def advance_sweeps(self) -> None:
        """Tell hyper-parameter sweeps about finished trials and queue their next ones."""
        try:
            advance_live_sweeps()
        except Exception as exc:  # noqa: BLE001 - e.g. the database is briefly away; the next tick retries
            print(f"Could not advance the sweeps: {exc}", file=sys.stderr, flush=True)

    def terminate_children(self) -> None:
        for child in self.children.values():
            if child.proc.poll() is None and not child.signalled:
                # The child's whole process group: under accelerate every training process stops.
                os.killpg(child.proc.pid, signal.SIGTERM)  # at the next step, with a checkpoint
                child.signalled = True


def run_worker(*, slots: int = 1, gpus: list[int] | None = None, idle_exit: float | None = None) -> int:
    """Run a worker in this process until SIGTERM; 0 on a clean exit."""
    return WorkerDaemon(slots=slots, gpus=gpus, idle_exit=idle_exit).run()


def run_local_worker(slots: int, idle_exit: float) -> int:
    """The worker the app starts: one per machine and home (a file lock), gone when idle."""
    lock = FileLock(str(get_settings().home / f".worker-{this_host()}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return 0  # another local worker already serves this machine
    try:
        return run_worker(slots=slots, idle_exit=idle_exit)
    finally:
        lock.release()


def main(argv: list[str] | None = None) -> int:
    """``python -m core.training.daemon --local SLOTS IDLE_S``: the app's own local worker."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != "--local":
        print("Usage: python -m core.training.daemon --local SLOTS IDLE_SECONDS", file=sys.stderr)
        return 2
    return run_local_worker(int(argv[1]), float(argv[2]))


if __name__ == "__main__":
    sys.exit(main())
