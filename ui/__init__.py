"""Streamlit helpers shared by the pages: session-state keys, widgets, charts, cached resources."""
