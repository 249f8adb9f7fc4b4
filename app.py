"""Use Case Lab: the entry point. Page config, sign-in, navigation and the shared sidebar, nothing else."""

from __future__ import annotations

import streamlit as st

from core.config import get_settings
from core.training import service as training
from ui import access, state
from ui.widgets import call, keep_page_query, machine_summary

st.set_page_config(page_title="Use Case Lab", page_icon=":material/science:", layout="wide")
identity = access.gate()  # stops here with a sentence when this session may not use the app


@st.cache_resource(show_spinner=False)
def startup_sweep() -> bool:
    """Once per server start: runs whose process died while nothing watched become interrupted,
    and queued runs get a worker."""
    call(training.kick_queue)
    return True


startup_sweep()

PAGES = {
    "Start": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", url_path="start", default=True),
        # The default page is served at "/" whatever its url_path; /home (the name in the menu) too.
        st.Page("pages/home.py", title="Home", icon=":material/home:", url_path="home", visibility="hidden"),
    ],
    "Data and models": [
        st.Page("pages/datasets.py", title="Datasets", icon=":material/table_chart:", url_path="datasets"),
        st.Page("pages/models.py", title="Models", icon=":material/memory:", url_path="models"),
    ],
    "Train and judge": [
        st.Page("pages/finetune.py", title="Fine-tuning", icon=":material/model_training:",
                url_path="finetune"),
        st.Page("pages/sweep.py", title="Sweep", icon=":material/tune:", url_path="sweep"),
        st.Page("pages/evaluation.py", title="Evaluation", icon=":material/monitoring:",
                url_path="evaluation"),
        st.Page("pages/playground.py", title="Playground", icon=":material/play_circle:",
                url_path="playground"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
        st.Page("pages/review.py", title="Blind review", icon=":material/how_to_vote:", url_path="review"),
    ],
}

page = st.navigation(PAGES)
keep_page_query(page.url_path)  # a query parameter of another page (?run=, ?runs=) does not follow you

settings = get_settings()
with st.sidebar:
    if identity.signed_in:
        st.caption(f"Signed in as {identity.email} ({identity.role})")
        if st.button("Sign out", key=state.ACCESS_SIGN_OUT, icon=":material/logout:"):
            st.logout()
    st.caption("Data folder (UCLAB_HOME)")
    st.code(str(settings.home), language=None)
    st.caption(f"Machine: {machine_summary()}")

page.run()
