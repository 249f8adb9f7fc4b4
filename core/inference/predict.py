"""Predictions of a trained classifier or regressor: a few typed texts, or a whole file of texts.

Models come from the shared cache (``core.inference.cache``), each with a lock, because fast
tokenizers are not thread-safe and Streamlit serves sessions from several threads.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from core.errors import ConfigError
from core.inference import ner_predict
from core.inference.cache import MODELS, Loaded, clear_models, trained_model
from core.text.spreadsheet import csv_bytes

MAX_TEXTS = 50_000


def _loaded(run_id: int) -> Loaded:
    """The run's (model, tokenizer, meta) from the shared cache, loaded once."""
    def load() -> tuple[Any, Any, dict[str, Any]]:
        info, folder = trained_model(run_id, ("classification", "regression"),
                                     "this playground predicts labels or numbers of texts")
        from core.ml import device as devices
        from core.ml.tasks.registry import get_adapter

        model, tokenizer, meta = get_adapter(info.task).load(folder)
        model.to(devices.choose().device)
        return model, tokenizer, meta

    return MODELS.get(("predict", run_id), load)


def predict_texts(run_id: int, texts: list[str], batch_size: int = 64) -> pd.DataFrame:
    """One row per text: the predicted label, its confidence and each class's probability
    (``p:<label>`` columns), or the predicted value for regression; plus the latency in ms."""
    texts = [str(t) for t in texts]
    if not texts or not any(t.strip() for t in texts):
        raise ConfigError("Type at least one text to get a prediction.")
    if len(texts) > MAX_TEXTS:
        raise ConfigError(f"At most {MAX_TEXTS:,} texts can be predicted at once; split the file.")
    from core.ml.tasks.text_classification import predict_frame

    entry = _loaded(run_id)
    model, tokenizer, meta = entry.value
    start = time.perf_counter()
    with entry.lock:
        out = predict_frame(model, tokenizer, texts, meta, batch_size)
    latency_ms = (time.perf_counter() - start) * 1000
    frame = pd.DataFrame({"text": texts})
    if "value" in out:
        frame["value"] = out["value"]
    else:
        labels = meta["labels"]
        proba = out["proba"]
        frame["label"] = [labels[i] for i in proba.argmax(1)]
        frame["confidence"] = proba.max(1)
        for i, lab in enumerate(labels):
            frame[f"p:{lab}"] = proba[:, i]
    frame["latency_ms"] = latency_ms / len(texts) if len(texts) > 1 else latency_ms
    return frame


def predict_entities(run_id: int, text: str) -> list[dict[str, Any]]:
    """The entities a token-classification run finds in a text: type, text, start, end, confidence."""

    return ner_predict.predict_entities(run_id, text)["entities"]


def predict_file(run_id: int, frame: pd.DataFrame, text_column: str) -> pd.DataFrame:
    """The parsed file's rows with the predictions appended (``predicted``, ``confidence``, ``p:*``)."""
    if text_column not in frame.columns:
        raise ConfigError(f"The file has no column '{text_column}'. Columns found: "
                          f"{', '.join(map(str, frame.columns))}.")
    if frame.empty:
        raise ConfigError("The file has no rows to predict.")
    texts = frame[text_column].fillna("").astype(str).tolist()
    preds = predict_texts(run_id, texts).drop(columns=["text"])
    preds = preds.rename(columns={"label": "predicted", "value": "predicted"})
    return pd.concat([frame.reset_index(drop=True), preds.drop(columns=["latency_ms"])], axis=1)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of the frame with formula-looking text cells (and headers) escaped."""
    return csv_bytes(frame)


clear_cache = clear_models  # the former name of core.inference.cache.clear_models


def loaded_model(run_id: int) -> tuple[Any, Any, dict[str, Any], Any]:
    """The run's cached (model, tokenizer, meta, lock), loading it once; other services share it."""
    entry = _loaded(run_id)
    model, tokenizer, meta = entry.value
    return model, tokenizer, meta, entry.lock
