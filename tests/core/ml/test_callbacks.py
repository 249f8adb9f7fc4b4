"""DbProgressCallback: progress, metrics, cancel and the NaN stop, driven with Trainer state objects."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_data import add_text_dataset
from transformers import TrainerControl, TrainerState, TrainingArguments

from core.config import get_settings
from core.ml.callbacks import RunSignals
from core.store import runs
from core.training.engine import DbProgressCallback


@pytest.fixture
def setup(home: Path) -> tuple[int, TrainingArguments, TrainerState, RunSignals, DbProgressCallback]:
    run_id = runs.create_run(dataset_id=add_text_dataset(), model_key="m", task="classification",
                             config={}, seed=1).id
    runs.claim_run(run_id, 1)
    out = get_settings().runs_dir / str(run_id) / "checkpoints"
    args = TrainingArguments(output_dir=str(out), report_to="none", use_cpu=True)
    state = TrainerState(max_steps=10, global_step=0)
    signals = RunSignals()
    return run_id, args, state, signals, DbProgressCallback(run_id, signals, batch_size=8)


def test_begin_and_steps_write_progress(setup: tuple) -> None:
    run_id, args, state, _, cb = setup
    cb.on_train_begin(args, state, TrainerControl())
    assert runs.get_run(run_id).total_steps == 10
    state.global_step, state.epoch = 10, 2.0
    control = cb.on_step_end(args, state, TrainerControl())
    info = runs.get_run(run_id)
    assert (info.step, info.epoch) == (10, 2.0) and info.eta_seconds == pytest.approx(0.0)
    assert info.samples_per_second and info.samples_per_second > 0
    assert not control.should_training_stop


def test_cancel_stops_with_a_checkpoint(setup: tuple) -> None:
    run_id, args, state, signals, cb = setup
    cb.on_train_begin(args, state, TrainerControl())
    runs.request_cancel(run_id)
    state.global_step = 3
    control = cb.on_step_end(args, state, TrainerControl())
    assert control.should_training_stop and control.should_save and signals.cancelled
    assert any("Cancel requested" in line for line in runs.log_tail(run_id))


def test_nonfinite_loss_stops_without_saving(setup: tuple) -> None:
    _, args, state, signals, cb = setup
    signals.nonfinite_step = 4
    control = TrainerControl(should_save=True, should_evaluate=True)
    control = cb.on_step_end(args, state, control)
    assert control.should_training_stop and not control.should_save and not control.should_evaluate


def test_logs_and_evaluations_become_metrics(setup: tuple) -> None:
    run_id, args, state, _, cb = setup
    state.global_step, state.epoch = 5, 1.0
    cb.on_log(args, state, TrainerControl(), logs={"loss": 0.5, "learning_rate": 1e-5, "total_flos": 9.0,
                                                  "epoch": 1.0})
    cb.on_log(args, state, TrainerControl(), logs={"train_runtime": 3.0, "train_loss": 0.4})
    cb.on_evaluate(args, state, TrainerControl(), metrics={"eval_loss": 0.6, "eval_accuracy": 0.7,
                                                          "eval_runtime": 1.0, "epoch": 1.0})
    frame = runs.metrics_frame(run_id)
    got = {(r.split, r.name): r.value for r in frame.itertuples()}
    assert got == {("train", "loss"): 0.5, ("train", "learning_rate"): 1e-5,
                   ("validation", "loss"): 0.6, ("validation", "accuracy"): 0.7}


def test_save_marks_the_checkpoint_complete_and_records_it(setup: tuple) -> None:
    run_id, args, state, _, cb = setup
    state.global_step, state.best_metric = 6, 0.75
    folder = Path(args.output_dir) / "checkpoint-6"
    folder.mkdir(parents=True)
    cb.on_save(args, state, TrainerControl())
    info = runs.get_run(run_id)
    assert (folder / runs.COMPLETE_MARKER).exists()
    assert info.last_checkpoint == f"runs/{run_id}/checkpoints/checkpoint-6" and info.best_metric == 0.75
