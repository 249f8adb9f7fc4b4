"""The playground tab for text classifiers and regressors: one text, or a whole file, in; predictions out."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.data import datasets
from core.data.ingest import FORMATS
from core.entities import RunInfo
from core.inference import predict
from core.results import verdict
from ui import access, charts, state
from ui.widgets import call, md_escape

TEXT_TASKS = ("classification", "regression")
BATCH_TYPES = sorted({ext.lstrip(".") for ext in FORMATS})
_RESULT = "playground_result"
_BATCH = "playground_batch_result"


def probabilities(row: pd.Series) -> pd.DataFrame:
    """The ``p:<label>`` columns of one prediction as a (label, probability) frame."""
    cols = [c for c in row.index if str(c).startswith("p:")]
    return pd.DataFrame({"label": [c[2:] for c in cols], "probability": [float(row[c]) for c in cols]})


def single_text(run: RunInfo) -> None:
    """Type a text: the predicted label (or value), the probability per class and the latency."""
    hint = call(verdict.chance_hint, run.id) if run.task == "classification" else None
    if hint:
        st.warning(md_escape(hint), icon=":material/casino:")
    text = st.text_area("Text", key=state.PLAYGROUND_TEXT, height=120,
                        placeholder="Paste a review, a ticket, a message…")
    # Never disabled: a text area commits on blur, so a disabled button would swallow the first click.
    if st.button("Predict", key=state.PLAYGROUND_PREDICT, type="primary"):
        with st.spinner("Predicting (the first call loads the model)…"):
            frame = call(predict.predict_texts, run.id, [text])
        if frame is not None:
            st.session_state[_RESULT] = (run.id, text, frame.iloc[0].to_dict())
    stored = st.session_state.get(_RESULT)
    if not stored or stored[0] != run.id:
        return
    _, shown_text, row = stored
    values = pd.Series(row)
    left, mid, right = st.columns([2, 1, 1])
    if "value" in values:
        left.metric("Predicted value", f"{float(values['value']):,.4g}")
    else:
        left.metric("Predicted label", str(values["label"]))
        mid.metric("Confidence", f"{float(values['confidence']):.1%}")
        classes = sum(str(c).startswith("p:") for c in values.index)
        if classes >= 2 and float(values["confidence"]) < 1 / classes + 0.1:
            st.caption(f"A confidence this close to {1 / classes:.0%} (one of {classes} classes at random) "
                       "means the model is hardly deciding for this text.")
    right.metric("Latency", f"{float(values['latency_ms']):,.0f} ms")
    if shown_text != text:
        st.caption("Prediction for the previous text; press Predict again for the new one.")
    probs = probabilities(values)
    if not probs.empty:
        st.plotly_chart(charts.probability_bar(probs), key=state.PLAYGROUND_PROBABILITIES)


def _parse(uploaded: Any) -> Any:
    cache = st.session_state.get("playground_batch_parsed")
    if cache and cache[0] == uploaded.file_id:
        return cache[1]
    parsed = call(datasets.read_upload, uploaded.getvalue(), uploaded.name)
    if parsed is not None:
        st.session_state["playground_batch_parsed"] = (uploaded.file_id, parsed)
        suggested = (call(datasets.suggest_mapping, parsed.frame) or {}).get("text")
        columns = [str(c) for c in parsed.frame.columns]
        st.session_state[state.PLAYGROUND_BATCH_COLUMN] = suggested if suggested in columns else columns[0]
    return parsed


def batch(run: RunInfo) -> None:
    """Upload a file of texts, predict every row, download the predictions as CSV (formulas escaped)."""
    if not (access.allowed("upload") and access.allowed("export")):
        access.not_allowed("upload files or export predictions")
        return
    uploaded = st.file_uploader("A file of texts (CSV, TSV, JSON, JSONL, Parquet or Excel)", type=BATCH_TYPES,
                                key=state.PLAYGROUND_BATCH)
    if uploaded is None:
        return
    parsed = _parse(uploaded)
    if parsed is None:
        return
    columns = [str(c) for c in parsed.frame.columns]
    column = st.selectbox("Column with the texts", columns, key=state.PLAYGROUND_BATCH_COLUMN)
    st.caption(md_escape(f"{len(parsed.frame):,} rows in {uploaded.name}"))
    key = (run.id, uploaded.file_id, column)
    if st.button("Predict every row", key=state.PLAYGROUND_BATCH_PREDICT, type="primary"):
        with st.spinner(f"Predicting {len(parsed.frame):,} rows…"):
            out = call(predict.predict_file, run.id, parsed.frame, column)
        if out is not None:
            st.session_state[_BATCH] = (key, out)
    stored = st.session_state.get(_BATCH)
    if not stored or stored[0] != key:
        return
    out = stored[1]
    st.dataframe(out.head(500), hide_index=True, key=state.PLAYGROUND_BATCH_TABLE)
    st.download_button("Download predictions (CSV)", predict.to_csv_bytes(out), file_name="predictions.csv",
                       mime="text/csv", key=state.PLAYGROUND_DOWNLOAD, icon=":material/download:",
                       on_click="ignore")
