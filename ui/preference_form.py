"""The Fine-tuning page's form for a preference dataset: DPO on top of a finished run or a catalogue model."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.entities import DatasetInfo
from core.errors import UserError
from core.run_config import field_help
from core.task_specs import preference_defaults
from core.training import service as training
from ui import access, finetune_form, state
from ui.widgets import call, md_escape, remember_fields, restore_fields, select_run

FIELDS = (state.FINETUNE_PREF_PARENT, state.FINETUNE_PREF_BETA, state.FINETUNE_PREF_LEARNING_RATE,
          state.FINETUNE_PREF_STEPS, state.FINETUNE_PREF_MAX_LENGTH, state.FINETUNE_PREF_LORA_RANK,
          state.FINETUNE_PREF_NAME)
_SAVED = "finetune_pref_saved"  # their copy while the user is on another page (ui.widgets.remember_fields)


def applies(dataset: DatasetInfo) -> bool:
    """Whether the dataset holds preference pairs, so the form offers preference training."""
    return bool(call(training.is_preference_dataset, dataset))


def parent_picker(dataset: DatasetInfo, key: str, container: Any = st) -> str | None:
    """"Start from": the finished causal-LM runs and catalogue chat models, the run the pairs came from
    first; the chosen reference (``run:N`` or a catalogue key, see ``parent_of``), or None (with a
    warning) when there is nothing to start from. Shared by the Fine-tune and Sweep pages."""
    options, default = call(training.parent_options, dataset.id) or ({}, None)
    if not options:
        container.warning("No finished chat run or chat model to start from: train one, or add one on the "
                          "Models page.")
        return None
    if st.session_state.get(key) not in options:
        st.session_state[key] = default
    return container.selectbox("Start from", list(options), key=key, format_func=options.get,
                               help="The finished chat run (its final weights) or catalogue model the "
                                    "preferences train; the default is the run whose answers were judged.")


def render(dataset: DatasetInfo) -> None:
    """Parent, beta, learning rate, steps, max length and LoRA rank; the estimate; the start button."""
    st.caption(md_escape(f"'{dataset.label}' holds preference pairs (prompt, chosen, rejected): the run "
                         "learns to prefer the chosen answers with DPO (TRL), as LoRA adapters on top of the "
                         "model "
                         "you pick, whose own weights are the reference."))
    defaults, helps = preference_defaults(dataset.task), field_help()
    restore_fields(_SAVED, {state.FINETUNE_PREF_BETA: float(defaults.get("beta", 0.1)),
                            state.FINETUNE_PREF_LEARNING_RATE: float(defaults.get("learning_rate", 1e-4)),
                            state.FINETUNE_PREF_STEPS: int(defaults.get("max_steps", 100)),
                            state.FINETUNE_PREF_MAX_LENGTH: int(defaults.get("max_length", 256)),
                            state.FINETUNE_PREF_LORA_RANK: int(defaults.get("lora_rank", 8))})
    parent = parent_picker(dataset, state.FINETUNE_PREF_PARENT)
    if parent is None:
        return
    a, b, c = st.columns(3)
    beta = a.number_input("Beta", 0.01, 10.0, step=0.05, key=state.FINETUNE_PREF_BETA, help=helps["beta"])
    rate = b.number_input("Learning rate", 1e-7, 1.0, step=1e-5, format="%.1e",
                          key=state.FINETUNE_PREF_LEARNING_RATE, help=helps["learning_rate"])
    steps = c.number_input("Steps", 1, 100_000, step=10, key=state.FINETUNE_PREF_STEPS,
                           help=helps["max_steps"])
    a, b, c = st.columns(3)
    length = a.number_input("Max length (tokens)", 8, 8192, step=16, key=state.FINETUNE_PREF_MAX_LENGTH,
                            help="Prompt and answer together are cut to this many tokens. Shorter is faster.")
    rank = b.number_input("LoRA rank", 1, 256, key=state.FINETUNE_PREF_LORA_RANK, help=helps["lora_rank"])
    name = c.text_input("Run name (optional)", key=state.FINETUNE_PREF_NAME, max_chars=200)
    remember_fields(_SAVED, kept=FIELDS)
    request = None
    try:
        request = training.preference_request(
            dataset.id, **training.parent_of(parent), beta=beta, learning_rate=rate, max_steps=int(steps),
            max_length=int(length), lora_rank=int(rank), name=name.strip(), created_by=access.actor())
        finetune_form.show_estimate(dataset.id, request.model_key, request.config)
    except UserError as error:
        st.error(md_escape(error), icon=":material/error:")
    if st.button("Start preference training", key=state.FINETUNE_PREF_START, type="primary",
                 disabled=request is None, icon=":material/thumbs_up_down:"):
        started = call(training.start_run, request)
        if started is not None:
            select_run(state.FINETUNE_RUN_SELECT, started.id)
            st.toast(f"Run {started.id} queued.", icon=":material/rocket_launch:")
            st.rerun()
