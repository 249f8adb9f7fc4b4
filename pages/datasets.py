import streamlit as st

from core.config import get_settings
from core.data import datasets
from core.data.ingest import UPLOAD_EXTENSIONS
from core.data.upload_limits import limits_sentence
from core.entities import TASKS
from core.models import catalog
from core.task_specs import generates_text
from core.text.labels import task_label
from ui import access, dataset_form, panels, relabel_view, state
from ui.widgets import call, ensure_app_frame, md_escape, user_errors

ensure_app_frame()

UPLOAD_TYPES = UPLOAD_EXTENSIONS  # whatever the parser reads, also inside .gz and .zip

st.title("Datasets")
upload_tab, saved_tab, gallery_tab = st.tabs(["Upload a file", "Saved versions", "Gallery"])

if not access.allowed("upload"):
    upload_tab.caption(":material/lock: Your role cannot upload or save datasets.")
else:
    with upload_tab:
        limit = get_settings().upload_limit_mb
        uploaded = st.file_uploader(f"Your data (CSV, TSV, JSON, JSONL, Parquet or Excel; up to {limit} MB)",
                                    type=UPLOAD_TYPES, key=state.DATASETS_UPLOAD, help=limits_sentence())
        parsed = None
        if uploaded is not None:
            seen = st.session_state.get(state.DATASETS_PARSED_ID)
            if seen and seen[0] != uploaded.file_id:
                st.session_state[state.DATASETS_ENCODING] = dataset_form.AUTO_ENCODING  # a new file
            encoding = dataset_form.encoding_choice(uploaded.name)
            file_key = (uploaded.file_id, encoding)
            parsed = dataset_form.parsed_upload(uploaded, encoding)
            if parsed is not None and seen != file_key:  # a new file or encoding: fill the form
                st.session_state[state.DATASETS_PARSED_ID] = file_key
                dataset_form.seed_form(parsed.frame, call(datasets.suggest_mapping, parsed.frame) or {})
                st.session_state[state.DATASETS_NAME] = dataset_form.default_name(uploaded.name)
        if parsed is not None:
            frame = parsed.frame
            st.caption(md_escape(dataset_form.file_summary(parsed)))
            dataset_form.reading_notes(parsed)
            preview, types = st.tabs(["Preview", "Column types"])
            # Numbered from 1, as the quality report numbers rows.
            preview.dataframe(frame.head(100).set_axis(range(1, min(len(frame), 100) + 1)), height=250,
                              key=state.DATASETS_PREVIEW)
            types.dataframe(call(datasets.column_types, frame), hide_index=True, key=state.DATASETS_TYPES)

            st.subheader("What should the model learn?")
            task = st.selectbox("Task", TASKS, key=state.DATASETS_TASK, format_func=task_label,
                                help="Raw names: " + ", ".join(TASKS))
            mapping = dataset_form.mapping_form(frame, task)
            if generates_text(task):
                dataset_form.chat_preview(frame, mapping)
            with st.expander("Splits: train / validation / test", expanded=False):
                split_values = dataset_form.split_form(frame, task)
            mapping["group"] = split_values["group_column"]
            models = [m for m in (call(catalog.list_models) or []) if task in m.tasks]
            model_key, max_length = dataset_form.token_settings(models, task)

            st.subheader("Quality report")
            with user_errors():
                split = datasets.SplitConfig(**split_values)
                prepared = dataset_form.cached_prepared(repr(file_key), parsed, mapping, task, split,
                                                        model_key, max_length)
                report = prepared.report
                dataset_form.render_report(report, state.DATASETS_REPORT)
                name = st.text_input("Name", key=state.DATASETS_NAME)
                if st.button("Save dataset version", key=state.DATASETS_SAVE, type="primary",
                             disabled=not report.ok or not name.strip(),
                             help=None if report.ok else "Fix the blocking problems above first."):
                    with st.spinner("Saving…"):
                        saved = datasets.save_dataset(parsed, mapping, name=name.strip(), task=task,
                                                      split=split, model_key=model_key,
                                                      max_length=max_length, created_by=access.actor(),
                                                      prepared=prepared)
                    st.session_state[state.CURRENT_DATASET] = saved.id
                    st.success(f"Saved {md_escape(saved.label)}: {saved.row_count:,} rows "
                               f"({', '.join(f'{k} {v:,}' for k, v in saved.split_sizes.items())}).",
                               icon=":material/check_circle:")

with saved_tab:
    versions = call(datasets.list_datasets) or []
    if not versions:
        st.info("No saved dataset yet: upload a file or import one from the gallery.")
    else:
        st.dataframe(panels.datasets_frame(versions), hide_index=True, key=state.DATASETS_VERSIONS)
        shown = dataset_form.saved_version_detail(versions)
        relabel_view.lineage_panel(shown)

with gallery_tab:
    panels.gallery_cards(state.DATASETS_GALLERY_PREFIX)
