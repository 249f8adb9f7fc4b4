"""One frozen spec per task: every fact about a task that more than one screen needs.

A task's label, the columns its mapping asks for (and the data shapes of a causal LM), the
metrics it shows and the ones that rank its runs (in order, each with its direction), its
training defaults, what it can export, serve and review, the sentence and code a report or a
model card says about it. Pages, the verdict, the report, the evaluation headline and the
learning curve all ask this module, and ``best_of`` is the one rule that names "the best run".

It lives in ``core`` itself (a value module, no imports from the packages) so that the lowest
layers (``core.text`` labels, ``core.run_config`` defaults) can read it too. A new task is one
spec here, one adapter in ``core.ml.tasks`` and one data check in ``core.data``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Words of metric names that are better when lower (losses, errors, perplexity, timings).
LOWER_IS_BETTER_WORDS = ("loss", "mse", "mae", "rmse", "mape", "perplexity", "error", "runtime")
# What a sentence or a table says of a preference run: the share of held-out pairs where it prefers the
# chosen answer (core.tasks.preference_metrics).
PREFERENCE_HEADLINE = "preference_accuracy"
# The ranking order of a task that has no spec (inferred from the keys present).
FALLBACK_RANK = ("macro_f1", "accuracy", "rmse", "r2", "f1")

# Training defaults of the tabular MLP, trained from scratch (transformer rates leave it untrained):
# up to 200 epochs, judged on the validation loss every epoch, the rate halved after 10 epochs
# without progress and training stopped after 20 (bench/tabular.py measures them against the
# baselines; 30 fixed epochs left iris at 0.733 test accuracy against 0.933 for logistic regression).
MLP_TRAIN_DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-3, "epochs": 200.0, "batch_size": 32, "warmup_ratio": 0.0, "weight_decay": 1e-4,
    "lr_scheduler": "reduce_lr_on_plateau", "early_stopping": True, "early_stopping_patience": 20,
    "task_options": {"hidden_sizes": [64, 64], "dropout": 0.1}}


@dataclass(frozen=True)
class MappingField:
    """One column the mapping form asks for: its mapping key, its label, whether it is required."""

    name: str
    label: str
    required: bool = True


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of this metric is better (losses, errors, perplexity, timings are not)."""
    name = str(metric).lower()
    return not any(word in name for word in LOWER_IS_BETTER_WORDS)


@dataclass(frozen=True)
class TaskSpec:
    """Every fact about one task that is not torch code (``core.ml.tasks``) or a data check."""

    task: str
    label: str                                   # what a person reads ("Text classification")
    fields: tuple[MappingField, ...]             # the mapping form's columns
    headline: tuple[str, ...]                    # the few metrics shown in a big font (none: inferred)
    rank_metrics: tuple[str, ...]                # the metrics that rank runs, first present wins
    sentence: str                                # what the model is for, "{data}" = the dataset name
    pipeline_tag: str                            # the model card's Hugging Face pipeline tag
    serve_kind: str                              # how core.serve serves it (an endpoint family)
    exports: tuple[str, ...] = ("zip",)          # the export formats, the zip first
    reviewable: bool = False                     # its answers can be compared side by side by people
    cross_validation: bool = False               # its runs can be cross-validated
    headline_from: tuple[str, ...] = ()          # tasks whose headline it shows (tabular: by its target)
    guess_seconds: float = 0.8                   # seconds per prompted example before one was timed
    formats: tuple[tuple[str, tuple[MappingField, ...]], ...] = ()  # data shapes (causal LM)
    train_defaults: Mapping[str, Any] = field(default_factory=dict)
    snippet: str = ""                            # Python that loads the saved model ("{folder}")
    generates_text: bool = False                 # its runs answer prompts (samples, answer quality, chat)
    reads_text: bool = True                      # its model reads text (tokens, max length, LoRA)
    serve_in_app: bool = False                   # the Evaluation page offers to serve its runs
    count_tokens_to: int = 128                   # the Datasets page's default max length for counting
    prompt_baselines: bool = False               # an instruct model can be prompted for it as a baseline
    # Training defaults of a preference run (DPO on pairs) of this task; empty: no preference training.
    preference_defaults: Mapping[str, Any] = field(default_factory=dict)
    label_fixes: str = ""                        # the column a person can check and fix on the Evaluation
                                                 # page ("label": one class, "tags": one tag per token)

    @property
    def directions(self) -> dict[str, bool]:
        """Each ranking metric and whether higher is better."""
        return {m: higher_is_better(m) for m in self.rank_metrics}

    def format_fields(self, fmt: str) -> tuple[MappingField, ...]:
        """The mapping fields of one data shape (the task's own fields when it has no shapes)."""
        return dict(self.formats).get(fmt, self.fields)


_HF_TEXT = '''from transformers import AutoModelForSequenceClassification, AutoTokenizer
import torch

folder = {folder!r}  # the run's model folder (or the unzipped export)
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
inputs = tokenizer(["Type a text here"], truncation=True, return_tensors="pt")
with torch.no_grad():
    logits = model(**inputs).logits
'''

SPECS: tuple[TaskSpec, ...] = (
    TaskSpec(
        task="classification", label="Text classification",
        fields=(MappingField("text", "Text column"), MappingField("label", "Label column")),
        headline=("accuracy", "macro_f1"), rank_metrics=("macro_f1", "accuracy"),
        sentence="Sort each text from {data} into one of its categories automatically.",
        pipeline_tag="text-classification", serve_kind="classification",
        exports=("zip", "onnx", "onnx-int8"), reviewable=True, cross_validation=True, guess_seconds=0.3,
        serve_in_app=True, prompt_baselines=True, label_fixes="label",
        snippet=_HF_TEXT + '''probabilities = logits.softmax(-1)[0]
print(model.config.id2label[int(probabilities.argmax())], float(probabilities.max()))
'''),
    TaskSpec(
        task="regression", label="Number from text",
        fields=(MappingField("text", "Text column"), MappingField("label", "Target (number) column")),
        headline=("r2", "mae", "rmse"), rank_metrics=("rmse", "r2", "mae"),
        sentence="Predict a number for each text from {data}.",
        pipeline_tag="text-classification", serve_kind="encoder", reviewable=True, cross_validation=True,
        snippet=_HF_TEXT + '''# In the target's own units: the training scaling is folded into the head
# (task.json keeps it under target_scaling; older exports list target_std and target_mean to apply).
print(float(logits[0, 0]))
'''),
    TaskSpec(
        task="token-classification", label="Entity extraction", label_fixes="tags",
        fields=(MappingField("tokens", "Tokens column"), MappingField("tags", "Tags column")),
        headline=("entity_f1", "entity_precision", "entity_recall"),
        rank_metrics=("entity_f1", "f1", "token_accuracy"),
        sentence="Find and label the names, places and other entities in the sentences of {data}.",
        pipeline_tag="token-classification", serve_kind="token-classification",
        exports=("zip", "onnx", "onnx-int8"), serve_in_app=True,
        # A new tagging head on a small encoder learns too little in one epoch at 5e-5.
        train_defaults=MappingProxyType({"learning_rate": 2e-4, "batch_size": 8}),
        snippet='''from transformers import pipeline

folder = {folder!r}  # the run's model folder (or the unzipped export)
tagger = pipeline("token-classification", model=folder, aggregation_strategy="simple")
print(tagger("Ada Lovelace was born in London."))
'''),
    TaskSpec(
        task="causal-lm", label="Text generation",
        fields=(MappingField("text", "Text column"),),
        formats=(("text", (MappingField("text", "Text column"),)),
                 ("prompt_completion", (MappingField("prompt", "Prompt (or instruction) column"),
                                        MappingField("input", "Extra input column (Alpaca, optional)", False),
                                        MappingField("completion", "Completion column"))),
                 ("messages", (MappingField("messages", "Conversations column (OpenAI or ShareGPT)"),)),
                 # TRL's preference pairs: trained with the preference (DPO) kind, never as examples
                 ("preference", (MappingField("prompt", "Prompt column (optional: else the chosen "
                                              "conversation's turns before its answer)", False),
                                 MappingField("chosen", "Chosen (preferred) answer column"),
                                 MappingField("rejected", "Rejected answer column")))),
        headline=(), rank_metrics=("perplexity", "loss"),
        sentence="Write replies in the style of the examples in {data}.",
        pipeline_tag="text-generation", serve_kind="causal-lm", exports=("zip", "ollama"), reviewable=True,
        generates_text=True, serve_in_app=True, count_tokens_to=512, prompt_baselines=True,
        # A 49k-token vocabulary makes logits large: small batches keep evaluation in memory.
        train_defaults=MappingProxyType({"batch_size": 8, "eval_batch_size": 8, "max_length": 256}),
        # LoRA DPO: a rate above full fine-tuning's (only the adapters move), a short run, small batches
        # (each pair is two sequences, and the reference is a second forward pass with the adapters off).
        preference_defaults=MappingProxyType({
            "learning_rate": 1e-4, "max_steps": 100, "batch_size": 4, "eval_batch_size": 8, "max_length": 256,
            "warmup_ratio": 0.1, "lora": True, "lora_rank": 8, "lora_alpha": 16, "beta": 0.1}),
        snippet='''from transformers import AutoModelForCausalLM, AutoTokenizer

folder = {folder!r}  # the run's model folder (or the unzipped export)
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModelForCausalLM.from_pretrained(folder).eval()
messages = [{{"role": "user", "content": "Type a question here"}}]
inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                       return_dict=True)
output = model.generate(**inputs, max_new_tokens=80, do_sample=False)
print(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
'''),
    TaskSpec(
        task="tabular", label="Prediction from a table",
        fields=(MappingField("label", "Target column"),),
        headline=(), rank_metrics=("macro_f1", "accuracy", "rmse", "r2"),
        headline_from=("classification", "regression"),
        sentence="Predict the target column of {data} from the other columns.",
        pipeline_tag="tabular-classification", serve_kind="encoder", cross_validation=True, reads_text=False,
        train_defaults=MappingProxyType(MLP_TRAIN_DEFAULTS)),
)
_BY_TASK = MappingProxyType({s.task: s for s in SPECS})


def get_spec(task: str | None) -> TaskSpec | None:
    """The spec of a task, None for a name that is no task."""
    return _BY_TASK.get(str(task)) if task else None


def tasks_where(flag: str) -> tuple[str, ...]:
    """The tasks whose spec has this flag set (``reviewable``, ``cross_validation``)."""
    return tuple(s.task for s in SPECS if getattr(s, flag))


def preference_defaults(task: str | None) -> dict[str, Any]:
    """The training defaults of a preference (DPO) run of this task; empty when it has none."""
    spec = get_spec(task)
    return dict(spec.preference_defaults) if spec is not None else {}


def generates_text(task: str | None) -> bool:
    """Whether runs of this task answer prompts with text (a causal LM)."""
    spec = get_spec(task)
    return spec is not None and spec.generates_text


def reads_text(task: str | None) -> bool:
    """Whether this task's model reads text through a tokenizer (not a table's columns); unknown: True."""
    spec = get_spec(task)
    return spec is None or spec.reads_text


def serve_in_app(task: str | None) -> bool:
    """Whether the Evaluation page offers to serve runs of this task."""
    spec = get_spec(task)
    return spec is not None and spec.serve_in_app


def label_fixes(task: str | None) -> str:
    """The column a person checks and fixes on the Evaluation page: "label", "tags", or "" (none)."""
    spec = get_spec(task)
    return spec.label_fixes if spec is not None else ""


def count_tokens_to(task: str | None) -> int:
    """The max length the Datasets page counts tokens to by default."""
    spec = get_spec(task)
    return spec.count_tokens_to if spec is not None else 128


def headline_task(task: str, metrics: Mapping[str, Any]) -> str:
    """The task whose display headline applies: a tabular run is a classification when it has labels."""
    spec = get_spec(task)
    if spec is not None and spec.headline_from:
        classes, numbers = spec.headline_from
        return classes if metrics.get("labels") else numbers
    return task


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rank_metric(task: str, metrics: Mapping[str, Any]) -> str | None:
    """The metric that ranks this task's runs, the first of its spec's order that ``metrics`` holds."""
    spec = get_spec(task)
    for name in spec.rank_metrics if spec else FALLBACK_RANK:
        if _number(metrics.get(name)):
            return name
    return None


def headline_metric(task: str, metrics: Mapping[str, Any]) -> str | None:
    """The one number a sentence about a run speaks of: the first of its displayed headline
    (accuracy before macro F1) that ``metrics`` holds, else its rank metric; a preference run, which
    has neither (it is judged on held-out pairs, not ranked with its task's runs), its preference
    accuracy."""
    spec = get_spec(task)
    names: tuple[str, ...] = spec.headline if spec else ()
    for other in spec.headline_from if spec else ():
        names += _BY_TASK[other].headline
    return (next((n for n in names if _number(metrics.get(n))), None) or rank_metric(task, metrics)
            or (PREFERENCE_HEADLINE if _number(metrics.get(PREFERENCE_HEADLINE)) else None))


def rank_value(task: str, metrics: Mapping[str, Any]) -> float | None:
    """The ranking score of one run (larger is better, whatever the metric's direction)."""
    key = rank_metric(task, metrics)
    if key is None:
        return None
    return float(metrics[key]) if higher_is_better(key) else -float(metrics[key])


def best_of(candidates: Iterable[tuple[int, str, Mapping[str, Any]]]) -> int | None:
    """The id of the best of (id, task, final metrics) candidates: by each one's rank metric, the
    newest (largest id) on a tie; None when no candidate has a rank metric. The one rule of every
    screen that names "the best run" (pages, verdict, report, learning curve)."""
    scored = [(score, run_id) for run_id, task, metrics in candidates
              if (score := rank_value(task, metrics)) is not None]
    return max(scored)[1] if scored else None
