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
                  tokenizer: Any, model_dir: Path, config: Any) -> None:
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
                              frames=(parts[split], parts["train"]), batch_size=config.eval_batch_size or 8)
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
