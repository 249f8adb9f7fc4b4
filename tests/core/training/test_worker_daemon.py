"""`uclab worker`: a second machine's worker takes a queued run, cancel, kill -9, SIGTERM, the claim race.

The daemon tests start real ``python -m core worker`` processes (another host name and another
path to the same UCLAB_HOME, as a second machine with a shared mount would have). Each test runs
on SQLite and on PostgreSQL (tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from local import wait_until
from training_data import add_text_dataset, tiny_model

from core.run_config import TrainConfig
from core.store import runs, workers
from core.store.processes import this_host
from core.training import service as training
from core.training import worker

ROOT = Path(__file__).resolve().parents[3]


def _queue(dataset: int, key: str, **kw: object) -> int:
    config = TrainConfig(**{"max_steps": 6, "batch_size": 8, "eval_every": 3, "learning_rate": 1e-3, **kw})
    return runs.create_run(dataset_id=dataset, model_key=key, task="classification",
                           config=config.to_dict(), seed=42).id




@pytest.fixture
def second_machine(home: Path, tmp_path: Path):  # noqa: ANN201
    """Starts `uclab worker` processes as another machine: its own host name, its own mount point."""
    mount = tmp_path / "mnt-machine-b"
    mount.symlink_to(home, target_is_directory=True)
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "UCLAB_HOME": str(mount), "UCLAB_HOST": "machine-b",
               "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "core", "worker", *args], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    for run in runs.list_runs():  # no training child may outlive the test
        if run.status == "running" and run.pid and run.host == "machine-b":
            try:
                os.kill(run.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_second_machines_worker_trains_a_queued_run_and_honours_cancel(
        home: Path, second_machine) -> None:  # noqa: ANN001
    key, dataset = tiny_model(), add_text_dataset()
    first = _queue(dataset, key)
    slow = _queue(dataset, key, max_steps=400, eval_every=2, debug={"step_sleep": 0.2})
    daemon = second_machine("--slots", "1")
    wait_until(lambda: runs.get_run(first).status not in ("queued", "running"), 300, "the first run to end")
    info = runs.get_run(first)
    assert info.status == "succeeded", info.status_reason
    assert info.host == "machine-b" and "cpu" in info.device and info.step == 6
    assert info.output_dir == f"runs/{first}"  # relative: any machine's mount point can open it
    assert (home / info.output_dir / "model" / "model.safetensors").exists()
    assert any("Claimed by the worker on machine-b" in line for line in runs.log_tail(first))
    [registered] = workers.live_workers()
    assert (registered.host, registered.pid, registered.device_class) == ("machine-b", daemon.pid, "cpu")

    # The slow run starts as soon as the slot is free; nobody loaded a page or ran a command.
    wait_until(lambda: runs.get_run(slow).step >= 2, 300, "the second run to train")
    assert runs.get_run(slow).host == "machine-b"
    training.cancel_run(slow)
    wait_until(lambda: runs.get_run(slow).status == "cancelled", 120, "the cancel")
    cancelled = runs.get_run(slow)
    assert cancelled.status_reason.startswith("Cancelled at step") and cancelled.last_checkpoint
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=60) == 0
    assert workers.live_workers() == []


def test_kill_9_is_seen_at_once_the_next_run_starts_and_sigterm_requeues(
        home: Path, second_machine) -> None:  # noqa: ANN001
    key, dataset = tiny_model(), add_text_dataset()
    doomed = _queue(dataset, key, max_steps=400, eval_every=2, debug={"step_sleep": 0.2})
    nxt = _queue(dataset, key, max_steps=400, eval_every=2, debug={"step_sleep": 0.2})
    daemon = second_machine()
    wait_until(lambda: runs.get_run(doomed).step >= 1, 300, "the first run to train")
    os.kill(runs.get_run(doomed).pid, signal.SIGKILL)
    # Its own worker sees the child die: interrupted, and the next queued run starts, well
    # before the 60 s heartbeat silence that the app would otherwise wait for.
    wait_until(lambda: runs.get_run(doomed).status == "interrupted", 30, "the kill to be seen")
    assert "Resume it" in runs.get_run(doomed).status_reason
    wait_until(lambda: runs.get_run(nxt).status == "running" and runs.get_run(nxt).last_checkpoint, 300,
          "the next run to start and checkpoint")

    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=120) == 0
    back = runs.get_run(nxt)
    assert back.status == "queued" and back.pid is None
    assert any("Back in the queue" in line for line in runs.log_tail(nxt))
    checkpoint = runs.last_complete_checkpoint(home / "runs" / str(nxt) / "checkpoints")
    assert checkpoint is not None


def test_two_workers_claiming_at_the_same_instant_never_take_one_run(home: Path) -> None:
    dataset = add_text_dataset()
    queued = [_queue(dataset, "local:tiny-bert") for _ in range(8)]
    go = home / "go"
    code = ("import os, sys, time\n"
            "from core.store import runs, db\n"
            "db.get_engine()\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
            "got = []\n"
            "while (r := runs.claim_next(os.getpid(), device_classes=('any', 'cpu'), max_processes=1)):\n"
            "    got.append(r.id)\n"
            "print(' '.join(map(str, got)))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
             for _ in range(4)]
    time.sleep(3)  # let every process connect and wait at the line
    go.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-400:] for _, err in outs]
    claimed = [int(x) for out, _ in outs for x in out.split()]
    assert sorted(claimed) == queued  # each run claimed exactly once
    assert {r.status for r in runs.list_runs()} == {"running"}


def test_a_worker_takes_only_what_it_can_run(home: Path) -> None:
    dataset = add_text_dataset()
    gpu = _queue(dataset, "m", device="gpu")
    pair = _queue(dataset, "m", processes=2)
    cpu = _queue(dataset, "m", device="cpu")
    me = os.getpid()
    assert runs.claim_next(me, device_classes=("any", "cpu"), max_processes=1).id == cpu
    assert runs.claim_next(me, device_classes=("any", "cpu"), max_processes=1) is None
    assert runs.claim_next(me, device_classes=("any", "cpu"), max_processes=4).id == pair
    taken = runs.claim_next(me, device_classes=("any", "gpu", "cpu"), max_processes=1)
    assert taken.id == gpu and taken.device_class == "gpu" and taken.host == this_host()


def test_twenty_readers_polling_during_a_run_see_no_errors(home: Path, monkeypatch) -> None:  # noqa: ANN001
    key, dataset = tiny_model(), add_text_dataset()
    run_id = _queue(dataset, key, max_steps=20, eval_every=2)
    errors: list[BaseException] = []
    reads = [0]
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                runs.get_run(run_id)
                runs.list_runs()
                runs.metrics_frame(run_id)
                runs.log_tail(run_id)
                reads[0] += 1
            except BaseException as exc:  # noqa: BLE001 - every error counts
                errors.append(exc)
            time.sleep(0.05)

    threads = [threading.Thread(target=reader) for _ in range(20)]
    for t in threads:
        t.start()
    try:
        assert worker.run(run_id) == 0  # trains in this process while the readers poll
    finally:
        done.set()
        for t in threads:
            t.join()
    assert errors == []
    assert runs.get_run(run_id).status == "succeeded" and reads[0] > 20


def test_the_app_starts_a_local_worker_only_when_none_is_alive(home: Path, monkeypatch) -> None:  # noqa: ANN001
    key, dataset = tiny_model(), add_text_dataset()
    other = workers.register_worker(1, slots=1, gpus=[0], device_class="gpu")  # pid 1 lives
    run_id = _queue(dataset, key)
    assert training.kick_queue() == [] and training.LocalWorker._proc is None  # a worker is alive
    workers.stop_worker(other.id)
    monkeypatch.setattr(training.LocalWorker, "IDLE_EXIT_S", 1.0)
    training.kick_queue()
    proc = training.LocalWorker._proc
    assert proc is not None
    try:
        wait_until(lambda: runs.get_run(run_id).status == "succeeded", 300,
                   "the local worker to train the run")
        assert runs.get_run(run_id).host == this_host()
        assert proc.wait(timeout=60) == 0  # it leaves once idle
    finally:
        if proc.poll() is None:
            proc.kill()
        training.LocalWorker._proc = None


def test_worker_flags_are_checked_with_one_sentence(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli import main
    from core.cli.worker import parse_gpus

    assert parse_gpus("0,1") == [0, 1] and parse_gpus(None) == []
    assert main(["worker", "--gpus", "a,b"]) == 2
    assert capsys.readouterr().err.strip() == ("Error: --gpus takes GPU numbers separated by commas "
                                               "(for example 0,1), not 'a,b'.")
    assert main(["worker", "--slots", "0"]) == 2
    assert "--slots must be at least 1." in capsys.readouterr().err
    assert workers.live_workers() == []  # nothing was registered


def test_a_database_error_in_one_turn_of_the_loop_does_not_stop_the_worker(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlite3 import OperationalError

    from core.training import daemon

    key, dataset = tiny_model(), add_text_dataset()
    run_id = _queue(dataset, key)
    real_reap, calls = runs.reap_stale, [0]

    def briefly_locked(*args: object, **kwargs: object) -> list[int]:
        calls[0] += 1
        if calls[0] in (2, 3):  # the loop's first two turns (the first call is the start-up sweep)
            raise OperationalError("database is locked")
        return real_reap(*args, **kwargs)

    monkeypatch.setattr(daemon.runs, "reap_stale", briefly_locked)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = daemon.WorkerDaemon(slots=1, idle_exit=2.0, poll=0.2).run()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert code == 0 and calls[0] > 3
    said = capsys.readouterr().err
    assert "The worker's loop failed and goes on at its next tick: database is locked" in said
    assert runs.get_run(run_id).status == "succeeded"  # the turns after the error claimed and trained it
