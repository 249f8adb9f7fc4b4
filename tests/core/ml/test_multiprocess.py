"""Two CPU processes training one run through `accelerate launch` (DDP, gloo): steps, loss, cancel, resume.

A real ``uclab worker`` claims the run and starts ``accelerate launch`` with two processes; the
main process alone writes metrics and checkpoints. The run is cancelled part-way, then resumed
from its checkpoint by the same worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from local import wait_until
from training_data import add_text_dataset, text_frame, tiny_model

from core.run_config import TrainConfig
from core.store import runs
from core.training import service as training

ROOT = Path(__file__).resolve().parents[3]
STEPS = 16


def _train_rows(run_id: int) -> list[tuple[int, float]]:
    frame = runs.metrics_frame(run_id)
    loss = frame[(frame["split"] == "train") & (frame["name"] == "loss")]
    return list(zip(loss["step"].astype(int), loss["value"].astype(float), strict=True))


@pytest.mark.slow
def test_two_processes_train_one_run_and_resume_after_a_cancel(home: Path) -> None:
    key = tiny_model()
    dataset = add_text_dataset(text_frame(rows=120))
    config = TrainConfig(max_steps=STEPS, batch_size=8, eval_every=4, learning_rate=5e-3, warmup_ratio=0.0,
                         processes=2, debug={"step_sleep": 0.3})
    run_id = runs.create_run(dataset_id=dataset, model_key=key, task="classification",
                             config=config.to_dict(), seed=42).id
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        wait_until(lambda: runs.get_run(run_id).step >= 6, 600, "step 6 with two processes")
        assert "× 2 processes" in runs.get_run(run_id).device
        training.cancel_run(run_id)
        wait_until(lambda: runs.get_run(run_id).status == "cancelled", 180, "the cancel")
        cancelled = runs.get_run(run_id)
        checkpoint = runs.last_complete_checkpoint(home / "runs" / str(run_id) / "checkpoints")
        assert checkpoint is not None and checkpoint.name == f"checkpoint-{cancelled.step}"
        before = len(_train_rows(run_id))

        training.resume_run(run_id)  # the live worker takes it again; no local worker is started
        wait_until(lambda: not runs.get_run(run_id).is_live, 600, "the resumed run to end")
        done = runs.get_run(run_id)
        assert done.status == "succeeded", done.status_reason
        assert done.step == done.total_steps == STEPS  # the same optimizer steps as one process plans
        rows = _train_rows(run_id)
        resumed_steps = [step for step, _ in rows[before:]]
        assert resumed_steps and min(resumed_steps) == cancelled.step + 1 and max(resumed_steps) == STEPS
        steps = [step for step, _ in rows]
        assert len(steps) == len(set(steps)) == STEPS  # one row per step: only the main process writes
        losses = [value for _, value in sorted(rows)]
        assert 0.5 < losses[0] < 0.9  # ln 2 for two classes: the mean over both processes, not their sum
        assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4  # the loss goes down
        assert (home / "runs" / str(run_id) / "model" / "model.safetensors").exists()
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=120)
        except subprocess.TimeoutExpired:
            daemon.kill()


def test_an_epoch_has_fewer_steps_when_processes_share_it() -> None:
    from core.ml.trainer import plan_steps

    one = plan_steps(100, TrainConfig(epochs=2, batch_size=16))
    two = plan_steps(100, TrainConfig(epochs=2, batch_size=16, processes=2), world_size=2)
    assert (one.steps_per_epoch, one.total_steps) == (7, 14)
    assert (two.steps_per_epoch, two.total_steps) == (4, 8)  # each step sees 2 batches of 16
