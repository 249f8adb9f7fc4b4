"""The playground tab for causal LMs: prompt or chat, streamed output, sampling controls, history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.entities import RunInfo
from core.errors import UserError
from core.inference import generation, predict
from core.models import catalog
from core.results import verdict
from core.task_specs import generates_text
from ui import access, preference_data_view, ship, state
from ui.models_view import progress_reporter
from ui.widgets import call, follow_newest, md_escape, remember_fields, restore_fields

KEY = state.PLAYGROUND_GEN_PREFIX
ENGINE_LABELS = {"auto": "Auto (llama.cpp on CPU)", "llama.cpp": "llama.cpp (GGUF)",
                 "exact": "Exact (transformers generate)"}
HISTORY = KEY + "chat_history"   # the chat turns so far (plain dicts: role, content)
LAST = KEY + "last"               # the last finished generation(s), shown after reruns
LAST_TIMING = KEY + "last_timing"  # the speed line of the last chat answer
CLEAR_PROMPT = KEY + "clear_prompt"  # empty the message box on the next run (after a chat turn)
# sampling settings and their defaults; with the models, mode and texts, what the tab keeps (a copy under
# SAVED) while the user is on another page: Streamlit forgets a widget's value once a page without it ran
DEFAULTS = {KEY + "max_new": 128, KEY + "temperature": 0.7, KEY + "top_k": 50, KEY + "top_p": 0.95,
            KEY + "penalty": 1.0, KEY + "sequences": 1, KEY + "seed": 42}
FIELDS = (*DEFAULTS, KEY + "stop", KEY + "engine", KEY + "mode", KEY + "side", KEY + "model_a",
          KEY + "model_b", KEY + "system", KEY + "prompt")
SAVED = KEY + "saved"


def model_choices(runs: Sequence[RunInfo]) -> dict[str, str]:
    """Catalogue causal LMs and succeeded causal-LM runs, as {model reference: label}."""
    choices = {m.key: m.name for m in (call(catalog.list_models) or []) if m.family == "causal-lm"}
    choices.update({f"run:{r.id}": f"Run {r.id} · {r.name}" for r in runs
                    if generates_text(r.task) and r.status == "succeeded"})
    return choices


def default_models(runs: Sequence[RunInfo], keys: Sequence[str]) -> tuple[str, str]:
    """(first, second) model to open on: the best fine-tuned chat run when one exists, else the first
    catalogue model; beside it, the model it was fine-tuned from (fine-tuned against not fine-tuned)."""
    chat_runs = [r for r in runs if generates_text(r.task) and r.status == "succeeded"
                 and f"run:{r.id}" in keys]
    best = verdict.best_run(chat_runs)
    if best is None:
        return keys[0], next((k for k in keys if k != keys[0]), keys[0])
    first = f"run:{best.id}"
    second = best.model_key if best.model_key in keys else next((k for k in keys if k != first), first)
    return first, second


def settings_controls() -> generation.GenerationSettings | None:
    """Sampling controls; None (with the sentence shown) when a value is impossible."""
    a, b, c, d = st.columns(4)
    max_new = a.number_input("Max new tokens", 1, generation.MAX_NEW_TOKENS, step=16, key=KEY + "max_new")
    temperature = b.number_input("Temperature (0 = greedy)", 0.0, 5.0, step=0.1, key=KEY + "temperature")
    top_k = c.number_input("Top-k (0 = off)", 0, 1000, step=5, key=KEY + "top_k")
    top_p = d.number_input("Top-p", 0.01, 1.0, step=0.05, key=KEY + "top_p")
    a, b, c, d = st.columns(4)
    penalty = a.number_input("Repetition penalty", 0.5, 3.0, step=0.05, key=KEY + "penalty")
    sequences = b.number_input("Sequences", 1, generation.MAX_SEQUENCES, step=1, key=KEY + "sequences")
    seed = c.number_input("Seed", 0, 2**31 - 1, step=1, key=KEY + "seed",
                          help="The same seed and settings give the same text.")
    stop = d.text_input("Stop sequences (comma-separated)", key=KEY + "stop")
    engine = st.radio("Engine", list(ENGINE_LABELS), key=KEY + "engine", horizontal=True,
                      format_func=ENGINE_LABELS.get,
                      help="llama.cpp runs the model's GGUF file several times faster on a CPU; it rounds "
                           "weights and activations to 8 or 4 bits, so a greedy answer can differ from "
                           "exact (transformers' generate, full precision) after some tokens. Each answer "
                           "says which engine wrote it.")
    try:
        return generation.GenerationSettings(
            max_new_tokens=int(max_new), temperature=float(temperature), top_k=int(top_k), top_p=float(top_p),
            repetition_penalty=float(penalty), num_return_sequences=int(sequences), seed=int(seed),
            stop=tuple(s.strip() for s in stop.split(",") if s.strip()), engine=str(engine))
    except UserError as error:
        st.error(md_escape(error))
        return None


def stream_into(model_ref: str, label: str, prompt: str, mode: str, system: str,
                settings: generation.GenerationSettings) -> generation.GenerationRecord | None:
    """Stream one model's answer into the current container; returns the stored record."""
    st.caption(md_escape(label))
    history = st.session_state.get(HISTORY, []) if mode == "chat" else ()
    if not _prepared(model_ref):
        return None
    try:
        with st.spinner("Loading the model…"):
            stream = generation.stream_generate(model_ref, prompt, mode=mode, system=system or None,
                                                history=history, settings=settings)
        show_stream_as_text(stream.texts())
    except UserError as error:
        st.error(md_escape(error))
        return None
    record = stream.record
    if record is not None:
        _timings(record)
    return record


def show_stream_as_text(chunks: Iterable[str]) -> str:
    """Show streamed model output as plain text as it grows (never Markdown: an image link in an
    answer must not make the browser fetch its URL); returns the whole text."""
    box = st.empty()
    text = ""
    for chunk in chunks:
        text += chunk
        box.text(text)
    return text


def _prepared(model_ref: str) -> bool:
    """Convert a bundled model on first use with a progress bar (SmolLM2: once, about 20 s)."""
    if model_ref.startswith("run:"):
        return True
    info = call(catalog.get_model, model_ref)
    if info is None:
        return False
    if not info.ready:
        report, bar = progress_reporter(f"Preparing {info.name} (once)…")
        path = call(catalog.model_path, model_ref, progress=report)
        bar.empty()
        return path is not None
    return True


def _timing_text(record: generation.GenerationRecord) -> str:
    ttft = f"{record.time_to_first_token:.2f} s" if record.time_to_first_token is not None else "—"
    speed = f"{record.tokens_per_second:.1f}" if record.tokens_per_second else "—"
    # which engine answered and why (a greedy answer depends on it: llama.cpp rounds to 8 or 4 bits)
    note = record.stats.get("engine_note")
    return (f"Time to first token {ttft} · {speed} tokens/s · seed {record.settings.get('seed')}"
            + (f" · {md_escape(note)}" if note else ""))


def _timings(record: generation.GenerationRecord) -> None:
    st.caption(_timing_text(record))


def show_last() -> None:
    """The last generation(s) as plain text (after a rerun the streamed elements are gone)."""
    last = st.session_state.get(LAST) or []
    columns = st.columns(len(last)) if len(last) > 1 else [st.container()]
    for column, (label, outputs, record_id) in zip(columns, last, strict=False):
        with column:
            st.caption(md_escape(label))
            for i, text in enumerate(outputs):
                if len(outputs) > 1:
                    st.caption(f"Sequence {i + 1}")
                st.text(text)
            record = call(generation.get_generation, record_id) if record_id else None
            if record is not None:
                _timings(record)


def chat_history() -> None:
    """The conversation so far as bubbles (user text shown as text), with the last answer's speed."""
    for turn in st.session_state.get(HISTORY, []):
        with st.chat_message(turn["role"]):
            st.text(turn["content"])
    if st.session_state.get(HISTORY) and st.session_state.get(LAST_TIMING):
        st.caption(st.session_state[LAST_TIMING])


def chat_turn(ref: str, label: str, prompt: str, system: str,
              settings: generation.GenerationSettings) -> None:
    """One chat turn: the user's message as a bubble, the answer streamed into the next bubble; then
    the turn joins the history and the page redraws with the message box empty."""
    with st.chat_message("user"):
        st.text(prompt)
    with st.chat_message("assistant"):
        record = stream_into(ref, label, prompt, "chat", system, settings)
    if record is None or not record.outputs:
        return
    st.session_state[LAST] = [(label, record.outputs, record.id)]
    st.session_state[LAST_TIMING] = _timing_text(record)
    remember_turn(prompt, record.outputs[0])
    st.session_state[CLEAR_PROMPT] = True
    st.rerun()


def remember_turn(prompt: str, answer: str) -> None:
    """Append the user's message and the model's answer to the chat history."""
    turns = list(st.session_state.get(HISTORY, []))
    st.session_state[HISTORY] = turns + [{"role": "user", "content": prompt},
                                         {"role": "assistant", "content": answer}]


def history_table() -> pd.DataFrame:
    """Stored generations, newest first, as a table."""
    rows: list[dict[str, Any]] = []
    for rec in call(generation.list_generations, 50) or []:
        prompt = rec.prompt.get("text") or (rec.prompt.get("messages") or [{}])[-1].get("content", "")
        rows.append({"id": rec.id, "model": rec.model_ref, "mode": rec.mode, "prompt": str(prompt)[:120],
                     "output": rec.text[:200], "seed": rec.settings.get("seed"),
                     "temperature": rec.settings.get("temperature"),
                     "first token (s)": rec.time_to_first_token, "tokens/s": rec.tokens_per_second,
                     "created": rec.created_at})
    return pd.DataFrame(rows)


def history_section() -> None:
    """The history: a table, re-run of one entry, export as CSV."""
    table = history_table()
    if table.empty:
        st.caption("No generation yet.")
        return
    st.dataframe(table, hide_index=True, key=KEY + "history_table")
    left, mid, right = st.columns([2, 1, 1])
    ids = [int(i) for i in table["id"]]
    follow_newest(KEY + "history_pick", ids[0])  # the newest entry after each new generation
    picked = left.selectbox("Generation", ids, key=KEY + "history_pick")
    if mid.button("Re-run", key=KEY + "rerun", help="Same prompt, settings and seed."):
        with st.spinner("Generating again…"):
            record = call(generation.rerun_generation, int(picked))
        if record is not None:
            label = f"Re-run of #{picked} · {record.model_ref}"
            st.session_state[LAST] = [(label, record.outputs, record.id)]
            st.rerun()
    export = call(generation.export_generations)
    if export is not None and access.allowed("export"):
        right.download_button("Export CSV", predict.to_csv_bytes(export), file_name="generations.csv",
                              mime="text/csv", key=KEY + "export", on_click="ignore")


def panel(runs: Sequence[RunInfo]) -> None:
    """The whole generation tab: model(s), mode, settings, the streamed answer and the history."""
    choices = model_choices(runs)
    if not choices:
        st.info("No causal language model in the catalogue; add one on the Models page.")
        return
    restore_fields(SAVED, DEFAULTS)
    mode = st.radio("Mode", list(generation.MODES)[::-1], key=KEY + "mode", horizontal=True,
                    format_func={"chat": "Chat", "prompt": "Prompt"}.get)
    side = st.toggle("Side by side: send the same prompt, settings and seed to two models", key=KEY + "side")
    keys = list(choices)
    columns = st.columns(2 if side else 1)
    first, second = default_models(runs, keys)
    if st.session_state.get(KEY + "model_a") not in keys:
        st.session_state[KEY + "model_a"] = first
    model_a = columns[0].selectbox("Model", keys, key=KEY + "model_a", format_func=choices.get)
    other = second if second != model_a else next((k for k in keys if k != model_a), model_a)
    if side and st.session_state.get(KEY + "model_b") not in keys:
        st.session_state[KEY + "model_b"] = other
    model_b = (columns[1].selectbox("Second model", keys, key=KEY + "model_b", format_func=choices.get)
               if side else None)
    ship.serve_panel(model_a, "causal-lm", run_id=int(model_a[4:]) if model_a.startswith("run:") else None)
    system = st.text_input("System prompt", key=KEY + "system") if mode == "chat" else ""
    with st.expander("Sampling settings"):
        settings = settings_controls()
    if mode == "chat":
        chat_history()
    if st.session_state.pop(CLEAR_PROMPT, False):
        st.session_state[KEY + "prompt"] = ""  # before the box is drawn, so it shows empty
    prompt = st.text_area("Your message" if mode == "chat" else "Prompt", key=KEY + "prompt", height=100)
    remember_fields(SAVED, kept=FIELDS)
    left, right, _ = st.columns([1, 1, 3])
    go = left.button("Generate", key=KEY + "go", type="primary", disabled=settings is None)
    if mode == "chat" and right.button("Clear conversation", key=KEY + "clear"):
        st.session_state[HISTORY] = []
        st.session_state[LAST] = []
        st.rerun()
    if go and not prompt.strip():
        st.warning("Write a prompt first.")
    elif go and settings is not None and mode == "chat" and not side:
        chat_turn(model_a, choices[model_a], prompt, system, settings)
    elif go and settings is not None:
        targets = [model_a] + ([model_b] if model_b else [])
        results = []
        for column, ref in zip(st.columns(len(targets)), targets, strict=False):
            with column:
                record = stream_into(ref, choices[ref], prompt, mode, system, settings)
            results.append((choices[ref], record.outputs if record else [], record.id if record else None))
        st.session_state[LAST] = results
        if mode == "chat" and results[0][1]:
            remember_turn(prompt, results[0][1][0])
    elif mode == "prompt" or side:
        show_last()
    last = st.session_state.get(LAST) or []
    if last:  # "write a better answer" / thumbs under the (first model's) last answer
        preference_data_view.generation_corrections(last[0][2], list(last[0][1]))
    st.subheader("History")
    history_section()
