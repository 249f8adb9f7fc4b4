import streamlit as st

st.title("Evaluation")
st.info("This page arrives with the training engine.")
