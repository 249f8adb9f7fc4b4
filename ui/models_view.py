"""Model catalogue helpers for the pages: the table and a progress callback for slow preparation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.models.catalog import ModelInfo
from ui.widgets import count, size

MEASURES = {"train_samples_per_s": "training", "predict_samples_per_s": "prediction",
            "generate_tokens_per_s": "generation", "train_tokens_per_s": "training"}


def _figure_text(figure: dict[str, Any]) -> str:
    measure = str(figure.get("measure", ""))
    what = MEASURES.get(measure, measure.replace("_", " "))
    return f"{float(figure['value']):,.1f} {figure.get('unit', '')} {what}".strip()


def speed_text(speed: dict[str, Any] | None) -> str:
    """The latest measured speeds, e.g. '12.0 samples/s training · 80.5 samples/s prediction'."""
    if not speed or speed.get("value") is None:
        return "not measured"
    figures = [f for f in speed.get("figures") or [speed] if f.get("value") is not None]
    return " · ".join(_figure_text(f) for f in figures)


def speed_date(speed: dict[str, Any] | None) -> str:
    """When and where the speed was measured."""
    if not speed or not speed.get("measured_at"):
        return "—"
    return f"{str(speed['measured_at'])[:16].replace('T', ' ')} on {speed.get('device', '?')}"


def models_frame(models: Sequence[ModelInfo]) -> pd.DataFrame:
    """One row per catalogue model, as the Models page shows it."""
    return pd.DataFrame([{
        "model": m.name, "key": m.key, "source": m.source, "tasks": ", ".join(m.tasks),
        "parameters": count(m.params), "size on disk": size(m.size_bytes), "licence": m.licence,
        "languages": m.languages or "not stated", "context": m.context_length,
        "ready": "yes" if m.ready else "needs preparing",
        "speed here": speed_text(m.speed), "measured": speed_date(m.speed),
    } for m in models])


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
        return m.name + ("" if m.ready else " (prepared on first use)")

    return fmt
