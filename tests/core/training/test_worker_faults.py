"""Faults of the worker: kill -9 then resume, cancel within one step, NaN, out of memory, crashes.

The kill test starts a real ``python -m core.training.worker`` process; the others run the worker inline.
The ``debug`` config hooks (step_sleep, nan_at_step, raise_at_step) exist for these tests only.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from local import wait_until
from sqlalchemy import select
from training_data import add_text_dataset, tiny_model

from core.ml.trainer import GuardedTrainer
from core.run_config import TrainConfig
from core.store import orm, runs
from core.store.db import session_scope
from core.training import queue, worker
from core.training import service as training


@pytest.fixture
def inline(home: Path, monkeypatch: pytest.MonkeyPatch) -> worker.InlineLauncher:
    launcher = worker.InlineLauncher()
    monkeypatch.setattr(queue, "_launcher", launcher)
    return launcher


@pytest.fixture(autouse=True)
def _no_stray_workers():  # noqa: ANN202
    """A failed test must not leave a real worker training in the background."""
    yield
    for proc in queue.SubprocessLauncher._children:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def _config(**kw: object) -> TrainConfig:
    return TrainConfig(**{"max_steps": 6, "batch_size": 4, "eval_every": 2, **kw})


def _queue(**kw: object) -> int:
    """A queued run of the tiny model that nobody has launched yet."""
    key, dataset = tiny_model(), add_text_dataset()
    return runs.create_run(dataset_id=dataset, model_key=key, task="classification",
                           config=_config(**kw).to_dict(), seed=42).id




def _metric_rows(run_id: int) -> list[tuple[int, str, str, float | None]]:
    with session_scope() as s:
        return list(s.execute(select(orm.RunMetric.step, orm.RunMetric.split, orm.RunMetric.name,
                                     orm.RunMetric.value).where(orm.RunMetric.run_id == run_id)
                              .order_by(orm.RunMetric.id)).all())


def test_kill_9_interrupts_and_resume_continues_from_the_checkpoint(inline: worker.InlineLauncher,
                                                                     home: Path, database: str) -> None:
    run_id = _queue(max_steps=30, eval_every=4, debug={"step_sleep": 0.25})
    runs.claim_launch(run_id, os.getpid())
    queue.SubprocessLauncher().launch(run_id)  # a real, detached worker process
    wait_until(lambda: runs.get_run(run_id).last_checkpoint and runs.get_run(run_id).step >= 6, 300,
          "a checkpoint and step 6")
    info = runs.get_run(run_id)
    os.kill(info.pid, signal.SIGKILL)
    wait_until(lambda: not runs.pid_alive(info.pid), 30, "the worker to die")
    assert runs.reap_stale(timedelta(0)) == [run_id]
    killed = runs.get_run(run_id)
    assert killed.status == "interrupted" and "stopped unexpectedly" in killed.status_reason
    if database == "sqlite":
        with sqlite3.connect(home / "uclab.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    checkpoint_step = int(runs.last_complete_checkpoint(
        home / "runs" / str(run_id) / "checkpoints").name.split("-")[1])
    assert checkpoint_step >= 4
    before = len(_metric_rows(run_id))
    resumed = training.resume_run(run_id)  # inline: returns when the run has ended
    assert resumed.status == "succeeded", resumed.status_reason
    assert resumed.step == resumed.total_steps == 30
    new_train_steps = [step for step, split, _, _ in _metric_rows(run_id)[before:] if split == "train"]
    assert new_train_steps and min(new_train_steps) > checkpoint_step
    assert any(f"resuming at step {checkpoint_step}" in line for line in runs.log_tail(run_id))


def test_sigterm_stops_like_cancel_with_a_checkpoint(home: Path) -> None:
    run_id = _queue(max_steps=200, eval_every=100, debug={"step_sleep": 0.2})
    runs.claim_launch(run_id, os.getpid())
    queue.SubprocessLauncher().launch(run_id)
    wait_until(lambda: runs.get_run(run_id).step >= 2, 300, "step 2")
    os.kill(runs.get_run(run_id).pid, signal.SIGTERM)
    wait_until(lambda: not runs.get_run(run_id).is_live, 60, "the worker to stop")
    info = runs.get_run(run_id)
    assert info.status == "cancelled" and info.status_reason.startswith("Stopped by a termination signal")
    assert info.last_checkpoint.endswith(f"checkpoint-{info.step}") and info.step < 200


def test_cancel_stops_within_one_step_with_a_checkpoint(inline: worker.InlineLauncher, home: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _queue(max_steps=12, eval_every=12)
    original = GuardedTrainer.training_step

    def step_then_cancel(self, model, inputs, num_items_in_batch=None):  # noqa: ANN001, ANN202
        if self.state.global_step + 1 == 3:  # someone presses Cancel while step 3 runs
            runs.request_cancel(run_id)
        return original(self, model, inputs, num_items_in_batch)

    monkeypatch.setattr(GuardedTrainer, "training_step", step_then_cancel)
    assert worker.run(run_id) == 0
    info = runs.get_run(run_id)
    assert info.status == "cancelled" and info.step == 3
    assert (home / "runs" / str(run_id) / "checkpoints" / "checkpoint-3" / runs.COMPLETE_MARKER).exists()
    assert info.last_checkpoint.endswith("checkpoint-3")

    monkeypatch.setattr(GuardedTrainer, "training_step", original)
    before = len(_metric_rows(run_id))
    resumed = training.resume_run(run_id)
    assert resumed.status == "succeeded" and resumed.step == resumed.total_steps == 12
    assert min(step for step, split, _, _ in _metric_rows(run_id)[before:] if split == "train") == 4


def test_nan_loss_fails_with_its_sentence_and_keeps_the_last_good_checkpoint(
        inline: worker.InlineLauncher, home: Path) -> None:
    run_id = _queue(debug={"nan_at_step": 3})
    assert worker.run(run_id) == 1
    info = runs.get_run(run_id)
    assert info.status == "failed"
    assert info.status_reason == ("The training loss became NaN at step 3. "
                                  "Try a lower learning rate (for example 2e-5).")
    folders = sorted(p.name for p in (home / "runs" / str(run_id) / "checkpoints").glob("checkpoint-*"))
    assert folders == ["checkpoint-2"]
    assert (3, "train", "loss", None) in _metric_rows(run_id)  # shown as missing, not hidden


def test_out_of_memory_fails_with_advice(inline: worker.InlineLauncher) -> None:
    run_id = _queue(debug={"raise_at_step": 2, "raise": "oom"})
    assert worker.run(run_id) == 1
    assert runs.get_run(run_id).status_reason == worker.OOM_MESSAGE


def test_a_crash_fails_with_one_sentence_and_the_traceback_in_the_worker_log_file(
        inline: worker.InlineLauncher, capfd: pytest.CaptureFixture) -> None:
    run_id = _queue(debug={"raise_at_step": 2})
    assert worker.run(run_id) == 1
    info = runs.get_run(run_id)
    assert info.status == "failed"
    assert info.status_reason == "Training failed: RuntimeError: Injected failure at step 2 (test hook)."
    # Issue 16 item 6: the Log panel shows the sentence; the traceback goes to stderr (worker.log).
    log = runs.log_tail(run_id)
    assert not any("Traceback" in line or ".py\"" in line for line in log)
    assert any(info.status_reason in line for line in log)
    assert "Traceback" in capfd.readouterr().err
    assert info.last_checkpoint == ""  # nothing to resume from


def test_no_run_stays_running_when_the_worker_forgets_to_finish(inline: worker.InlineLauncher,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = _queue()
    monkeypatch.setattr(worker, "_train_and_finish", lambda _id: 0)
    worker.run(run_id)
    info = runs.get_run(run_id)
    assert info.status == "failed" and "without finishing" in info.status_reason


def test_a_second_worker_for_the_same_run_leaves_it_alone(inline: worker.InlineLauncher) -> None:
    run_id = _queue()
    runs.claim_run(run_id, os.getpid())
    assert worker.run(run_id) == 0
    assert runs.get_run(run_id).status == "running"


def test_failure_sentences() -> None:
    assert worker.failure_sentence(MemoryError()) == worker.OOM_MESSAGE
    assert worker.failure_sentence(RuntimeError("DefaultCPUAllocator: can't allocate memory")) == \
        worker.OOM_MESSAGE
    assert worker.failure_sentence(ValueError("bad\nmore")) == "Training failed: ValueError: bad."
