"""Tabular playground: one input per feature gives a prediction; a CSV of rows in, a CSV out.

The run's saved MLP and preprocessor (safetensors + JSON) are loaded once and kept (at most a
few); torch is imported only when a model is first loaded, so pages render without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.data.ingest import read_upload
from core.errors import ConfigError, DatasetError
from core.inference.cache import (
    MODELS,
    clear_models,  # noqa: F401 - re-exported: callers clear here
    trained_model,
)
from core.tasks.tabular import MISSING_CATEGORY
from core.text.spreadsheet import csv_bytes

MAX_ROWS = 100_000


@dataclass(frozen=True)
class FeatureField:
    """One input of the playground form: its column, type, a sensible default and the known choices."""

    name: str
    kind: str                   # "numeric" | "categorical"
    default: float | str | None
    choices: tuple[str, ...] = ()


def _predictor(run_id: int) -> Any:
    def load() -> Any:
        _, folder = trained_model(run_id, ("tabular",), "the table playground needs a tabular run")
        from core.ml.tabular_model import TabularPredictor

        return TabularPredictor.load(folder)

    return MODELS.get(("tabular", run_id), load).value


def feature_fields(run_id: int) -> list[FeatureField]:
    """The form of a tabular run: numeric inputs default to the training median, categories list choices."""
    pre = _predictor(run_id).preprocessor
    fields = []
    for name, kind in pre.feature_types.items():
        if kind == "numeric":
            fields.append(FeatureField(name, kind, pre.medians.get(name)))
        else:
            choices = tuple(c for c in pre.categories.get(name, []) if c != MISSING_CATEGORY)
            fields.append(FeatureField(name, kind, choices[0] if choices else None, choices))
    return fields


def predict_rows(run_id: int, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with ``predicted`` (and ``confidence`` + ``p:<class>`` for a classifier) added."""
    predictor = _predictor(run_id)
    missing = [c for c in predictor.features if c not in frame.columns]
    if missing:
        raise DatasetError(f"The rows have no column {', '.join(map(repr, missing))}; the model needs "
                           f"every feature it was trained on: {', '.join(predictor.features)}.")
    if len(frame) > MAX_ROWS:
        raise DatasetError(f"The file has {len(frame):,} rows; predict at most {MAX_ROWS:,} at a time.")
    return predictor.predict_frame(frame)


def predict_one(run_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """The prediction for one row of form values: ``{"predicted", "confidence"?, "probabilities"?}``."""
    row = predict_rows(run_id, pd.DataFrame([values])).iloc[0]
    out: dict[str, Any] = {"predicted": row["predicted"].item() if hasattr(row["predicted"], "item")
                           else row["predicted"]}
    probabilities = {c.removeprefix("p:"): float(row[c]) for c in row.index if str(c).startswith("p:")}
    if probabilities:
        out["confidence"] = float(row["confidence"])
        out["probabilities"] = probabilities
    return out


def predict_csv(run_id: int, data: bytes, filename: str = "rows.csv") -> tuple[pd.DataFrame, bytes]:
    """Read an uploaded table (CSV, Excel, JSON, Parquet), predict every row; the table and it as CSV."""

    if not data:
        raise ConfigError("The file is empty; upload a table with one row per example.")
    table = predict_rows(run_id, read_upload(data, filename).frame)
    return table, csv_bytes(table)


