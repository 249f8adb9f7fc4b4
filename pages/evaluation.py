import streamlit as st

from ui.widgets import ensure_app_frame

ensure_app_frame()

st.title("Evaluation")
st.info("This page arrives with the training engine.")
