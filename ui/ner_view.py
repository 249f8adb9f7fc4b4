"""The Evaluation page for entity extraction: CoNLL-style report, F1 per type, confusion, error analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.results.evaluation import EvaluationResult
from core.tasks import ner_eval
from core.tasks.ner import entity_spans, join_tokens
from core.text import labels
from ui import charts, highlight, state

CARDS = (("entity_f1", "Entity F1 (micro)"), ("entity_precision", "Precision"),
         ("entity_recall", "Recall"), ("entity_macro_f1", "Macro F1"), ("token_accuracy", "Token accuracy"))
SHOWN_SENTENCES = 20


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in (value.tolist() if hasattr(value, "tolist") else list(value or []))]


def spans_as_entities(tokens: Sequence[str], tags: Sequence[str]) -> tuple[str, list[dict[str, Any]]]:
    """The sentence as text (tokens joined as written) and its entities with character offsets."""
    text, starts = join_tokens(list(tokens))
    entities = [{"type": kind, "start": starts[first], "end": starts[last - 1] + len(tokens[last - 1])}
                for kind, first, last in entity_spans(list(tags)) if last <= len(tokens)]
    return text, entities


def _cards(result: EvaluationResult) -> None:
    best = result.baselines[-1] if result.baselines else None
    for column, (name, title) in zip(st.columns(len(CARDS)), CARDS, strict=False):
        value = result.metrics.get(name)
        base = best.metrics.get(name) if best else None
        delta = None
        if best is not None and value is not None and base is not None:
            against = labels.baseline_label(best.name, short=True)
            delta = f"{labels.metric_gain(name, value - base)} vs {against}"
        column.metric(title, labels.metric_value(name, value), delta=delta, help=name)


def evaluation_view(result: EvaluationResult) -> None:
    """Everything the page shows for a token-classification run."""
    _cards(result)
    st.subheader("Entity-level report")
    report = pd.DataFrame(result.metrics.get("report", []))
    left, right = st.columns([3, 2])
    left.dataframe(report, hide_index=True, key=state.EVALUATION_NER_REPORT, column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "f1")})
    if not result.per_class.empty:
        right.plotly_chart(charts.value_bar(result.per_class, "label", "f1", "F1 per entity type"),
                           key=state.EVALUATION_NER_F1)
    if result.baselines:
        rows = [{"model": f"this run (#{result.run_id})", **{n: result.metrics.get(n) for n, _ in CARDS}}]
        rows += [{"model": b.title, **{n: b.metrics.get(n) for n, _ in CARDS}} for b in result.baselines]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key=state.EVALUATION_NER_BASELINES)
    st.subheader("Token confusion (by type)")
    normalised = st.toggle("Share of each gold type", key=state.EVALUATION_NORMALISE)
    matrix = pd.DataFrame(result.confusion_matrix, index=result.labels, columns=result.labels)
    if len(matrix):
        st.plotly_chart(charts.confusion_matrix(matrix, normalised), key=state.EVALUATION_NER_CONFUSION)
    error_analysis(result.predictions)


def error_analysis(predictions: pd.DataFrame) -> None:
    """Every gold and predicted entity classed; the sentences behind one class, highlighted both ways."""
    if predictions.empty or not {"tokens", "tags", "predicted"} <= set(predictions):
        return
    tokens = [_as_list(t) for t in predictions["tokens"]]
    gold = [_as_list(t) for t in predictions["tags"]]
    pred = [_as_list(t) for t in predictions["predicted"]]
    errors = ner_eval.classify_entity_errors(tokens, gold, pred)
    summary = ner_eval.error_summary(errors)
    st.subheader("Where it goes wrong")
    left, right = st.columns([2, 3])
    left.plotly_chart(charts.value_bar(summary, "category", "count", "Entities by outcome"),
                      key=state.EVALUATION_NER_ERRORS)
    category = right.selectbox("Show sentences with", [c for c in summary["category"] if c != "correct"],
                               key=state.EVALUATION_NER_CATEGORY)
    part = errors[errors["category"] == category]
    shown = part[["sentence", "gold_type", "gold_text", "pred_type", "pred_text"]]
    right.dataframe(shown.assign(sentence=shown["sentence"] + 1), hide_index=True,  # numbered from 1
                    key=state.EVALUATION_NER_ERROR_TABLE, height=220)
    sentences = sorted({int(s) for s in part["sentence"]})[:SHOWN_SENTENCES]
    if not sentences:
        return
    st.html(highlight.legend_html(sorted({str(t)[2:] for s in gold + pred for t in s if t != "O"})))
    for index in sentences:
        gold_text, gold_entities = spans_as_entities(tokens[index], gold[index])
        _, pred_entities = spans_as_entities(tokens[index], pred[index])
        with st.container(border=True):
            a, b = st.columns(2)
            a.caption(f"Sentence {index + 1} · gold")
            a.html(highlight.entity_html(gold_text, gold_entities))
            b.caption("predicted")
            b.html(highlight.entity_html(gold_text, pred_entities))
