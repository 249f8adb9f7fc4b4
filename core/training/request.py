"""What a person asks to train, and the checks every way of starting a run shares (a single run,
cross-validation, a learning curve)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.data.datasets import dataset_file, get_dataset
from core.data.preferences import is_preference
from core.entities import TASKS, DatasetInfo
from core.errors import ConfigError
from core.models import catalog
from core.run_config import PREFERENCE, TrainConfig
from core.tasks.tabular import mlp_options


@dataclass(frozen=True)
class TrainRequest:
    """What a person asks for: a dataset version, a catalogue model and the settings."""

    dataset_id: int
    model_key: str
    config: TrainConfig = field(default_factory=TrainConfig)
    task: str | None = None    # defaults to the dataset's task
    name: str = ""
    created_by: str = ""       # the signed-in person who asked (empty without sign-in)


def preference_kind(config: TrainConfig) -> bool:
    """Whether a run's settings ask for preference training (``training_kind`` "preference")."""
    return config.training_kind == PREFERENCE


def check_request(request: TrainRequest) -> tuple[str, DatasetInfo]:
    """The task a request trains and its dataset, or a ConfigError saying what does not fit."""
    dataset = get_dataset(request.dataset_id)
    dataset_file(dataset)  # its file must still be there
    task = request.task or dataset.task
    if task not in TASKS:
        raise ConfigError(f"Unknown task '{task}'. Choose one of: {', '.join(TASKS)}.")
    if task != dataset.task and {task, dataset.task} != {"classification", "regression"}:
        raise ConfigError(f"The dataset '{dataset.label}' is for {dataset.task}, not {task}; "
                          "choose a dataset of that task.")
    if is_preference(dataset) and preference_kind(request.config) is False:
        raise ConfigError(f"The dataset '{dataset.label}' holds preference pairs (prompt, chosen, rejected), "
                          "not examples to imitate; train on it with the preference (DPO) kind, or choose a "
                          "chat dataset for ordinary fine-tuning.")
    model = catalog.get_model(request.model_key)
    if model.tasks and task not in model.tasks:
        raise ConfigError(f"The model '{model.name}' cannot be trained for {task}; "
                          f"it supports {', '.join(model.tasks)}.")
    catalog.check_usable(model)  # e.g. a folder that needs remote code: that refusal, not "missing"
    if task == "tabular":
        mlp_options(request.config.task_options or {})
    return task, dataset
