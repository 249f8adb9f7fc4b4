"""The settings of one training run: a frozen dataclass with help text, defaults and validation.

Stored as JSON on the run row (``runs.config``) and read back by the worker, so every field is
a plain value. ``core.training.service`` builds it from a request (presets + user overrides).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.config import TRACKERS
from core.errors import ConfigError
from core.task_specs import MLP_TRAIN_DEFAULTS, SPECS  # noqa: F401 - MLP_TRAIN_DEFAULTS re-exported

PRESETS: dict[str, dict[str, Any]] = {
    # A first look in a few minutes on a laptop CPU.
    "quick": {"epochs": 1.0, "max_train_rows": 2000},
    # The full training set, a few epochs, best checkpoint by the validation metric.
    "full": {"epochs": 3.0, "max_train_rows": None},
}
LORA_TARGETS = ("attention", "all-linear")
DEVICE_CLASSES = ("any", "cpu", "gpu")  # what a run may train on; a worker takes only what it can run
MAX_PROCESSES = 64
# transformers' scheduler names offered: decay to zero, cosine, flat, or cut when validation stalls.
LR_SCHEDULERS = ("linear", "cosine", "constant", "reduce_lr_on_plateau")
# How a run learns: from examples of the answers (supervised), or from pairs of a preferred and a
# rejected answer to one prompt (preference: DPO through TRL, LoRA on top of a parent model).
SUPERVISED = "supervised"
PREFERENCE = "preference"
TRAINING_KINDS = (SUPERVISED, PREFERENCE)

# Defaults that differ by task, applied over the preset and under the user's own values.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {spec.task: dict(spec.train_defaults) for spec in SPECS}


def _f(default: Any, help: str, **kw: Any) -> Any:  # noqa: A002 - mirrors dataclasses.field
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class TrainConfig:
    """Everything the worker needs to train one run, besides the dataset and the base model."""

    preset: str = _f("full", "Quick look: 1 epoch on at most 2,000 training rows. Full: every row.")
    epochs: float = _f(3.0, "Passes over the training set (ignored when max steps is set).")
    max_steps: int | None = _f(None, "Stop after this many optimisation steps (overrides epochs).")
    batch_size: int = _f(16, "Examples per step. Smaller uses less memory; 16 suits a CPU.")
    learning_rate: float = _f(5e-5, "Step size of the optimiser. Lower it if the loss becomes NaN.")
    max_length: int = _f(128, "Longer texts are cut to this many tokens. Shorter is faster.")
    warmup_ratio: float = _f(0.06, "Share of the steps during which the learning rate ramps up.")
    lr_scheduler: str = _f("linear", "How the learning rate changes: 'linear' or 'cosine' decay to zero, "
                                     "'constant', or 'reduce_lr_on_plateau' (cut it when the validation "
                                     "metric stalls).")
    weight_decay: float = _f(0.01, "L2-style regularisation of the weights (AdamW).")
    seed: int = _f(42, "Random seed: the same seed and settings give the same run on a CPU.")
    eval_every: int | None = _f(None, "Evaluate (and checkpoint) every this many steps; "
                                      "empty means about five times per run.")
    max_train_rows: int | None = _f(None, "Use at most this many training rows (a random sample).")
    lora: bool = _f(False, "Train small LoRA adapters instead of every weight (less memory).")
    lora_rank: int = _f(8, "LoRA rank r: the size of the adapters.")
    lora_alpha: int = _f(16, "LoRA alpha: scales the adapters' contribution (often 2 × rank).")
    lora_target: str = _f("attention", "Layers that get adapters: 'attention' (query, value) "
                                       "or 'all-linear'.")
    early_stopping: bool = _f(False, "Stop when the validation metric has not improved "
                                     "for 'patience' evaluations.")
    early_stopping_patience: int = _f(3, "Evaluations without improvement before stopping.")
    save_total_limit: int = _f(2, "Checkpoints kept on disk (the best one is always kept).")
    eval_batch_size: int = _f(64, "Examples per batch when evaluating and predicting.")
    device: str = _f("any", "Where the run trains: 'any' worker, only a 'cpu' one, or only a 'gpu' one.")
    processes: int = _f(1, "Training processes (data parallel): one per GPU, or several CPU "
                           "processes; above 1 the worker starts them with accelerate launch.")
    report_to: list[str] | None = _f(None, "Trackers that receive this run's metrics: 'tensorboard' (event "
                                           "files in the run's folder) and/or 'mlflow'; empty: none; "
                                           "unset: the UCLAB_REPORT_TO default.")
    training_kind: str = _f(SUPERVISED, "'supervised' learns the answers of the examples; 'preference' "
                                        "learns to prefer the chosen answer of each pair over the rejected "
                                        "one (DPO).")
    beta: float = _f(0.1, "DPO beta: how far the model may move from its parent. Lower lets the "
                          "preferences change it more; 0.1 is the usual start.")
    parent_run_id: int | None = _f(None, "The finished causal-LM run a preference run starts from (its final "
                                         "weights); empty: the catalogue model.")
    task_options: dict[str, Any] = _f(None, "Task-specific settings (read by the task adapter).")
    debug: dict[str, Any] = _f(None, "Test hooks only: nan_at_step, step_sleep, fail_at_step.")

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise the two dict fields in place.
        object.__setattr__(self, "task_options", dict(self.task_options or {}))
        object.__setattr__(self, "debug", dict(self.debug or {}))
        if self.report_to is not None:  # a comma-separated string (CLI, forms) or a list
            names = self.report_to.split(",") if isinstance(self.report_to, str) else self.report_to
            object.__setattr__(self, "report_to", [n.strip().lower() for n in names
                                                   if n.strip() and n.strip().lower() != "none"])
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError with one sentence naming the first impossible setting."""
        if self.preset not in PRESETS:
            raise ConfigError(f"Unknown preset '{self.preset}'. Choose one of: {', '.join(PRESETS)}.")
        if self.max_steps is None and not (0 < self.epochs <= 1000):
            raise ConfigError("Epochs must be between 0 and 1000 (for example 3).")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("Max steps must be at least 1, or left empty to train by epochs.")
        if not 1 <= self.batch_size <= 4096:
            raise ConfigError("Batch size must be between 1 and 4096 (16 suits a CPU).")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 1e3):
            raise ConfigError("The learning rate must be a positive number (for example 5e-5).")
        if not 8 <= self.max_length <= 8192:
            raise ConfigError("Max length must be between 8 and 8192 tokens (128 suits short texts).")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError("Warmup must be a share of the steps between 0 and 1 (for example 0.06).")
        if not 0 <= self.weight_decay < 1:
            raise ConfigError("Weight decay must be between 0 and 1 (for example 0.01).")
        if self.eval_every is not None and self.eval_every < 1:
            raise ConfigError("The evaluation interval must be at least 1 step.")
        if self.max_train_rows is not None and self.max_train_rows < 1:
            raise ConfigError("Max training rows must be at least 1.")
        if self.lora and not (1 <= self.lora_rank <= 256 and 1 <= self.lora_alpha <= 1024):
            raise ConfigError("LoRA rank must be 1–256 and alpha 1–1024 (for example rank 8, alpha 16).")
        if self.lora_target not in LORA_TARGETS:
            raise ConfigError(f"LoRA target must be one of: {', '.join(LORA_TARGETS)}.")
        unknown = [t for t in self.report_to or [] if t not in TRACKERS]
        if unknown:
            raise ConfigError(f"Unknown tracker '{unknown[0]}'. Report to any of: {', '.join(TRACKERS)}.")
        if self.training_kind not in TRAINING_KINDS:
            raise ConfigError(f"The training kind must be one of: {', '.join(TRAINING_KINDS)}.")
        if not (isinstance(self.beta, int | float) and math.isfinite(self.beta) and 0 < self.beta <= 10):
            raise ConfigError("DPO beta must be a number above 0 and at most 10 (for example 0.1).")
        if self.training_kind == PREFERENCE and not self.lora:
            raise ConfigError("Preference training trains LoRA adapters on top of its parent; turn LoRA on.")
        if self.lr_scheduler not in LR_SCHEDULERS:
            raise ConfigError(f"The learning-rate schedule must be one of: {', '.join(LR_SCHEDULERS)}.")
        if self.early_stopping_patience < 1:
            raise ConfigError("Early-stopping patience must be at least 1 evaluation.")
        if not 1 <= self.save_total_limit <= 100:
            raise ConfigError("Checkpoints kept must be between 1 and 100.")
        if not 1 <= self.eval_batch_size <= 4096:
            raise ConfigError("The evaluation batch size must be between 1 and 4096.")
        if self.device not in DEVICE_CLASSES:
            raise ConfigError(f"The device must be one of: {', '.join(DEVICE_CLASSES)}.")
        if not isinstance(self.processes, int) or not 1 <= self.processes <= MAX_PROCESSES:
            raise ConfigError(f"Processes must be a whole number from 1 to {MAX_PROCESSES} "
                              "(1 trains in one process).")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from stored JSON, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_preset(cls, preset: str = "full", task: str | None = None, **overrides: Any) -> TrainConfig:
        """The preset's values, then the task's defaults, then every override that is not None."""
        if preset not in PRESETS:
            raise ConfigError(f"Unknown preset '{preset}'. Choose one of: {', '.join(PRESETS)}.")
        values: dict[str, Any] = {"preset": preset, **PRESETS[preset], **TASK_DEFAULTS.get(task or "", {})}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)


def field_help() -> dict[str, str]:
    """Help text of every setting, for form widgets and CLI --help."""
    return {f.name: f.metadata.get("help", "") for f in fields(TrainConfig)}
