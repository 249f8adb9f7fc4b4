"""The playground tab for tabular runs: a form with one input per feature, and a table in, CSV out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.data.ingest import FORMATS
from core.entities import RunInfo
from core.inference import predict, tabular_predict
from core.results import verdict
from ui import access, charts, state
from ui.widgets import call, run_picker

KEY = state.PLAYGROUND_TABULAR_PREFIX


def _inputs(fields: Sequence[tabular_predict.FeatureField]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    columns = st.columns(3)
    for i, field in enumerate(fields):
        where = columns[i % 3]
        if field.kind == "numeric":
            default = float(field.default) if field.default is not None else 0.0
            values[field.name] = where.number_input(field.name, value=default, key=f"{KEY}f_{field.name}",
                                                    format="%.4g")
        else:
            options = list(field.choices) or [""]
            values[field.name] = where.selectbox(field.name, options, key=f"{KEY}f_{field.name}")
    return values


def _result(out: dict[str, Any]) -> None:
    left, right = st.columns(2)
    predicted = out["predicted"]
    left.metric("Prediction", f"{predicted:,.4g}" if isinstance(predicted, int | float) else str(predicted))
    if "confidence" in out:
        right.metric("Confidence", f"{out['confidence']:.1%}")
    if out.get("probabilities"):
        st.plotly_chart(charts.probability_bar(out["probabilities"]), key=KEY + "probabilities")


def panel(runs: Sequence[RunInfo]) -> None:
    """Pick a tabular run; fill the form or upload rows."""
    tabular = [r for r in runs if r.task == "tabular"]
    if not tabular:
        st.info("No finished tabular run yet: import iris or diabetes from the gallery and train the MLP.")
        return
    best = verdict.best_run(tabular)
    run = run_picker(tabular, key=KEY + "run", label="Model (a finished run)", sync_url=False,
                     default=best.id if best else None)
    with st.spinner("Loading the model…"):
        fields = call(tabular_predict.feature_fields, run.id)
    if fields is None:
        return
    with st.form(KEY + "form"):
        values = _inputs(fields)
        submitted = st.form_submit_button("Predict", type="primary", key=KEY + "submit")
    if submitted:
        out = call(tabular_predict.predict_one, run.id, values)
        if out is not None:
            st.session_state[KEY + "result"] = (run.id, out)
    stored = st.session_state.get(KEY + "result")
    if stored and stored[0] == run.id:
        _result(stored[1])
    st.subheader("Many rows at once")
    if not (access.allowed("upload") and access.allowed("export")):
        access.not_allowed("upload files or export predictions")
        return
    uploaded = st.file_uploader("A table with the same feature columns",
                                type=sorted({e.lstrip(".") for e in FORMATS}), key=KEY + "upload")
    if uploaded is not None and st.button("Predict every row", key=KEY + "batch"):
        result = call(tabular_predict.predict_csv, run.id, uploaded.getvalue(), uploaded.name)
        if result is not None:
            st.session_state[KEY + "batch_result"] = (run.id, uploaded.file_id, result[0])
    batch = st.session_state.get(KEY + "batch_result")
    if uploaded is not None and batch and batch[:2] == (run.id, uploaded.file_id):
        table: pd.DataFrame = batch[2]
        st.dataframe(table.head(500), hide_index=True, key=KEY + "table")
        st.download_button("Download predictions (CSV)", predict.to_csv_bytes(table),
                           file_name="predictions.csv", mime="text/csv", key=KEY + "download",
                           on_click="ignore", icon=":material/download:")
