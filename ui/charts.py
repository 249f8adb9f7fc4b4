"""Plotly figure builders: pure functions from DataFrames (or plain values) to figures.

Nothing here calls Streamlit, so every builder is unit-tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.results.report_figures import honest_axes  # one rule for the app's and the report's axes
from core.text import labels

ACCENT = "#4F46E5"
SPLIT_COLOURS = {"train": "#4F46E5", "validation": "#F59E0B", "test": "#10B981"}
_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10), height=320)


def _figure(title: str, x_title: str = "", y_title: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, **_LAYOUT)
    return fig


def counts_frame(counts: Mapping[str, Any] | pd.DataFrame) -> pd.DataFrame:
    """Normalise class counts to a frame with columns label, count and split.

    Accepts ``{label: n}``, ``{split: {label: n}}`` or a frame that already has those columns.
    """
    if isinstance(counts, pd.DataFrame):
        frame = counts.copy()
        if "split" not in frame:
            frame["split"] = "all"
        return frame[["label", "count", "split"]]
    rows: list[dict[str, Any]] = []
    for key, value in counts.items():
        if isinstance(value, Mapping):
            rows += [{"label": str(k), "count": int(v), "split": str(key)} for k, v in value.items()]
        else:
            rows.append({"label": str(key), "count": int(value), "split": "all"})
    return pd.DataFrame(rows, columns=["label", "count", "split"])


def class_balance_bar(counts: Mapping[str, Any] | pd.DataFrame) -> go.Figure:
    """Bars of rows per class, one series per split."""
    frame = counts_frame(counts)
    fig = _figure("Rows per class", "class", "rows")
    for split, part in frame.groupby("split", sort=False):
        fig.add_bar(x=part["label"].astype(str), y=part["count"], name=str(split),
                    marker_color=SPLIT_COLOURS.get(str(split), ACCENT))
    fig.update_layout(barmode="group", showlegend=frame["split"].nunique() > 1)
    return fig


def cut_share(share: float) -> str:
    """'12%', or '<1%' when some texts are cut but fewer than half a percent (never a '0%' beside a
    sentence that says some are)."""
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def token_length_histogram(lengths: Sequence[int] | pd.Series, max_length: int | None = None,
                           context_length: int | None = None) -> go.Figure:
    """Histogram of texts' lengths in tokens, with the chosen max length (and context) marked."""
    values = pd.Series(list(lengths), dtype="float64").dropna()
    fig = _figure("Text length in tokens", "tokens", "texts")
    fig.add_histogram(x=values, nbinsx=40, marker_color=ACCENT, name="texts")
    if max_length:
        share = float((values > max_length).mean()) if len(values) else 0.0
        fig.add_vline(x=max_length, line_dash="dash", line_color="#DC2626",
                      annotation_text=f"max length {max_length} ({cut_share(share)} cut)")
    if context_length and (values.max() if len(values) else 0) > context_length * 0.5:
        fig.add_vline(x=context_length, line_dash="dot", line_color="#6B7280",
                      annotation_text=f"context {context_length}")
    return fig


def histogram_bars(edges: Sequence[float], counts: Sequence[int], title: str, x_title: str,
                   y_title: str = "rows", min_width: float = 0.0) -> go.Figure:
    """Bars of a histogram the services already binned (edges has one more item than counts)."""
    edges = list(edges)
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=False)]
    # A bar narrower than min_width (all values equal, say) would vanish on a wide axis.
    widths = [max(b - a, min_width) for a, b in zip(edges[:-1], edges[1:], strict=False)]
    fig = _figure(title, x_title, y_title)
    fig.add_bar(x=centres, y=list(counts), width=widths, marker_color=ACCENT, name=y_title)
    fig.update_layout(bargap=0.02)
    return fig


def token_length_bars(hist: Mapping[str, Any], max_length: int | None = None,
                      truncated_share: float | None = None) -> go.Figure:
    """Token-length histogram from the quality report's bins, with the max length marked."""
    edges = list(hist.get("bins", []))
    span = max([*edges[-1:], max_length or 0]) - min([*edges[:1], 0])
    fig = histogram_bars(edges, hist.get("counts", []), "Text length in tokens", "tokens", "texts",
                         min_width=span / 80)
    if max_length:
        cut = f" ({cut_share(truncated_share)} cut)" if truncated_share is not None else ""
        fig.add_vline(x=max_length, line_dash="dash", line_color="#DC2626",
                      annotation_text=f"max length {max_length}{cut}")
    return fig


def _metric_rows(metrics: pd.DataFrame, name: str) -> pd.DataFrame:
    # The trainer logs validation metrics either as split="validation" + name, or as "eval_<name>".
    if metrics.empty:
        return metrics
    names = metrics["name"].astype(str)
    picked = metrics[(names == name) | (names == f"eval_{name}")].copy()
    picked.loc[picked["name"].astype(str).str.startswith("eval_"), "split"] = "validation"
    return picked.sort_values("step")


def loss_curves(metrics: pd.DataFrame) -> go.Figure:
    """Train and validation loss against the step, from rows (step, epoch, split, name, value)."""
    fig = _figure("Loss", "step", "loss")
    rows = _metric_rows(metrics, "loss")
    for split, part in rows.groupby("split", sort=False) if not rows.empty else []:
        fig.add_scatter(x=part["step"], y=part["value"], name=str(split),
                        mode="lines+markers" if len(part) < 30 else "lines",
                        line_color=SPLIT_COLOURS.get(str(split), ACCENT))
    if not rows.empty:
        honest_axes(fig, list(rows["value"]), list(rows["step"]), "loss")
    return fig


def metric_curve(metrics: pd.DataFrame, name: str, split: str = "validation") -> go.Figure:
    """One metric (e.g. validation accuracy) against the step."""
    rows = _metric_rows(metrics, name)
    if not rows.empty:
        rows = rows[rows["split"] == split]
    title = labels.metric_label(name)
    fig = _figure(f"{labels.split_label(split)}: {title}", "step", title.split(" (")[0])
    fig.add_scatter(x=rows["step"] if not rows.empty else [], y=rows["value"] if not rows.empty else [],
                    mode="lines+markers", name=title, line_color=SPLIT_COLOURS.get(split, ACCENT))
    if not rows.empty:
        honest_axes(fig, list(rows["value"]), list(rows["step"]), name)
    return fig


def fold_curves(curves: pd.DataFrame, name: str, split: str = "validation") -> go.Figure:
    """One line per cross-validation fold for a metric, from rows (fold, step, epoch, split, name, value)."""
    rows = curves[(curves["name"] == name) & (curves["split"] == split)] if not curves.empty else curves
    fig = _figure(f"{split.capitalize()} {name.replace('_', ' ')} per fold", "step", name)
    for fold, part in rows.groupby("fold", sort=True) if not rows.empty else []:
        fig.add_scatter(x=part["step"], y=part["value"], mode="lines+markers", name=f"fold {fold}")
    if not rows.empty:
        honest_axes(fig, list(rows["value"]), list(rows["step"]), name)
    return fig


def confusion_matrix(matrix: pd.DataFrame, normalised: bool = False) -> go.Figure:
    """Heatmap of true (rows) against predicted (columns) labels, as counts or row shares."""
    values = matrix.to_numpy(dtype="float64")
    if normalised:
        totals = values.sum(axis=1, keepdims=True)
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
        text = [[f"{v:.0%}" for v in row] for row in values]
    else:
        text = [[f"{int(v)}" for v in row] for row in values]
    labels_x = [str(c) for c in matrix.columns]
    labels_y = [str(i) for i in matrix.index]
    fig = _figure("Confusion matrix" + (" (share of each true class)" if normalised else ""),
                  "predicted", "true")
    fig.add_heatmap(z=values, x=labels_x, y=labels_y, text=text, texttemplate="%{text}",
                    colorscale="Blues", showscale=False,
                    hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    fig.update_layout(height=max(320, 40 * len(labels_y) + 120))
    return fig


def _curves(frame: pd.DataFrame, x: str, y: str, title: str, x_title: str, y_title: str,
            areas: Mapping[str, float] | None, diagonal: bool) -> go.Figure:
    fig = _figure(title, x_title, y_title)
    for cls, part in frame.groupby("class", sort=False) if not frame.empty else []:
        area = (areas or {}).get(str(cls))
        label = f"{cls} (AUC {area:.3f})" if area is not None else str(cls)
        fig.add_scatter(x=part[x], y=part[y], mode="lines", name=label)
    if diagonal:
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                        line=dict(dash="dash", color="#9CA3AF"))
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def roc_curves(curves: pd.DataFrame, auc: Mapping[str, float] | None = None) -> go.Figure:
    """ROC curve per class (one-vs-rest) from rows (class, fpr, tpr), AUC in the legend."""
    return _curves(curves, "fpr", "tpr", "ROC", "false positive rate", "true positive rate",
                   auc, diagonal=True)


def pr_curves(curves: pd.DataFrame, auc: Mapping[str, float] | None = None) -> go.Figure:
    """Precision-recall curve per class from rows (class, recall, precision)."""
    return _curves(curves, "recall", "precision", "Precision-recall", "recall", "precision",
                   auc, diagonal=False)


def curves_frame(curves: Mapping[str, Mapping[str, Any]], x: str, y: str
                 ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-class curves stored as ``{class: {x: [...], y: [...], auc}}`` as a long frame + AUCs."""
    frames = [pd.DataFrame({"class": str(cls), x: c.get(x, []), y: c.get(y, [])})
              for cls, c in curves.items()]
    aucs = {str(cls): float(c["auc"]) for cls, c in curves.items() if c.get("auc") is not None}
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["class", x, y])
    return frame, aucs


def calibration_frame(calibration: Mapping[str, Any]) -> pd.DataFrame:
    """A stored calibration curve ``{confidence, accuracy, count}`` as (mean_predicted, fraction_positive)."""
    return pd.DataFrame({"mean_predicted": calibration.get("confidence", []),
                         "fraction_positive": calibration.get("accuracy", []),
                         "count": calibration.get("count", [])})


def calibration_curve(bins: pd.DataFrame) -> go.Figure:
    """Observed accuracy against mean confidence per bin, from (mean_predicted, fraction_positive)."""
    fig = _figure("Calibration", "mean confidence", "observed accuracy")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                    line=dict(dash="dash", color="#9CA3AF"))
    fig.add_scatter(x=bins.get("mean_predicted", []), y=bins.get("fraction_positive", []),
                    mode="lines+markers", name="model", line_color=ACCENT)
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def confidence_histogram(predictions: pd.DataFrame) -> go.Figure:
    """Histogram of the predicted class's probability, split into right and wrong predictions."""
    fig = _figure("Confidence", "probability of the predicted class", "examples")
    if "correct" in predictions:
        for correct, name, colour in ((True, "right", "#10B981"), (False, "wrong", "#DC2626")):
            part = predictions[predictions["correct"] == correct]
            fig.add_histogram(x=part["confidence"], name=name, marker_color=colour,
                              xbins=dict(start=0, end=1.0001, size=0.05))
        fig.update_layout(barmode="stack")
    else:
        fig.add_histogram(x=predictions.get("confidence", []), name="all", marker_color=ACCENT)
    return fig


def _actual(predictions: pd.DataFrame) -> pd.Series:
    # Regression predictions name the true value "actual" or, as the services store it, "label".
    return pd.to_numeric(predictions["actual" if "actual" in predictions else "label"], errors="coerce")


def predicted_vs_actual(predictions: pd.DataFrame) -> go.Figure:
    """Scatter of predicted against actual values with the ideal diagonal (regression)."""
    actual, predicted = _actual(predictions), pd.to_numeric(predictions["predicted"], errors="coerce")
    fig = _figure("Predicted against actual", "actual", "predicted")
    fig.add_scatter(x=actual, y=predicted, mode="markers", name="examples",
                    marker=dict(color=ACCENT, opacity=0.6, size=6))
    if len(actual):
        low = float(min(actual.min(), predicted.min()))
        high = float(max(actual.max(), predicted.max()))
        fig.add_scatter(x=[low, high], y=[low, high], mode="lines", name="ideal",
                        line=dict(dash="dash", color="#9CA3AF"))
    return fig


def residual_histogram(predictions: pd.DataFrame) -> go.Figure:
    """Histogram of residuals (predicted minus actual)."""
    residuals = pd.to_numeric(predictions["predicted"], errors="coerce") - _actual(predictions)
    fig = _figure("Residuals (predicted − actual)", "residual", "examples")
    fig.add_histogram(x=residuals, nbinsx=40, marker_color=ACCENT, name="residuals")
    fig.add_vline(x=0, line_dash="dash", line_color="#6B7280")
    return fig


def probability_bar(probabilities: pd.DataFrame | Mapping[str, float]) -> go.Figure:
    """Horizontal bars of each class's probability, highest on top."""
    frame = (probabilities if isinstance(probabilities, pd.DataFrame)
             else pd.DataFrame({"label": list(probabilities), "probability": list(probabilities.values())}))
    frame = frame.sort_values("probability")
    fig = _figure("Probability per class", "probability", "")
    fig.add_bar(x=frame["probability"], y=frame["label"].astype(str), orientation="h",
                marker_color=ACCENT, text=[f"{p:.1%}" for p in frame["probability"]],
                textposition="auto", name="probability")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(type="category")
    fig.update_layout(height=max(200, 36 * len(frame) + 80))
    return fig


def value_bar(frame: pd.DataFrame, x: str, y: str, title: str) -> go.Figure:
    """A plain bar chart (F1 per entity type, feature importance, metric per fold)."""
    fig = _figure(title, x, y)
    fig.add_bar(x=frame[x].astype(str), y=frame[y], marker_color=ACCENT, name=y)
    return fig


def score_histogram(scores: pd.DataFrame, metric: str, title: str) -> go.Figure:
    """Per-example scores (0–1) of one or more models (column ``model``) as overlaid histograms."""
    fig = _figure(title, "score per example (0 = wrong, 1 = matches the reference)", "examples")
    for model, part in scores.groupby("model", sort=False) if "model" in scores else [("", scores)]:
        fig.add_histogram(x=part[metric], xbins=dict(start=0.0, end=1.0001, size=0.05), name=str(model),
                          opacity=0.7)
    fig.update_layout(barmode="overlay", xaxis_range=[0, 1])
    return fig
