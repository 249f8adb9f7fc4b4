import streamlit as st

st.title("Playground")
st.info("This page arrives with the training engine.")
