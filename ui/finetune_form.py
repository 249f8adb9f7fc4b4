"""The fine-tuning form: preset, advanced settings and the estimate shown before a run starts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from core.config import TRACKERS, get_settings
from core.data import language
from core.entities import DatasetInfo
from core.run_config import LR_SCHEDULERS, TrainConfig, field_help
from core.task_specs import reads_text, tasks_where
from core.training import service as training
from ui import state, widgets
from ui.widgets import duration, md_escape, size

PRESET_LABELS = {"quick": "Quick look", "full": "Full"}
TEXT_TASKS = ("classification", "regression")
_DEFAULTS = TrainConfig()


def _key(name: str) -> str:
    return f"{state.FINETUNE_FIELD_PREFIX}{name}"


def _task_values(task: str | None, preset: str) -> dict[str, Any]:
    """The form's numbers for a task and preset: the preset, then the task's own defaults."""
    config = TrainConfig.from_preset(preset, task=task)
    values: dict[str, Any] = {
        "epochs": float(config.epochs), "max_train_rows": int(config.max_train_rows or 0),
        "batch_size": config.batch_size, "learning_rate": config.learning_rate,
        "max_length": config.max_length, "warmup_ratio": config.warmup_ratio,
        "weight_decay": config.weight_decay, "lr_scheduler": config.lr_scheduler,
        "early_stopping": config.early_stopping, "early_stopping_patience": config.early_stopping_patience}
    options = config.task_options or {}
    if "hidden_sizes" in options:
        values["hidden_sizes"] = ", ".join(str(n) for n in options["hidden_sizes"])
    if "dropout" in options:
        values["dropout"] = float(options["dropout"])
    return values


def _apply_preset() -> None:
    # A preset sets epochs and the training-row cap; the other fields keep what the user typed.
    task = st.session_state.get(_key("defaults_task"))
    values = _task_values(task, st.session_state[state.FINETUNE_PRESET])
    st.session_state[_key("epochs")] = values["epochs"]
    st.session_state[_key("max_train_rows")] = values["max_train_rows"]


# Streamlit forgets a widget's value once a page without that widget has run, while plain keys
# survive; the form keeps a copy of its fields under this plain key and puts them back on return.
_SAVED = _key("saved")


_KEPT = (state.FINETUNE_PRESET, state.FINETUNE_TASK, state.FINETUNE_MODEL)
_MODEL_FOR = _key("defaults_model_dataset")  # the dataset whose suggested model was applied


def restore_fields() -> None:
    """Put back every field Streamlit dropped while the user was on another page (call first)."""
    widgets.restore_fields(_SAVED)


def remember_fields() -> None:
    """Keep a copy of the form's fields under a plain key (call after the last field)."""
    widgets.remember_fields(_SAVED, prefix=state.FINETUNE_FIELD_PREFIX, kept=_KEPT,
                            skip_prefix=_key("defaults_"))


def choose_model(dataset: DatasetInfo, models: Sequence[str]) -> str | None:
    """Select the model the dataset's quality report says can read its text, once per dataset; returns
    the reason to show, or None. A choice the user made afterwards is kept."""
    if st.session_state.get(state.FINETUNE_MODEL) not in models:
        st.session_state.pop(state.FINETUNE_MODEL, None)
    found = language.suggested_model(dataset.quality, models)
    if st.session_state.get(_MODEL_FOR) != dataset.id:
        st.session_state[_MODEL_FOR] = dataset.id
        if found is not None:
            st.session_state[state.FINETUNE_MODEL] = found[0]
    if found is not None and st.session_state.get(state.FINETUNE_MODEL) == found[0]:
        return found[1]
    return None


def _init_defaults(task: str, dataset: DatasetInfo | None = None) -> None:
    restore_fields()
    st.session_state.setdefault(state.FINETUNE_PRESET, "quick")
    defaults = {"max_steps": 0, "seed": _DEFAULTS.seed, "eval_every": 0,
                "lora": "Full fine-tune", "lora_rank": _DEFAULTS.lora_rank,
                "lora_alpha": _DEFAULTS.lora_alpha, "early_stopping": _DEFAULTS.early_stopping,
                "early_stopping_patience": _DEFAULTS.early_stopping_patience,
                "label_all_subwords": False, "completion_only_loss": True,
                "hidden_sizes": "64, 64", "dropout": 0.1, "report_to": list(get_settings().report_to)}
    for name, value in defaults.items():
        st.session_state.setdefault(_key(name), value)
    dataset_id = dataset.id if dataset is not None else None
    if st.session_state.get(_key("defaults_task")) != task:
        # A new task (or the first visit) starts from that task's defaults: an MLP trained from
        # scratch, a tagger's new head and a causal LM each need other numbers than a classifier.
        st.session_state[_key("defaults_task")] = task
        for name, value in _task_values(task, st.session_state[state.FINETUNE_PRESET]).items():
            st.session_state[_key(name)] = value
        st.session_state.pop(_key("defaults_dataset"), None)
    else:
        # Never let a number field fall back to its minimum: a field still missing gets the task's value.
        for name, value in _task_values(task, st.session_state[state.FINETUNE_PRESET]).items():
            st.session_state.setdefault(_key(name), value)
    if st.session_state.get(_key("defaults_dataset")) != dataset_id:
        # The max length chosen on the Datasets page (stored with the version) is the one used here.
        st.session_state[_key("defaults_dataset")] = dataset_id
        info = (dataset.info or {}) if dataset is not None else {}
        chosen = info.get("max_length")
        # A gallery import never asked for one; its 128 is the services' default, not a choice.
        if isinstance(chosen, int) and chosen >= 8 and reads_text(task) and not info.get("gallery"):
            st.session_state[_key("max_length")] = chosen


def task_options(datasets: DatasetInfo) -> Sequence[str]:
    """Tasks a dataset can train for: its own, and classification <-> regression for text labels."""
    return TEXT_TASKS if datasets.task in TEXT_TASKS else (datasets.task,)


def settings_form(task: str, dataset: DatasetInfo | None = None) -> dict[str, Any]:
    """Preset radio and the advanced expander; returns keyword values for TrainConfig.from_preset.

    The max length starts at the one chosen for the dataset on the Datasets page.
    """
    _init_defaults(task, dataset)
    helps = field_help()
    preset = st.radio("Preset", list(PRESET_LABELS), key=state.FINETUNE_PRESET, horizontal=True,
                      format_func=PRESET_LABELS.get, on_change=_apply_preset, help=helps["preset"])
    values: dict[str, Any] = {"preset": preset}
    with st.expander("Advanced settings"):
        a, b, c, d = st.columns(4)
        values["epochs"] = a.number_input("Epochs", 0.1, 1000.0, step=0.5, key=_key("epochs"),
                                          help=helps["epochs"])
        values["max_steps"] = b.number_input("Max steps (0 = by epochs)", 0, 1_000_000, step=50,
                                             key=_key("max_steps"), help=helps["max_steps"]) or None
        values["batch_size"] = c.number_input("Batch size", 1, 1024, step=8, key=_key("batch_size"),
                                              help=helps["batch_size"])
        values["learning_rate"] = d.number_input("Learning rate", 1e-7, 1.0, step=1e-5, format="%.1e",
                                                 key=_key("learning_rate"), help=helps["learning_rate"])
        a, b, c, d = st.columns(4)
        values["max_length"] = a.number_input("Max length (tokens)", 8, 8192, step=16, key=_key("max_length"),
                                              help=helps["max_length"])
        values["warmup_ratio"] = b.number_input("Warmup share", 0.0, 0.9, step=0.02, key=_key("warmup_ratio"),
                                                help=helps["warmup_ratio"])
        values["weight_decay"] = c.number_input("Weight decay", 0.0, 0.9, step=0.01, key=_key("weight_decay"),
                                                help=helps["weight_decay"])
        values["seed"] = d.number_input("Seed", 0, 2**31 - 1, step=1, key=_key("seed"), help=helps["seed"])
        a, b, c, d = st.columns(4)
        values["eval_every"] = a.number_input("Evaluate every (steps, 0 = auto)", 0, 1_000_000, step=50,
                                              key=_key("eval_every"), help=helps["eval_every"]) or None
        values["max_train_rows"] = b.number_input("Max training rows (0 = all)", 0, 10_000_000, step=500,
                                                  key=_key("max_train_rows"),
                                                  help=helps["max_train_rows"]) or None
        mode = c.radio("Weights to train", ["Full fine-tune", "LoRA"], key=_key("lora"), help=helps["lora"],
                       disabled=not reads_text(task))
        values["lora"] = mode == "LoRA" and reads_text(task)
        values["early_stopping"] = d.checkbox("Early stopping", key=_key("early_stopping"),
                                              help=helps["early_stopping"])
        if values["lora"] or values["early_stopping"]:
            a, b, c, _ = st.columns(4)
            if values["lora"]:
                values["lora_rank"] = a.number_input("LoRA rank", 1, 256, key=_key("lora_rank"),
                                                     help=helps["lora_rank"])
                values["lora_alpha"] = b.number_input("LoRA alpha", 1, 1024, key=_key("lora_alpha"),
                                                      help=helps["lora_alpha"])
            if values["early_stopping"]:
                values["early_stopping_patience"] = c.number_input(
                    "Patience (evaluations)", 1, 100, key=_key("early_stopping_patience"),
                    help=helps["early_stopping_patience"])
        a, b = st.columns(2)
        values["lr_scheduler"] = a.selectbox("Learning-rate schedule", LR_SCHEDULERS,
                                             key=_key("lr_scheduler"), help=helps["lr_scheduler"])
        values["report_to"] = b.multiselect("Report to", TRACKERS, key=_key("report_to"),
                                            help=helps["report_to"])
        values["task_options"] = _task_options(task)
    return values


CV_TASKS = tasks_where("cross_validation")


def folds_control(task: str) -> int | None:
    """k for a k-fold cross-validation (None: one run on the dataset's own split)."""
    if task not in CV_TASKS:
        return None
    left, right = st.columns([1, 2])
    use = left.toggle("k-fold cross-validation", key=_key("cv"),
                      help="Trains k runs, each validated on a different part of the data, and reports "
                           "every metric as mean ± standard deviation. Worth it on small datasets.")
    if not use:
        return None
    return int(right.slider("Folds (k)", 3, 10, 5, key=_key("folds")))


def _task_options(task: str) -> dict[str, Any]:
    if task == "token-classification":
        return {"label_all_subwords": st.checkbox(
            "Label every subword (not only the first)", key=_key("label_all_subwords"))}
    if task == "causal-lm":
        return {"completion_only_loss": st.checkbox(
            "Loss on the answer only (completion / assistant tokens)", key=_key("completion_only_loss"))}
    if task == "tabular":
        a, b = st.columns(2)
        return {"hidden_sizes": a.text_input("Hidden layer sizes", key=_key("hidden_sizes")),
                "dropout": b.number_input("Dropout", 0.0, 0.9, step=0.05, key=_key("dropout"))}
    return {}


@st.cache_data(ttl=120, show_spinner=False, max_entries=32)
def _estimate(dataset_id: int, model_key: str, config: dict[str, Any]) -> training.Estimate:
    return training.estimate_run(dataset_id, model_key, TrainConfig.from_dict(config))


def show_estimate(dataset_id: int, model_key: str, config: TrainConfig,
                  folds: int | None = None) -> training.Estimate:
    """Duration, steps, memory and warnings before starting (cached for identical settings)."""
    estimate = _estimate(dataset_id, model_key, config.to_dict())
    a, b, c, d = st.columns(4)
    a.metric("Duration (estimate)", duration(estimate.seconds * (folds or 1)),
             help=f"{folds} folds, one after the other." if folds else None)
    b.metric("Steps", f"{estimate.steps:,}", help=f"{estimate.train_rows:,} training rows")
    avail = f" of {size(estimate.available_bytes)} free" if estimate.available_bytes else ""
    c.metric("Memory (estimate)", size(estimate.memory_bytes), help=f"Peak memory{avail}.")
    d.metric("Samples/s (estimate)", f"{estimate.samples_per_second:,.1f}", help=estimate.speed_source)
    st.caption(md_escape(f"Duration: {estimate.covers} Speed: {estimate.speed_source}. Rough (±50 %) "
                         "until a run of this model and task has finished here; later estimates use the "
                         "speed and overheads that run measured."))
    for warning in estimate.warnings:
        st.warning(md_escape(warning), icon=":material/warning:")
    if not estimate.fits:
        st.error(f"This run needs about {size(estimate.memory_bytes)} but only "
                 f"{size(estimate.available_bytes)} is free: lower the batch size or the max length, "
                 "or choose LoRA.", icon=":material/memory:")
    return estimate
