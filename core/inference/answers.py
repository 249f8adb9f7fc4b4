"""Evaluation-sized generation: many greedy answers, or label likelihoods, from one model.

A model is named by a catalogue key or ``run:<id>`` (loaded once into the shared cache of
``core.ml.generation``), or handed over already loaded (the worker, right after training).
No torch at import: the engine is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.inference.generation import MAX_NEW_TOKENS, get_loaded, resolve_model

Progress = Callable[[int, int], None]
MIN_NEW_TOKENS = 8
DEFAULT_BATCH = 8


def load(model: str | Any) -> Any:
    """The loaded model behind a reference (or the loaded model itself)."""
    if not isinstance(model, str):
        return model
    return get_loaded(model, resolve_model(model))


def answer_prompts(model: str | Any, prompts: Sequence[dict[str, Any]], max_new_tokens: int,
                   batch_size: int = DEFAULT_BATCH, progress: Progress | None = None) -> list[str]:
    """Greedy answers to stored prompts (``{"text"}`` or ``{"messages"}``), in their order."""
    from core.ml.batch_generation import greedy_batch

    return greedy_batch(load(model), list(prompts), max_new_tokens, batch_size, progress)


def label_scores(model: str | Any, prompts: Sequence[dict[str, Any]], labels: Sequence[str],
                 progress: Progress | None = None) -> list[list[float]]:
    """Per prompt, each label's log-likelihood as the model's answer."""
    from core.ml.batch_generation import label_log_likelihoods

    return label_log_likelihoods(load(model), list(prompts), list(labels), progress)


def answer_budget(model: str | Any, references: Sequence[str], cap: int = 256) -> int:
    """max_new_tokens from the references: the longest one's tokens plus a quarter, within [8, cap]."""
    from core.ml.batch_generation import count_tokens

    longest = max(count_tokens(load(model), references), default=0)
    return max(MIN_NEW_TOKENS, min(cap, MAX_NEW_TOKENS, int(longest * 1.25) + 4))
