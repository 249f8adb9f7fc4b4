"""Trainer callbacks that report a run to its recorder and stop it on cancel or a NaN loss.

The engine never writes the database itself: it is handed a ``core.run_folder.RunRecorder``
(``core.training.recorder.StoreRecorder`` over the store in the worker).

Only ``control`` may be changed by a callback (transformers' contract): cancel sets
``should_training_stop`` and ``should_save`` so the stop leaves a checkpoint to resume from.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from core.run_folder import PrintRecorder, RunRecorder, mark_complete

PROGRESS_EVERY_S = 1.0
ETA_WINDOW = 50  # the time left is the median of the last 50 step times (plus the evaluations left)
NAN_MESSAGE = ("The training loss became NaN at step {step}. "
               "Try a lower learning rate (for example 2e-5).")


# Set by the worker's SIGTERM handler (no I/O in a signal handler): stop like a cancel.
TERMINATE = threading.Event()


@dataclass
class RunSignals:
    """What ended training early, shared by the guarded Trainer and the callback."""

    nonfinite_step: int | None = None   # the step whose loss was NaN or infinite
    cancelled: bool = False


class RecorderAware:
    """A task's own callback that reports through the run's recorder (the engine sets it)."""

    recorder: RunRecorder = PrintRecorder()


class ProgressCallback(TrainerCallback):
    """Reports step, epoch, speed, ETA, heartbeat, metrics and checkpoints of one run to its recorder."""

    def __init__(self, recorder: RunRecorder, signals: RunSignals, *, batch_size: int,
                 elapsed_before: float = 0.0, step_sleep: float = 0.0) -> None:
        self.recorder = recorder
        self.signals = signals
        self.batch_size = batch_size
        self.elapsed_before = elapsed_before
        self.step_sleep = step_sleep  # test hook: slows steps so fault tests can act mid-run
        self._start = time.monotonic()
        self._first_step = 0
        self._last_write = 0.0
        self._last_step_end: float | None = None
        self._steps: deque[float] = deque(maxlen=ETA_WINDOW)   # seconds of plain training steps
        self._pauses: deque[float] = deque(maxlen=ETA_WINDOW)  # a step plus the evaluation/save after it
        self._paused = False

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._start = time.monotonic()
        self._last_step_end = self._start
        self._first_step = state.global_step
        self.recorder.progress(total_steps=int(state.max_steps), step=int(state.global_step))
        self.recorder.log(f"Training {state.max_steps} steps"
                     + (f", resuming at step {state.global_step}" if state.global_step else "") + ".")

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> TrainerControl:
        if self.step_sleep:
            time.sleep(self.step_sleep)
        if self.signals.nonfinite_step is not None:
            # Never checkpoint or evaluate weights that a NaN update has already damaged.
            control.should_training_stop = True
            control.should_save = control.should_evaluate = False
            return control
        if not state.is_world_process_zero:
            return control
        now = time.monotonic()
        self.step_took(now)
        if now - self._last_write >= PROGRESS_EVERY_S or state.global_step >= state.max_steps:
            self._last_write = now
            cancel = self.recorder.progress(**self._progress(state, now))
        else:
            cancel = self.recorder.cancel_requested()
        if (cancel or TERMINATE.is_set()) and not self.signals.cancelled:
            self.signals.cancelled = True
            control.should_training_stop = True
            control.should_save = True
            why = "Cancel requested" if cancel else "Termination signal received"
            self.recorder.log(f"{why}: saving a checkpoint at step {state.global_step}.")
        return control

    def step_took(self, now: float) -> None:
        """Record the time since the last step ended: a plain step, or one followed by an evaluation or
        a checkpoint (those are counted apart, so neither a slow first step nor a pause swings the ETA)."""
        if self._last_step_end is not None:
            (self._pauses if self._paused else self._steps).append(now - self._last_step_end)
        self._last_step_end, self._paused = now, False

    def eta(self, steps_left: int, pauses_left: int) -> float | None:
        """Seconds left: the median step time over the last ETA_WINDOW steps for the steps left, plus the
        evaluations/checkpoints left at what each one has cost beyond a step so far."""
        if not self._steps:
            return None
        step = statistics.median(self._steps)
        pause = max(0.0, statistics.fmean(self._pauses) - step) if self._pauses else 0.0
        return steps_left * step + pauses_left * pause

    def _progress(self, state: TrainerState, now: float) -> dict[str, Any]:
        elapsed = now - self._start
        done = state.global_step - self._first_step
        steps_per_s = done / elapsed if elapsed > 0 and done > 0 else None
        steps_left = max(0, int(state.max_steps) - int(state.global_step))
        every = int(getattr(state, "eval_steps", 0) or 0) or int(getattr(state, "save_steps", 0) or 0)
        eta = self.eta(steps_left, steps_left // every if every else 0)
        return {"step": int(state.global_step), "epoch": float(state.epoch or 0.0),
                "samples_per_second": steps_per_s * self.batch_size if steps_per_s else None,
                "eta_seconds": eta, "elapsed_seconds": self.elapsed_before + elapsed}

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        logs = {k: v for k, v in logs.items() if k not in ("total_flos", "epoch")}
        if "train_runtime" in logs or any(k.startswith("eval_") for k in logs):
            return  # the end-of-training summary, and evaluations (stored by on_evaluate)
        self.recorder.metrics(state.global_step, state.epoch, "train", logs)

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not metrics:
            return
        values = {k.removeprefix("eval_"): v for k, v in metrics.items()
                  if k not in ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "epoch")}
        self.recorder.metrics(state.global_step, state.epoch, "validation", values)
        self.recorder.heartbeat()
        self._paused = True  # the time until the next step's end includes this evaluation

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._paused = True
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not checkpoint.is_dir():
            return
        mark_complete(checkpoint)
        best = state.best_metric
        self.recorder.checkpoint_saved(checkpoint, float(best) if best is not None and math.isfinite(best)
                                       else None)
        self.recorder.log(f"Checkpoint saved at step {state.global_step}.")
