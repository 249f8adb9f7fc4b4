"""Between words and subwords: label alignment for training, and words -> tags -> entity spans for the
playground. Pure Python (no torch), so each step is tested by hand; ``predict_entities`` is the
playground/CLI service and loads the model through ``core.ml`` lazily.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

IGNORED = -100  # the label id the loss (and the metrics) skip
# A word (letters/digits, kept whole across inner - ' . , / @ as in "INV-2041", "1,200.50",
# "anna@shop.com") or one punctuation character.
_WORD = re.compile(r"\w+(?:[-'’.,/@&]\w+)*|[^\w\s]")


def align_labels(
    word_ids: Sequence[int | None],
    word_labels: Sequence[str],
    label_all_subwords: bool = False,
    *,
    label2id: Mapping[str, int],
) -> list[int]:
    """Label ids per subword from a tokenizer's ``word_ids()``: special tokens get -100.

    The first subword of a word gets the word's label; the others get -100, or with
    ``label_all_subwords`` the word's label again, a B- turned into the I- of its type so a
    word is never split into several entities.
    """
    labels: list[int] = []
    previous: int | None = None
    for word in word_ids:
        if word is None:
            labels.append(IGNORED)
        elif word != previous:
            labels.append(label2id[word_labels[word]])
        elif label_all_subwords:
            tag = word_labels[word]
            labels.append(label2id["I-" + tag[2:]] if tag.startswith("B-") else label2id[tag])
        else:
            labels.append(IGNORED)
        previous = word
    return labels


def word_predictions(
    word_ids: Sequence[int | None],
    subword_probs: Sequence[Sequence[float]],
    id2label: Mapping[int, str],
    n_words: int,
) -> tuple[list[str], list[float]]:
    """Each word's tag and probability, read from its first subword (the one trained with a label).

    Words cut off by the max length get 'O' with probability 0.
    """
    tags, scores = ["O"] * n_words, [0.0] * n_words
    seen: set[int] = set()
    for position, word in enumerate(word_ids):
        if word is None or word in seen or word >= n_words:
            continue
        seen.add(word)
        probs = list(subword_probs[position])
        best = max(range(len(probs)), key=probs.__getitem__)
        tags[word], scores[word] = id2label[best], float(probs[best])
    return tags, scores


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Words and punctuation of a text with their character offsets (start, end exclusive)."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def entities_from_tags(
    words: Sequence[tuple[str, int, int]],
    tags: Sequence[str],
    scores: Sequence[float],
    text: str | None = None,
) -> list[dict[str, Any]]:
    """Entities with type, text, character offsets and confidence (the mean probability of their words).

    Tags in any scheme are read as IOB2 (an I- that follows nothing starts an entity). The entity
    text is cut from ``text`` when given (keeping its spacing), else the words joined by spaces.
    """
    from core.tasks.ner import entity_spans

    entities = []
    for kind, first, last in entity_spans(list(tags)):
        start, end = words[first][1], words[last - 1][2]
        span_text = text[start:end] if text is not None else " ".join(w[0] for w in words[first:last])
        confidence = sum(scores[first:last]) / (last - first)
        entities.append(
            {
                "type": kind,
                "text": span_text,
                "start": start,
                "end": end,
                "confidence": round(float(confidence), 4),
            }
        )
    return entities


_models: dict[int, tuple[Any, Any, dict[str, Any], threading.Lock]] = {}
_models_lock = threading.Lock()
MAX_TEXT_CHARS = 20_000


def _loaded(run_id: int) -> tuple[Any, Any, dict[str, Any], threading.Lock]:
    """The run's model, tokenizer, meta and a lock (fast tokenizers are not thread-safe), loaded once."""
    with _models_lock:
        if run_id in _models:
            return _models[run_id]
    from core.config import get_settings
    from core.errors import RunStateError
    from core.store.runs import get_run

    info = get_run(run_id)
    folder = get_settings().resolve(info.output_dir) / "model" if info.output_dir else None
    if info.task != "token-classification":
        raise RunStateError(
            f"Run {run_id} is a {info.task} run; entities come from a token-classification run."
        )
    if info.status != "succeeded" or folder is None or not folder.is_dir():
        raise RunStateError(
            f"Run {run_id} is {info.status} and has no trained model yet; pick a run that succeeded."
        )
    from core.ml import device as devices
    from core.ml.tasks.base import get_adapter

    model, tokenizer, meta = get_adapter("token-classification").load(folder)
    model.to(devices.choose().device)
    entry = (model, tokenizer, meta, threading.Lock())
    with _models_lock:
        if len(_models) >= 2:  # keep memory bounded: at most two taggers in memory
            _models.pop(next(iter(_models)))
        _models[run_id] = entry
    return entry


def predict_entities(run_id: int, text: str) -> dict[str, Any]:
    """The entities a succeeded token-classification run finds in a text, with the words behind them.

    Returns ``{"text", "entities": [{type, text, start, end, confidence}], "words": [{word, start,
    end, tag, confidence}], "latency_ms"}`` (plain values, ready for JSON and for highlighting).
    """
    from core.errors import ConfigError

    if not text or not text.strip():
        raise ConfigError("Type a text to find its entities.")
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(f"The text is longer than {MAX_TEXT_CHARS:,} characters; paste a shorter part.")
    model, tokenizer, meta, lock = _loaded(run_id)
    from core.ml.tasks.token_classification import predict_words

    words = split_words(text)
    start = time.perf_counter()
    with lock:
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


def clear_models() -> None:
    """Forget loaded taggers (tests, or after a run's model folder changed)."""
    with _models_lock:
        _models.clear()


def loaded_model(run_id: int) -> tuple[Any, Any, dict[str, Any], threading.Lock]:
    """The run's cached (model, tokenizer, meta, lock), loading it once; other services share it."""
    return _loaded(run_id)
