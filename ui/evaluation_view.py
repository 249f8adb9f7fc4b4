"""Blocks of the Evaluation page: metric cards, baselines, charts and error tables per task."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core import task_specs
from core.results import verdict
from core.results.evaluation import EvaluationResult
from core.task_specs import higher_is_better
from core.text import labels
from ui import charts, state
from ui.widgets import call, md_escape

ALL = "(all)"


def _best_baseline(result: EvaluationResult, metric: str) -> Any:
    """The strongest baseline on `metric` (the smallest gain): the honest comparison, TF-IDF rather
    than the majority class, logistic regression rather than a weaker gradient boosting."""
    scored = [b for b in result.baselines if b.gain.get(metric) is not None]
    return min(scored, key=lambda b: b.gain[metric]) if scored else None


def verdict_banner(found: verdict.Verdict, key: str = state.EVALUATION_VERDICT) -> None:
    """The verdict sentence, first on the page: green when the run beats every baseline, amber when
    it does not, red when it is no better than always guessing one answer."""
    tones = {verdict.GOOD: st.success, verdict.WEAK: st.warning, verdict.BAD: st.error}
    show = tones.get(found.tone, st.info)
    icon = {verdict.GOOD: ":material/check_circle:", verdict.BAD: ":material/error:"}.get(
        found.tone, ":material/info:")
    with st.container(key=key):
        show(md_escape(found.sentence), icon=icon)  # labels are user text: never markup


def baseline_win_note(result: EvaluationResult) -> None:
    """Say so when a simple baseline beats the fine-tuned model, and offer to save it for serving."""
    win = verdict.baseline_winner(result.task, result.metrics,
                                  {b.name: b.metrics for b in result.baselines})
    if win is None:
        return
    st.info(md_escape(win.sentence(result.run_id)), icon=":material/lightbulb:")
    if win.servable and st.button("Save this baseline to serve it", key=state.EVALUATION_SAVE_BASELINE):
        from core.training.baseline_models import save_baseline

        saved = call(save_baseline, result.run_id, win.name)
        if saved is not None:
            st.success(md_escape(f"Saved to {saved.folder} (skops). Serve it: uclab serve --run "
                                 f"{result.run_id} --baseline"))


def metric_cards(result: EvaluationResult, names: tuple[str, ...]) -> None:
    """Big numbers for the headline metrics, each with the gain over the strongest baseline."""
    for column, name in zip(st.columns(len(names)), names, strict=False):
        value = result.metrics.get(name)
        delta = None
        best = _best_baseline(result, name)
        if best is not None:
            against = labels.baseline_label(best.name, short=True)
            if best.name not in labels.BASELINE_LABELS and best.title:  # a prompted model: its name, its N
                n = next((v["n"] for v in (best.metrics.get("metrics") or {}).values()
                          if isinstance(v, dict) and v.get("n")), None)
                against = best.title.split(" (")[0] + (f" on the same {n} rows" if n else "")
            delta = f"{labels.metric_gain(name, best.gain[name])} vs {against}"
        column.metric(labels.metric_label(name), labels.metric_value(name, value), delta=delta,
                      help=f"{name} on the {result.split} split",
                      delta_color="inverse" if not higher_is_better(name) and delta else "normal")


def baselines_frame(result: EvaluationResult) -> pd.DataFrame:
    """The run and each baseline as text cells: every metric formatted, gains in points, '—' if missing."""
    headline = list(result.headline)
    rows = [{"model": f"This model (run {result.run_id})",
             **{labels.metric_label(k): labels.metric_value(k, result.metrics.get(k)) for k in headline}}]
    for b in result.baselines:
        known = b.name in labels.BASELINE_LABELS  # else the title its evaluation stored (LLM baselines)
        row: dict[str, Any] = {"model": labels.baseline_label(b.name) if known or not b.title else b.title,
                               **{labels.metric_label(k): labels.metric_value(k, b.metrics.get(k))
                                  for k in headline}}
        row.update({f"gain in {labels.metric_label(k).split(' (')[0]}": labels.metric_gain(k, b.gain.get(k))
                    for k in headline})
        rows.append(row)
    return pd.DataFrame(rows).fillna(labels.MISSING)


def baselines_table(result: EvaluationResult) -> None:
    """The run beside each baseline trained on the same split, with the run's gain over each."""
    if not result.baselines:
        prompted = ("; prompted models, when scored, are compared under Answer quality"
                    if task_specs.generates_text(result.task) else "")
        st.caption(f"No simple baseline (a keyword model, always guessing) was stored for this "
                   f"run{prompted}.")
        return
    st.dataframe(baselines_frame(result), hide_index=True, key=state.EVALUATION_BASELINES)
    st.caption("Gain is how much better this model is than the baseline (for errors, how much smaller "
               "its error is); shares are compared in percentage points. A prompted model answered only "
               "the examples its row names, so its gain compares both models on those rows alone.")


def averages_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Precision, recall and F1 as macro / micro / weighted averages."""
    names = ("precision", "recall", "f1")
    how = {"macro": "Macro (classes weigh equally)", "micro": "Micro (every example weighs equally)",
           "weighted": "Weighted (big classes weigh more)"}
    return pd.DataFrame([{"average": how[avg], **{m.capitalize(): labels.metric_value(
        m, metrics.get(f"{avg}_{m}")) for m in names}} for avg in ("macro", "micro", "weighted")])


def per_class_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-class report headed and written as the averages beside it ('100.0 %', not 1)."""
    shown = frame.copy()
    for name in ("precision", "recall", "f1"):
        if name in shown:
            shown[name] = [labels.metric_value(name, v) for v in shown[name]]
    headings = {"precision": "Precision", "recall": "Recall", "f1": "F1", "support": "Support"}
    return shown.rename(columns=headings)


def classification_view(result: EvaluationResult) -> None:
    """Cards, averages, per-class report, confusion matrix, ROC/PR, calibration, confidence, errors."""
    baseline_win_note(result)
    metric_cards(result, ("accuracy", "macro_f1", "micro_f1", "weighted_f1"))
    st.subheader("Against the baselines")
    baselines_table(result)
    left, right = st.columns(2)
    left.caption("Averages")
    left.dataframe(averages_table(result.metrics), hide_index=True, key=state.EVALUATION_AVERAGES)
    right.caption("Per class")
    right.dataframe(per_class_table(result.per_class), hide_index=True, key=state.EVALUATION_PER_CLASS)
    st.subheader("Where it goes wrong")
    normalised = st.toggle("Share of each true class", key=state.EVALUATION_NORMALISE)
    matrix = pd.DataFrame(result.confusion_matrix, index=result.labels, columns=result.labels)
    if len(matrix):
        st.plotly_chart(charts.confusion_matrix(matrix, normalised), key=state.EVALUATION_CONFUSION)
    curves = result.curves
    left, right = st.columns(2)
    if curves.get("roc"):
        frame, aucs = charts.curves_frame(curves["roc"], "fpr", "tpr")
        left.plotly_chart(charts.roc_curves(frame, aucs), key=state.EVALUATION_ROC)
    if curves.get("pr"):
        frame, aucs = charts.curves_frame(curves["pr"], "recall", "precision")
        right.plotly_chart(charts.pr_curves(frame, aucs), key=state.EVALUATION_PR)
    left, right = st.columns(2)
    if curves.get("calibration"):
        ece = curves["calibration"].get("ece")
        left.plotly_chart(charts.calibration_curve(charts.calibration_frame(curves["calibration"])),
                          key=state.EVALUATION_CALIBRATION)
        if ece is not None:
            left.caption(f"Expected calibration error: {ece:.3f} (0 is perfectly calibrated).")
    if "confidence" in result.predictions:
        right.plotly_chart(charts.confidence_histogram(result.predictions), key=state.EVALUATION_CONFIDENCE)
    misclassified_table(result)


def misclassified_table(result: EvaluationResult) -> None:
    """Wrong predictions, most confident first, filterable by true and predicted class."""
    st.subheader("Misclassified examples")
    options = [ALL, *result.labels]
    left, right = st.columns(2)
    true = left.selectbox("True class", options, key=state.EVALUATION_TRUE_FILTER)
    predicted = right.selectbox("Predicted class", options, key=state.EVALUATION_PRED_FILTER)
    wrong = result.misclassified(None if true == ALL else true, None if predicted == ALL else predicted)
    columns = [c for c in ("text", "label", "predicted", "confidence") if c in wrong]
    more = "" if len(wrong) <= 200 else "; the 200 most confident"
    st.caption(f"{len(wrong):,} wrong predictions{more}")
    st.dataframe(wrong[columns].head(200), hide_index=True, key=state.EVALUATION_MISCLASSIFIED,
                 column_config={"confidence": st.column_config.ProgressColumn(
                     "confidence", min_value=0.0, max_value=1.0, format="%.2f")})


def regression_view(result: EvaluationResult) -> None:
    """MAE, RMSE and R² with baseline gains, predicted-vs-actual, residuals and the worst examples."""
    metric_cards(result, ("mae", "rmse", "r2"))
    st.subheader("Against the baselines")
    baselines_table(result)
    preds = result.predictions
    if {"predicted"} <= set(preds) and ({"label"} & set(preds) or {"actual"} & set(preds)):
        left, right = st.columns(2)
        left.plotly_chart(charts.predicted_vs_actual(preds), key=state.EVALUATION_SCATTER)
        right.plotly_chart(charts.residual_histogram(preds), key=state.EVALUATION_RESIDUALS)
    st.subheader("Worst examples")
    worst = result.misclassified()
    st.dataframe(worst.head(100), hide_index=True, key=state.EVALUATION_WORST)


def generic_view(result: EvaluationResult) -> None:
    """Any other task: its scalar metrics and per-class table (task pages can specialise this)."""
    scalars = {k: v for k, v in result.metrics.items() if isinstance(v, int | float)}
    st.dataframe(pd.DataFrame({"metric": [labels.metric_label(k) for k in scalars],
                               "value": [labels.metric_value(k, v) for k, v in scalars.items()]}),
                 hide_index=True, key=state.EVALUATION_SCALARS)
    if not result.per_class.empty:
        st.dataframe(per_class_table(result.per_class), hide_index=True, key=state.EVALUATION_PER_CLASS)
    baselines_table(result)


def feature_importance(result: EvaluationResult) -> None:
    """Permutation importance of a tabular run's features (drop in the metric when a column is shuffled)."""
    info = result.metrics.get("feature_importance")
    if not isinstance(info, dict) or not info.get("features"):
        return
    frame = pd.DataFrame({"feature": info["features"], "importance": info["importance"]})
    frame = frame.sort_values("importance", ascending=False)
    st.subheader("Which columns matter")
    st.plotly_chart(charts.value_bar(frame, "feature", "importance", "Permutation importance"),
                    key=state.EVALUATION_IMPORTANCE)
    st.caption(f"How much the {info.get('metric', 'metric')} drops when one column is shuffled, on "
               f"{info.get('rows', '?')} rows of the {info.get('split', 'validation')} split.")
