"""The plotly builders turn frames into figures with the traces the pages rely on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ui import charts


def _metrics() -> pd.DataFrame:
    return pd.DataFrame({
        "step": [10, 20, 20, 30, 40, 40, 40],
        "epoch": [0.25, 0.5, 0.5, 0.75, 1.0, 1.0, 1.0],
        "split": ["train", "train", "validation", "train", "train", "validation", "validation"],
        "name": ["loss", "loss", "loss", "loss", "loss", "loss", "accuracy"],
        "value": [0.9, 0.7, 0.8, 0.5, 0.4, 0.6, 0.81],
    })


def test_class_balance_has_one_series_per_split() -> None:
    fig = charts.class_balance_bar({"train": {"a": 8, "b": 2}, "test": {"a": 2, "b": 1}})
    assert [t.name for t in fig.data] == ["train", "test"]
    assert list(fig.data[0].x) == ["a", "b"] and list(fig.data[0].y) == [8, 2]


def test_class_balance_accepts_flat_counts() -> None:
    fig = charts.class_balance_bar({"pos": 5, "neg": 7})
    assert len(fig.data) == 1 and list(fig.data[0].y) == [5, 7]


def test_token_histogram_marks_max_length_with_cut_share() -> None:
    fig = charts.token_length_histogram([10, 20, 200, 300], max_length=128)
    assert fig.data[0].type == "histogram" and len(fig.data[0].x) == 4
    assert "50% cut" in fig.layout.annotations[0].text


def test_loss_curves_split_train_and_validation() -> None:
    fig = charts.loss_curves(_metrics())
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"train", "validation"}
    assert list(by_name["train"].x) == [10, 20, 30, 40]
    assert list(by_name["validation"].y) == [0.8, 0.6]


def test_loss_curves_understand_eval_prefix() -> None:
    frame = pd.DataFrame({"step": [5, 5], "epoch": [1.0, 1.0], "split": ["train", "eval"],
                          "name": ["loss", "eval_loss"], "value": [0.5, 0.6]})
    names = sorted(t.name for t in charts.loss_curves(frame).data)
    assert names == ["train", "validation"]


def test_loss_curves_empty_frame_gives_empty_figure() -> None:
    empty = pd.DataFrame(columns=["step", "epoch", "split", "name", "value"])
    assert len(charts.loss_curves(empty).data) == 0


def test_metric_curve_picks_the_named_validation_metric() -> None:
    fig = charts.metric_curve(_metrics(), "accuracy")
    assert list(fig.data[0].y) == [0.81]


@pytest.mark.parametrize("normalised", [False, True])
def test_confusion_matrix_counts_and_shares(normalised: bool) -> None:
    matrix = pd.DataFrame([[8, 2], [1, 9]], index=["neg", "pos"], columns=["neg", "pos"])
    fig = charts.confusion_matrix(matrix, normalised=normalised)
    heat = fig.data[0]
    assert heat.type == "heatmap" and list(heat.x) == ["neg", "pos"]
    if normalised:
        assert np.allclose(np.array(heat.z).sum(axis=1), 1.0) and heat.text[0][0] == "80%"
    else:
        assert heat.text[1][1] == "9"


def test_roc_and_pr_curves_one_trace_per_class_with_auc() -> None:
    roc = pd.DataFrame({"class": ["a", "a", "a", "b", "b"], "fpr": [0, 0.5, 1, 0, 1],
                        "tpr": [0, 0.8, 1, 0, 1]})
    fig = charts.roc_curves(roc, {"a": 0.9, "b": 0.5})
    assert [t.name for t in fig.data] == ["a (AUC 0.900)", "b (AUC 0.500)", "chance"]
    pr = pd.DataFrame({"class": ["a", "a"], "recall": [0, 1], "precision": [1, 0.5]})
    assert [t.name for t in charts.pr_curves(pr).data] == ["a"]


def test_calibration_curve_has_diagonal_and_model() -> None:
    bins = pd.DataFrame({"mean_predicted": [0.2, 0.8], "fraction_positive": [0.25, 0.7]})
    fig = charts.calibration_curve(bins)
    assert [t.name for t in fig.data] == ["perfectly calibrated", "model"]


def test_confidence_histogram_splits_right_and_wrong() -> None:
    preds = pd.DataFrame({"confidence": [0.9, 0.6, 0.55], "correct": [True, False, True]})
    fig = charts.confidence_histogram(preds)
    assert [t.name for t in fig.data] == ["right", "wrong"]
    assert len(fig.data[0].x) == 2 and len(fig.data[1].x) == 1


def test_regression_charts() -> None:
    preds = pd.DataFrame({"actual": [1.0, 2.0, 3.0], "predicted": [1.5, 2.0, 2.0]})
    scatter = charts.predicted_vs_actual(preds)
    assert [t.name for t in scatter.data] == ["examples", "ideal"]
    residuals = charts.residual_histogram(preds)
    assert list(residuals.data[0].x) == [0.5, 0.0, -1.0]


def test_probability_bar_sorted_with_percentages() -> None:
    fig = charts.probability_bar({"neg": 0.2, "pos": 0.8})
    bar = fig.data[0]
    assert list(bar.y) == ["neg", "pos"] and list(bar.text) == ["20.0%", "80.0%"]


def test_regression_charts_accept_label_as_actual() -> None:
    preds = pd.DataFrame({"label": [1.0, 3.0], "predicted": [2.0, 2.0]})
    assert list(charts.residual_histogram(preds).data[0].x) == [1.0, -1.0]
    assert list(charts.predicted_vs_actual(preds).data[0].x) == [1.0, 3.0]


def test_stored_curves_become_frames() -> None:
    frame, aucs = charts.curves_frame({"a": {"fpr": [0, 1], "tpr": [0, 1], "auc": 0.5}}, "fpr", "tpr")
    assert list(frame.columns) == ["class", "fpr", "tpr"] and aucs == {"a": 0.5}
    bins = charts.calibration_frame({"confidence": [0.3], "accuracy": [0.2], "count": [5]})
    assert bins.loc[0, "mean_predicted"] == 0.3 and bins.loc[0, "fraction_positive"] == 0.2


def test_binned_token_lengths_are_bars_with_the_cut_marked() -> None:
    fig = charts.token_length_bars({"bins": [0, 10, 20, 30], "counts": [5, 3, 1]}, 16, 0.2)
    assert list(fig.data[0].x) == [5, 15, 25] and list(fig.data[0].y) == [5, 3, 1]
    assert "20% cut" in fig.layout.annotations[0].text


def test_a_single_narrow_bin_stays_visible() -> None:
    fig = charts.token_length_bars({"bins": [9.5, 10.5], "counts": [60]}, max_length=160)
    assert fig.data[0].width[0] == pytest.approx(2.0)


def test_fold_curves_one_line_per_fold() -> None:
    curves = pd.DataFrame({"fold": [1, 1, 2, 2], "step": [5, 10, 5, 10], "epoch": [0.5, 1, 0.5, 1],
                           "split": ["validation"] * 4, "name": ["accuracy"] * 4,
                           "value": [0.6, 0.7, 0.65, 0.8]})
    fig = charts.fold_curves(curves, "accuracy")
    assert [t.name for t in fig.data] == ["fold 1", "fold 2"] and list(fig.data[1].y) == [0.65, 0.8]


def test_a_flat_accuracy_is_drawn_on_the_whole_0_to_100_percent_axis() -> None:
    frame = pd.DataFrame({"step": [10, 20, 30], "epoch": [0.5, 1.0, 1.5], "split": "validation",
                          "name": "accuracy", "value": [0.594, 0.597, 0.600]})
    fig = charts.metric_curve(frame, "accuracy")
    assert tuple(fig.layout.yaxis.range) == (0, 1.02)
    assert fig.layout.title.text == "Validation: Accuracy"


def test_a_flat_loss_is_not_zoomed_into_apparent_progress() -> None:
    frame = pd.DataFrame({"step": [10, 20, 30], "epoch": [0.5, 1.0, 1.5], "split": "validation",
                          "name": "loss", "value": [0.700, 0.699, 0.698]})
    low, high = charts.loss_curves(frame).layout.yaxis.range
    assert high - low >= 0.1 * 0.699  # a 0.002 change stays a flat line


def test_a_single_point_starts_its_x_axis_at_zero() -> None:
    frame = pd.DataFrame({"step": [25], "epoch": [1.0], "split": "validation", "name": "accuracy",
                          "value": [0.8]})
    low, high = charts.metric_curve(frame, "accuracy").layout.xaxis.range
    assert low == 0 and high > 25


def test_a_few_cut_texts_never_read_as_zero_percent() -> None:
    """1 of 210 texts beyond the max length was labelled "0% cut" beside a finding that said texts
    would be cut."""
    assert charts.token_length_bars({"bins": [0, 100, 300], "counts": [209, 1]}, 256, 1 / 210) \
        .layout.annotations[0].text == "max length 256 (<1% cut)"
    assert "(<1% cut)" in charts.token_length_histogram([10] * 209 + [300], max_length=256) \
        .layout.annotations[0].text
    assert "(0% cut)" in charts.token_length_histogram([10, 20], max_length=256).layout.annotations[0].text
