"""Model catalogue helpers for the pages: the table and a progress callback for slow preparation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.data import datasets
from core.errors import UserError
from core.models.catalog import ModelInfo
from core.models.languages import cached_languages, model_languages, summary
from core.run_config import TrainConfig
from core.text.labels import task_label
from core.training import estimates
from core.training import service as training
from ui import state
from ui.widgets import call, count, dataset_picker, duration, size

MEASURES = {"train_samples_per_s": "training", "predict_samples_per_s": "prediction",
            "generate_tokens_per_s": "generation", "train_tokens_per_s": "training"}


def _figure_text(figure: dict[str, Any]) -> str:
    measure = str(figure.get("measure", ""))
    what = MEASURES.get(measure, measure.replace("_", " "))
    return f"{float(figure['value']):,.1f} {figure.get('unit', '')} {what}".strip()


def estimated_speed(model: ModelInfo) -> str:
    """What the estimates assume for a model never measured here, labelled as such."""
    speed, what = estimates.unmeasured_speed(model)
    return f"about {speed:,.1f} samples/s training ({what}, not measured here)"


def speed_text(speed: dict[str, Any] | None, model: ModelInfo | None = None) -> str:
    """The latest measured speeds, e.g. '12.0 samples/s training · 80.5 samples/s prediction'; for a
    model never measured, the built-in estimate the cost line uses, labelled as an estimate."""
    if not speed or speed.get("value") is None:
        return estimated_speed(model) if model is not None else "not measured"
    figures = [f for f in speed.get("figures") or [speed] if f.get("value") is not None]
    return " · ".join(_figure_text(f) for f in figures)


def speed_date(speed: dict[str, Any] | None) -> str:
    """When and where the speed was measured."""
    if not speed or not speed.get("measured_at"):
        return "—"
    return f"{str(speed['measured_at'])[:16].replace('T', ' ')} on {speed.get('device', '?')}"


def training_speed(model: ModelInfo) -> str:
    """The measured training speed alone, e.g. '12.0 samples/s', else the estimate '≈ 22.0 samples/s'."""
    speed = model.speed
    figures = [f for f in (speed or {}).get("figures") or ([speed] if speed else [])
               if f and f.get("measure") == "train_samples_per_s" and f.get("value") is not None]
    if figures:
        return f"{float(figures[0]['value']):,.1f} samples/s"
    # "≈" marks the estimate (the caption below and the card's help say so in words): a longer
    # value is cut off in a quarter-width card.
    return f"≈ {estimates.unmeasured_speed(model)[0]:,.1f} samples/s"


def languages_cell(model: ModelInfo) -> str:
    """'11 of 27 in words, 5 spelt out, 11 poorly or not at all', measured once per ready model (a model
    still to prepare, such as SmolLM2 before its conversion, shows its figures once selected)."""
    readings = model_languages(model.key) if model.ready else cached_languages(model.key)
    if not readings:
        return "—" if model.family == "tabular" else "measured when selected"
    verdicts = [r.verdict for r in readings]
    return (f"{verdicts.count('reads')} of {len(readings)} in words, {verdicts.count('spells out')} spelt "
            f"out, {verdicts.count('reads poorly') + verdicts.count('cannot read')} poorly or not at all")


def languages_summary(key: str) -> str:
    """The measured languages of a model in one sentence, or '' when it has no tokenizer."""
    return summary(model_languages(key))


def languages_frame(key: str) -> pd.DataFrame:
    """The measured reading of each sample language by a model's tokenizer, best read first."""
    readings = model_languages(key) or []
    order = {"reads": 0, "spells out": 1, "reads poorly": 2, "cannot read": 3}
    return pd.DataFrame([{"language": r.language, "reads it": r.verdict,
                          "unknown tokens": f"{r.unknown_share:.1%}",
                          "characters per token": f"{r.chars_per_token:.2f}", "texts": r.texts}
                         for r in sorted(readings, key=lambda r: (order[r.verdict], -r.chars_per_token))])


def models_frame(models: Sequence[ModelInfo]) -> pd.DataFrame:
    """One row per catalogue model, as the Models page shows it (what a person compares first)."""
    return pd.DataFrame([{
        "model": m.name, "ready": "yes" if m.ready else "prepared on first use",
        "speed here": speed_text(m.speed, m), "tasks": ", ".join(task_label(t) for t in m.tasks),
        "parameters": count(m.params), "size on disk": size(m.size_bytes), "licence": m.licence,
        "languages (measured)": languages_cell(m),
        "context": f"{m.context_length:,}" if m.context_length else "—", "source": m.source,
        "measured": speed_date(m.speed), "key": m.key,
    } for m in models])


def dataset_cost(model: ModelInfo) -> tuple[str, str | None] | None:
    """'About 4 min for one quick-look run on reviews v1 (10,000 rows)', for a dataset the user picks
    (the one chosen last, else the newest of the model's tasks), and the sentence that the model cannot
    read that dataset's text (None when it can)."""
    saved = call(datasets.list_datasets) or []
    dataset = dataset_picker(saved, key=state.MODELS_DATASET, label="Cost on dataset", tasks=model.tasks)
    if dataset is None:
        return None
    try:
        config = TrainConfig.from_preset("quick", task=dataset.task)
        estimate = training.estimate_run(dataset.id, model.key, config)
    except (UserError, OSError, ValueError):
        return None
    rows = f"{estimate.train_rows:,} training rows"
    # "a built-in default (probe the model for a figure measured here)" also holds the word
    source = ("measured speed" if estimate.speed_source.startswith("measured")
              else "a built-in speed until measured")
    cost = (f"About {duration(estimate.seconds)} for a quick-look run on {dataset.label} ({rows}), "
            f"from {source}.")
    try:
        unread = datasets.reading_problem(dataset.id, model.key)
    except (UserError, OSError, ValueError):
        unread = None
    return cost, unread


def progress_reporter(label: str) -> tuple[Callable[[float, str], None], Any]:
    """A (callback, bar) pair: the callback moves an st.progress bar from the service's reports."""
    bar = st.progress(0.0, text=label)

    def report(fraction: float, message: str) -> None:
        bar.progress(min(1.0, max(0.0, float(fraction))), text=message or label)

    return report, bar


def model_label(models: Sequence[ModelInfo]) -> Callable[[str], str]:
    """A format_func showing a model key as its name, with a note when it still needs preparing."""
    by_key = {m.key: m for m in models}

    def fmt(key: str) -> str:
        m = by_key.get(key)
        if m is None:
            return key
        return m.name + ("" if m.ready else " (prepared on first use)")  # read fresh on every run

    return fmt
