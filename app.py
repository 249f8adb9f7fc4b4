"""Use Case Lab: the entry point. Page config, navigation and the shared sidebar, nothing else."""

from __future__ import annotations

import streamlit as st

from core.config import get_settings
from ui.widgets import machine_summary

st.set_page_config(page_title="Use Case Lab", page_icon=":material/science:", layout="wide")

PAGES = {
    "Start": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True),
    ],
    "Data and models": [
        st.Page("pages/datasets.py", title="Datasets", icon=":material/table_chart:", url_path="datasets"),
        st.Page("pages/models.py", title="Models", icon=":material/memory:", url_path="models"),
    ],
    "Train and judge": [
        st.Page("pages/finetune.py", title="Fine-tuning", icon=":material/model_training:",
                url_path="finetune"),
        st.Page("pages/evaluation.py", title="Evaluation", icon=":material/monitoring:",
                url_path="evaluation"),
        st.Page("pages/playground.py", title="Playground", icon=":material/play_circle:",
                url_path="playground"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
        st.Page("pages/review.py", title="Blind review", icon=":material/how_to_vote:", url_path="review"),
    ],
}

page = st.navigation(PAGES)

settings = get_settings()
with st.sidebar:
    st.caption("Data folder (UCLAB_HOME)")
    st.code(str(settings.home), language=None)
    st.caption(f"Machine: {machine_summary()}")

page.run()
