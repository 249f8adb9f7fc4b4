import streamlit as st

from core.results import evaluation, verdict
from core.task_specs import generates_text, serve_in_app
from core.training import service as training
from ui import (
    answer_quality_view,
    evaluation_view,
    ner_view,
    preference_view,
    relabel_view,
    share,
    ship,
    state,
)
from ui.widgets import call, ensure_app_frame, run_from_query, run_picker, with_model

ensure_app_frame()

st.title("Evaluation")
st.caption("How a finished run does on data it never trained on, next to simple baselines.")

finished = with_model(call(training.list_runs, status="succeeded") or [])
if not finished:
    st.info("No finished run yet: train one on the Fine-tuning page.")
    st.stop()

best = verdict.best_run(finished)
run = run_picker(finished, key=state.EVALUATION_RUN, label="Run", selected=run_from_query(finished),
                 default=best.id if best else None)
splits = call(evaluation.evaluation_splits, run.id) or []
if not splits:
    st.info(f"Run {run.id} has no stored evaluation.")
    st.stop()
split = st.radio("Split", splits, key=state.EVALUATION_SPLIT, horizontal=True,
                 index=splits.index("test") if "test" in splits else 0)
result = call(evaluation.get_evaluation, run.id, split)
if result is None:
    st.stop()
evaluation_view.verdict_banner(call(verdict.run_verdict, run.id, split)
                               or verdict.Verdict("No verdict could be read for this run.", verdict.NONE))
if seen := training.seen_in_training(run, split):
    st.warning(seen, icon=":material/visibility:")
shown = int(result.metrics.get("n") or result.metrics.get("examples") or len(result.predictions))
st.caption(f"{shown:,} example{'s' if shown != 1 else ''} in the {split} split.")

if preference_view.applies(run):
    preference_view.section(run, split)
elif result.task == "classification" or (result.task == "tabular" and result.labels):
    evaluation_view.classification_view(result)
    if result.task == "classification":
        answer_quality_view.llm_baseline_section(result, run, split)
elif result.task == "token-classification":
    ner_view.evaluation_view(result)
elif result.task in ("regression", "tabular"):
    evaluation_view.regression_view(result)
else:
    evaluation_view.generic_view(result)
relabel_view.label_check_panel(run, split)
if generates_text(result.task) and not preference_view.applies(run):
    answer_quality_view.answer_quality_section(run, split)
if result.task == "tabular":
    evaluation_view.feature_importance(result)
if result.task == "classification":
    ship.onnx_table(run)

st.subheader("Share this run")
st.caption("A single HTML report for stakeholders (opens offline), or the model as a zip.")
share.report_button([run.id], key=state.EVALUATION_REPORT)
share.export_panel([run.id], {run.id: run})
if serve_in_app(run.task):
    ship.serve_panel(f"run:{run.id}", run.task, run_id=run.id)
