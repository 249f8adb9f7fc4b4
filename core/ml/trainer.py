"""The training engine: a Hugging Face Trainer built from a run's config and its task adapter.

Speed on a CPU comes from dynamic padding (the adapter's collator), length-grouped batches,
every core for torch, and bf16 autocast only where the hardware has it (``core.ml.device``).
Robustness comes from complete-marked safetensors checkpoints at every evaluation, the best
checkpoint kept by the validation metric, cooperative cancel and a NaN/inf loss guard.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    EarlyStoppingCallback,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
    set_seed,
)
from transformers.utils import logging as hf_logging

from core.config import get_settings
from core.errors import CheckpointError, ConfigError
from core.ml import device as devices
from core.ml import tracking
from core.ml.callbacks import NAN_MESSAGE, TERMINATE, ProgressCallback, RecorderAware, RunSignals
from core.ml.tasks.base import TaskAdapter, TaskBundle, TaskInputs
from core.run_config import TrainConfig
from core.run_folder import STAGE_BUILDING, STAGE_TRAINING, RunFolder, RunRecorder

EVALUATIONS_PER_RUN = 5
LOSS_POINTS_PER_RUN = 50


@dataclass(frozen=True)
class StepPlan:
    """How long a run trains and how often it evaluates, checkpoints and logs."""

    total_steps: int
    eval_every: int
    log_every: int
    steps_per_epoch: int


@dataclass
class TrainOutcome:
    """How training ended, and the model to save when it succeeded."""

    status: str            # "succeeded" | "cancelled" | "failed"
    reason: str
    global_step: int
    best_metric: float | None
    model: Any = None
    bundle: TaskBundle | None = None


def plan_steps(n_train: int, config: TrainConfig, world_size: int = 1) -> StepPlan:
    """Total steps from epochs (or max steps), an evaluation about five times per run, ~50 loss points.

    With several processes each optimizer step sees `world_size` batches, so an epoch has fewer steps.
    """
    per_epoch = max(1, math.ceil(n_train / (config.batch_size * max(1, world_size))))
    total = config.max_steps or max(1, math.ceil(config.epochs * per_epoch))
    default_every = max(1, math.ceil(total / EVALUATIONS_PER_RUN))
    if config.early_stopping or config.lr_scheduler == "reduce_lr_on_plateau":
        # Both judge the validation metric: look at it at least once per epoch.
        default_every = min(default_every, per_epoch)
    eval_every = min(config.eval_every or default_every, total)
    log_every = max(1, min(eval_every, total // LOSS_POINTS_PER_RUN))
    return StepPlan(total_steps=total, eval_every=eval_every, log_every=log_every, steps_per_epoch=per_epoch)


class StopSync(TrainerCallback):
    """With several processes, every rank stops at the same step: a cancel or a termination signal
    seen by any rank (the main one reads the database), or a NaN loss on any rank, stops them all;
    otherwise the others would wait forever in the next gradient exchange."""

    def __init__(self, signals: RunSignals) -> None:
        self.signals = signals

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> TrainerControl:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return control
        flags = torch.tensor([int(self.signals.cancelled or TERMINATE.is_set()),
                              self.signals.nonfinite_step or 0], dtype=torch.int64)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        stop, nonfinite = (int(v) for v in flags.tolist())
        if nonfinite:
            self.signals.nonfinite_step = self.signals.nonfinite_step or nonfinite
            control.should_training_stop = True
            control.should_save = control.should_evaluate = False
        elif stop:
            self.signals.cancelled = True
            control.should_training_stop = control.should_save = True
        return control


class StepGuard:
    """Flags a NaN/inf loss (and runs the tests' fault hooks) at each step of a Trainer (a mixin,
    first in the bases: ``GuardedTrainer`` here, the preference trainer over TRL's)."""

    def __init__(self, *args: Any, signals: RunSignals, debug: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signals = signals
        self.debug = debug or {}

    def training_step(self, model: Any, inputs: Any, num_items_in_batch: Any = None) -> torch.Tensor:
        step = self.state.global_step + 1
        if self.debug.get("raise_at_step") == step:
            if self.debug.get("raise") == "oom":
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (test hook)")
            raise RuntimeError(f"Injected failure at step {step} (test hook)")
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.debug.get("nan_at_step") == step:
            loss = loss * float("nan")
        if self.signals.nonfinite_step is None and not bool(torch.isfinite(loss).all()):
            self.signals.nonfinite_step = step
        return loss


class GuardedTrainer(StepGuard, Trainer):
    """A Trainer that flags a NaN/inf loss (and runs the tests' fault hooks) at each step."""


def lora_targets(model: Any, target: str) -> Any:
    """'all-linear', or peft's own default modules for this architecture (its query/value
    projections); 'all-linear' where peft names none for the model type."""
    if target == "all-linear":
        return "all-linear"
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    names = DEFAULTS.get(getattr(getattr(model, "config", None), "model_type", None) or "")
    return list(names) if names else "all-linear"


def apply_lora(model: Any, config: TrainConfig, task_type: str | None) -> Any:
    """Wrap the model with LoRA adapters (the task head stays fully trainable)."""
    from peft import LoraConfig, TaskType, get_peft_model

    if task_type is None:
        raise ConfigError("LoRA is not available for this task; train every weight instead.")
    lora = LoraConfig(task_type=TaskType[task_type], r=config.lora_rank, lora_alpha=config.lora_alpha,
                      lora_dropout=0.1, target_modules=lora_targets(model, config.lora_target))
    return get_peft_model(model, lora)


def plateau_kwargs(config: TrainConfig, bundle: TaskBundle) -> dict[str, Any]:
    """ReduceLROnPlateau settings: halve the rate after half the early-stopping patience."""
    if config.lr_scheduler != "reduce_lr_on_plateau":
        return {}
    return {"mode": "max" if bundle.greater_is_better else "min", "factor": 0.5,
            "patience": max(1, config.early_stopping_patience // 2)}


def build_arguments(config: TrainConfig, bundle: TaskBundle, plan: StepPlan, checkpoints_dir: Path,
                    choice: devices.DeviceChoice,
                    trackers: tracking.TrackingPlan | None = None) -> TrainingArguments:
    """TrainingArguments for a run: steps-based evaluation and checkpoints, best model kept (the task's
    own arguments class and values where its bundle names them, e.g. TRL's DPOConfig and its beta)."""
    values: dict[str, Any] = dict(
        output_dir=str(checkpoints_dir),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of the steps
        lr_scheduler_type=config.lr_scheduler,
        lr_scheduler_kwargs=plateau_kwargs(config, bundle),
        max_steps=plan.total_steps,
        eval_strategy="steps", eval_steps=plan.eval_every,
        save_strategy="steps", save_steps=plan.eval_every,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model=bundle.metric_for_best_model,
        greater_is_better=bundle.greater_is_better,
        logging_strategy="steps", logging_steps=plan.log_every,
        logging_nan_inf_filter=False,  # the NaN guard and the loss chart must see NaN losses
        train_sampling_strategy="group_by_length",
        bf16=choice.bf16 and bundle.bf16,
        use_cpu=choice.device == "cpu",
        dataloader_pin_memory=choice.device == "cuda",
        dataloader_num_workers=0,
        seed=config.seed,
        # Each process's loss is its own batch mean and DDP averages the gradients; the token-count
        # scaling would multiply the logged loss by the number of processes.
        average_tokens_across_devices=False,
        report_to=(trackers.report_to if trackers and trackers.report_to else "none"),
        run_name=trackers.run_name if trackers and trackers.run_name else None,
        disable_tqdm=True,
    )
    values.update(bundle.arguments)
    return (bundle.arguments_class or TrainingArguments)(**values)


def checkpoint_step(checkpoint: Path) -> int:
    """The global step a ``checkpoint-N`` folder was saved at."""
    return int(checkpoint.name.rsplit("-", 1)[1])


def train_from(trainer: Trainer, resume_from: Path | None) -> None:
    """Train, resuming from a checkpoint when given one; a checkpoint holding pickled objects other
    than plain tensors is refused with a sentence (torch's weights-only loader stops it)."""
    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except Exception as exc:
        if resume_from is None or not untrusted_pickle(exc):
            raise
        run = resume_from.parent.parent.name
        raise CheckpointError(
            f"The checkpoint {resume_from.name} of run {run} is not trusted: it holds pickled data "
            "other than plain tensors, so it was not loaded. Start a new run with the same settings "
            f"to train from scratch (or delete runs/{run}/checkpoints in UCLAB_HOME and resume).") from exc


def untrusted_pickle(exc: BaseException) -> bool:
    """Whether loading a file failed because it holds objects outside torch's weights-only set."""
    while exc is not None:
        if type(exc).__name__ == "UnpicklingError" or "weights_only" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def load_finished(trainer: Trainer, checkpoint: Path) -> None:
    """Restore the state and the best weights of a run whose final step is already checkpointed
    (safetensors and JSON only), so resuming it trains no extra step."""
    from transformers import TrainerState

    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    best = trainer.state.best_model_checkpoint
    folder = checkpoint.parent / Path(best).name if best else checkpoint
    trainer._load_from_checkpoint(str(folder if folder.is_dir() else checkpoint))


def train(run: RunFolder, inputs: TaskInputs, adapter: TaskAdapter, recorder: RunRecorder, *,
          resume_from: Path | None = None, elapsed_before: float = 0.0,
          log: Any = print, device: str | None = None) -> TrainOutcome:
    """Train one run to its end, a cancel or a NaN; the caller saves and evaluates the outcome.

    The engine is handed its run: the folder it writes checkpoints to and the recorder it reports
    progress, metrics and checkpoints to (and asks about cancel); it never opens the database.
    On an Apple GPU that lacks an operation the model needs, the run starts again on the CPU.
    """
    try:
        return _train(run, inputs, adapter, recorder, resume_from=resume_from,
                      elapsed_before=elapsed_before, log=log, device=device)
    except Exception as exc:
        on_mps = device is None and devices.choose_device() == "mps"
        if not on_mps or not devices.is_missing_mps_operation(exc):
            raise
        log(devices.mps_fallback_sentence(exc))
        return _train(run, inputs, adapter, recorder, resume_from=None, elapsed_before=elapsed_before,
                      log=log, device="cpu")


def _train(run: RunFolder, inputs: TaskInputs, adapter: TaskAdapter, recorder: RunRecorder, *,
           resume_from: Path | None, elapsed_before: float, log: Any, device: str | None) -> TrainOutcome:
    config = inputs.config
    hf_logging.disable_progress_bar()  # progress bars would fill the worker log
    choice = devices.choose(device)
    set_seed(config.seed)
    adapter.check(inputs)
    recorder.progress(summary={"stage": STAGE_BUILDING})
    bundle = adapter.build(inputs)
    if bundle.fitted:  # a scikit-learn model, fitted by the adapter: no steps for the Trainer
        log(f"Device: cpu; fitted {type(bundle.model).__name__} on {len(bundle.train_dataset)} "
            "training rows.")
        return TrainOutcome("succeeded", "", 1, None, model=bundle.model, bundle=bundle)
    model = bundle.model
    if config.lora and "peft_config" not in bundle.trainer_kwargs:  # else the task's trainer wraps it
        model = apply_lora(model, config, adapter.lora_task_type)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log(f"LoRA: {trainable:,} trainable parameters (rank {config.lora_rank}).")
    world_size = max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))  # set by accelerate launch
    plan = plan_steps(len(bundle.train_dataset), config, world_size)
    wanted = config.report_to if config.report_to is not None else list(get_settings().report_to)
    trackers = tracking.plan_tracking(wanted, run.run_id, run.root, get_settings().mlflow_target, log)
    args = build_arguments(config, bundle, plan, run.checkpoints, choice, trackers)
    signals = RunSignals()
    callbacks: list[Any] = [ProgressCallback(recorder, signals, batch_size=config.batch_size * world_size,
                                             elapsed_before=elapsed_before,
                                             step_sleep=float(config.debug.get("step_sleep", 0)))]
    for own in bundle.callbacks:  # the task's own callbacks (e.g. causal-LM sample answers) first
        if isinstance(own, RecorderAware):
            own.recorder = recorder
    callbacks[:0] = bundle.callbacks
    if config.early_stopping:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    if "mlflow" in trackers.report_to:
        callbacks.append(tracking.mlflow_run_recorder(run.root, trackers.info))
    callbacks.append(StopSync(signals))  # last: it sees what every other callback decided
    for name, info in trackers.info.items():
        where = info.get("folder") or f"{info.get('tracking_uri')}, experiment {info.get('experiment')}"
        log(f"Reporting to {name}: {where}.")
    with tracking.tracking_env(trackers):  # the integrations read it when built and when training starts
        trainer = (bundle.trainer_class or GuardedTrainer)(
            model=model, args=args, train_dataset=bundle.train_dataset, eval_dataset=bundle.eval_dataset,
            data_collator=bundle.data_collator, processing_class=bundle.processing_class,
            compute_metrics=bundle.compute_metrics, callbacks=callbacks, signals=signals, debug=config.debug,
            **bundle.trainer_kwargs)
        if "peft_config" in bundle.trainer_kwargs:
            trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
            log(f"LoRA: {trainable:,} trainable parameters (rank {config.lora_rank}).")
        trainer.remove_callback(PrinterCallback)  # progress goes to the database, not stdout
        log(f"Device: {choice.name}; {len(bundle.train_dataset)} training rows, {plan.total_steps} steps, "
            f"evaluation every {plan.eval_every}.")
        if resume_from is not None and checkpoint_step(resume_from) >= plan.total_steps:
            log(f"The last complete checkpoint ({resume_from.name}) is the final step: nothing is "
                "left to train.")
            load_finished(trainer, resume_from)
        else:
            recorder.progress(summary={"stage": STAGE_TRAINING})
            train_from(trainer, resume_from)
    state = trainer.state
    best = state.best_metric
    if signals.nonfinite_step is not None:
        return TrainOutcome("failed", NAN_MESSAGE.format(step=signals.nonfinite_step),
                            state.global_step, best)
    if signals.cancelled:
        how = "Stopped by a termination signal" if TERMINATE.is_set() else "Cancelled"
        return TrainOutcome("cancelled", f"{how} at step {state.global_step}; resume to continue.",
                            state.global_step, best)
    if state.global_step < plan.total_steps:
        log(f"Stopped early at step {state.global_step}: the validation {bundle.metric_for_best_model} "
            f"did not improve for {config.early_stopping_patience} evaluations.")
    final = trainer.model
    if config.lora:
        final = final.merge_and_unload()
    return TrainOutcome("succeeded", "", state.global_step, best, model=final, bundle=bundle)
