"""Predictions of a trained classifier or regressor: a few typed texts, or a whole file of texts.

Models are loaded once per run and kept (two at most) with a lock, because fast tokenizers are
not thread-safe and Streamlit serves sessions from several threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pandas as pd

from core.config import get_settings
from core.errors import ConfigError, RunStateError
from core.store.runs import get_run
from core.text.spreadsheet import csv_bytes

MAX_TEXTS = 50_000
CACHE_SIZE = 2
_cache: OrderedDict[int, tuple[Any, Any, dict[str, Any], threading.Lock]] = OrderedDict()
_cache_lock = threading.Lock()


def model_folder(run_id: int) -> Path:
    """The folder holding a succeeded run's final model (RunStateError otherwise)."""
    info = get_run(run_id)
    folder = get_settings().resolve(info.output_dir) / "model" if info.output_dir else None
    if info.status != "succeeded" or folder is None or not folder.is_dir():
        raise RunStateError(f"Run {run_id} is {info.status} and has no trained model yet; "
                            "pick a run that succeeded.")
    if info.task not in ("classification", "regression"):
        raise RunStateError(f"Run {run_id} is a {info.task} run; this playground predicts labels "
                            "or numbers of texts.")
    return folder


def _loaded(run_id: int) -> tuple[Any, Any, dict[str, Any], threading.Lock]:
    with _cache_lock:
        if run_id in _cache:
            _cache.move_to_end(run_id)
            return _cache[run_id]
    folder = model_folder(run_id)
    from core.ml import device as devices
    from core.ml.tasks.base import get_adapter

    adapter = get_adapter(get_run(run_id).task)
    model, tokenizer, meta = adapter.load(folder)
    model.to(devices.choose().device)
    entry = (model, tokenizer, meta, threading.Lock())
    with _cache_lock:
        _cache[run_id] = entry
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return entry


def predict_texts(run_id: int, texts: list[str], batch_size: int = 64) -> pd.DataFrame:
    """One row per text: the predicted label, its confidence and each class's probability
    (``p:<label>`` columns), or the predicted value for regression; plus the latency in ms."""
    texts = [str(t) for t in texts]
    if not texts or not any(t.strip() for t in texts):
        raise ConfigError("Type at least one text to get a prediction.")
    if len(texts) > MAX_TEXTS:
        raise ConfigError(f"At most {MAX_TEXTS:,} texts can be predicted at once; split the file.")
    from core.ml.tasks.text_classification import predict_frame

    model, tokenizer, meta, lock = _loaded(run_id)
    start = time.perf_counter()
    with lock:
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
    from core.inference.ner_predict import predict_entities as tag

    return tag(run_id, text)["entities"]


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


def clear_cache() -> None:
    """Forget loaded models (tests, or after a run's model folder changed)."""
    with _cache_lock:
        _cache.clear()
