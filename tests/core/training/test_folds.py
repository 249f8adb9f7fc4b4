"""k-fold splits: five folds, stratified class balance, grouped without overlap, mean ± std."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigError
from core.training.folds import fold_frames, fold_strategy, make_folds, summarize_folds


def frame(n: int = 200, groups: bool = False, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"x": rng.normal(size=n),
                        "label": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
                        "split": rng.choice(["train", "validation", "test"], n, p=[0.7, 0.15, 0.15])})
    if groups:
        out["group"] = [f"g{i % 23}" for i in range(n)]
    return out


def test_five_folds_partition_the_non_test_rows():
    data = frame()
    folds = make_folds(data, 5, "classification")
    assert [f.index for f in folds] == [0, 1, 2, 3, 4]
    non_test = set(np.flatnonzero(data["split"] != "test"))
    validation = [set(f.validation) for f in folds]
    assert set().union(*validation) == non_test
    assert sum(len(v) for v in validation) == len(non_test)  # each row validates exactly once
    for fold in folds:
        assert set(fold.train) | set(fold.validation) == non_test
        assert not set(fold.train) & set(fold.validation)


def test_stratified_folds_keep_class_balance():
    data = frame(400)
    overall = data[data["split"] != "test"]["label"].value_counts(normalize=True)
    for fold in make_folds(data, 5, "classification"):
        share = data.iloc[fold.validation]["label"].value_counts(normalize=True)
        assert (share - overall).abs().max() < 0.03


def test_grouped_folds_never_share_a_group():
    data = frame(groups=True)
    assert fold_strategy(data, "classification") == "grouped"
    for kind in ("classification", "regression"):
        for fold in make_folds(data, 4, kind):
            train_groups = set(data.iloc[fold.train]["group"])
            assert not train_groups & set(data.iloc[fold.validation]["group"])


def test_folds_are_deterministic_and_depend_on_the_seed():
    data = frame()
    assert make_folds(data, 3, "regression", seed=1) == make_folds(data, 3, "regression", seed=1)
    assert make_folds(data, 3, "regression", seed=1) != make_folds(data, 3, "regression", seed=2)


@pytest.mark.parametrize("k", [2, 11, 3.5])
def test_fold_count_out_of_range_is_refused(k):
    with pytest.raises(ConfigError, match="from 3 to 10"):
        make_folds(frame(), k, "classification")


def test_too_few_groups_or_rows_is_refused():
    data = frame(groups=True)
    data["group"] = [f"g{i % 2}" for i in range(len(data))]
    with pytest.raises(ConfigError, match="2 groups"):
        make_folds(data, 3, "classification")
    with pytest.raises(ConfigError, match="at least 10"):
        make_folds(frame(8), 5, "classification")


def test_fold_frames_rebuild_the_split():
    data = frame()
    fold = make_folds(data, 5, "classification")[2]
    parts = fold_frames(data, fold.train, fold.validation)
    assert len(parts["train"]) == len(fold.train) and len(parts["validation"]) == len(fold.validation)
    assert len(parts["test"]) == int((data["split"] == "test").sum())
    assert fold.to_dict()["fold"] == 2


def test_summarize_folds_mean_std_and_per_fold_values():
    table = summarize_folds([{"accuracy": 0.8, "f1": 0.7, "curve": [1, 2]},
                             {"accuracy": 0.9, "f1": 0.75},
                             {"accuracy": 1.0, "f1": float("nan")}])
    acc = table.set_index("metric").loc["accuracy"]
    assert acc["mean"] == pytest.approx(0.9) and acc["std"] == pytest.approx(0.1)
    assert acc["mean ± std"] == "0.9 ± 0.1"
    assert [acc["fold 1"], acc["fold 2"], acc["fold 3"]] == pytest.approx([0.8, 0.9, 1.0])
    f1 = table.set_index("metric").loc["f1"]
    assert f1["folds"] == 2 and math.isnan(f1["fold 3"]) and f1["mean"] == pytest.approx(0.725)
    assert "curve" not in set(table["metric"])
