"""Which adapter trains each task. Every adapter module is imported here for real, so a renamed or
missing adapter fails loudly at import, never as a task that quietly cannot train."""

from __future__ import annotations

from core.entities import TASKS
from core.errors import ConfigError
from core.ml.tasks import causal_lm, preference, tabular, text_classification, token_classification
from core.ml.tasks.base import _REGISTRY, TaskAdapter
from core.run_config import PREFERENCE, SUPERVISED

MODULES = (causal_lm, preference, tabular, text_classification, token_classification)  # each registers itself
_missing = [task for task in TASKS if task not in _REGISTRY]
if _missing:
    raise ImportError(f"No training adapter is registered for {', '.join(_missing)}; "
                      "import its module in core/ml/tasks/registry.py.")


def get_adapter(task: str, training_kind: str = SUPERVISED) -> TaskAdapter:
    """A fresh adapter for the task (a preference run of a causal LM: the DPO adapter)."""
    if training_kind == PREFERENCE:
        adapter = _REGISTRY[PREFERENCE]()
        adapter.task = task
        return adapter
    if task not in _REGISTRY:
        raise ConfigError(f"Unknown task '{task}'. Choose one of: {', '.join(TASKS)}.")
    adapter = _REGISTRY[task]()
    adapter.task = task
    return adapter
