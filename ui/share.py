"""Widgets that hand results to people: the HTML report, the model zip, the Hub, learning curves,
and generators side by side. Each calls one service and shows its UserError as a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core.entities import RunInfo
from core.results import report, side_by_side
from core.results.compare import Comparison
from core.results.report_figures import learning_curve_figure
from core.ship import export, export_formats
from core.text import labels
from core.training import learning_curve
from core.training import service as training
from ui import access, state
from ui.widgets import call, md_escape, run_option


def final_metrics_view(result: Comparison) -> Any:
    """The final-metrics table as text cells 'value (Δ delta)', the best of each metric in green."""
    shown = result.final.copy().astype(object)
    first = shown.columns[0]
    for col in shown.columns:
        rows = zip(result.final.index, result.final[col], result.deltas[col], strict=True)
        shown[col] = [labels.MISSING if pd.isna(v) else labels.metric_value(str(name), v)
                      + ("" if col == first or pd.isna(d) else f" (Δ {labels.metric_gain(str(name), d)})")
                      for name, v, d in rows]
    raw = list(result.final.index)
    shown.index = [labels.metric_label(str(name)) for name in raw]
    best_by_label = {labels.metric_label(str(name)): result.best.get(str(name)) for name in raw}

    def best(row: pd.Series) -> list[str]:
        winner = best_by_label.get(str(row.name))
        return ["background-color: #D1FAE5" if winner == c else "" for c in row.index]

    if result.split_note:  # each column says which split its numbers come from (no best is marked)
        shown.columns = [f"{c} · {result.final_source.get(c, '')}" for c in shown.columns]
    return shown.style.apply(best, axis=1)


def report_button(run_ids: Sequence[int], key: str = state.COMPARE_REPORT) -> None:
    """Build the offline HTML report of these runs on click, then offer it for download.

    Other pages (e.g. Evaluation, for one run) can reuse it with their own ``key``.
    """
    ids = [int(i) for i in run_ids]
    if st.button("Build the report", key=key, icon=":material/description:",
                 help="One HTML file with the charts inside; it opens offline and can be emailed."):
        with st.spinner("Building the report…"):
            page = call(report.build_report, ids if len(ids) > 1 else ids[0])
        if page is not None:
            st.session_state[key + "_html"] = (ids, page)
    built = st.session_state.get(key + "_html")
    if built and built[0] == ids:  # a report of another selection is not offered
        name = "report-runs-" + "-".join(map(str, ids)) + ".html"
        st.download_button("Download the report", built[1], file_name=name, mime="text/html",
                           key=key + "_download", icon=":material/download:")


FORMAT_LABELS = {"zip": "safetensors + tokenizer (transformers)", "onnx": "ONNX fp32 (onnxruntime)",
                 "onnx-int8": "ONNX int8 weights (onnxruntime, ~4x smaller)",
                 "ollama": "Ollama / llama.cpp: GGUF (16-, 8- and 4-bit) + Modelfile"}


def export_panel(run_ids: Sequence[int], by_id: Mapping[int, RunInfo]) -> None:
    """Zip one run's model for download, or push it to the Hugging Face Hub."""
    if not access.allowed("export"):
        access.not_allowed("export models")
        return
    with st.expander("Export a model"):
        run_id = st.selectbox("Run", list(run_ids), key=state.COMPARE_EXPORT_RUN,
                              format_func=lambda i: run_option(by_id[i]))
        formats = export_formats.formats_for(by_id[run_id].task)
        fmt = st.selectbox("Format", formats, key=state.EXPORT_FORMAT, format_func=FORMAT_LABELS.get)
        if st.button("Prepare the zip", key=state.COMPARE_EXPORT, icon=":material/folder_zip:"):
            with st.spinner("Exporting…"):
                path = call(export_formats.export_run, run_id, fmt)
            if path is not None:
                st.session_state[state.COMPARE_EXPORT + "_path"] = (run_id, fmt, str(path))
        built_for, built_fmt, path = st.session_state.get(state.COMPARE_EXPORT + "_path") or (None, "", "")
        if built_for == run_id and built_fmt == fmt and path and Path(path).exists():
            st.download_button("Download the model zip", Path(path).read_bytes(), file_name=Path(path).name,
                               mime="application/zip", key=state.COMPARE_EXPORT_DOWNLOAD)
        repo = st.text_input("Hub repository", key=state.COMPARE_HUB_REPO, placeholder="your-name/model-name")
        token = st.text_input("Access token", key=state.COMPARE_HUB_TOKEN, type="password")
        if st.button("Push to the Hub", key=state.COMPARE_HUB_PUSH, disabled=not repo.strip()):
            with st.spinner("Pushing…"):
                url = call(export.push_to_hub, run_id, repo, token)
            if url:
                st.success(md_escape(f"Pushed to {url}"))


def _readable_refs(table: pd.DataFrame) -> pd.DataFrame:
    """Columns named by model references ('run:5') renamed to what a person reads ('Run 5 · name')."""
    names = {r.id: r.name for r in (call(training.list_runs) or [])}
    return table.rename(columns={c: labels.model_ref_label(c, names).removesuffix(" (fine-tuned)")
                                 for c in table.columns if str(c).startswith("run:")})


def side_by_side_panel(run_ids: Sequence[int]) -> None:
    """Generators' outputs on the same prompts: the stored evaluation answers, or fresh ones."""
    st.subheader("Outputs side by side")
    stored = call(side_by_side.stored_outputs, list(run_ids))
    if stored is not None and not stored.empty:
        st.caption("Greedy answers each run gave to the same held-out prompts when it was evaluated.")
        st.dataframe(_readable_refs(stored), hide_index=True, key=state.COMPARE_SBS_STORED)
    st.caption("Or generate fresh answers to validation prompts, with the same seed for every run:")
    left, right = st.columns(2)
    n = left.number_input("Validation prompts", 1, 20, 3, key=state.COMPARE_SBS_PROMPTS)
    seed = right.number_input("Seed", 0, 2**31 - 1, 0, key=state.COMPARE_SBS_SEED)
    if st.button("Generate side by side", key=state.COMPARE_SBS_GO, icon=":material/compare:"):
        with st.spinner("Generating…"):
            prompts = call(side_by_side.validation_prompts, run_ids[0], int(n))
            table = call(side_by_side.side_by_side, [f"run:{i}" for i in run_ids], prompts or [],
                         seed=int(seed)) if prompts else None
        if table is not None:
            st.dataframe(_readable_refs(table), hide_index=True, key=state.COMPARE_SBS_TABLE)


def learning_curve_panel(runs: Sequence[RunInfo]) -> None:
    """Queue a learning curve from a finished run, and plot the curves already queued."""
    st.subheader("Is more data worth it?")
    done = [r for r in runs if r.status == "succeeded" and r.parent_id is None]
    if done:
        by_id = {r.id: r for r in done}
        run_id = st.selectbox("Repeat this run on 10%, 25%, 50% and 100% of its training rows", list(by_id),
                              key=state.COMPARE_LC_RUN, format_func=lambda i: run_option(by_id[i]))
        if access.allowed("train") and st.button("Queue the learning curve", key=state.COMPARE_LC_START,
                                                 icon=":material/trending_up:"):
            parent = call(learning_curve.start_learning_curve_from_run, run_id)
            if parent is not None:
                st.success(f"Queued 4 runs under learning curve #{parent.id}.")
    parents = call(learning_curve.list_learning_curves) or []
    if not parents:
        st.caption("No learning curve yet.")
        return
    names = {p.id: p.name for p in parents}
    parent_id = st.selectbox("Learning curve", list(names), key=state.COMPARE_LC_PARENT,
                             format_func=lambda i: f"Learning curve {i} · {names[i]}")
    children = call(learning_curve.learning_curve_runs, parent_id)
    curve = call(learning_curve.learning_curve, parent_id)
    if children is not None:
        st.dataframe(children, hide_index=True, key=state.COMPARE_LC_CHILDREN)
    if curve is not None and not curve.empty:
        metric = learning_curve.headline_metric(parent_id, curve)
        st.plotly_chart(learning_curve_figure(curve, metric), key=state.COMPARE_LC_CHART)
