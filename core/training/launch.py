"""The one way to start a worker process: its command, its environment, and the detached start.

Every launcher uses it: the queue's ``SubprocessLauncher`` (one run), the app's ``LocalWorker``
(this machine's worker daemon) and the daemon's children (a claimed run, under accelerate for
several processes).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from core import config
from core.config import get_settings

ROOT = Path(__file__).resolve().parents[2]
WORKER_MODULE = "core.training.worker"
DAEMON_MODULE = "core.training.daemon"


def worker_env(gpus: Sequence[int] | None = None) -> dict[str, str]:
    """The environment of a worker process: this app's home and code, offline, passive OpenMP.

    `gpus`: the GPUs the process may see (an empty list: none, so a CPU run never touches one);
    None leaves CUDA_VISIBLE_DEVICES as it is.
    """
    settings = get_settings()
    # Passive OpenMP waiting: when other processes share the cores (the app server, a test
    # run), spinning threads made a 2-thread step 5-7x slower here; passive waiting does not.
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, config.HOME_VARIABLE: str(settings.home),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    return env


def worker_command(run_id: int, *, claimed: bool = False, processes: int = 1) -> list[str]:
    """The command that trains one run: the worker module, under accelerate for processes > 1.

    `claimed`: a worker daemon already claimed the run (the worker takes it over).
    """
    target = ["-m", WORKER_MODULE, str(int(run_id)), *(["--claimed"] if claimed else [])]
    if processes <= 1:
        return [sys.executable, *target]
    with socket.socket() as sock:  # a free port for the processes' rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # torchrun's launcher on both: with no visible GPU each process takes the gloo backend on the
    # CPU (accelerate's --cpu launcher would need mpirun); with GPUs, NCCL.
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
            str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_ip", "127.0.0.1", "--main_process_port", str(port), *target]


def daemon_command(slots: int, idle_exit: float) -> list[str]:
    """The command of this machine's own worker daemon (started by the app, gone when idle)."""
    return [sys.executable, "-m", DAEMON_MODULE, "--local", str(int(slots)), str(idle_exit)]


def spawn(command: list[str], log_file: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a process detached from this one (its own session: closing the app never stops it),
    its output appended to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
