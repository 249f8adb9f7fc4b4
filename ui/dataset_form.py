"""The upload flow of the Datasets page: column mapping, split settings and the quality report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.data.ingest import display_name
from core.data.preferences import is_preference
from core.entities import TASKS, QualityReport
from core.task_specs import SPECS, count_tokens_to, get_spec, reads_text
from core.text.labels import task_label
from ui import charts, preference_data_view, state
from ui.widgets import follow_newest, md_escape, show_table_text

NONE = "(none)"
# The columns each task needs, in the order the form shows them (core.task_specs); optional ones
# may stay "(none)". A causal LM asks by data shape.
TASK_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    spec.task: tuple((f.name, f.label, f.required) for f in spec.fields)
    for spec in SPECS if not spec.formats}
CAUSAL_FORMATS = {fmt: tuple((f.name, f.label, f.required) for f in fields)
                  for fmt, fields in get_spec("causal-lm").formats}  # type: ignore[union-attr]
MAPPING_KEYS = ("text", "label", "tokens", "tags", "prompt", "completion", "input", "messages", "chosen",
                "rejected", "features", "format", "group", "split_column")


def _key(name: str) -> str:
    return f"{state.DATASETS_MAP_PREFIX}{name}"


def seed_form(frame: pd.DataFrame, suggestion: dict[str, Any]) -> None:
    """Pre-fill the form's widgets from the suggested mapping (called once per new upload)."""
    columns = [str(c) for c in frame.columns]
    task = suggestion.get("task") if suggestion.get("task") in TASKS else "classification"
    st.session_state[state.DATASETS_TASK] = task
    for name in MAPPING_KEYS:
        value = suggestion.get(name)
        if name == "features":
            st.session_state[_key(name)] = [c for c in (value or []) if c in columns]
        elif name == "format":
            st.session_state[_key(name)] = value if value in CAUSAL_FORMATS else "text"
        else:
            st.session_state[_key(name)] = value if value in columns else NONE
    st.session_state[state.DATASETS_GROUP] = st.session_state[_key("group")]
    st.session_state[state.DATASETS_SPLIT_COLUMN] = st.session_state[_key("split_column")]


def _column_select(label: str, name: str, columns: Sequence[str], required: bool, where: Any) -> str | None:
    options = ([] if required else [NONE]) + list(columns)
    if required and st.session_state.get(_key(name)) not in options:
        st.session_state[_key(name)] = options[0] if options else None
    value = where.selectbox(label, options, key=_key(name))
    return None if value in (NONE, None) else value


def mapping_form(frame: pd.DataFrame, task: str) -> dict[str, Any]:
    """Selectboxes for the columns the task needs; returns the mapping for core.data.datasets."""
    columns = [str(c) for c in frame.columns]
    mapping: dict[str, Any] = {}
    fields = TASK_FIELDS.get(task, ())
    spec = get_spec(task)
    if spec is not None and spec.formats:
        fmt = st.radio("Data shape", list(CAUSAL_FORMATS), key=_key("format"), horizontal=True,
                       help="A plain text column, prompt and completion columns (Alpaca's "
                            "instruction, input and output), chat conversations (OpenAI "
                            "messages or ShareGPT conversations), or preference pairs (TRL's prompt, "
                            "chosen and rejected: text or chat message lists).")
        mapping["format"] = fmt
        fields = CAUSAL_FORMATS[fmt]
    cols = st.columns(max(1, len(fields)))
    for (name, label, required), where in zip(fields, cols, strict=False):
        mapping[name] = _column_select(label, name, columns, required, where)
    if not reads_text(task):  # a table: the other columns are its features
        options = [c for c in columns if c != mapping.get("label")]
        st.session_state[_key("features")] = [c for c in st.session_state.get(_key("features"), [])
                                              if c in options]
        mapping["features"] = st.multiselect("Feature columns", options, key=_key("features"))
    return mapping


def chat_preview(frame: pd.DataFrame, mapping: dict[str, Any]) -> None:
    """The first conversations as the model will see them (roles as speakers, text as text)."""
    from core.tasks.chat import preview_conversations

    conversations = preview_conversations(frame, mapping, n=2)
    if not conversations:
        return
    with st.expander("Preview as chat", expanded=True):
        for number, turns in enumerate(conversations):
            if number:
                st.divider()
            for turn in turns:
                target = turn["role"] == "assistant" and turn.get("train", True) is not False
                with st.chat_message(turn["role"] if turn["role"] in ("user", "assistant") else "ai"
                                     if turn["role"] == "tool" else "human"):
                    st.caption(turn["role"] + ("" if target or turn["role"] != "assistant"
                                               else " (tool call, context only)"))
                    st.text(turn["content"])


def split_form(frame: pd.DataFrame, task: str) -> dict[str, Any]:
    """Split settings (sizes, seed, group column, split column) as keyword values for SplitConfig."""
    columns = [NONE] + [str(c) for c in frame.columns]
    for key in (state.DATASETS_GROUP, state.DATASETS_SPLIT_COLUMN):
        if st.session_state.get(key) not in columns:
            st.session_state[key] = NONE
    a, b, c, d, e = st.columns(5)
    validation = a.number_input("Validation share", 0.0, 0.5, 0.1, 0.05, key=state.DATASETS_VALIDATION)
    test = b.number_input("Test share", 0.0, 0.5, 0.1, 0.05, key=state.DATASETS_TEST)
    seed = c.number_input("Seed", 0, 2**31 - 1, 42, 1, key=state.DATASETS_SEED)
    group = d.selectbox("Group column", columns, key=state.DATASETS_GROUP,
                        help="Rows of one group (e.g. one movie, one customer) stay in one split.")
    split_column = e.selectbox("Split column", columns, key=state.DATASETS_SPLIT_COLUMN,
                               help="Use the file's own train/validation/test column instead.")
    if task == "classification":
        st.caption("Classification splits are stratified by label unless a group or split column is set.")
    return {"validation_size": float(validation), "test_size": float(test), "seed": int(seed),
            "group_column": None if group == NONE else group,
            "split_column": None if split_column == NONE else split_column}


_SEVERITY = {"blocking": (st.error, ":material/block:"), "warning": (st.warning, ":material/warning:"),
             "info": (st.info, ":material/info:")}


def render_report(report: QualityReport, key_prefix: str, saved: bool = False) -> None:
    """Blocking problems, warnings and notes as sentences with example rows, then the charts."""
    warnings = sum(f.severity == "warning" for f in report.findings)
    if report.ok and not saved and warnings:
        # never green above a warning that changes what the scores mean
        st.info(f"This dataset can be saved, but read the {warnings} warning{'s' if warnings > 1 else ''} "
                "below first: they can make the scores look better or worse than they are.",
                icon=":material/info:")
    elif report.ok and not saved:
        st.success("No blocking problem: this dataset can be saved.", icon=":material/check_circle:")
    for severity in ("blocking", "warning", "info"):
        show, icon = _SEVERITY[severity]
        for finding in (f for f in report.findings if f.severity == severity):
            show(md_escape(finding.message), icon=icon)
            if finding.example:
                with st.expander("Example row", expanded=False):
                    show_table_text(finding.example)
    render_stats_charts(report.stats, key_prefix)


def render_stats_charts(stats: dict[str, Any], key_prefix: str) -> None:
    """Class balance (or target histogram) and token-length charts from a report's statistics."""
    figures = []
    counts = stats.get("class_counts_by_split") or stats.get("class_counts")
    if counts:
        figures.append(("balance", charts.class_balance_bar(counts)))
    elif stats.get("label_histogram"):
        hist = stats["label_histogram"]
        figures.append(("target", charts.histogram_bars(hist["bins"], hist["counts"], "Target values",
                                                         "value")))
    lengths = stats.get("token_lengths")
    if isinstance(lengths, dict) and lengths.get("counts"):
        figures.append(("lengths", charts.token_length_bars(lengths, stats.get("max_length"),
                                                            stats.get("truncated_share"))))
    for column, (name, figure) in zip(st.columns(2), figures, strict=False):
        column.plotly_chart(figure, key=f"{key_prefix}_{name}")


def default_name(filename: str) -> str:
    """A dataset name from the uploaded file's name (its stem, tidied)."""
    stem = display_name(filename).rsplit(".", 1)[0]  # no path, control or bidi characters
    return " ".join(stem.replace("_", " ").replace("-", " ").split())[:80] or "dataset"


def token_settings(models: Sequence[Any], task: str) -> tuple[str, int]:
    """Model and max length used to count tokens (none for tabular data)."""
    if not reads_text(task) or not models:
        return "minilm-l6", 128  # the services' defaults; no text to count
    keys = [m.key for m in models]
    if st.session_state.get(state.DATASETS_MODEL) not in keys:
        st.session_state[state.DATASETS_MODEL] = keys[0]
    names = {m.key: m.name for m in models}
    left, right = st.columns(2)
    model_key = left.selectbox("Count tokens with the model", keys, key=state.DATASETS_MODEL,
                               format_func=lambda k: names.get(k, k))
    default = count_tokens_to(task)
    max_length = right.number_input("Max length (tokens)", 8, 8192, default, 8, key=state.DATASETS_MAX_LENGTH,
                                    help="Texts longer than this are cut when training.")
    return model_key, int(max_length)


@st.cache_resource(max_entries=4, ttl=900, show_spinner=False)
def _parse_upload(file_id: str, name: str, encoding: str | None, _upload: Any) -> Any:
    from core.data import datasets

    return datasets.read_upload(_upload.getvalue(), name, encoding)


def parsed_upload(upload: Any, encoding: str | None = None) -> Any:
    """The parsed upload (a ParsedFile), or None with the sentence shown. The frame lives in a
    small cache shared by all sessions (keyed by the upload's random id), never in session
    state, so a few open tabs do not each keep a full copy."""
    from core.errors import UserError
    from core.text.encoding import EncodingQuestion

    try:
        with st.spinner("Reading the file…"):
            return _parse_upload(upload.file_id, upload.name, encoding, upload)
    except EncodingQuestion as question:  # two plausible readings: show both and ask
        ask_reading(question)
        return None
    except UserError as error:  # exceptions are not cached: a fixed file is read again
        st.error(md_escape(error))
        return None


def _pick_reading(codec: str) -> None:
    st.session_state[state.DATASETS_ENCODING] = codec  # a callback: before the selectbox exists


def ask_reading(question: Any) -> None:
    """Both readings of an ambiguous file side by side, each with a button that picks it."""
    first, second = question.readings[0], question.readings[1]
    st.warning(f"This file reads as plausible text in two encodings, {md_escape(first.label)} and "
               f"{md_escape(second.label)}, and the app will not guess which one is right. "
               "Which one shows your texts?", icon=":material/help:")
    for reading, column in zip((first, second), st.columns(2), strict=True):
        language = f" — looks like {reading.language}" if reading.language else ""
        column.markdown(f"**{md_escape(reading.label)}**{md_escape(language)}")
        column.text("\n".join(reading.preview) or "(no non-ASCII line)")  # user text as text
        column.button(f"Read it as {reading.label}", key=f"{state.DATASETS_PICK_READING}{reading.codec}",
                      on_click=_pick_reading, args=(reading.codec,))


def reading_notes(parsed: Any) -> None:
    """How the file was read: calm facts as info lines, doubts as warnings."""
    for note in getattr(parsed, "notes", ()):
        st.info(md_escape(note), icon=":material/info:")
    for warning in parsed.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")


@st.cache_resource(max_entries=4, ttl=900, show_spinner="Checking the data…")
def _prepare(key: str, _parsed: Any, _mapping: dict[str, Any], task: str, _split: Any, model_key: str,
             max_length: int) -> Any:
    from core.data import datasets

    return datasets.prepare_dataset(_parsed, dict(_mapping), task=task, split=_split, model_key=model_key,
                                    max_length=max_length)


def cached_prepared(file_id: str, parsed: Any, mapping: dict[str, Any], task: str, split: Any,
                    model_key: str, max_length: int) -> Any:
    """The prepared dataset (rows, mapping, quality report) for these settings, recomputed only when
    a setting changes; saving hands it to ``save_dataset`` so the data is prepared once. Like the
    parsed upload it lives in a small cache shared by all sessions (keyed by the upload's random id
    and the settings), never in session state."""
    key = repr((file_id, task, sorted(mapping.items(), key=lambda kv: kv[0]), split, model_key, max_length))
    return _prepare(key, parsed, mapping, task, split, model_key, max_length)



def report_from_dict(data: dict[str, Any]) -> QualityReport:
    """A stored quality report (JSON) back as a QualityReport."""
    from core.entities import Finding

    findings = tuple(Finding(**f) for f in data.get("findings", []))
    return QualityReport(findings=findings, stats=dict(data.get("stats") or {}))


def saved_version_detail(versions: Sequence[Any]) -> None:
    """Pick a saved version and show its mapping, split sizes and stored quality report."""
    by_id = {v.id: v for v in versions}
    newest = max(versions, key=lambda v: (v.created_at, v.id)).id
    follow_newest(state.DATASETS_LIST_SELECT, newest)  # a version saved just now is the one shown
    picked = st.selectbox("Show version", list(by_id), key=state.DATASETS_LIST_SELECT,
                          format_func=lambda i: f"{by_id[i].label} ({task_label(by_id[i].task)})")
    version = by_id[picked]
    st.session_state[state.CURRENT_DATASET] = version.id
    cols = st.columns(4)
    cols[0].metric("Rows", f"{version.row_count:,}")
    for col, split in zip(cols[1:], ("train", "validation", "test"), strict=True):
        col.metric(split.capitalize(), f"{(version.split_sizes or {}).get(split, 0):,}")
    mapping = {k: v for k, v in (version.mapping or {}).items() if v not in (None, "", [])}
    st.caption("Column mapping")
    st.dataframe(pd.DataFrame({"field": list(mapping), "column": [str(v) for v in mapping.values()]}),
                 hide_index=True, key=state.DATASETS_SAVED_MAPPING)
    source = md_escape(version.source_filename)
    st.caption(f"Content hash {version.content_hash[:16]}… · source file {source}")
    if is_preference(version):  # prompt / chosen / rejected, with where the pairs came from
        preference_data_view.preference_preview(version)
    if version.quality:
        st.caption("Quality report at saving time")
        render_report(report_from_dict(version.quality), f"{state.DATASETS_SAVED_PREFIX}{version.id}",
                      saved=True)


AUTO_ENCODING = "auto"
TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".json", ".jsonl", ".ndjson", ".conll", ".conllu",
                 ".iob", ".iob2", ".bio", ".bioes", ".ner")


def encoding_choice(filename: str) -> str | None:
    """'Read the file as': detect (None) or the encoding the user picked, for text files."""
    from core.text.encoding import ENCODINGS

    if not filename.lower().endswith(TEXT_SUFFIXES):
        return None
    options = [AUTO_ENCODING, *ENCODINGS]
    if st.session_state.get(state.DATASETS_ENCODING) not in options:
        st.session_state[state.DATASETS_ENCODING] = AUTO_ENCODING
    picked = st.selectbox(
        "Read the file as", options, key=state.DATASETS_ENCODING,
        format_func=lambda c: "Detect the encoding" if c == AUTO_ENCODING else ENCODINGS[c],
        help="The text encoding the file was saved in; change it if the preview shows "
             "garbled characters.")
    return None if picked == AUTO_ENCODING else picked


def file_summary(parsed: Any) -> str:
    """One line on what was read: rows, columns, format, encoding, delimiter, header."""
    frame = parsed.frame
    parts = [f"{len(frame):,} rows", f"{len(frame.columns)} columns", str(parsed.file_format)]
    if parsed.encoding:
        parts.append(f"read as {parsed.encoding_label}")
    if parsed.delimiter:
        shown = {"\t": "tab", ",": "comma", ";": "semicolon", " ": "spaces"}
        parts.append("delimiter " + shown.get(parsed.delimiter, repr(parsed.delimiter)))
    if getattr(parsed, "has_header", True) is False:
        parts.append("no header row (columns numbered)")
    return " · ".join(parts)
