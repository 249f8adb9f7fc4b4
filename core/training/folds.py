"""k-fold cross-validation splits and their summary (mean ± standard deviation per metric).

Folds are drawn over the dataset's train + validation rows; the test rows stay held out, so a
cross-validated model can still be compared on the same test split as a single run.
Stratified by the label for classification, grouped by the ``group`` column when the dataset has
one, deterministic for a given seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError

MIN_FOLDS, MAX_FOLDS = 3, 10
GROUP = "group"
LABEL = "label"


@dataclass(frozen=True)
class Fold:
    """One fold: positional row indices (into the full dataset frame) to train on and to validate on."""

    index: int
    train: list[int]
    validation: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"fold": self.index, "train_rows": self.train, "validation_rows": self.validation}


def fold_strategy(frame: pd.DataFrame, kind: str) -> str:
    """"grouped", "stratified" or "shuffled": how `make_folds` splits this frame."""
    if GROUP in frame.columns and frame[GROUP].notna().any():
        return "grouped"
    return "stratified" if kind == "classification" else "shuffled"


def make_folds(frame: pd.DataFrame, k: int, kind: str, seed: int = 42,
               include_test: bool = False) -> list[Fold]:
    """Split the non-test rows of a canonical dataset frame into k folds (k from 3 to 10).

    `kind` is "classification" (stratify by ``label``) or anything else (plain shuffled folds);
    a ``group`` column keeps each group inside one fold. Indices are positions in `frame`.
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    if not isinstance(k, int) or not MIN_FOLDS <= k <= MAX_FOLDS:
        raise ConfigError(f"The number of folds must be a whole number from {MIN_FOLDS} to {MAX_FOLDS} "
                          f"(for example 5); got {k}.")
    positions = np.arange(len(frame))
    if not include_test and "split" in frame.columns:
        positions = positions[(frame["split"] != "test").to_numpy()]
    if LABEL in frame.columns:
        positions = positions[frame[LABEL].iloc[positions].notna().to_numpy()]
    if len(positions) < 2 * k:
        raise ConfigError(f"{k}-fold cross-validation needs at least {2 * k} labelled rows outside the "
                          f"test split, but there are {len(positions)}; choose fewer folds or add rows.")
    rows = frame.iloc[positions]
    labels = rows[LABEL].astype(str).to_numpy() if LABEL in rows.columns else None
    strategy = fold_strategy(rows, kind)
    if strategy == "grouped":
        groups = rows[GROUP].astype(str).fillna("").to_numpy()
        n_groups = len(set(groups))
        if n_groups < k:
            raise ConfigError(f"The dataset has {n_groups} groups, fewer than the {k} folds; "
                              f"choose at most {n_groups} folds.")
        if kind == "classification" and labels is not None:
            splitter: Any = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        else:
            splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
        pairs = splitter.split(positions, labels, groups)
    elif strategy == "stratified" and labels is not None:
        smallest = pd.Series(labels).value_counts().min()
        # StratifiedKFold only warns when a class is rarer than k; plain folds are the honest fallback.
        splitter = (StratifiedKFold(n_splits=k, shuffle=True, random_state=seed) if smallest >= k
                    else KFold(n_splits=k, shuffle=True, random_state=seed))
        pairs = splitter.split(positions, labels)
    else:
        pairs = KFold(n_splits=k, shuffle=True, random_state=seed).split(positions)
    return [Fold(i, sorted(positions[tr].tolist()), sorted(positions[va].tolist()))
            for i, (tr, va) in enumerate(pairs)]


def fold_frames(frame: pd.DataFrame, train_rows: Sequence[int], validation_rows: Sequence[int]
                ) -> dict[str, pd.DataFrame]:
    """The train / validation / test frames of one fold (test = the dataset's own test rows)."""
    frames = {"train": frame.iloc[list(train_rows)], "validation": frame.iloc[list(validation_rows)]}
    if "split" in frame.columns:
        frames["test"] = frame[frame["split"] == "test"]
    else:
        frames["test"] = frame.iloc[0:0]
    return {name: part.reset_index(drop=True) for name, part in frames.items()}


def summarize_folds(fold_metrics: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per numeric metric: mean, std (across folds, ddof=1), "mean ± std" and each fold's value.

    Non-numeric entries (curves, confusion matrices) are skipped; a metric missing in a fold is NaN
    there and left out of that metric's mean.
    """
    names: list[str] = []
    for metrics in fold_metrics:
        for name, value in metrics.items():
            if _number(value) is not None and name not in names:
                names.append(name)
    fold_columns = [f"fold {i + 1}" for i in range(len(fold_metrics))]
    rows = []
    for name in names:
        values = [_number(m.get(name)) for m in fold_metrics]
        present = np.asarray([v for v in values if v is not None], float)
        mean = float(present.mean()) if len(present) else math.nan
        std = float(present.std(ddof=1)) if len(present) > 1 else 0.0 if len(present) else math.nan
        row: dict[str, Any] = {"metric": name, "mean": mean, "std": std,
                               "mean ± std": f"{mean:.4g} ± {std:.2g}", "folds": len(present)}
        row.update({col: (math.nan if v is None else v) for col, v in zip(fold_columns, values, strict=True)})
        rows.append(row)
    return pd.DataFrame(rows, columns=["metric", "mean", "std", "mean ± std", "folds", *fold_columns])


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None
