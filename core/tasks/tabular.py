"""Tabular data: quality checks, feature preprocessing fitted on training rows, baselines, importance.

Pure pandas / scikit-learn (no torch), so the dataset pages and the quality report can use it
without loading the training stack. The preprocessing is stored as JSON, never pickled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.entities import Finding
from core.errors import ConfigError, DatasetError
from core.run_config import MLP_TRAIN_DEFAULTS  # noqa: F401 - re-exported for older callers

LABEL = "label"
MISSING_CATEGORY = "(missing)"
LEAK_CORRELATION = 0.98
HIGH_CARDINALITY = 50
MAX_CLASSES = 20
PREPROCESSOR_FILE = "preprocessor.json"
# Settings that suit the tabular MLP (trained from scratch): far larger steps and more epochs than
# fine-tuning a transformer. Forms and the CLI start from these when the model is "mlp".
MLP_MIN_LEARNING_RATE = 1e-4


def infer_feature_types(frame: pd.DataFrame, features: Sequence[str]) -> dict[str, str]:
    """Say for each feature column whether it is "numeric" or "categorical"."""
    types: dict[str, str] = {}
    for col in features:
        series = frame[col]
        if pd.api.types.is_bool_dtype(series) or not _parses_as_number(series):
            types[col] = "categorical"
        else:
            types[col] = "numeric"
    return types


def _parses_as_number(series: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(series):
        return True
    present = series.dropna()
    return len(present) > 0 and bool(pd.to_numeric(present, errors="coerce").notna().all())


def feature_types_for(frame: pd.DataFrame, mapping: dict[str, Any]) -> dict[str, str]:
    """The feature types of a dataset: `mapping['feature_types']` where given, else inferred."""
    features = list(mapping.get("features") or [])
    types = infer_feature_types(frame, features)
    given = mapping.get("feature_types") or {}
    types.update({c: t for c, t in given.items() if c in types and t in ("numeric", "categorical")})
    return types


def infer_target_kind(labels: pd.Series, mapping: dict[str, Any] | None = None) -> str:
    """Say whether a tabular target is "classification" or "regression" (a mapping may say so)."""
    given = (mapping or {}).get("target_kind")
    if given in ("classification", "regression"):
        return given
    present = labels.dropna()
    if pd.api.types.is_bool_dtype(present) or not _parses_as_number(present):
        return "classification"
    values = pd.to_numeric(present)
    whole = bool(np.all(np.isclose(values, np.round(values))))
    return "classification" if whole and values.nunique() <= MAX_CLASSES else "regression"


# ---------------------------------------------------------------- quality checks

def check_tabular_frame(frame: pd.DataFrame, mapping: dict[str, Any]) -> list[Finding]:
    """Findings about a tabular frame: missing, constant, leaking and high-cardinality columns."""
    features = list(mapping.get("features") or [])
    absent = [c for c in features if c not in frame.columns]
    if not features or absent or LABEL not in frame.columns:
        what = f"the columns {', '.join(absent)} are not in the file" if absent else "no feature columns"
        return [Finding("blocking", "tabular_features",
                        f"A tabular dataset needs feature columns and a target, but {what}; "
                        "pick the feature columns again.")]
    n = len(frame)
    # Row numbers as the person sees them in their file (the dataset service passes them as _row).
    rows = frame["_row"].to_numpy() if "_row" in frame.columns else np.arange(1, n + 1)
    labels = frame[LABEL]
    kind = infer_target_kind(labels, mapping)
    types = feature_types_for(frame, mapping)
    findings: list[Finding] = []
    missing_labels = int(labels.isna().sum())
    if missing_labels:
        findings.append(Finding("warning", "missing_target",
                                f"{missing_labels} of {n} rows have no target value; "
                                "they are left out of training and evaluation.", count=missing_labels))
    for col in features:
        series = frame[col]
        finding = _check_missing(col, series, n, rows)
        if finding:
            findings.append(finding)
            if finding.code == "empty_column":
                continue
        if series.nunique(dropna=False) <= 1:
            value = series.iloc[0] if n else None
            findings.append(Finding("warning", "constant_column",
                                    f"Column '{col}' has the same value ({_show(value)}) in all {n} rows, "
                                    "so it cannot help the model; leave it out of the features.",
                                    count=n, example={col: _plain(value)}))
            continue
        leak = _check_leak(col, series, labels, kind, types[col])
        if leak:
            findings.append(leak)
        if types[col] == "categorical":
            findings.extend(_check_cardinality(col, series, n))
    return findings


def _check_missing(col: str, series: pd.Series, n: int, rows: np.ndarray) -> Finding | None:
    missing = int(series.isna().sum())
    if not missing:
        return None
    if missing == n:
        return Finding("warning", "empty_column",
                       f"Column '{col}' is empty in all {n} rows; leave it out of the features.", count=n)
    share = missing / n
    example = int(rows[np.flatnonzero(series.isna().to_numpy())[0]])
    return Finding("warning" if share >= 0.05 else "info", "missing_values",
                   f"Column '{col}' is missing in {missing} of {n} rows ({share:.0%}), for example row "
                   f"{example}; they are filled in (median or a '{MISSING_CATEGORY}' category) "
                   "from the training rows.", count=missing, example={"row": example})


def _check_leak(col: str, series: pd.Series, labels: pd.Series, kind: str, ftype: str) -> Finding | None:
    pair = pd.DataFrame({"x": series, "y": labels}).dropna()
    if len(pair) < 5 or pair["x"].nunique() < 2:
        return None
    example = {col: _plain(pair["x"].iloc[0]), LABEL: _plain(pair["y"].iloc[0])}
    if (pair["x"].astype(str) == pair["y"].astype(str)).all():
        return Finding("warning", "target_leak",
                       f"Column '{col}' is identical to the target in all {len(pair)} rows, so the model "
                       "would learn nothing useful; leave it out of the features.",
                       count=len(pair), example=example)
    if ftype == "numeric":
        corr = _correlation(pd.to_numeric(pair["x"]), pair["y"], kind)
        if corr is not None and abs(corr) >= LEAK_CORRELATION:
            return Finding("warning", "target_leak",
                           f"Column '{col}' is almost perfectly correlated with the target (r = {corr:.3f} "
                           f"over {len(pair)} rows); it probably leaks the answer, so check it or leave "
                           "it out of the features.", count=len(pair), example=example)
    x_values = pair["x"].astype(str)
    y_values = pair["y"].astype(str)
    n_x = x_values.nunique()
    # Only values seen several times can reveal a rule; unique per-row values (ids) would always "fit".
    if n_x * 5 > len(pair):
        return None
    per_value = y_values.groupby(x_values).nunique()
    if (per_value == 1).all():
        return Finding("warning", "target_leak",
                       f"Column '{col}' decides the target: each of its {n_x} values always comes with "
                       f"the same target (for example {_show(example[col])} → {_show(example[LABEL])}); "
                       "it probably leaks the answer, so check it or leave it out of the features.",
                       count=len(pair), example=example)
    per_label = x_values.groupby(y_values).nunique()
    if kind == "classification" and (per_label == 1).all():
        return Finding("warning", "target_leak",
                       f"Column '{col}' is a function of the target: all rows with the same target have "
                       f"the same value (for example {_show(example[LABEL])} → {_show(example[col])}); "
                       "it probably leaks the answer, so check it or leave it out of the features.",
                       count=len(pair), example=example)
    return None


def _correlation(x: pd.Series, y: pd.Series, kind: str) -> float | None:
    if kind == "regression":
        target = pd.to_numeric(y, errors="coerce")
    elif y.nunique() == 2:
        target = pd.Series(pd.factorize(y, sort=True)[0], index=y.index, dtype=float)
    else:
        return None
    if x.std() == 0 or target.std() == 0:
        return None
    pearson = float(np.corrcoef(x.to_numpy(float), target.to_numpy(float))[0, 1])
    spearman = float(x.rank().corr(target.rank()))
    return max(pearson, spearman, key=abs)


def _check_cardinality(col: str, series: pd.Series, n: int) -> list[Finding]:
    distinct = int(series.nunique())
    if distinct <= HIGH_CARDINALITY and distinct * 2 <= n:
        return []
    counts = series.value_counts()
    example = counts.index[0]
    singles = int((counts == 1).sum())
    ident = " It looks like an identifier (every value is different)." if distinct == n else ""
    return [Finding("warning", "high_cardinality",
                    f"Column '{col}' has {distinct} different values in {n} rows (for example "
                    f"{_show(example)}; {singles} are seen only once), so one-hot encoding makes "
                    f"{distinct} inputs that rarely repeat.{ident} Group rare values or leave it out.",
                    count=distinct, example={col: _plain(example)})]


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar: None for any kind of missing, Python numbers for numpy ones."""
    try:
        if value is None or bool(pd.isna(value)):
            return None
    except (TypeError, ValueError):  # lists and arrays are not scalars: keep them as they are
        return value
    return value.item() if isinstance(value, np.generic) else value


def _show(value: Any) -> str:
    value = _plain(value)
    return repr(value) if isinstance(value, str) else str(value)


# ---------------------------------------------------------------- preprocessing

@dataclass
class Preprocessor:
    """Median-impute + standardise numeric columns, fill + one-hot categorical ones; JSON-serialisable.

    It is fitted (with scikit-learn's ColumnTransformer) on training rows only; only the learned
    numbers are kept, so a saved preprocessor is plain JSON and loading it unpickles nothing.
    """

    # The HF Trainer reads the first input name to size items for its length-grouped sampler.
    model_input_names: ClassVar[list[str]] = ["features"]

    feature_types: dict[str, str]
    medians: dict[str, float] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @property
    def numeric(self) -> list[str]:
        return [c for c, t in self.feature_types.items() if t == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [c for c, t in self.feature_types.items() if t == "categorical"]

    @classmethod
    def fit(cls, train: pd.DataFrame, feature_types: dict[str, str]) -> Preprocessor:
        """Learn imputation, scaling and categories from the training rows given (and nothing else)."""
        column_transformer = make_column_transformer(feature_types)
        column_transformer.fit(_prepare(train, feature_types))
        pre = cls(dict(feature_types))
        if pre.numeric:
            imputer, scaler = column_transformer.named_transformers_["numeric"].named_steps.values()
            pre.medians = dict(zip(pre.numeric, map(float, imputer.statistics_), strict=True))
            pre.means = dict(zip(pre.numeric, map(float, scaler.mean_), strict=True))
            pre.scales = dict(zip(pre.numeric, map(float, scaler.scale_), strict=True))
        if pre.categorical:
            encoder = column_transformer.named_transformers_["categorical"].named_steps["onehot"]
            pre.categories = {c: [str(v) for v in cats]
                              for c, cats in zip(pre.categorical, encoder.categories_, strict=True)}
        return pre

    @property
    def output_names(self) -> list[str]:
        return self.numeric + [f"{c}={v}" for c in self.categorical for v in self.categories[c]]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Turn raw feature columns into the float32 matrix the models see."""
        missing = [c for c in self.feature_types if c not in frame.columns]
        if missing:
            raise DatasetError(f"The data has no column {', '.join(map(repr, missing))}; "
                               "add it with the same name as in the training data.")
        data = _prepare(frame, self.feature_types)
        parts: list[np.ndarray] = []
        for col in self.numeric:
            values = data[col].to_numpy(float)
            values = np.where(np.isnan(values), self.medians[col], values)
            parts.append(((values - self.means[col]) / self.scales[col])[:, None])
        for col in self.categorical:
            cats = np.asarray(self.categories[col], dtype=object)
            parts.append((data[col].to_numpy(object)[:, None] == cats[None, :]).astype(float))
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.hstack(parts).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"feature_types": self.feature_types, "medians": self.medians, "means": self.means,
                "scales": self.scales, "categories": self.categories}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        return cls(**{k: dict(data.get(k) or {}) for k in
                      ("feature_types", "medians", "means", "scales", "categories")})

    def save(self, path: Path) -> None:
        """Write the preprocessor as JSON."""
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    def save_pretrained(self, output_dir: Path | str, **_: Any) -> None:
        """Write ``preprocessor.json`` into a folder (the HF Trainer calls this for each checkpoint)."""
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        self.save(Path(output_dir) / PREPROCESSOR_FILE)

    @classmethod
    def load(cls, path: Path) -> Preprocessor:
        """Read a preprocessor saved with `save`."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def make_column_transformer(feature_types: dict[str, str]) -> Any:
    """The scikit-learn ColumnTransformer whose fitted numbers a Preprocessor keeps."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c, t in feature_types.items() if t == "numeric"]
    categorical = [c for c, t in feature_types.items() if t == "categorical"]
    steps = []
    if numeric:
        steps.append(("numeric", Pipeline([
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler())]), numeric))
    if categorical:
        steps.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), categorical))
    return ColumnTransformer(steps, remainder="drop", sparse_threshold=0.0)


def _prepare(frame: pd.DataFrame, feature_types: dict[str, str]) -> pd.DataFrame:
    """Numbers as float (unparseable -> NaN), categories as str with one token for missing."""
    out = {}
    for col, kind in feature_types.items():
        series = frame[col]
        if kind == "numeric":
            out[col] = pd.to_numeric(series, errors="coerce").astype(float)
        else:
            text = series.map(lambda v: MISSING_CATEGORY if _plain(v) is None else str(v))
            out[col] = text.astype(object)
    return pd.DataFrame(out, index=frame.index)


DEFAULT_HIDDEN = (64, 64)
DEFAULT_DROPOUT = 0.1


def mlp_options(options: dict[str, Any]) -> tuple[tuple[int, ...], float]:
    """The MLP's hidden layer sizes and dropout from a run's task options, or ConfigError with
    one sentence (checked before a run is queued, and again by the worker)."""
    hidden = options.get("hidden_sizes", DEFAULT_HIDDEN)
    try:
        if isinstance(hidden, int | str):
            hidden = [int(h) for h in str(hidden).replace(",", " ").split()]
        hidden = tuple(int(h) for h in hidden)
        dropout = float(options.get("dropout", DEFAULT_DROPOUT))
    except (TypeError, ValueError) as exc:
        raise ConfigError("Hidden sizes must be whole numbers (for example 64, 64) and dropout a number "
                          "between 0 and 0.9.") from exc
    if not hidden or not all(1 <= h <= 4096 for h in hidden) or len(hidden) > 8:
        raise ConfigError("Hidden sizes must be 1 to 8 layers of 1–4096 units (for example 64, 64).")
    if not 0 <= dropout <= 0.9:
        raise ConfigError("Dropout must be between 0 and 0.9 (for example 0.1).")
    return hidden, dropout
