import streamlit as st

from core.data import datasets
from core.training import service as training
from ui import panels, state
from ui.widgets import call, ensure_app_frame

ensure_app_frame()

st.title("Use Case Lab")
st.markdown(
    "Bring a spreadsheet of your own examples and get a plain-language **quality report**.  \n"
    "**Fine-tune** a small model on it, on this machine, and watch it learn.  \n"
    "**Judge** it with charts against simple baselines, then **try it** in the playground."
)

recent = call(datasets.list_datasets, limit=5) or []
runs = call(training.list_runs, limit=5) or []
if recent or runs:
    left, right = st.columns(2)
    with left:
        st.subheader("Recent datasets")
        if recent:
            st.dataframe(panels.datasets_frame(recent)[["id", "name", "version", "task", "rows", "created"]],
                         hide_index=True, key=state.HOME_DATASETS)
        st.page_link("pages/datasets.py", label="All datasets", icon=":material/table_chart:")
    with right:
        st.subheader("Recent runs")
        if runs:
            panels.runs_table(runs, key=state.HOME_RUNS)
        else:
            st.caption("No training run yet.")
        st.page_link("pages/finetune.py", label="Fine-tuning", icon=":material/model_training:")

st.subheader("Start from a use case")
st.caption("Real datasets shipped with installed packages: import one in a click, or upload your own "
           "on the Datasets page.")
panels.gallery_cards(state.GALLERY_IMPORT_PREFIX)
