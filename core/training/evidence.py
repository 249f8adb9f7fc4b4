"""The evidence after training: the saved model, its evaluations, its answers and the baselines.

The worker (``core.training.worker``) calls ``gather_evidence`` once the engine has trained a run
to its end; what it returns is the run's summary (numbers only, per split and per baseline).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from core.results.answer_quality import DEFAULT_EXAMPLES
from core.results.evaluation import store_evaluation
from core.run_config import PREFERENCE
from core.store import runs
from core.training.estimates import ANSWER_S, ENGINE_CONVERT_S, FORWARD_SPEEDUP
from core.training.prepare import PreparedRun
from core.training.recorder import StoreRecorder


def phase(run_id: int, text: str, rows: int = 0, seconds: float | None = None) -> None:
    """Say what the run does after its last training step (the pages show it instead of 'Time left 0 s').

    The time left is the rows to score at about three times the measured training speed
    (a forward pass without the backward one); the summary is replaced when the run ends.
    """
    speed = runs.get_run(run_id).samples_per_second
    eta = rows / (speed * FORWARD_SPEEDUP) if rows and speed else seconds
    runs.update_progress(run_id, summary={"phase": text}, eta_seconds=eta)


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}


def gather_evidence(run: PreparedRun, outcome: Any, *, validation_only: bool = False) -> dict[str, Any]:
    """Save the trained model, evaluate it on test and validation, score a causal LM's answers and
    train the baselines; the run's summary. `validation_only` (a sweep's trial): the validation
    evaluation alone."""
    run_id, parts, adapter, config = run.info.id, run.parts, run.adapter, run.config
    log = StoreRecorder(run_id, echo=True).log
    bundle = outcome.bundle
    phase(run_id, "Saving the model…")
    adapter.save(outcome.model, bundle.processing_class, run.folder.model, bundle.meta)
    if config.training_kind == PREFERENCE:
        return preference_evidence(run, outcome, validation_only=validation_only)
    summary: dict[str, Any] = {}
    for split in ("validation",) if validation_only else ("test", "validation"):
        if parts[split].empty:
            continue
        phase(run_id, f"Evaluating on {len(parts[split]):,} {split} rows…", rows=len(parts[split]))
        log(f"Evaluating on the {split} split ({len(parts[split])} rows).")
        metrics, predictions = adapter.evaluate(outcome.model, bundle.processing_class, parts[split],
                                                bundle.meta, config)
        store_evaluation(run_id, split, "run", metrics, predictions)
        summary[split] = _numbers(metrics)
    if validation_only:
        return summary
    eval_split = "test" if not parts["test"].empty else "validation"
    if run.info.task == "causal-lm":
        answers = int((config.task_options or {}).get("eval_examples", DEFAULT_EXAMPLES))
        phase(run_id, "Writing and scoring answers to held-out examples…",
              seconds=ENGINE_CONVERT_S + answers * ANSWER_S if answers > 0 else None)
        score_answers(run_id, run.info.dataset_id, eval_split, parts, outcome.model, bundle.processing_class,
                      run.folder.model, config)
    phase(run_id, "Training the simple baselines to compare against…")
    for name, metrics, predictions in adapter.baselines(parts["train"], parts[eval_split]):
        store_evaluation(run_id, eval_split, name, metrics, predictions)
        summary.setdefault("baselines", {})[name] = _numbers(metrics)
    return summary


def score_answers(run_id: int, dataset_id: int, split: str, parts: dict[str, pd.DataFrame], model: Any,
                  tokenizer: Any, model_dir: Path, config: Any, seed: int | None = None) -> None:
    """Generate and score the trained model's answers to at most N held-out examples (0 turns it off)."""
    from core.ml.batch_generation import from_trained
    from core.results.answer_quality import evaluate_answers

    log = StoreRecorder(run_id, echo=True).log
    limit = int((config.task_options or {}).get("eval_examples", DEFAULT_EXAMPLES))
    if limit <= 0 or parts[split].empty:
        return
    gguf, problem = convert_for_engine(run_id, model_dir)
    log(f"Scoring the answers to at most {limit} {split} examples.")
    try:
        loaded = from_trained(f"run:{run_id}", model, tokenizer, model_dir, gguf=gguf, gguf_problem=problem)
        ev = evaluate_answers(loaded, dataset_id, split, kind="run", examples=limit, run_id=run_id,
                              frames=(parts[split], parts["train"]), batch_size=config.eval_batch_size or 8,
                              **({"seed": seed} if seed is not None else {}))
    except Exception as exc:  # noqa: BLE001 - the trained model stays; its answers can be scored later
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        log(f"Scoring the answers failed ({reason}); score them on the Evaluation page.", "error")
        return
    headline = ev.metrics.get("headline", "rouge_l")
    value = (ev.metrics.get("metrics") or {}).get(headline, {}).get("mean")
    log(f"Answer quality on {ev.examples} {split} examples: {headline} "
        f"{value if value is None else round(value, 3)}.")


def convert_for_engine(run_id: int, model_dir: Path) -> tuple[Path | None, str | None]:
    """Write the run's model once as the GGUF file llama.cpp answers with (the scoring below, the
    playground, the server and the Ollama export reuse it); (None, why) when it cannot be written."""
    from core.inference.generation import write_run_gguf
    from core.ml.gguf_export import unsupported_reason
    from core.ml.llama_engine import unavailable_reason

    log = StoreRecorder(run_id, echo=True).log
    problem = unsupported_reason(model_dir)
    if problem or unavailable_reason():
        if problem:
            log(f"The model is not converted for llama.cpp: {problem}; the exact engine answers.")
        return None, problem
    phase(run_id, "Converting the model for llama.cpp (once)…")
    try:
        start = time.perf_counter()
        path = write_run_gguf(model_dir, model_dir.parent, runs.get_run(run_id).model_key)
    except Exception as exc:  # noqa: BLE001 - the trained model stays; the exact engine answers
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        reason = f"its conversion failed ({type(exc).__name__}: {first})"
        log(f"The model is not converted for llama.cpp: {reason}.", "error")
        return None, reason
    log(f"Converted the model for llama.cpp in {time.perf_counter() - start:.1f} s ({path.name}).")
    return path, None


def preference_evidence(run: PreparedRun, outcome: Any, *, validation_only: bool = False) -> dict[str, Any]:
    """A preference run's evidence: both answers of each held-out pair scored by the run and by its
    parent (test and validation pairs), then its answers on the parent's own test split, scored like
    the parent's were (same examples, same seed), so the two are compared example by example.
    `validation_only` (a sweep's trial): the validation pairs alone (test is for the final run)."""
    run_id, parts, adapter, config = run.info.id, run.parts, run.adapter, run.config
    log = StoreRecorder(run_id, echo=True).log
    bundle = outcome.bundle
    summary: dict[str, Any] = {}
    for split in ("validation",) if validation_only else ("test", "validation"):
        if parts[split].empty:
            continue
        phase(run_id, f"Scoring {len(parts[split]):,} held-out {split} pairs with the run and its parent…",
              rows=4 * len(parts[split]))
        metrics, predictions = adapter.evaluate(outcome.model, bundle.processing_class, parts[split],
                                                bundle.meta, config)
        store_evaluation(run_id, split, "run", metrics, predictions)
        summary[split] = _numbers(metrics)
        log(f"Held-out {split} pairs: preference accuracy {metrics.get('preference_accuracy')} "
            f"(parent {metrics.get('parent_preference_accuracy')}), reward accuracy "
            f"{metrics.get('reward_accuracy')}.")
    parent_id = config.parent_run_id
    if validation_only:
        return summary
    if parent_id is None:
        log("The parent is a catalogue model with no dataset of its own: answer quality is not compared.")
        return summary
    parent = runs.get_run(int(parent_id))
    from core.results.answer_quality import DEFAULT_EXAMPLES, get_answer_quality
    from core.training.prepare import load_frames, split_frames

    try:
        scored = get_answer_quality(parent.id, "test").evaluation
        examples, seed = int(scored.settings.get("requested_examples", scored.examples)), scored.seed
    except Exception:  # noqa: BLE001 - the parent's answers are scored on the Evaluation page later
        examples, seed = DEFAULT_EXAMPLES, None
    examples = int((config.task_options or {}).get("eval_examples", examples))
    _, frame = load_frames(parent.dataset_id)
    parent_parts = split_frames(frame, config.__class__.from_dict({**parent.config, "max_train_rows": None}))
    if parent_parts["test"].empty or examples <= 0:
        return summary
    phase(run_id, f"Writing and scoring answers to the parent's test examples (dataset {parent.dataset_id})…",
          seconds=ENGINE_CONVERT_S + examples * ANSWER_S)
    options = {**(config.task_options or {}), "eval_examples": examples}
    score_answers(run_id, parent.dataset_id, "test", parent_parts, outcome.model, bundle.processing_class,
                  run.folder.model, config.__class__.from_dict({**config.to_dict(), "task_options": options}),
                  seed=seed)
    return summary
