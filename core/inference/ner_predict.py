"""Entities in a text from a succeeded token-classification run: the playground's and the CLI's
service. The model comes from the shared cache and is loaded through ``core.ml`` lazily.
"""

from __future__ import annotations

import time
from typing import Any

from core.errors import ConfigError
from core.inference.cache import (
    MODELS,
    Loaded,
    clear_models,  # noqa: F401 - re-exported: callers clear here
    trained_model,
)
from core.tasks.ner_align import entities_from_tags, split_words

MAX_TEXT_CHARS = 20_000


def _loaded(run_id: int) -> Loaded:
    """The run's (model, tokenizer, meta) from the shared cache, loaded once."""
    def load() -> tuple[Any, Any, dict[str, Any]]:
        _, folder = trained_model(run_id, ("token-classification",),
                                  "entities come from a token-classification run")
        from core.ml import device as devices
        from core.ml.tasks.registry import get_adapter

        model, tokenizer, meta = get_adapter("token-classification").load(folder)
        model.to(devices.choose().device)
        return model, tokenizer, meta

    return MODELS.get(("entities", run_id), load)


def predict_entities(run_id: int, text: str) -> dict[str, Any]:
    """The entities a succeeded token-classification run finds in a text, with the words behind them.

    Returns ``{"text", "entities": [{type, text, start, end, confidence}], "words": [{word, start,
    end, tag, confidence}], "latency_ms"}`` (plain values, ready for JSON and for highlighting).
    """
    if not text or not text.strip():
        raise ConfigError("Type a text to find its entities.")
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(f"The text is longer than {MAX_TEXT_CHARS:,} characters; paste a shorter part.")
    entry = _loaded(run_id)
    model, tokenizer, meta = entry.value
    from core.ml.tasks.token_classification import predict_words

    words = split_words(text)
    start = time.perf_counter()
    with entry.lock:
        tags, scores = predict_words(model, tokenizer, [[w for w, _, _ in words]], meta)
    latency_ms = (time.perf_counter() - start) * 1000
    return {
        "text": text,
        "entities": entities_from_tags(words, tags[0], scores[0], text),
        "words": [
            {"word": w, "start": s, "end": e, "tag": t, "confidence": round(float(c), 4)}
            for (w, s, e), t, c in zip(words, tags[0], scores[0], strict=True)
        ],
        "latency_ms": round(latency_ms, 1),
    }




def loaded_model(run_id: int) -> tuple[Any, Any, dict[str, Any], Any]:
    """The run's cached (model, tokenizer, meta, lock), loading it once; other services share it."""
    entry = _loaded(run_id)
    model, tokenizer, meta = entry.value
    return model, tokenizer, meta, entry.lock
