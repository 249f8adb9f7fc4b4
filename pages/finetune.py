import streamlit as st

st.title("Finetune")
st.info("This page arrives with the training engine.")
