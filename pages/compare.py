import streamlit as st

from core.results import compare, verdict
from core.results.report_figures import curve_figure
from core.task_specs import generates_text
from core.text.labels import metric_label, run_label, setting_label
from core.training import service as training
from ui import answer_quality_view, evaluation_view, relabel_view, state
from ui.share import (
    export_panel,
    final_metrics_view,
    learning_curve_panel,
    report_button,
    side_by_side_panel,
)
from ui.widgets import call, ensure_app_frame, run_option

ensure_app_frame()

st.title("Compare runs")
st.caption("Which run is better, and is it good enough? Pick two or more runs.")

runs = [r for r in (call(training.list_runs) or []) if r.kind != "learning-curve"]
if len(runs) < 2:
    st.info("Train at least two runs to compare them.")
    learning_curve_panel(runs)
    st.stop()
by_id = {r.id: r for r in runs}
wanted = [int(x) for x in st.query_params.get("runs", "").split(",") if x.strip().isdigit()]
picked = st.multiselect("Runs", list(by_id), default=[i for i in wanted if i in by_id][:8] or None,
                        key=state.COMPARE_RUNS, max_selections=compare.MAX_RUNS,
                        format_func=lambda i: run_option(by_id[i]))
if len(picked) < 2:
    st.info("Pick at least two runs.")
    learning_curve_panel(runs)
    st.stop()
st.query_params["runs"] = ",".join(map(str, picked))
result = call(compare.compare_runs, picked)
if result is None:
    st.stop()
evaluation_view.verdict_banner(call(verdict.compare_verdict, picked)
                               or verdict.Verdict("No verdict could be read for these runs.", verdict.NONE),
                               key=state.COMPARE_VERDICT)
relabel_view.versions_note(picked, result.same_dataset)

st.subheader("Curves")
left, right = st.columns([1, 3])
x = left.radio("Line up by", ["step", "epoch"], key=state.COMPARE_X, horizontal=True,
               help="Epochs line up runs of different sizes.")
names = sorted(result.curves["name"].astype(str).str.removeprefix("eval_").unique())
metric = right.selectbox("Metric", names or ["loss"], key=state.COMPARE_METRIC, format_func=metric_label,
                         index=names.index("loss") if "loss" in names else 0)
st.plotly_chart(curve_figure(result.curves, metric, x=x, by="run"), key=state.COMPARE_CURVES)

st.subheader("Final metrics")
st.caption("Δ is the difference from the first run; the best value of each metric is green.")
if result.final.empty:
    st.info("These runs have no final metrics yet.")
else:
    if result.split_note:
        st.warning(result.split_note, icon=":material/rule:")
    st.dataframe(final_metrics_view(result), key=state.COMPARE_FINAL)

st.subheader("Settings that differ")
if result.config_diff.empty:
    st.caption("The runs use the same settings.")
else:
    st.dataframe(result.config_diff.rename(index=setting_label), key=state.COMPARE_CONFIG_DIFF)

tasks = set(result.runs["task"])
if result.same_dataset and len(tasks) == 1 and tasks <= {"classification", "token-classification", "tabular"}:
    st.subheader("Examples that flipped")
    a_col, b_col, s_col = st.columns(3)
    label = {i: run_label(i, by_id[i].name, by_id[i].model_key) for i in picked}
    in_order = sorted(picked)  # older -> newer: "fixed" reads as what the newer run fixed
    run_a = a_col.selectbox("From run", in_order, key=state.COMPARE_FLIP_A, format_func=label.get)
    run_b = b_col.selectbox("To run", in_order, index=len(in_order) - 1, key=state.COMPARE_FLIP_B,
                            format_func=label.get)
    split = s_col.selectbox("Split", ["test", "validation"], key=state.COMPARE_FLIP_SPLIT)
    if run_a != run_b:
        flips = call(compare.flip_analysis, run_a, run_b, split)
        if flips is not None:
            fixed, broken = flips[flips["flip"] == "fixed"], flips[flips["flip"] == "broken"]
            st.caption(f"{len(fixed)} examples went from wrong to right, {len(broken)} from right to wrong.")
            st.dataframe(flips, hide_index=True, key=state.COMPARE_FLIPS)
if tasks and all(generates_text(t) for t in tasks):
    answer_quality_view.compare_table(picked)
    side_by_side_panel(picked)

st.subheader("Share")
report_button(picked)
export_panel(picked, by_id)
learning_curve_panel(runs)
