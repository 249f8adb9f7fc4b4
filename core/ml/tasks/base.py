"""The task-adapter interface: what a task must provide to be trained, evaluated and served.

The training engine (``core/ml/trainer.py``, run by ``core/training/worker.py``) is task-agnostic. It
loads the dataset's canonical frames, asks the task's adapter to build a model and features,
trains with the Hugging Face ``Trainer`` (checkpoints, best model, cancel, NaN guard, resume),
then asks the adapter to evaluate and to save. Everything task-specific lives in the adapter.

How to add a task (e.g. ``token-classification``)
-------------------------------------------------
1. Create ``core/ml/tasks/<module>.py`` with a subclass of ``TaskAdapter``, decorated with
   ``@register("your-task")``, and import the module in ``core/ml/tasks/registry.py``.
2. Implement ``build(inputs) -> TaskBundle``: load the model with the right head from
   ``inputs.model_dir`` (offline, safetensors only, never ``trust_remote_code``), tokenise
   ``inputs.train`` / ``inputs.validation`` into lists of feature dicts (use ``FeatureDataset``;
   the features need ``input_ids`` so length grouping works), pick a data collator that pads
   dynamically, and return ``compute_metrics`` plus the key (without the ``eval_`` prefix) of
   the metric that selects the best checkpoint and whether greater is better.
   ``inputs.config`` is the validated ``core.run_config.TrainConfig``; task-specific settings
   go in ``config.task_options``.
3. Implement ``evaluate(model, processing_class, frame, meta, config)`` ->
   ``(metrics, predictions)``: plain float metrics (nested dicts/lists are fine for curves:
   they are stored as JSON) and one row per example.
4. Optionally override ``save``/``load`` (defaults: ``save_pretrained`` of model and tokenizer +
   ``task.json`` with ``meta``), ``baselines`` (simple models trained on the same train split,
   shown beside the run), ``check`` (refuse a dataset that cannot train, with a ``ConfigError``)
   and ``lora_task_type`` (a ``peft.TaskType`` name; ``None`` disables LoRA for the task).
5. Add ``tests/core/ml/test_<module>.py`` training a tiny model built from a config through the
   service (``training.start_run`` with ``worker.InlineLauncher``); ``tests/training_data.py``
   and ``tests/tiny_models.py`` have the helpers, ``tests/core/ml/test_trainer.py`` shows the pattern.

What the engine gives every task: the run's progress, heartbeat and metrics reported to the run's
recorder (``core.run_folder.RunRecorder``; the worker's one writes the database), the final model in
the run folder's ``model/`` (``core.run_folder.RunFolder``, via ``save``), and evaluations
stored with ``core.results.evaluation.store_evaluation`` for the test and validation splits plus each
baseline (``evaluations`` rows + predictions Parquet), read back by ``get_evaluation``.

The engine applies LoRA (``config.lora``), bf16, threads, length grouping, evaluation and
checkpoint intervals, early stopping and resume itself; adapters do not touch those.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from core.run_config import TrainConfig

META_FILE = "task.json"
_REGISTRY: dict[str, type[TaskAdapter]] = {}


@dataclass(frozen=True)
class TaskInputs:
    """What the engine hands an adapter: the split frames, the base model folder and the config."""

    task: str
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    model_dir: Path
    config: TrainConfig
    dataset_info: dict[str, Any] = field(default_factory=dict)
    model_key: str = ""   # the catalogue key, for tasks offering several models (tabular)


@dataclass
class TaskBundle:
    """What an adapter builds for the Trainer.

    ``meta`` is saved next to the final model (``task.json``) and handed back to ``evaluate``
    and ``load``: put the label names, the problem type, the max length there.
    """

    model: Any
    processing_class: Any
    train_dataset: Any
    eval_dataset: Any
    data_collator: Any
    compute_metrics: Callable[[Any], dict[str, float]] | None
    metric_for_best_model: str
    greater_is_better: bool
    meta: dict[str, Any] = field(default_factory=dict)
    # Extra TrainerCallbacks of the task, run before the engine's (they may add keys to the
    # evaluation metrics, e.g. perplexity, before those are stored).
    callbacks: list[Any] = field(default_factory=list)
    # False where bf16 autocast gains nothing and costs accuracy (a small MLP from scratch).
    bf16: bool = True
    # True when `build` already fitted the model (a scikit-learn estimator): the Trainer is skipped.
    fitted: bool = False
    # A task trained by another Trainer (TRL's DPO): its class (taking the engine's `signals` and
    # `debug`, see core.ml.trainer.StepGuard), its arguments class, the values it adds to or changes in
    # the engine's arguments, and extra constructor arguments (a `peft_config`: the trainer applies LoRA).
    trainer_class: Any = None
    arguments_class: Any = None
    arguments: dict[str, Any] = field(default_factory=dict)
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)


class FeatureDataset:
    """A list of feature dicts (``input_ids``, ``attention_mask``, ``labels`` ...) as a torch Dataset.

    The Trainer's length-grouped sampler reads ``len(item["input_ids"])`` from each item.
    """

    def __init__(self, features: Sequence[dict[str, Any]]) -> None:
        self.features = list(features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


class TaskAdapter(ABC):
    """One task's model head, features, metrics, evaluation and persistence."""

    task: ClassVar[str] = ""
    # peft.TaskType name used when config.lora is set; None means LoRA is not offered.
    lora_task_type: ClassVar[str | None] = "SEQ_CLS"

    def check(self, inputs: TaskInputs) -> None:  # noqa: B027 - optional hook
        """Raise ConfigError when the data cannot train this task (default: accept)."""

    @abstractmethod
    def build(self, inputs: TaskInputs) -> TaskBundle:
        """Load the model with this task's head and turn the train/validation frames into features."""

    @abstractmethod
    def evaluate(self, model: Any, processing_class: Any, frame: pd.DataFrame,
                 meta: dict[str, Any], config: TrainConfig) -> tuple[dict[str, Any], pd.DataFrame]:
        """Metrics on one split and a predictions frame with one row per example."""

    def baselines(self, train: pd.DataFrame, test: pd.DataFrame
                  ) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
        """(name, metrics, predictions) of simple models trained on the same split (default none)."""
        return []

    def save(self, model: Any, processing_class: Any, output_dir: Path, meta: dict[str, Any]) -> None:
        """Write the final model, its tokenizer and ``task.json`` (safetensors only)."""
        output_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(output_dir)
        if processing_class is not None:
            processing_class.save_pretrained(output_dir)
        (output_dir / META_FILE).write_text(json.dumps({"task": self.task, **meta}, indent=2))

    def load(self, output_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
        """(model, processing_class, meta) of a saved run, ready for inference on the CPU/GPU."""
        raise NotImplementedError(f"The task '{self.task}' cannot be loaded for inference yet.")


def read_meta(output_dir: Path) -> dict[str, Any]:
    """The ``task.json`` saved next to a final model (empty when missing)."""
    path = output_dir / META_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def register(*tasks: str) -> Callable[[type[TaskAdapter]], type[TaskAdapter]]:
    """Class decorator: make ``get_adapter(task)`` return an instance of this class."""

    def wrap(cls: type[TaskAdapter]) -> type[TaskAdapter]:
        for task in tasks:
            _REGISTRY[task] = cls
        return cls

    return wrap
