"""Tabular checks, preprocessing fitted on training rows only, baselines and permutation importance."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

from core.tasks.tabular import (
    Preprocessor,
    check_tabular_frame,
    feature_types_for,
    infer_feature_types,
    infer_target_kind,
    make_column_transformer,
)
from core.tasks.tabular_baselines import permutation_importance, score_predictions, train_baselines


def sk_frame(loader, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """A scikit-learn dataset as a canonical tabular frame with a shuffled 70/15/15 split."""
    data = loader(as_frame=True)
    frame = data.frame.rename(columns={"target": "label"})
    if loader is not load_diabetes:
        frame["label"] = [str(data.target_names[i]) for i in data.target]
    order = np.random.default_rng(seed).permutation(len(frame))
    split = np.empty(len(frame), dtype=object)
    n_train, n_val = int(0.7 * len(frame)), int(0.15 * len(frame))
    split[order[:n_train]] = "train"
    split[order[n_train:n_train + n_val]] = "validation"
    split[order[n_train + n_val:]] = "test"
    frame["split"] = split
    return frame, {"features": list(data.feature_names)}


def mixed_frame(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "plan": rng.choice(["basic", "pro", "team"], n),
        "spend": rng.normal(50, 10, n),
    })
    frame["label"] = np.where(frame["spend"] + rng.normal(0, 10, n) > 50, "churn", "stay")
    frame.loc[[3, 7, 11], "age"] = np.nan
    frame.loc[[5], "plan"] = None
    return frame


def codes(findings, column=None):
    return [f.code for f in findings if column is None or f"'{column}'" in f.message]


def test_feature_types_numbers_text_and_bools():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"], "c": ["1.5", "2", None],
                          "d": [True, False, True]})
    assert infer_feature_types(frame, ["a", "b", "c", "d"]) == {
        "a": "numeric", "b": "categorical", "c": "numeric", "d": "categorical"}
    mapping = {"features": ["a", "b"], "feature_types": {"a": "categorical"}}
    assert feature_types_for(frame, mapping) == {"a": "categorical", "b": "categorical"}


def test_target_kind():
    assert infer_target_kind(pd.Series(["a", "b"])) == "classification"
    assert infer_target_kind(pd.Series([0, 1, 2, 1])) == "classification"
    assert infer_target_kind(pd.Series(np.linspace(0, 1, 50))) == "regression"
    assert infer_target_kind(pd.Series([0, 1]), {"target_kind": "regression"}) == "regression"


def test_leaking_column_is_reported():
    frame = mixed_frame()
    frame["churn_flag"] = frame["label"].map({"churn": "yes", "stay": "no"})  # a renamed target
    frame["label_copy"] = frame["label"]
    frame["refund"] = np.where(frame["label"] == "churn", 1.0, 0.0) + 1e-3 * np.arange(len(frame))
    mapping = {"features": ["age", "plan", "spend", "churn_flag", "label_copy", "refund"]}
    findings = check_tabular_frame(frame, mapping)
    assert "target_leak" in codes(findings, "churn_flag")
    assert "target_leak" in codes(findings, "label_copy")
    assert "identical to the target" in next(f.message for f in findings if "'label_copy'" in f.message)
    assert "target_leak" in codes(findings, "refund")  # numeric, r ≈ 1 with the binary target
    for honest in ("age", "plan", "spend"):
        assert "target_leak" not in codes(findings, honest)


def test_regression_leak_by_correlation():
    frame = pd.DataFrame({"x": np.arange(100.0), "noise": np.random.default_rng(0).normal(size=100)})
    frame["label"] = 3 * frame["x"] + 0.01 * frame["noise"]
    findings = check_tabular_frame(frame, {"features": ["x", "noise"]})
    leak = [f for f in findings if f.code == "target_leak"]
    assert len(leak) == 1 and "'x'" in leak[0].message and "r = " in leak[0].message


def test_constant_missing_and_high_cardinality():
    frame = mixed_frame()
    frame["country"] = "FR"
    frame["customer_id"] = [f"c{i}" for i in range(len(frame))]
    frame["empty"] = np.nan
    mapping = {"features": ["age", "plan", "spend", "country", "customer_id", "empty"]}
    findings = check_tabular_frame(frame, mapping)
    constant = next(f for f in findings if f.code == "constant_column")
    assert "'country'" in constant.message and "200 rows" in constant.message and constant.example == {
        "country": "FR"}
    missing = next(f for f in findings if f.code == "missing_values" and "'age'" in f.message)
    assert missing.count == 3 and "3 of 200" in missing.message and missing.example == {"row": 4}
    assert "missing_values" in codes(findings, "plan")
    card = next(f for f in findings if f.code == "high_cardinality")
    assert "'customer_id'" in card.message and card.count == 200 and "identifier" in card.message
    assert codes(findings, "empty") == ["empty_column"]
    assert all(f.severity != "blocking" for f in findings)


def test_gallery_datasets_have_no_false_alarms():
    for loader in (load_iris, load_wine, load_breast_cancer, load_diabetes):
        frame, mapping = sk_frame(loader)
        assert check_tabular_frame(frame, mapping) == [], loader.__name__


def test_dataset_quality_report_includes_the_tabular_findings(home):
    from core.data import datasets
    from core.data.splits import SplitConfig

    data = mixed_frame()
    data["churn_flag"] = data["label"].map({"churn": "yes", "stay": "no"})
    parsed = datasets.frame_to_parsed(data.rename(columns={"label": "outcome"}), "churn.csv")
    mapping = {"label": "outcome", "features": ["age", "plan", "spend", "churn_flag"]}
    report = datasets.check_dataset(parsed, mapping, task="tabular", split=SplitConfig())
    leak = [f for f in report.findings if f.code == "target_leak"]
    assert len(leak) == 1 and "'churn_flag'" in leak[0].message
    missing = next(f for f in report.findings if f.code == "missing_values" and "'age'" in f.message)
    assert "3 of 200" in missing.message


def test_missing_feature_column_blocks():
    findings = check_tabular_frame(mixed_frame(), {"features": ["age", "nope"]})
    assert [f.severity for f in findings] == ["blocking"] and "nope" in findings[0].message


def test_preprocessor_matches_sklearn_and_roundtrips_json(tmp_path):
    frame = mixed_frame()
    types = infer_feature_types(frame, ["age", "plan", "spend"])
    train = frame.iloc[:150]
    pre = Preprocessor.fit(train, types)
    reference = make_column_transformer(types).fit(train[list(types)].astype({"plan": object}).fillna(
        {"plan": "(missing)"}))
    expected = reference.transform(frame[list(types)].astype({"plan": object}).fillna({"plan": "(missing)"}))
    np.testing.assert_allclose(pre.transform(frame), expected, rtol=1e-5, atol=1e-5)
    assert pre.output_names[:2] == ["age", "spend"] and "plan=pro" in pre.output_names
    path = tmp_path / "pre.json"
    pre.save(path)
    json.loads(path.read_text())  # plain JSON, nothing pickled
    np.testing.assert_array_equal(Preprocessor.load(path).transform(frame), pre.transform(frame))


def test_unknown_category_and_missing_values_are_handled():
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "c": ["a", "b", "a", None]})
    pre = Preprocessor.fit(train, {"x": "numeric", "c": "categorical"})
    out = pre.transform(pd.DataFrame({"x": [np.nan], "c": ["zzz"]}))
    assert out.shape == (1, 1 + 3)  # x + one-hot of (missing), a, b
    assert out[0, 0] == pytest.approx(0.0)  # the training median, standardised around the mean 2.0
    assert out[0, 1:].tolist() == [0.0, 0.0, 0.0]  # unseen category -> all zeros


def test_preprocessing_ignores_validation_rows():
    frame, mapping = sk_frame(load_iris)
    types = feature_types_for(frame, mapping)
    before = Preprocessor.fit(frame[frame["split"] == "train"], types)
    wild = frame.copy()
    val = wild["split"] != "train"
    wild.loc[val, mapping["features"]] = wild.loc[val, mapping["features"]] * 1000 + 77
    after = Preprocessor.fit(wild[wild["split"] == "train"], types)
    assert after.to_dict() == before.to_dict()
    everything = Preprocessor.fit(wild, types)
    assert everything.means != before.means  # the check above would notice a leak


def test_baselines_on_iris_and_diabetes():
    frame, mapping = sk_frame(load_iris)
    types = feature_types_for(frame, mapping)
    parts = {s: frame[frame["split"] == s] for s in ("train", "validation", "test")}
    results = train_baselines(parts["train"], {"test": parts["test"]}, types, seed=0)
    assert [r.name for r in results] == ["logistic_regression", "hist_gradient_boosting"]
    assert all(r.metrics["test"]["accuracy"] >= 0.85 for r in results)
    assert len(results[0].predictions) == len(parts["test"])

    frame, mapping = sk_frame(load_diabetes)
    parts = {s: frame[frame["split"] == s] for s in ("train", "test")}
    results = train_baselines(parts["train"], {"test": parts["test"]}, feature_types_for(frame, mapping))
    assert [r.name for r in results] == ["linear_regression", "hist_gradient_boosting"]
    assert results[0].metrics["test"]["r2"] > 0.2


def test_score_predictions():
    assert score_predictions("classification", ["a", "b"], ["a", "a"])["accuracy"] == 0.5
    reg = score_predictions("regression", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert reg == {"r2": 1.0, "mae": 0.0, "rmse": 0.0}


def test_permutation_importance_finds_the_useful_column():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"signal": rng.normal(size=300), "noise": rng.normal(size=300)})
    frame["label"] = np.where(frame["signal"] > 0, "pos", "neg")

    def predict(f: pd.DataFrame):
        return np.where(f["signal"] > 0, "pos", "neg")

    table = permutation_importance(predict, frame, ["signal", "noise"], "classification", n_repeats=3)
    assert table["feature"].tolist() == ["signal", "noise"]
    assert table.loc[0, "importance"] > 0.3 and table.loc[1, "importance"] == 0.0
    assert (table["metric"] == "accuracy").all()
