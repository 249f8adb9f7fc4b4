"""Splits: stratified, grouped (no group in two splits), from a column, and deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.splits import SplitConfig, assign_splits, normalize_split_values
from core.errors import DatasetError


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n)})


def test_stratified_keeps_class_shares_and_sizes() -> None:
    labels = pd.Series(["a"] * 800 + ["b"] * 150 + ["c"] * 50)
    result = assign_splits(_frame(1000), SplitConfig(0.1, 0.2, seed=1), stratify=labels)
    assert result.method == "stratified by label"
    counts = pd.crosstab(labels, result.split)
    assert counts["test"].tolist() == [160, 30, 10]
    assert counts["validation"].tolist() == [80, 15, 5]
    assert result.split.value_counts().to_dict() == {"train": 700, "test": 200, "validation": 100}


def test_same_seed_same_split_other_seed_differs() -> None:
    labels = pd.Series(np.repeat(["a", "b"], 100))
    first = assign_splits(_frame(200), SplitConfig(seed=7), stratify=labels).split
    again = assign_splits(_frame(200), SplitConfig(seed=7), stratify=labels).split
    other = assign_splits(_frame(200), SplitConfig(seed=8), stratify=labels).split
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()


def test_tiny_classes_stay_in_train_with_a_note() -> None:
    labels = pd.Series(["a"] * 50 + ["b"] * 50 + ["rare"] * 2)
    result = assign_splits(_frame(102), SplitConfig(), stratify=labels)
    assert set(result.split[labels == "rare"]) == {"train"}
    assert "'rare' (2)" in result.notes[0] and "kept in train only" in result.notes[0]


def test_grouped_split_never_puts_a_group_in_two_splits() -> None:
    groups = pd.Series([f"movie{i // 7}" for i in range(700)])
    result = assign_splits(_frame(700), SplitConfig(0.2, 0.2, seed=3), groups=groups)
    per_group = pd.DataFrame({"g": groups, "s": result.split}).groupby("g")["s"].nunique()
    assert per_group.max() == 1
    assert set(result.split) == {"train", "validation", "test"}
    assert result.method.startswith("grouped")


def test_grouped_split_needs_enough_groups() -> None:
    with pytest.raises(DatasetError, match="only 2 distinct value"):
        assign_splits(_frame(10), SplitConfig(), groups=pd.Series(["a", "b"] * 5))


def test_split_column_values_are_normalized() -> None:
    values = pd.Series(["Train", "valid", "DEV", "test", " training ", "Validation"])
    assert normalize_split_values(values, "fold").tolist() == [
        "train", "validation", "validation", "test", "train", "validation"]
    with pytest.raises(DatasetError, match=r"The split column 'fold' has values other than .*'holdout2'"):
        normalize_split_values(pd.Series(["train", "holdout2"]), "fold")


def test_given_split_carves_missing_validation_from_train() -> None:
    given = pd.Series(["train"] * 90 + ["test"] * 30)
    labels = pd.Series(["a", "b"] * 60)
    result = assign_splits(_frame(120), SplitConfig(validation_size=0.1), stratify=labels, given=given)
    assert (result.split[90:] == "test").all()
    assert (result.split[:90] == "validation").sum() == 9
    assert "no validation rows" in result.notes[0]


@pytest.mark.parametrize(("val", "test", "message"), [
    (-0.1, 0.1, "between 0 and 0.9"), (0.5, 0.5, "below 0.95"), (0.1, 1.0, "between 0 and 0.9")])
def test_bad_sizes_are_refused(val: float, test: float, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        assign_splits(_frame(10), SplitConfig(val, test))


def test_zero_sizes_keep_everything_in_train() -> None:
    result = assign_splits(_frame(30), SplitConfig(0, 0))
    assert set(result.split) == {"train"}
