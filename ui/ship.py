"""Shipping panels: "Serve this model" (command, URL, client snippets) and the ONNX / int8 table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.entities import RunInfo
from core.serve.backend import ENCODER
from core.serve.snippets import serve_snippets
from core.ship import export_onnx
from core.task_specs import get_spec
from ui import state
from ui.widgets import call, md_escape


def serve_kind(kind: str) -> str:
    """How core.serve serves a run of this task (core.task_specs), an encoder when it is no task."""
    spec = get_spec(kind)
    return spec.serve_kind if spec else ENCODER



def serve_panel(model_id: str, kind: str, *, run_id: int | None = None) -> None:
    """An expander with the command that serves the model and the calls that use it (copy buttons)."""
    with st.expander("Serve this model", icon=":material/dns:"):
        snippets = serve_snippets(model_id, serve_kind(kind), run_id=run_id)
        st.caption("Run this in a terminal; it listens on this machine only. Add --host 0.0.0.0 and "
                   "--api-key KEY (or set UCLAB_API_KEY) to reach it from other machines.")
        st.code(snippets["command"], language="bash")
        st.markdown(f"Base URL: `{snippets['url']}`")
        st.caption("With curl:")
        st.code(snippets["curl"], language="bash")
        st.caption("From Python:")
        st.code(snippets["python"], language="python")


def onnx_table(run: RunInfo) -> None:
    """PyTorch vs ONNX fp32 vs ONNX int8 on the test split: the stored table, and a button to measure."""
    st.subheader("Smaller and faster for production")
    st.caption("The same model as ONNX (fp32) and with int8 weights, measured side by side on this machine "
               "on the test split: latency per example, throughput, file size and accuracy.")
    if st.button("Measure ONNX and int8", key=state.EVALUATION_ONNX_MEASURE, icon=":material/speed:"):
        with st.spinner("Exporting and timing the three models…"):
            call(export_onnx.measure_onnx, run.id)
    result = call(export_onnx.stored_measurement, run.id)
    if not result:
        st.caption(f"Not measured yet (or run `uclab export {run.id} --format onnx-int8 --measure`).")
        return
    table = pd.DataFrame(result["rows"]).rename(columns={
        "model": "Model", "latency_ms": "ms per example", "examples_per_s": "examples/s",
        "size_mb": "size (MB)", "accuracy": "accuracy", "macro_f1": "macro F1"})
    st.dataframe(table, hide_index=True, key=state.EVALUATION_ONNX_TABLE)
    st.markdown(md_escape(export_onnx.summary(result)))
    st.caption(md_escape(export_onnx.subset_note(result)))
