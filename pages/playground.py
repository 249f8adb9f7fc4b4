import streamlit as st

from core.results import verdict
from core.task_specs import serve_in_app
from core.training import service as training
from ui import playground_classify, playground_generate, playground_ner, playground_tabular, ship, state
from ui.widgets import call, ensure_app_frame, run_from_query, run_picker, with_model

ensure_app_frame()

st.title("Playground")
st.caption("Try a finished model on your own input.")
finished = with_model(call(training.list_runs, status="succeeded") or [])

TABS = ["Classify text", "Generate text", "Find entities", "Predict from a table"]
# Only the open tab runs (and loads its model); the tab is kept in the URL (?playground_tab=...).
classify_tab, generate_tab, entities_tab, table_tab = st.tabs(TABS, key=state.PLAYGROUND_TAB,
                                                               bind="query-params")
if classify_tab.open:
    with classify_tab:
        classifiers = [r for r in finished if r.task in playground_classify.TEXT_TASKS]
        if not classifiers:
            st.info("No finished text classifier yet: train one on the Fine-tuning page.")
        else:
            best = verdict.best_run(classifiers)
            run = run_picker(classifiers, key=state.PLAYGROUND_RUN, label="Model (a finished run)",
                             selected=run_from_query(classifiers), default=best.id if best else None)
            playground_classify.single_text(run)
            if serve_in_app(run.task):
                ship.serve_panel(f"run:{run.id}", run.task, run_id=run.id)
            st.subheader("Many texts at once")
            playground_classify.batch(run)
if generate_tab.open:
    with generate_tab:
        playground_generate.panel(finished)
if entities_tab.open:
    with entities_tab:
        playground_ner.panel(finished)
if table_tab.open:
    with table_tab:
        playground_tabular.panel(finished)
