import streamlit as st

from core.models import catalog
from ui import access, state
from ui.models_view import (
    dataset_cost,
    languages_frame,
    languages_summary,
    model_label,
    models_frame,
    progress_reporter,
    speed_date,
    speed_text,
    training_speed,
)
from ui.widgets import call, count, ensure_app_frame, md_escape, size

ensure_app_frame()

st.title("Models")
st.caption("The models you can fine-tune here. Speeds are measured on this machine by a short probe.")

models = call(catalog.list_models) or []
if not models:
    st.stop()
st.dataframe(models_frame(models), hide_index=True, key=state.MODELS_TABLE)

keys = [m.key for m in models]
if st.session_state.get(state.MODELS_SELECT) not in keys:  # dropped on a page change: restore the pick
    kept = st.session_state.get(state.MODELS_CHOICE)
    st.session_state[state.MODELS_SELECT] = kept if kept in keys else keys[0]
picked = st.selectbox("Model", keys, key=state.MODELS_SELECT, format_func=model_label(models))
st.session_state[state.MODELS_CHOICE] = picked
model = next(m for m in models if m.key == picked)

with st.container(border=True):
    st.text(f"{model.name} · {model.key} · {model.source}")
    st.caption(md_escape(model.notes))
    measured = languages_summary(model.key)
    if measured:
        st.caption(measured)  # built from the constant language names and numbers only
        with st.expander("Languages, measured with its tokenizer"):
            st.caption("Up to 40 texts of each language of the bundled chat corpus: the share of "
                       "tokens it has no entry for (unknown), and how many characters one token covers.")
            st.dataframe(languages_frame(model.key), hide_index=True, key=state.MODELS_LANGUAGES)
    elif model.languages:
        st.caption(md_escape(f"Reads (as described by its makers): {model.languages}"))
    cols = st.columns(4)
    cols[0].metric("Parameters", count(model.params))
    cols[1].metric("Size on disk", size(model.size_bytes))
    cols[2].metric("Context", f"{model.context_length:,}" if model.context_length else "—")
    cols[3].metric("Training speed here", training_speed(model),
                   help=f"Measured {speed_date(model.speed)}." if model.speed else
                   "≈: not measured yet, a built-in estimate until you measure it (Measure speed).")
    st.caption(f"Speed on this machine: {speed_text(model.speed, model)}")
    cost = dataset_cost(model)
    if cost:
        st.info(cost[0], icon=":material/schedule:")
        if cost[1]:
            st.warning(md_escape(cost[1]), icon=":material/translate:")
    left, right = st.columns(2)
    if not access.allowed("manage_models"):
        access.not_allowed("prepare, measure or add models")
        st.stop()
    if left.button("Prepare", key=state.MODELS_PREPARE, disabled=model.ready, icon=":material/build:",
                   help="Converts a bundled model into a folder ready for training (once)."):
        report, bar = progress_reporter(f"Preparing {model.name}…")
        path = call(catalog.model_path, model.key, progress=report)
        bar.empty()
        if path is not None:
            st.toast(f"{md_escape(model.name)} is ready.", icon=":material/check_circle:")
            st.rerun()
    if right.button("Measure speed", key=state.MODELS_PROBE, icon=":material/speed:",
                    help="Runs a short probe (a few seconds) and stores the figure with today's date."):
        with st.spinner(f"Measuring {md_escape(model.name)} on this machine…"):
            measured = call(catalog.probe_model, model.key)
        if measured is not None:
            st.toast(f"Measured: {speed_text(measured.speed)}.", icon=":material/speed:")
            st.rerun()

st.subheader("Add a model")


def add_model_form(label: str, key: str, placeholder: str, button: str, button_key: str,
                   add, missing: str, busy: str | None = None) -> None:
    """An "add a model" input and button: warns when empty, toasts and reruns once added."""
    value = st.text_input(label, key=key, placeholder=placeholder).strip()
    if st.button(button, key=button_key):
        if busy is None:
            added = call(add, value) if value else None
        else:
            with st.spinner(busy.format(md_escape(value))):
                added = call(add, value) if value else None
        if not value:
            st.warning(missing)
        elif added is not None:
            st.toast(md_escape(f"Added {added.name} as {added.key}."), icon=":material/check_circle:")
            st.rerun()


local, hub = st.columns(2)
# The buttons stay enabled: a text input commits on blur, so a disabled button would eat the click.
with local:
    add_model_form("Local model folder", state.MODELS_LOCAL_PATH,
                   "/path/to/model (config.json + *.safetensors)", "Add folder", state.MODELS_ADD_LOCAL,
                   catalog.add_local_model, "Type the path of a model folder first.")
with hub:
    add_model_form("Hugging Face model id", state.MODELS_HUB_ID,
                   "org/name (needs internet; safetensors only)", "Download", state.MODELS_ADD_HUB,
                   catalog.add_hub_model, "Type a model id such as org/name first.", busy="Downloading {}…")
