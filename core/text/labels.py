"""Human labels for what the pages, the report and the compare tables show a person.

Raw names (``causal-lm``, ``macro_f1``, ``tfidf_logreg``, ``run:5``) stay in the CLI, the
database and tooltips; everything a stakeholder reads goes through this module, so every screen
says the same thing the same way. Numbers are formatted here too: shares (accuracy, F1,
precision, recall) as percentages with one decimal, differences of shares in points, other
values with three significant digits, and a missing value as a dash, never "None".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core.task_specs import LOWER_IS_BETTER_WORDS, SPECS, higher_is_better

MISSING = "—"

TASK_LABELS = {spec.task: spec.label for spec in SPECS}  # the labels live in core.task_specs

STATUS_LABELS = {"queued": "Queued", "running": "Running", "succeeded": "Finished",
                 "failed": "Failed", "cancelled": "Cancelled", "interrupted": "Interrupted"}

_AVERAGES = {"macro": "classes weigh equally", "micro": "every example weighs equally",
             "weighted": "big classes weigh more"}
_AVERAGED = {"f1": "F1", "precision": "Precision", "recall": "Recall"}

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "mse": "Mean squared error",
    "r2": "R² (share of variation explained)",
    "loss": "Loss (lower is better)",
    "perplexity": "Perplexity (lower is better)",
    "dpo_loss": "DPO loss (lower is better)",
    "reward_accuracy": "Reward accuracy (DPO)",
    "reward_margin": "Reward margin (DPO)",
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "entity_f1": "Entity F1 (whole entities right)",
    "entity_precision": "Entity precision",
    "entity_recall": "Entity recall",
    "token_accuracy": "Word-level accuracy",
    "exact_match": "Exact match",
    "rouge1": "ROUGE-1 (word overlap)",
    "rouge2": "ROUGE-2 (word-pair overlap)",
    "rougeL": "ROUGE-L (longest shared sequence)",
    "bleu": "BLEU (phrase overlap)",
    "chrf": "chrF (character overlap)",
    "n": "Examples",
}
METRIC_LABELS.update({f"{avg}_{name}": f"{title} ({how})" for avg, how in _AVERAGES.items()
                      for name, title in _AVERAGED.items()})
METRIC_LABELS["macro_f1"] = "Macro F1 (classes weigh equally)"

# Metrics that are shares of 1 and read best as percentages.
_SHARES = ("accuracy", "f1", "precision", "recall", "exact_match", "rouge", "chrf")
_LOWER_IS_BETTER = LOWER_IS_BETTER_WORDS

BASELINE_LABELS = {
    "majority": "Always guessing the most common class",
    "tfidf_logreg": "Keyword model (TF-IDF)",
    "mean": "Always guessing the average",
    "tfidf_ridge": "Keyword model (TF-IDF)",
    "tfidf_char_logreg": "Character n-gram model (TF-IDF)",
    "tfidf_char_ridge": "Character n-gram model (TF-IDF)",
    "logistic_regression": "Logistic regression",
    "linear_regression": "Linear regression",
    "hist_gradient_boosting": "Gradient boosting",
}
# Shorter names for a metric card's "+4.1 pts vs ..." line.
BASELINE_SHORT = {"majority": "always guessing", "tfidf_logreg": "keyword model",
                  "tfidf_char_logreg": "character n-gram model", "tfidf_char_ridge": "character n-gram model",
                  "mean": "always guessing the average", "tfidf_ridge": "keyword model",
                  "logistic_regression": "logistic regression", "linear_regression": "linear regression",
                  "hist_gradient_boosting": "gradient boosting"}

SPLIT_LABELS = {"train": "Training", "validation": "Validation", "test": "Test"}


def _humanise(raw: str) -> str:
    text = str(raw).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else MISSING


SETTING_LABELS = {"learning_rate": "Learning rate", "eval_batch_size": "Evaluation batch size",
                  "lora": "LoRA", "lora_rank": "LoRA rank", "lora_alpha": "LoRA alpha",
                  "max_length": "Max length (tokens)", "max_train_rows": "Max training rows",
                  "warmup_ratio": "Warmup share", "eval_every": "Evaluate every (steps)",
                  "lr_scheduler": "Learning-rate schedule", "report_to": "Report to"}


def setting_label(key: str) -> str:
    """'eval_batch_size' -> 'Evaluation batch size'; 'task_options.completion_only_loss' ->
    'Completion only loss (task option)'."""
    head, _, rest = str(key).partition(".")
    if rest and head == "task_options":
        return f"{SETTING_LABELS.get(rest, _humanise(rest))} (task option)"
    return SETTING_LABELS.get(str(key), _humanise(str(key).replace(".", " · ")))


def task_label(task: str | None) -> str:
    """'causal-lm' -> 'Text generation'."""
    return TASK_LABELS.get(str(task), _humanise(str(task))) if task else MISSING


def status_label(status: str | None) -> str:
    """'succeeded' -> 'Finished'."""
    return STATUS_LABELS.get(str(status), _humanise(str(status))) if status else MISSING


def metric_label(name: str | None) -> str:
    """'macro_f1' -> 'Macro F1 (classes weigh equally)'; 'eval_loss' like 'loss'."""
    if not name:
        return "Metric"
    raw = str(name).removeprefix("eval_")
    return METRIC_LABELS.get(raw, _humanise(raw))


def baseline_label(name: str, short: bool = False) -> str:
    """'tfidf_logreg' -> 'Keyword model (TF-IDF)'; a prompt baseline keeps its model's name."""
    table = BASELINE_SHORT if short else BASELINE_LABELS
    if name in table:
        return table[name]
    if name.startswith("prompt:"):
        return f"Instruct model prompted ({name.removeprefix('prompt:')})"
    return _humanise(name)


def split_label(split: str) -> str:
    """'test' -> 'Test'."""
    return SPLIT_LABELS.get(split, _humanise(split))


def is_share(name: str) -> bool:
    """Whether a metric is a share of 1 (shown as a percentage)."""
    raw = str(name).removeprefix("eval_").lower()
    return any(word in raw for word in _SHARES) and not any(w in raw for w in _LOWER_IS_BETTER)


def lower_is_better(name: str) -> bool:
    """Whether a smaller value of this metric is better."""
    return not higher_is_better(str(name).removeprefix("eval_"))


def _missing(value: Any) -> bool:
    return value is None or isinstance(value, bool) or not isinstance(value, int | float) or (
        isinstance(value, float) and not math.isfinite(value))


def number(value: Any) -> str:
    """A plain number with three significant digits and thousands separators: 2.37, 0.763, 1,322."""
    if _missing(value):
        return MISSING
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1):
        return f"{int(value):,}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def metric_value(name: str, value: Any) -> str:
    """A metric as a person reads it: '84.2 %' for shares, '2.37' otherwise, '—' when missing."""
    if _missing(value):
        return MISSING
    if name == "n":
        return f"{int(value):,}"
    return f"{float(value) * 100:.1f} %" if is_share(name) else number(value)


def metric_gain(name: str, value: Any) -> str:
    """A difference of one metric: '+4.1 pts' for shares, '+0.123' otherwise, '—' when missing."""
    if _missing(value):
        return MISSING
    if is_share(name):
        points = float(value) * 100
        # "-0.0" beside "+0.0" would read as a loss and a gain: below the shown precision it is neither
        return "±0.0 pts" if round(points, 1) == 0 else f"{points:+.1f} pts"
    return ("+" if value >= 0 else "") + number(value)


def percent(share: Any, decimals: int = 0) -> str:
    """0.842 -> '84 %'."""
    return MISSING if _missing(share) else f"{float(share) * 100:.{decimals}f} %"


def run_label(run_id: int, name: str | None = None, model: str | None = None) -> str:
    """'Run 5 · sentiment-quick', or 'Run 5 · MiniLM-L6' when the run has no name of its own."""
    own = (name or "").strip()
    if own and own != f"run-{run_id}":
        return f"Run {run_id} · {own}"
    return f"Run {run_id} · {model}" if model else f"Run {run_id}"


def model_ref_label(ref: str, runs: Mapping[int, str] | None = None,
                    models: Mapping[str, str] | None = None) -> str:
    """A model reference as a person reads it: 'run:5' -> 'Run 5 · name (fine-tuned)',
    a catalogue key -> the model's name (base model)."""
    if ref.startswith("run:") and ref[4:].isdigit():
        run_id = int(ref[4:])
        return f"{run_label(run_id, (runs or {}).get(run_id))} (fine-tuned)"
    return f"{(models or {}).get(ref, ref)} (base model, no fine-tuning)"
