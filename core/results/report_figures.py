"""Plotly figures for the offline report (core cannot use ui.charts: the layers point downwards)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.text import labels

ACCENT = "#4F46E5"
PALETTE = ("#4F46E5", "#F59E0B", "#10B981", "#DC2626", "#0EA5E9", "#A855F7", "#84CC16", "#F97316")
_GRID = dict(gridcolor="#EBF0F8", zerolinecolor="#EBF0F8", linecolor="#EBF0F8", automargin=True)
# A light white template: the full "plotly_white" costs ~40 ms of validation per figure, which a
# page drawing several charts (and a page-speed target of 1 s) cannot afford.
_TEMPLATE = go.layout.Template(layout=dict(paper_bgcolor="white", plot_bgcolor="white",
                                           font=dict(color="#2a3f5f"), xaxis=_GRID, yaxis=_GRID))
_LAYOUT = dict(template=_TEMPLATE, margin=dict(l=10, r=10, t=40, b=10), height=340)


def _figure(title: str, x_title: str = "", y_title: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, **_LAYOUT)
    return fig


def honest_axes(fig: go.Figure, values: Sequence[float], steps: Sequence[float], name: str) -> go.Figure:
    """Axes that do not make a flat line look like progress.

    A share (accuracy, F1) is drawn on 0–100 %; any other metric gets a y-range of at least ±10 %
    of its value, so a change in the third decimal stays flat; a single point sits on an x-axis
    that starts at 0 instead of a window of ±1 step around it.
    """
    ys = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if ys and labels.is_share(name) and min(ys) >= 0 and max(ys) <= 1:
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    elif ys:
        low, high = min(ys), max(ys)
        mid, floor = (low + high) / 2, max(abs((low + high) / 2) * 0.1, 1e-3)
        if high - low < floor:
            fig.update_yaxes(range=[mid - floor, mid + floor])
    xs = [float(v) for v in steps if v is not None]
    if len(set(xs)) == 1:
        fig.update_xaxes(range=[0, max(xs[0], 1.0) * 1.1])
    return fig


def _metric_rows(curves: pd.DataFrame, name: str) -> pd.DataFrame:
    if curves.empty:
        return curves
    names = curves["name"].astype(str)
    rows = curves[(names == name) | (names == f"eval_{name}")].dropna(subset=["value"]).copy()
    rows.loc[rows["name"].astype(str).str.startswith("eval_"), "split"] = "validation"
    return rows


def curve_figure(curves: pd.DataFrame, name: str, x: str = "step", by: str = "split",
                 title: str = "") -> go.Figure:
    """One metric against the step (or epoch), a line per split or per run."""
    rows = _metric_rows(curves, name)
    fig = _figure(title or name.replace("_", " ").capitalize(), x, name)
    if rows.empty:
        return fig
    for i, ((group, split), part) in enumerate(rows.groupby([by, "split"], sort=False)):
        label = f"{group} {split}" if by != "split" else str(split)
        part = part.dropna(subset=[x]).sort_values(x)
        fig.add_scatter(x=part[x], y=part["value"], name=label, line_color=PALETTE[i % len(PALETTE)],
                        mode="lines+markers" if len(part) < 30 else "lines",
                        line_dash="dot" if split == "train" and by != "split" else None)
    return honest_axes(fig, list(rows["value"]), list(rows[x].dropna()), name)


def confusion_figure(matrix: Sequence[Sequence[float]], labels: Sequence[str]) -> go.Figure:
    """Heatmap of true (rows) against predicted (columns) counts."""
    names = [str(x) for x in labels]
    fig = _figure("Confusion matrix", "predicted", "true")
    fig.add_heatmap(z=matrix, x=names, y=names, text=[[str(int(v)) for v in row] for row in matrix],
                    texttemplate="%{text}", colorscale="Blues", showscale=False)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    fig.update_layout(height=max(340, 40 * len(names) + 120))
    return fig


def bar_figure(values: Mapping[str, float], title: str, y_title: str) -> go.Figure:
    """Bars of one number per name (per-class F1, a metric per model)."""
    fig = _figure(title, "", y_title)
    fig.add_bar(x=[str(k) for k in values], y=list(values.values()), marker_color=ACCENT,
                text=[f"{v:.3g}" for v in values.values()], textposition="auto")
    return fig


def scatter_figure(actual: Sequence[float], predicted: Sequence[float]) -> go.Figure:
    """Predicted against actual values with the ideal diagonal (regression)."""
    fig = _figure("Predicted against actual", "actual", "predicted")
    fig.add_scatter(x=list(actual), y=list(predicted), mode="markers", name="examples",
                    marker=dict(color=ACCENT, opacity=0.6, size=6))
    if len(actual):
        low, high = float(min(min(actual), min(predicted))), float(max(max(actual), max(predicted)))
        fig.add_scatter(x=[low, high], y=[low, high], mode="lines", name="ideal",
                        line=dict(dash="dash", color="#9CA3AF"))
    return fig


def evaluation_figures(task: str, metrics: dict[str, Any], curves: pd.DataFrame,
                       predictions: pd.DataFrame | None) -> list[go.Figure]:
    """The charts of one run's evaluation that the report shows, by task."""
    figures = []
    if not _metric_rows(curves, "loss").empty:
        figures.append(curve_figure(curves, "loss"))
    key = next((k for k in ("accuracy", "macro_f1", "entity_f1", "f1", "r2", "rmse", "perplexity")
                if not _metric_rows(curves, k).empty), None)
    if key:
        figures.append(curve_figure(curves, key))
    if metrics.get("confusion_matrix") and metrics.get("labels"):
        figures.append(confusion_figure(metrics["confusion_matrix"], metrics["labels"]))
    per_class = metrics.get("per_class") or metrics.get("per_entity")
    if isinstance(per_class, list) and per_class and isinstance(per_class[0], dict):
        name = "label" if "label" in per_class[0] else next(iter(per_class[0]))
        f1 = {str(r[name]): float(r.get("f1") or 0.0) for r in per_class}
        figures.append(bar_figure(f1, "F1 per class", "F1"))
    if (task in ("regression", "tabular") and predictions is not None
            and {"label", "predicted"} <= set(predictions.columns)
            and pd.api.types.is_numeric_dtype(predictions["predicted"])):
        figures.append(scatter_figure(predictions["label"].astype(float).tolist(),
                                      predictions["predicted"].astype(float).tolist()))
    return figures


def learning_curve_figure(frame: pd.DataFrame, metric: str) -> go.Figure:
    """The metric against the number of training rows (one point per learning-curve run)."""
    rows = frame[frame["metric"] == metric].sort_values("train_rows") if not frame.empty else frame
    fig = _figure(f"{metric.replace('_', ' ').capitalize()} against training rows", "training rows", metric)
    fig.add_scatter(x=rows["train_rows"] if not rows.empty else [], y=rows["value"] if not rows.empty else [],
                    mode="lines+markers", name=metric, line_color=ACCENT)
    if not rows.empty:
        honest_axes(fig, list(rows["value"]), list(rows["train_rows"]), metric)
    return fig
