"""What an encoder run (or a catalogue encoder) answers as a service: labels, entities and embeddings.

The server and the CLI ask through these functions; the models come from the same process-wide
caches as the prediction playground (``predict`` for classifiers, ``ner_predict`` for taggers),
so a model is loaded once whoever asks. Catalogue encoders (no head) can only embed.
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigError, ModelError
from core.inference import ner_predict, predict
from core.inference.cache import MODELS
from core.store.runs import get_run

MAX_INPUTS = 256
MAX_CHARS = 20_000


def check_texts(texts: list[str]) -> list[str]:
    """The texts of a request, or ConfigError saying what is wrong with them."""
    if not texts:
        raise ConfigError("Send at least one text in 'input'.")
    if len(texts) > MAX_INPUTS:
        raise ConfigError(f"At most {MAX_INPUTS} texts can be sent at once; split the request.")
    for number, text in enumerate(texts, start=1):
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"Text {number} is empty; send the text to read.")
        if len(text) > MAX_CHARS:
            raise ConfigError(f"Text {number} is longer than {MAX_CHARS:,} characters; send a shorter part.")
    return texts


def classify(run_id: int, texts: list[str]) -> list[dict[str, Any]]:
    """Each text's label, its probability and every label's probability (a classification run)."""
    frame = predict.predict_texts(run_id, check_texts(texts))
    if "label" not in frame:
        raise ModelError(f"Run {run_id} predicts numbers (regression), not labels.")
    labels = [c[2:] for c in frame.columns if c.startswith("p:")]
    return [{"index": i, "label": row["label"], "score": float(row["confidence"]),
             "scores": {lab: float(row[f"p:{lab}"]) for lab in labels}}
            for i, (_, row) in enumerate(frame.iterrows())]


def entities(run_id: int, texts: list[str]) -> list[dict[str, Any]]:
    """Each text's entity spans (type, text, start, end, score) from a token-classification run."""
    out = []
    for i, text in enumerate(check_texts(texts)):
        found = ner_predict.predict_entities(run_id, text)["entities"]
        out.append({"index": i, "entities": [{"type": e["type"], "text": e["text"], "start": e["start"],
                                              "end": e["end"], "score": e["confidence"]} for e in found]})
    return out


def catalogue_encoder(key: str) -> tuple[Any, Any, Any]:
    """A catalogue encoder without a head (model, tokenizer, lock) from the shared cache."""
    def load() -> tuple[Any, Any]:
        from core.ml import device as devices
        from core.ml.models import load_base_encoder, load_tokenizer
        from core.models import catalog

        path = catalog.model_path(key)
        return load_base_encoder(path).to(devices.choose().device), load_tokenizer(path)

    entry = MODELS.get(("embed", key), load)
    model, tokenizer = entry.value
    return model, tokenizer, entry.lock


def run_model(run_id: int) -> tuple[Any, Any, dict[str, Any], Any]:
    task = get_run(run_id).task
    if task in ("classification", "regression"):
        return predict.loaded_model(run_id)
    if task == "token-classification":
        return ner_predict.loaded_model(run_id)
    raise ModelError(f"Run {run_id} is a {task} run; embeddings come from an encoder run.")


def embed(source: int | str, texts: list[str]) -> tuple[list[list[float]], int]:
    """L2-normalised mean-pooled vectors of texts from an encoder run (id) or catalogue encoder (key)."""
    from core.ml.embeddings import embed as _embed

    texts = check_texts(texts)
    if isinstance(source, int):
        model, tokenizer, meta, lock = run_model(source)
        max_length = int(meta.get("max_length", 256))
    else:
        model, tokenizer, lock = catalogue_encoder(source)
        max_length = 256
    with lock:
        vectors, tokens = _embed(model, tokenizer, texts, max_length=max_length)
    return vectors.tolist(), tokens


def encoder_task(run_id: int) -> str:
    """The task of a run the server can answer as an encoder (ModelError for other runs)."""
    info = get_run(run_id)
    if info.task not in ("classification", "regression", "token-classification"):
        raise ModelError(f"Run {run_id} is a {info.task} run, which this server cannot answer as an encoder.")
    if info.status != "succeeded":
        raise ModelError(f"Run {run_id} is {info.status}; only a succeeded run can be served.")
    return info.task
