"""The input preparation of a run: what the worker hands the engine, as one typed value.

``prepare_run`` reads the run and its dataset, samples and splits the frames, and finds the
folder and the checkpoint to resume from; the worker process (``core.training.worker``) trains
what it returns and gathers the evidence (``core.training.evidence``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import get_settings
from core.data import datasets
from core.entities import RunInfo
from core.models import catalog
from core.run_config import TrainConfig
from core.run_folder import STAGE_CONVERTING, STAGE_LOADING_DATA, STAGE_LOADING_MODEL, RunFolder
from core.store import runs
from core.training import crossval
from core.training.recorder import stage

VALIDATION_ROWS_DURING_TRAINING = 2000
FIT_ON = "fit_on"  # task option: "train+validation" trains on both splits (a sweep's final run)
SAMPLE_PROMPT_ROWS = 10  # the first validation rows, always among those checked during training


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to train: its facts, its task adapter, its split frames, the engine's inputs,
    its folder and the checkpoint to resume from (None: from the start)."""

    info: RunInfo
    adapter: Any                      # core.ml.tasks.base.TaskAdapter
    parts: dict[str, pd.DataFrame]    # train (sampled), validation and test
    inputs: Any                       # core.ml.tasks.base.TaskInputs
    folder: RunFolder
    resume: Path | None

    @property
    def config(self) -> TrainConfig:
        return self.inputs.config


def validation_during_training(validation: pd.DataFrame, seed: int,
                               limit: int = VALIDATION_ROWS_DURING_TRAINING) -> pd.DataFrame:
    """The validation rows checked during training: all of them, or `limit` of them in file order.

    The first rows are always kept (and stay first), so the sample prompts a causal LM answers
    at each evaluation are the first few validation rows, a rule a presenter can predict.
    """
    if len(validation) <= limit:
        return validation
    keep = min(SAMPLE_PROMPT_ROWS, limit)
    rest = validation.iloc[keep:].sample(n=limit - keep, random_state=seed).sort_index()
    return pd.concat([validation.iloc[:keep], rest])


def load_frames(dataset_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """The dataset's facts and its canonical frame (column ``split`` + task columns)."""
    info = datasets.get_dataset(dataset_id)
    return info.to_dict(), datasets.load_dataset_frame(dataset_id)


def split_frames(frame: pd.DataFrame, config: Any) -> dict[str, pd.DataFrame]:
    """train (sampled to max_train_rows with the run's seed), validation and test frames."""
    cv = (config.task_options or {}).get("cv") or {}
    if "train_rows" in cv:  # a cross-validation fold: its rows are in its config (core.training.crossval)
        parts = crossval.fold_split(frame, cv)
    else:
        parts = {name: frame[frame["split"] == name].reset_index(drop=True)
                 for name in ("train", "validation", "test")}
    if (config.task_options or {}).get(FIT_ON) == "train+validation":  # a sweep's final run
        parts["train"] = pd.concat([parts["train"], parts["validation"]], ignore_index=True)
    limit = config.max_train_rows
    if limit and len(parts["train"]) > limit:
        parts["train"] = parts["train"].sample(n=limit, random_state=config.seed).reset_index(drop=True)
    return parts


def trained_on(config: dict[str, Any], split: str) -> bool:
    """Whether a run's training rows include `split`'s: train always, validation for a sweep's final run."""
    return split == "train" or (split == "validation"
                                and (config.get("task_options") or {}).get(FIT_ON) == "train+validation")


def library_versions() -> dict[str, str]:
    """Versions that decide whether a run can be reproduced."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in ("torch", "transformers", "peft", "accelerate", "scikit-learn", "tokenizers"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def process_rank() -> int:
    """This process's rank among a run's training processes (0 when it trains alone)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def base_model_dir(model_key: str, config: TrainConfig) -> Path:
    """The weights a run starts from: its parent run's final model (LoRA merged) for a run trained on top
    of another (a preference run), else the catalogue model."""
    if config.parent_run_id is not None:
        from core.inference.generation import merge_lora

        return Path(merge_lora(int(config.parent_run_id)))
    return Path(catalog.model_path(model_key))


def prepare_run(run_id: int, *, main: bool) -> PreparedRun:
    """The run's facts, adapter, split frames, task inputs, folder and checkpoint to resume from.

    `main`: this is the process that records the run (rank 0); the others only read.
    """
    from core.ml import device as devices
    from core.ml.tasks.base import TaskInputs
    from core.ml.tasks.registry import get_adapter

    settings = get_settings()
    info = runs.get_run(run_id)
    config = TrainConfig.from_dict(info.config)
    folder = RunFolder.of(settings.runs_dir, run_id)
    folder.root.mkdir(parents=True, exist_ok=True)
    if main:
        choice = devices.choose()
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        device = choice.name + (f" × {world} processes" if world > 1 else "")
        runs.update_progress(run_id, library_versions=library_versions(), device=device,
                             output_dir=settings.relative(folder.root))
    adapter = get_adapter(info.task, config.training_kind)
    if main:
        stage(run_id, STAGE_LOADING_DATA)
    dataset, frame = load_frames(info.dataset_id)
    parts = split_frames(frame, config)
    validation = validation_during_training(parts["validation"], config.seed)
    if main:
        ready = next((m.ready for m in catalog.list_models() if m.key == info.model_key), True)
        stage(run_id, STAGE_LOADING_MODEL if ready else STAGE_CONVERTING)
    inputs = TaskInputs(task=info.task, train=parts["train"], validation=validation, test=parts["test"],
                        model_dir=base_model_dir(info.model_key, config), config=config,
                        dataset_info=dataset, model_key=info.model_key)
    return PreparedRun(info, adapter, parts, inputs, folder, folder.last_checkpoint())
