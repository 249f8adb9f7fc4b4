"""Did fine-tuning beat prompting? Answer quality of causal-LM runs and prompt baselines for every task.

``evaluate_answers`` generates a greedy answer (batched, ``max_new_tokens`` from the references)
for each of at most N held-out examples, scores it with ``core.results.answer_metrics`` and
stores every row (``core.store.answers``). Prompt baselines are the same evaluation of an
instruct model that was not fine-tuned: for a causal-LM dataset the run's base model zero-shot
and few-shot; for a classification dataset SmolLM2 choosing the most likely label
(``evaluate_labels``). Baselines are cached per dataset version, split, model, shots, seed and
N, so a second run reuses them; the gain of a run over a baseline is a paired bootstrap over
the examples both answered.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError, NotFoundError
from core.results import answer_metrics as am
from core.results.answer_defaults import DEFAULT_EXAMPLES, DEFAULT_SEED, DEFAULT_SHOTS, MAX_EXAMPLES  # noqa: F401
from core.results.prompts import (
    Example,
    causal_examples,
    classification_examples,
    content_free_prompt,
    sample_positions,  # noqa: F401 (tests and readers recompute the sample through this module)
)
from core.store import answers as store
from core.store.answers import AnswerEvaluationInfo
from core.store.runs import get_run
from core.task_specs import SPECS, generates_text, tasks_where

Progress = Callable[[int, int], None]
CAUSAL_KINDS = ("zero_shot", "few_shot")
LABEL_KINDS = ("label_zero_shot", "label_few_shot")
KIND_TITLES = {"run": "fine-tuned", "zero_shot": "zero-shot", "few_shot": "few-shot",
               "label_zero_shot": "zero-shot", "label_few_shot": "few-shot"}
# Seconds per example before anything was timed on this machine (135M model on a small CPU).
LabelBaseline = tuple[str, str, dict[str, Any], dict[str, float | None]]  # name, title, metrics, gain
GUESS_SECONDS = {spec.task: spec.guess_seconds for spec in SPECS}  # from core.task_specs


@dataclass(frozen=True)
class BaselineAnswers:
    """A prompt baseline's stored evaluation and the run's paired gain over it per metric."""

    evaluation: AnswerEvaluationInfo
    title: str
    gains: dict[str, dict[str, float | None]]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "gains": self.gains, **self.evaluation.to_dict(rows=False)}


@dataclass(frozen=True)
class AnswerQuality:
    """A run's (or a model's) scored answers with the prompt baselines beside it."""

    evaluation: AnswerEvaluationInfo
    title: str
    baselines: list[BaselineAnswers] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return str(self.evaluation.metrics.get("headline") or "rouge_l")

    @property
    def scoring_note(self) -> str:
        """How the answers were split into tokens ("… scored by character for Chinese …"), or ''."""
        return am.tokenization_note(self.evaluation.metrics)

    @property
    def metrics(self) -> dict[str, dict[str, float | None]]:
        return dict(self.evaluation.metrics.get("metrics") or {})

    @property
    def rows(self) -> pd.DataFrame:
        return self.evaluation.examples_frame

    def worst(self, metric: str | None = None, search: str = "", below: float | None = None,
              limit: int = 200) -> pd.DataFrame:
        """Examples with the lowest score first, optionally only those containing a text or below a score."""
        metric = metric or self.headline
        frame = self.rows
        if frame.empty or metric not in frame:
            return frame
        if search.strip():
            needle = search.strip().lower()
            hit = frame[["prompt", "reference", "answer"]].apply(
                lambda col: col.astype(str).str.lower().str.contains(needle, regex=False))
            frame = frame[hit.any(axis=1)]
        if below is not None:
            frame = frame[frame[metric] < below]
        return frame.sort_values([metric, "position"]).head(limit)

    def summary_frame(self) -> pd.DataFrame:
        """One row per model and metric: value with its 95 % interval, and the gain over each baseline."""
        rows = []
        for title, ev, gains in [(self.title, self.evaluation, {})] + [
                (b.title, b.evaluation, b.gains) for b in self.baselines]:
            for name, stats in (ev.metrics.get("metrics") or {}).items():
                gain = gains.get(name) or {}
                rows.append({"model": title, "metric": am.METRIC_TITLES.get(name, name), "key": name,
                             "value": stats.get("mean"), "low": stats.get("low"), "high": stats.get("high"),
                             "examples": stats.get("n"), "gain": gain.get("mean"),
                             "gain_low": gain.get("low"), "gain_high": gain.get("high"),
                             "gain_n": gain.get("n")})
        return pd.DataFrame(rows)

    def display_frame(self) -> pd.DataFrame:
        """The summary as text: value, 95 % interval, and the run's gain over each baseline (interval)."""
        frame = self.summary_frame()
        if frame.empty:
            return frame
        return pd.DataFrame({
            "model": frame["model"], "metric": frame["metric"],
            "examples (N)": [labels_n(n) for n in frame["examples"]], "value": frame["value"].map(_fmt3),
            "95 % interval": [f"{_fmt3(lo)} – {_fmt3(hi)}" for lo, hi in zip(frame["low"], frame["high"],
                                                                             strict=True)],
            "gain of the run on the shared examples (95 % interval)": [
                "" if _missing(g) else f"{g:+.3f} ({lo:+.3f} – {hi:+.3f}) on {labels_n(n)}"
                for g, lo, hi, n in zip(frame["gain"], frame["gain_low"], frame["gain_high"], frame["gain_n"],
                                        strict=True)]})

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "headline": self.headline, **self.evaluation.to_dict(),
                "baselines": [b.to_dict() for b in self.baselines]}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def labels_n(value: Any) -> str:
    """An example count as text ('87'), '—' when unknown."""
    return "—" if _missing(value) else f"{int(value):,}"


def _fmt3(value: Any) -> str:
    return "—" if _missing(value) else f"{value:.3f}"


def _check_examples(examples: int) -> int:
    if not 1 <= int(examples) <= MAX_EXAMPLES:
        raise ConfigError(f"The number of examples must be between 1 and {MAX_EXAMPLES} (for example 200).")
    return int(examples)


def _frames(dataset_id: int, split: str) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    from core.data import datasets

    info = datasets.get_dataset(dataset_id)
    frame = datasets.load_dataset_frame(dataset_id)
    part = frame[frame["split"] == split].reset_index(drop=True)
    if part.empty:
        raise NotFoundError(f"Dataset {dataset_id} has no {split} rows to evaluate on; choose another split.")
    return info, part, frame[frame["split"] == "train"].reset_index(drop=True)


def _ref_of(model: str | Any) -> str:
    return model if isinstance(model, str) else str(model.ref)


def _store(examples: list[Example], answers: list[str], scores: list[dict[str, Any]], metrics: dict[str, Any],
           **key: Any) -> AnswerEvaluationInfo:
    rows = [{"position": e.position, "prompt": e.shown, "reference": e.reference, "answer": a, **s}
            for e, a, s in zip(examples, answers, scores, strict=True)]
    return store.get_answer_evaluation(store.save_answer_evaluation(metrics=metrics, rows=rows, **key))


def evaluate_answers(model: str | Any, dataset_id: int, split: str = "test", *, kind: str = "zero_shot",
                     shots: int = 0, seed: int = DEFAULT_SEED, examples: int = DEFAULT_EXAMPLES,
                     run_id: int | None = None, frames: tuple[pd.DataFrame, pd.DataFrame] | None = None,
                     batch_size: int = 8, progress: Progress | None = None) -> AnswerEvaluationInfo:
    """Generate, score and store the answers of a model (reference or loaded) to a causal-LM split."""
    from core.data import datasets
    from core.inference import answers as infer

    part, train = _frames(dataset_id, split)[1:] if frames is None else frames
    mapping = dict(datasets.get_dataset(dataset_id).mapping or {})
    items = causal_examples(part, train, mapping, limit=_check_examples(examples), shots=shots, seed=seed)
    if not items:
        raise NotFoundError(f"The {split} split of dataset {dataset_id} has no example with an answer to "
                            "score.")
    loaded = infer.load(model)
    budget = infer.answer_budget(loaded, [e.reference for e in items])
    start = time.perf_counter()
    answers = infer.answer_prompts(loaded, [e.prompt for e in items], budget, batch_size, progress)
    seconds = time.perf_counter() - start
    scores, metrics = am.score_answers(answers, [e.reference for e in items], seed=seed)
    settings = {"max_new_tokens": budget, "decoding": "greedy", "batch_size": batch_size,
                "per_example_seconds": seconds / len(items), "requested_examples": int(examples)}
    return _store(items, answers, scores, metrics, dataset_id=dataset_id, run_id=run_id,
                  model_ref=_ref_of(model), split=split, kind=kind, shots=shots, seed=seed,
                  settings=settings, seconds=seconds)


def evaluate_labels(model: str, dataset_id: int, split: str = "test", *, shots: int = 0,
                    seed: int = DEFAULT_SEED, examples: int = DEFAULT_EXAMPLES,
                    progress: Progress | None = None) -> AnswerEvaluationInfo:
    """An instruct model classifying a split by the likelihood of each label; stored like answers."""
    from core.inference import answers as infer
    from core.tasks.metrics import classification_metrics

    _, part, train = _frames(dataset_id, split)
    labels = sorted({str(v) for v in pd.concat([train["label"], part["label"]]).dropna()})
    items = classification_examples(part, train, labels, limit=_check_examples(examples), shots=shots,
                                    seed=seed)
    start = time.perf_counter()
    raw = np.asarray(infer.label_scores(model, [e.prompt for e in items], labels, progress))
    # contextual calibration: subtract each label's log-likelihood for a content-free text ('N/A'),
    # so a small model's prior for one label word does not decide every answer
    bias = np.asarray(infer.label_scores(model, [content_free_prompt(items[0], labels)], labels)[0])
    scores = raw - bias
    seconds = time.perf_counter() - start
    proba = np.exp(scores - scores.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    truth = [labels.index(e.reference) for e in items]
    metrics = classification_metrics(truth, pred, labels, proba, curves=False)
    correct = [float(p == t) for p, t in zip(pred, truth, strict=True)]
    low, high = am.bootstrap_interval(correct, seed)
    metrics.update({"accuracy_interval": [low, high], "headline": "accuracy", "kind": "labels",
                    "metrics": {"accuracy": {"mean": metrics["accuracy"], "low": low, "high": high,
                                             "n": len(items)}}})
    rows = [{"correct": c, "confidence": float(proba[i].max())} for i, c in enumerate(correct)]
    return _store(items, [labels[i] for i in pred], rows, metrics, dataset_id=dataset_id, run_id=None,
                  model_ref=model, split=split, kind=LABEL_KINDS[shots > 0], shots=shots, seed=seed,
                  settings={"scoring": "label log-likelihood minus its content-free ('N/A') value",
                            "labels": labels, "label_bias": bias.tolist(),
                            "per_example_seconds": seconds / max(1, len(items)),
                            "requested_examples": int(examples)}, seconds=seconds)


def baseline_model(task: str, run_model_key: str | None = None) -> str:
    """The instruct model a dataset's prompt baselines use: a causal-LM run's base model, else SmolLM2."""
    from core.models.catalog import SMOLLM2_KEY

    return run_model_key if generates_text(task) and run_model_key else SMOLLM2_KEY


def cached_baselines(dataset_id: int, split: str, model_ref: str, *, examples: int | None = None,
                     shots: int | None = None, seed: int | None = None) -> list[AnswerEvaluationInfo]:
    """The newest stored zero-shot and few-shot baseline of a model on a split (each at most once)."""
    found: dict[str, AnswerEvaluationInfo] = {}
    for ev in store.find_answer_evaluations(dataset_id=dataset_id, split=split, model_ref=model_ref,
                                            kinds=CAUSAL_KINDS + LABEL_KINDS, examples=examples,
                                            seed=seed, baselines_only=True):
        if ev.kind not in found and (shots is None or ev.shots in (0, shots)):
            found[ev.kind] = ev
    return sorted(found.values(), key=lambda e: e.shots)


def ensure_prompt_baselines(dataset_id: int, split: str = "test", *, model_ref: str | None = None,
                            shots: int = DEFAULT_SHOTS, seed: int = DEFAULT_SEED,
                            examples: int = DEFAULT_EXAMPLES, progress: Progress | None = None
                            ) -> list[AnswerEvaluationInfo]:
    """Zero-shot and few-shot baselines of a dataset split, computed only when not cached yet."""
    from core.data import datasets

    task = datasets.get_dataset(dataset_id).task
    if task not in tasks_where("prompt_baselines"):
        raise ConfigError(f"Prompt baselines exist for causal-LM and classification datasets, not {task}.")
    model_ref = model_ref or baseline_model(task)
    out = []
    for k in (0, shots) if shots > 0 else (0,):
        kind = (CAUSAL_KINDS if generates_text(task) else LABEL_KINDS)[k > 0]
        hit = store.find_answer_evaluations(dataset_id=dataset_id, split=split, model_ref=model_ref,
                                            kinds=(kind,), shots=k, seed=seed, baselines_only=True)
        hit = [e for e in hit if e.settings.get("requested_examples", e.examples) == examples]
        if hit:
            out.append(hit[0])
        elif generates_text(task):
            out.append(evaluate_answers(model_ref, dataset_id, split, kind=kind, shots=k, seed=seed,
                                        examples=examples, progress=progress))
        else:
            out.append(evaluate_labels(model_ref, dataset_id, split, shots=k, seed=seed, examples=examples,
                                       progress=progress))
    return out


def estimate_seconds(model_ref: str, task: str, examples: int,
                     shots: int = DEFAULT_SHOTS) -> tuple[float, bool]:
    """(seconds for zero-shot + few-shot baselines, measured?) from this machine's earlier evaluations."""
    kinds = LABEL_KINDS if task == "classification" else ("run", *CAUSAL_KINDS)
    history = store.timing_history(model_ref, kinds) or store.timing_history(None, kinds)
    per = [s.get("per_example_seconds", sec / max(1, n)) for sec, n, s in history]
    base = statistics.median(per) if per else GUESS_SECONDS.get(task, 0.8)
    runs = 1 + (1 + 0.3 * shots if shots > 0 else 0)  # few-shot prompts are longer
    return base * examples * runs, bool(per)


def describe_estimate(model_ref: str, task: str, examples: int, shots: int = DEFAULT_SHOTS,
                      available: int | None = None) -> str:
    """A sentence like 'About 3 minutes for 200 examples (measured on this machine).'

    ``available`` is the size of the split: an evaluation never scores more rows than there are."""
    if available is not None and 0 < available < examples:
        examples = available
    seconds, measured = estimate_seconds(model_ref, task, examples, shots)
    span = f"{math.ceil(seconds / 60)} minute{'s' if seconds > 60 else ''}" if seconds >= 60 \
        else f"{max(1, round(seconds))} seconds"
    how = "from earlier evaluations on this machine" if measured else "a rough guess until one has been timed"
    return f"About {span} for {examples} examples, zero-shot and {shots}-shot ({how})."


def _gains(run: AnswerEvaluationInfo, base: AnswerEvaluationInfo, seed: int) -> dict[str, dict[str, Any]]:
    a, b = run.examples_frame, base.examples_frame
    if a.empty or b.empty:
        return {}
    joined = a.merge(b, on="position", suffixes=("", "_base"))
    names = [m for m in (run.metrics.get("metrics") or {}) if m in joined and f"{m}_base" in joined]
    return {m: am.paired_gain(joined[m].tolist(), joined[f"{m}_base"].tolist(), seed) for m in names}


def _title(ev: AnswerEvaluationInfo) -> str:
    shots = f" ({ev.shots} examples in the prompt)" if ev.shots else ""
    who = f"run {ev.run_id}" if ev.run_id else ev.model_ref
    return f"{who} {KIND_TITLES.get(ev.kind, ev.kind)}{shots}"


def get_answer_quality(run_id: int, split: str = "test") -> AnswerQuality:
    """A causal-LM run's stored answer quality with its base model's prompt baselines and the gains."""
    run = get_run(run_id)
    found = store.find_answer_evaluations(run_id=run_id, split=split, kinds=("run",))
    if not found:
        raise NotFoundError(f"Run {run_id} has no scored answers on the {split} split yet; score them on the "
                            "Evaluation page or with `uclab evaluate {run_id} --answers`.")
    ev = store.get_answer_evaluation(found[0].id)
    baselines = []
    # Every stored baseline counts, whatever its N: the gain is paired over the examples both answered
    # (the same seeded order, so a baseline of 20 examples is the first 20 of the run's).
    for base in cached_baselines(run.dataset_id, split, run.model_key, seed=ev.seed):
        full = store.get_answer_evaluation(base.id)
        baselines.append(BaselineAnswers(full, _title(full), _gains(ev, full, ev.seed)))
    return AnswerQuality(ev, f"run {run_id} fine-tuned", baselines)


def model_answer_quality(model_ref: str, dataset_id: int, split: str = "test") -> AnswerQuality:
    """The newest stored evaluation of a catalogue model on a dataset split (zero-shot first)."""
    found = cached_baselines(dataset_id, split, model_ref)
    if not found:
        raise NotFoundError(f"{model_ref} has no scored answers on dataset {dataset_id} yet.")
    main = store.get_answer_evaluation(found[0].id)
    others = [store.get_answer_evaluation(e.id) for e in found[1:]]
    return AnswerQuality(main, _title(main), [BaselineAnswers(o, _title(o), {}) for o in others])


def label_baseline_rows(dataset_id: int, split: str, run_predictions: pd.DataFrame,
                        model_ref: str | None = None) -> list[LabelBaseline]:
    """(name, title, metrics, gain) of cached LLM label baselines, the gain on the very same examples."""
    out = []
    for base in cached_baselines(dataset_id, split, model_ref or baseline_model("classification")):
        if base.kind not in LABEL_KINDS:
            continue
        full = store.get_answer_evaluation(base.id)
        gain: dict[str, float | None] = {"accuracy": None, "macro_f1": None}
        positions = full.examples_frame["position"].astype(int).tolist()
        aligned = bool(positions) and max(positions, default=0) < len(run_predictions)
        if {"label", "predicted"} <= set(run_predictions) and aligned:
            from sklearn.metrics import accuracy_score, f1_score

            same = run_predictions.iloc[positions]
            truth, pred = same["label"].astype(str), same["predicted"].astype(str)
            labels = list(full.settings.get("labels") or sorted(set(truth)))
            gain["accuracy"] = float(accuracy_score(truth, pred)) - float(full.metrics.get("accuracy") or 0.0)
            gain["macro_f1"] = float(f1_score(truth, pred, labels=labels, average="macro", zero_division=0)) \
                - float(full.metrics.get("macro_f1") or 0.0)
        shots = f"{base.shots}-shot" if base.shots else "zero-shot"
        title = f"{base.model_ref} {shots} (label likelihood, {base.examples} examples)"
        out.append((base.kind, title, dict(full.metrics), gain))
    return out


def compare_answer_quality(run_ids: list[int], split: str = "test") -> pd.DataFrame:
    """One row per causal-LM run with scored answers: every metric's mean and the headline's interval."""
    rows = []
    for run_id in run_ids:
        found = store.find_answer_evaluations(run_id=run_id, split=split, kinds=("run",))
        if not found:
            continue
        ev = found[0]
        metrics = ev.metrics.get("metrics") or {}
        head = str(ev.metrics.get("headline") or "rouge_l")
        low, high = metrics.get(head, {}).get("low"), metrics.get(head, {}).get("high")
        rows.append({"run": f"#{run_id}", "examples": ev.examples,
                     "tokens": ", ".join(am.tokenization_phrases(ev.metrics)) or "—",
                     **{am.METRIC_TITLES.get(k, k): v.get("mean") for k, v in metrics.items()},
                     f"{am.METRIC_TITLES.get(head, head)} 95 % interval": f"{_fmt3(low)} – {_fmt3(high)}"})
    return pd.DataFrame(rows)
