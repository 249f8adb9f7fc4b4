import streamlit as st

from core import datasets
from ui import panels, state
from ui.widgets import call, ensure_app_frame

ensure_app_frame()

st.title("Use Case Lab")
st.markdown(
    "Bring a spreadsheet of your own examples and get a plain-language **quality report**.  \n"
    "**Fine-tune** a small model on it, on this machine, and watch it learn.  \n"
    "**Judge** it with charts against simple baselines, then **try it** in the playground."
)

st.subheader("Start from a use case")
st.caption("Real datasets shipped with installed packages: import one in a click, or upload your "
           "own on the Datasets page.")
panels.gallery_cards(state.GALLERY_IMPORT_PREFIX)

left, right = st.columns(2)
with left:
    st.subheader("Recent datasets")
    recent = (call(datasets.list_datasets) or [])[:5]
    if recent:
        st.dataframe(panels.datasets_frame(recent)[["id", "name", "version", "task", "rows", "created"]],
                     hide_index=True, key="home_datasets")
    else:
        st.info("No dataset yet: import one above or upload a file on the Datasets page.")
    st.page_link("pages/datasets.py", label="Datasets", icon=":material/table_chart:")
with right:
    st.subheader("Recent runs")
    try:
        from core import training
    except ImportError:  # the training engine is optional until it lands
        training = None
    runs = (call(training.list_runs) or [])[:5] if training else []
    if runs:
        panels.runs_table(runs, key="home_runs")
    else:
        st.info("No training run yet: start one on the Fine-tuning page.")
    st.page_link("pages/finetune.py", label="Fine-tuning", icon=":material/model_training:")
