"""Preference runs (DPO): what a person asks for, the checks, and the run a preference dataset came from.

A preference run is a causal-LM run whose config says ``training_kind: "preference"``; it trains LoRA
adapters on top of a parent (a finished causal-LM run's final weights, or a catalogue model) on a
preference dataset version (``core.data.preferences``). Its ``model_key`` is the parent's catalogue
model, so the GGUF conversion and the exports know the architecture; its weights start from the
parent's (``core.training.prepare.base_model_dir``).
"""

from __future__ import annotations

from typing import Any

from core.data.datasets import get_dataset
from core.data.preferences import is_preference
from core.entities import DatasetInfo, RunInfo
from core.errors import ConfigError
from core.models import catalog
from core.run_config import PREFERENCE, TrainConfig
from core.store import runs
from core.task_specs import generates_text, preference_defaults
from core.training.request import TrainRequest

# The keys of a preference dataset's facts (info["preference"]) that may name the run whose answers
# were judged (references: run_id; a review: its two models, "run:N" or a catalogue key); the first
# finished causal-LM run found is the default parent.
RUN_KEYS = ("parent_run_id", "run_id", "run_ids", "runs", "model_a", "model_b")


def is_preference_dataset(info: DatasetInfo) -> bool:
    """Whether a dataset version holds preference pairs (``core.data.preferences.is_preference``)."""
    return is_preference(info)


def default_parent(dataset_id: int) -> int | None:
    """The finished causal-LM run the pairs came from, when the dataset's facts name one."""
    facts = dict((get_dataset(dataset_id).info or {}).get("preference") or {})
    for key in RUN_KEYS:
        value = facts.get(key)
        candidates = value if isinstance(value, list | tuple) else [value]
        for candidate in candidates:
            text = str(candidate or "").removeprefix("run:")
            if text.isdigit() and any(r.id == int(text) for r in parent_runs()):
                return int(text)
    return None


def parent_runs() -> list[RunInfo]:
    """The runs a preference run can start from: finished runs of a task that writes text, newest first."""
    return [r for r in runs.list_runs(status="succeeded", limit=500) if generates_text(r.task)]


def parent_options(dataset_id: int) -> tuple[dict[str, str], str | None]:
    """What a preference run can start from, as {reference: label} (``run:N`` for a finished run, a
    catalogue key for a chat model), and the default: the run the pairs came from, else the newest run,
    else the first chat model."""
    options = {f"run:{r.id}": f"Run {r.id}" + (f" · {r.name}" if r.name else "") + f" ({r.model_key})"
               for r in parent_runs()}
    options.update({m.key: f"{m.name} (catalogue)" for m in catalog.list_models() if m.family == "causal-lm"})
    found = default_parent(dataset_id)
    default = f"run:{found}" if found is not None else next(iter(options), None)
    return options, default


def parent_of(reference: str) -> dict[str, Any]:
    """``run:N`` -> {"parent_run_id": N}; a catalogue key -> {"model_key": key} (preference_request's
    words)."""
    text = str(reference or "")
    if text.startswith("run:") and text[4:].isdigit():
        return {"parent_run_id": int(text[4:])}
    return {"model_key": text}


def check_parent(parent_run_id: int) -> RunInfo:
    """The parent run, or a ConfigError saying why it cannot be one."""
    parent = runs.get_run(int(parent_run_id))  # NotFoundError: "Run N does not exist."
    if not generates_text(parent.task):
        raise ConfigError(f"Run {parent.id} trained a {parent.task} model; preference training starts from a "
                          "finished causal-LM run (or a catalogue chat model).")
    if parent.status != "succeeded":
        raise ConfigError(f"Run {parent.id} is {parent.status}; preference training starts from a run that "
                          "finished (succeeded).")
    return parent


def preference_request(dataset_id: int, *, parent_run_id: int | None = None, model_key: str | None = None,
                       name: str = "", created_by: str = "", **settings: Any) -> TrainRequest:
    """A preference (DPO) run of a preference dataset on top of a finished run or a catalogue model.

    `settings`: TrainConfig values over the task's preference defaults (beta, learning_rate, max_steps,
    max_length, lora_rank, batch_size...; None keeps the default). Raises ConfigError with one sentence
    for a dataset without pairs, a parent that is not a finished causal-LM run, or neither parent given.
    """
    dataset = get_dataset(int(dataset_id))
    if not is_preference_dataset(dataset):
        raise ConfigError(f"The dataset '{dataset.label}' holds no preference pairs (prompt, chosen, "
                          "rejected); build pairs from a review or upload them, then train on that dataset.")
    if parent_run_id is not None and model_key:
        raise ConfigError("Start a preference run from a finished run or from a catalogue model, not both.")
    if parent_run_id is not None:
        model_key = check_parent(int(parent_run_id)).model_key
    elif not model_key:
        raise ConfigError("Choose the model the preferences train: a finished causal-LM run (--from-run) "
                          "or a catalogue chat model (--model).")
    else:
        info = catalog.get_model(model_key)
        if info.family != "causal-lm":
            raise ConfigError(f"The model '{info.name}' cannot write text; choose a chat model such as "
                              f"{catalog.SMOLLM2_KEY}.")
    values = {**preference_defaults(dataset.task), **{k: v for k, v in settings.items() if v is not None}}
    if int(values.get("lora_rank", 8)) and "lora_alpha" not in settings:
        values["lora_alpha"] = 2 * int(values["lora_rank"])
    config = TrainConfig.from_dict({"preset": "full", **values, "training_kind": PREFERENCE, "lora": True,
                                    "parent_run_id": parent_run_id})
    return TrainRequest(dataset_id=dataset.id, model_key=str(model_key), config=config, task=dataset.task,
                        name=name, created_by=created_by)


def check_preference_request(request: TrainRequest) -> None:
    """The checks of a preference run queued by any path (a request built by hand included)."""
    if request.config.training_kind != PREFERENCE:
        return
    dataset = get_dataset(request.dataset_id)
    if not is_preference_dataset(dataset):
        raise ConfigError(f"The dataset '{dataset.label}' holds no preference pairs (prompt, chosen, "
                          "rejected); choose a preference dataset for preference training.")
    if request.config.parent_run_id is not None:
        parent = check_parent(request.config.parent_run_id)
        if parent.model_key != request.model_key:
            raise ConfigError(f"Run {parent.id} was trained from {parent.model_key}, not "
                              f"{request.model_key}.")
