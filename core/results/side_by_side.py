"""Two (or more) models' outputs on the same validation prompts with the same seed.

Used by the compare page (generators side by side) and by blind reviews (outputs to vote on).
A model reference is ``run:<id>`` or a catalogue key (base causal LMs only: an encoder without
a trained head has nothing to say).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.data.datasets import load_dataset_frame
from core.errors import UserError
from core.generation_settings import GenerationSettings
from core.inference import generation, predict
from core.results.compare import run_predictions
from core.store.runs import get_run
from core.task_specs import generates_text

MAX_PROMPTS = 50
PROMPT_CHARS = 300


def _prompt_of(row: pd.Series) -> str:
    if isinstance(row.get("prompt"), str) and row["prompt"].strip():
        return row["prompt"]
    if isinstance(row.get("messages"), str):
        try:
            turns = json.loads(row["messages"])
        except ValueError:
            turns = []
        # The conversation up to the last user turn: what the model is asked to answer.
        users = [t.get("content", "") for t in turns if isinstance(t, dict) and t.get("role") == "user"]
        if users:
            return str(users[-1])
    text = row.get("text")
    return str(text)[:PROMPT_CHARS] if text is not None else ""


def validation_prompts(run_id: int, n: int = 5, split: str = "validation") -> list[str]:
    """The first n prompts (or texts) of a run's dataset split, for side-by-side and reviews."""

    frame = load_dataset_frame(get_run(run_id).dataset_id, split)
    if frame.empty and split == "validation":
        frame = load_dataset_frame(get_run(run_id).dataset_id, "test")
    prompts = [p for p in (_prompt_of(row) for _, row in frame.head(max(n * 3, n)).iterrows()) if p.strip()]
    return prompts[:n]


def _run_task(model_ref: str) -> tuple[int | None, str | None]:
    if not model_ref.startswith("run:"):
        return None, None

    try:
        run_id = int(model_ref.split(":", 1)[1])
    except ValueError as exc:
        raise UserError(f"'{model_ref}' is not a run reference; write run:<id>, for example run:3.") from exc
    return run_id, get_run(run_id).task


def model_outputs(model_ref: str, prompts: Sequence[str], *, seed: int = 0, temperature: float = 0.0,
                  max_new_tokens: int = 96) -> list[str]:
    """One output per prompt: generated text (causal LMs) or 'label (confidence)' (classifiers)."""
    prompts = [str(p) for p in prompts]
    if not prompts:
        raise UserError("Pick at least one prompt or text.")
    if len(prompts) > MAX_PROMPTS:
        raise UserError(f"Use at most {MAX_PROMPTS} prompts at a time.")
    run_id, task = _run_task(model_ref)
    if task in ("classification", "regression"):
        frame = predict.predict_texts(run_id, prompts)
        if "value" in frame:
            return [f"{v:.4g}" for v in frame["value"]]
        return [f"{lab} ({conf:.0%})" for lab, conf in zip(frame["label"], frame["confidence"], strict=True)]
    if task is not None and not generates_text(task):
        raise UserError(f"Run {run_id} is a {task} run; side-by-side outputs need text generators "
                        "or text classifiers.")

    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    return [generation.generate(model_ref, p, mode="chat", settings=settings, store=False).text
            for p in prompts]


def side_by_side(model_refs: Sequence[str], prompts: Sequence[str], *, seed: int = 0,
                 temperature: float = 0.0, max_new_tokens: int = 96) -> pd.DataFrame:
    """A table with one row per prompt and one column of outputs per model (same prompts, same seed)."""
    refs = list(dict.fromkeys(str(r) for r in model_refs))
    if len(refs) < 2:
        raise UserError("Pick two different models or runs to put side by side.")
    out: dict[str, Any] = {"prompt": list(prompts)}
    for ref in refs:
        out[ref] = model_outputs(ref, prompts, seed=seed, temperature=temperature,
                                 max_new_tokens=max_new_tokens)
    return pd.DataFrame(out)


def stored_outputs(run_ids: Sequence[int], split: str = "test") -> pd.DataFrame:
    """Greedy answers the runs gave to the same held-out prompts at evaluation (no model loading)."""

    table: pd.DataFrame | None = None
    for run_id in run_ids:
        preds = run_predictions(int(run_id), split)
        if "generated" not in preds or "prompt" not in preds:
            raise UserError(f"Run {run_id} stored no generated answers; pick causal-LM runs.")
        part = preds[[c for c in ("prompt", "reference", "generated") if c in preds]]
        part = part.rename(columns={"generated": f"run:{run_id}"}).reset_index(drop=True)
        if table is None:
            table = part
        elif part["prompt"].tolist() != table["prompt"].tolist():
            raise UserError("These runs were evaluated on different prompts; pick runs on one dataset.")
        else:
            table[f"run:{run_id}"] = part[f"run:{run_id}"]
    if table is None:
        raise UserError("Pick at least two runs.")
    # Only the first rows were generated at evaluation (the rest were scored, not answered).
    answered = table[[c for c in table.columns if c.startswith("run:")]].astype(str).apply(
        lambda col: col.str.strip() != "").any(axis=1)
    return table[answered].reset_index(drop=True)
