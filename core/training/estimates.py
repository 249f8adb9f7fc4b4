"""How long a run will take and how much memory it needs, before it starts.

Duration: the speed this model reached in earlier finished runs of the same task on this
machine, else the catalogue's measured training speed (samples/s at batch 16 × 64 tokens,
``ModelInfo.speed``), else a built-in default; each is scaled to the dataset's mean token count.
Once a run trains, its own steps give the time left (``core.ml.callbacks``).
Memory: weights, gradients and AdamW state plus activations,
against the memory available now. Both are rough (±50 %), and say so.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.data.datasets import get_dataset, load_dataset_frame
from core.errors import UserError
from core.models import catalog
from core.results.answer_quality import DEFAULT_EXAMPLES
from core.run_config import PREFERENCE, SUPERVISED, TrainConfig
from core.store import runs

PROBE_TOKENS = 64                 # the probe's sequence length (core.ml.probe)
DEFAULT_SPEED_22M = 22.0          # samples/s at 64 tokens for a 22.7M-parameter encoder on 2 cores
FIXED_TOKENS = 32                 # per-example cost that does not shrink with shorter texts
DEFAULT_PARAMS = 22_713_216
PROCESS_OVERHEAD = 700 * 2**20    # python + torch + transformers, resident before training
WORDS_TO_TOKENS = 1.35
# The tabular MLP on one CPU thread, steps and evaluations together (bench/tabular.py: breast cancer,
# 390 steps of 32 rows in about 14 s on a busy 2-core machine); gradient boosting fits in seconds.
TABULAR_SAMPLES_PER_S = 900.0
TABULAR_FIXED_S = 10.0            # loading, baselines and permutation importance
# The phases around the steps of a first run (no earlier run of the model and task to learn from).
# Rough figures for a busy 2-core CPU, set from the first SmolLM2 chat run of issue 20: estimated
# 1 min 28 s from its training speed alone, it took 7 min of training and 12 min in all; most of the
# other 5 min were loading and converting the model and writing and scoring 200 answers.
LOAD_S = 15.0                     # start the process, load the data and an encoder
LOAD_S_PER_100M = 20.0            # reading a bigger model's weights, per 100M parameters
CONVERT_S = 60.0                  # converting a bundled model into a trainable folder (first use only)
ANSWER_S = 1.5                    # writing and scoring one held-out answer of a chat run
ENGINE_CONVERT_S = 30.0           # writing a chat run's model for llama.cpp before its answers
# A preference pair trains two sequences (chosen and rejected) and scores both again with the adapters
# off (the reference, forward only): about 2 × (1 + 1/3) supervised examples of the same length.
PAIR_COST = 2.7


@dataclass(frozen=True)
class Estimate:
    """A run's expected steps, duration and peak memory, with warnings in plain sentences."""

    train_rows: int
    steps: int
    mean_tokens: float
    samples_per_second: float
    seconds: float
    speed_source: str
    memory_bytes: int
    available_bytes: int | None
    warnings: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase; they add up to `seconds`

    @property
    def covers(self) -> str:
        """What the duration includes, e.g. 'loading the model 35 s, training 4 min 10 s, …'."""
        if not self.phases:
            return "Training only."
        return "Includes " + ", ".join(f"{name} {_short(sec)}" for name, sec in self.phases.items()) + "."

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.memory_bytes <= self.available_bytes

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fits": self.fits}


def _short(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def first_run_phases(model: Any, task: str, train_s: float, eval_rows: int, sps: float,
                     config: TrainConfig) -> dict[str, float]:
    """Seconds of each phase of a run with no earlier run of its model and task to learn from."""
    params = getattr(model, "params", None) or DEFAULT_PARAMS
    load = LOAD_S + LOAD_S_PER_100M * params / 1e8 + (0.0 if getattr(model, "ready", True) else CONVERT_S)
    phases = {"loading" + ("" if getattr(model, "ready", True) else " and converting") + " the model": load,
              "training": train_s, "evaluating": eval_rows / (sps * FORWARD_SPEEDUP)}
    if config.training_kind == PREFERENCE:  # both answers of each pair, by the run and by its parent
        phases["evaluating"] = 4 * eval_rows / (sps * FORWARD_SPEEDUP)
    if task == "causal-lm" and (config.training_kind != PREFERENCE or config.parent_run_id is not None):
        answers = int((config.task_options or {}).get("eval_examples", DEFAULT_EXAMPLES))
        if answers > 0:
            phases["writing and scoring answers"] = ENGINE_CONVERT_S + answers * ANSWER_S
    return phases


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Bytes of RAM available now (MemAvailable), or None where unknown."""
    try:
        match = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo.read_text(), re.M)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def memory_needed(params: int, config: TrainConfig, shape: dict[str, int], mean_tokens: float) -> int:
    """Peak bytes: fp32 weights + grads + AdamW (16 B/param, 4 B with LoRA) + activations."""
    per_param = 4 if config.lora else 16
    hidden, layers, heads = shape.get("hidden", 384), shape.get("layers", 6), shape.get("heads", 12)
    # Length grouping makes the longest batches about max_length long; size activations for those.
    seq = min(config.max_length, max(16, int(mean_tokens * 3)))
    per_token_layer = (34 * hidden + 5 * heads * seq) * 2  # fp32: twice the fp16 rule of thumb
    activations = config.batch_size * seq * layers * per_token_layer
    return int(PROCESS_OVERHEAD + params * per_param + activations)


def _model_shape(path: str | None) -> dict[str, int]:
    if not path:
        return {}
    try:
        from core.ml.models import read_config

        cfg = read_config(path)
    except Exception:  # noqa: BLE001 - an estimate never blocks a run
        return {}

    def get(*keys: str) -> int:
        return next((int(cfg[k]) for k in keys if isinstance(cfg.get(k), int)), 0)

    shape = {"hidden": get("hidden_size", "d_model", "n_embd"), "layers": get("num_hidden_layers", "n_layer"),
             "heads": get("num_attention_heads", "n_head")}
    return {k: v for k, v in shape.items() if v}


def mean_tokens(quality: dict[str, Any], texts: list[str] | None) -> float:
    """Mean tokens per example: from the quality report's token lengths, else words × 1.35."""
    stats = (quality or {}).get("stats", {}).get("token_lengths")
    if isinstance(stats, dict) and isinstance(stats.get("mean"), int | float):
        return float(stats["mean"])  # measured with the model's tokenizer, special tokens included
    if texts:
        words = sum(len(str(t).split()) for t in texts) / len(texts)
        return words * WORDS_TO_TOKENS + 2  # + [CLS] and [SEP]
    return 64.0


def dataset_tokens(dataset: Any) -> float:
    """Mean tokens per example of a saved dataset version (its quality report, else its texts)."""
    texts = None
    if "token_lengths" not in (dataset.quality or {}).get("stats", {}):
        frame = load_dataset_frame(dataset.id)
        if "text" in frame:
            texts = frame["text"].head(2000).astype(str).tolist()
    return mean_tokens(dataset.quality, texts)


def _sequence(tokens: float, max_length: int) -> float:
    return max(16.0, min(float(max_length), tokens * 1.15))  # grouping leaves ~15 % padding


def past_runs(model_key: str, task: str, limit: int = 5, kind: str = SUPERVISED) -> list[Any]:
    """The last finished training runs of this model, task and training kind here, newest first."""
    found = [r for r in runs.list_runs(status="succeeded", task=task, limit=100)
             if r.model_key == model_key and r.samples_per_second and r.kind not in ("cv", "learning-curve")
             and r.started_at and r.finished_at
             and (r.config or {}).get("training_kind", SUPERVISED) == kind]
    return found[:limit]


@dataclass(frozen=True)
class Overheads:
    """Seconds a run spends outside its training steps, as earlier runs of the model and task did."""

    launch: float   # from queueing to the worker's start (a process start, when nothing waits)
    after: float    # model loading, saving, the final evaluation and the baselines

    @classmethod
    def from_runs(cls, past: list[Any]) -> Overheads | None:
        if not past:
            return None
        launch = [max(0.0, (r.started_at - r.created_at).total_seconds()) for r in past]
        after = [max(0.0, (r.finished_at - r.started_at).total_seconds() - r.elapsed_seconds) for r in past]
        return cls(statistics.median(launch), statistics.median(after))


def speed_from_history(model_key: str, task: str, limit: int = 5,
                       kind: str = SUPERVISED) -> tuple[float, str] | None:
    """Samples/s at the probe's length, from the last finished runs of this model and task here.

    Each run's own measured speed is brought back to the probe's sequence length (and LoRA's
    speed-up taken out); the median of the last `limit` runs is the figure.
    """
    bases = []
    for run in past_runs(model_key, task, limit, kind):
        try:
            tokens = dataset_tokens(get_dataset(run.dataset_id))
        except (UserError, OSError):
            continue
        seq = _sequence(tokens, int(run.config.get("max_length") or 128))
        lora = 1.5 if run.config.get("lora") else 1.0
        bases.append(run.samples_per_second * (seq + FIXED_TOKENS) / (PROBE_TOKENS + FIXED_TOKENS) / lora)
    if not bases:
        return None
    middle = statistics.median(bases)
    runs_word = "run" if len(bases) == 1 else "runs"
    return middle, f"measured in {len(bases)} earlier {runs_word} of this model for this task here"


def unmeasured_speed(model: Any) -> tuple[float, str]:
    """Samples/s the estimates assume for a catalogue model never measured here, and what it is."""
    if getattr(model, "family", None) == "tabular":
        return TABULAR_SAMPLES_PER_S, "built-in figure"
    return builtin_speed(getattr(model, "params", None)), "built-in estimate"


def builtin_speed(params: int | None) -> float:
    """Samples/s at the probe's length that the estimates assume for a model never measured here:
    the built-in figure for a 22.7M-parameter encoder on 2 cores, scaled by parameter count."""
    return DEFAULT_SPEED_22M * DEFAULT_PARAMS / (params or DEFAULT_PARAMS)


def training_speed(model: Any, tokens: float, config: TrainConfig,
                   history: tuple[float, str] | None = None) -> tuple[float, str]:
    """Samples/s expected at this sequence length, and where the figure comes from."""
    speed = getattr(model, "speed", None) or {}
    figures = speed.get("figures") or [speed]
    measured = next((f.get("value") for f in figures if f.get("measure") == "train_samples_per_s"), None)
    if history is not None:
        base, source = history
    elif measured:
        base, source = float(measured), f"measured on {speed.get('device', 'this machine')}"
    else:
        base = builtin_speed(getattr(model, "params", None))
        source = "a built-in default (probe the model for a figure measured here)"
    seq = _sequence(tokens, config.max_length)
    # Measured here: 16 x 128 tokens trains at ~12 samples/s, short reviews (~30 tokens) at ~28,
    # so time per example is about proportional to (tokens + 32), not to tokens alone.
    speed_here = base * (PROBE_TOKENS + FIXED_TOKENS) / (seq + FIXED_TOKENS)
    return (speed_here * (1.5 if config.lora else 1.0)), source


def estimate_run(dataset_id: int, model_key: str, config: TrainConfig) -> Estimate:
    """Steps, duration and memory of a run with these settings, with warnings when it will not fit."""
    dataset = get_dataset(dataset_id)
    model = catalog.get_model(model_key)
    sizes = dataset.split_sizes or {}
    train_rows = int(sizes.get("train", dataset.row_count))
    if config.max_train_rows:
        train_rows = min(train_rows, config.max_train_rows)
    if model.family == "tabular":
        return _tabular_estimate(model_key, config, train_rows)
    tokens = dataset_tokens(dataset)
    kind = config.training_kind
    history = speed_from_history(model_key, dataset.task, kind=kind)
    if kind == PREFERENCE and history is None:  # no preference run yet: the model's supervised speed
        sps, source = training_speed(model, tokens, config, speed_from_history(model_key, dataset.task))
        sps, source = sps / PAIR_COST, f"{source}, a pair costing about {PAIR_COST} examples"
    else:
        sps, source = training_speed(model, tokens, config, history)
    per_epoch = max(1, math.ceil(train_rows / config.batch_size))
    steps = config.max_steps or max(1, math.ceil(config.epochs * per_epoch))
    validation, test = int(sizes.get("validation", 0)), int(sizes.get("test", 0))
    eval_rows = min(validation, 2000) * 5 + test + validation  # five checks, then the final evaluation
    overheads = Overheads.from_runs(past_runs(model_key, dataset.task, kind=kind))
    train_s = steps * config.batch_size / sps
    if overheads is not None:  # what earlier runs spent around their steps (generation included)
        phases = {"training": train_s, "starting": overheads.launch,
                  "loading, evaluating and scoring (as earlier runs did)": overheads.after}
    else:
        phases = first_run_phases(model, dataset.task, train_s, eval_rows, sps, config)
    seconds = sum(phases.values())
    params = model.params or DEFAULT_PARAMS
    memory = memory_needed(params, config, _model_shape(model.path), tokens)
    available = available_memory()
    warnings = []
    if available is not None and memory > available:
        warnings.append(f"This run needs about {memory / 2**30:.1f} GB of memory but only "
                        f"{available / 2**30:.1f} GB is free. Lower the batch size or max length, "
                        "or use LoRA.")
    lengths = (dataset.quality or {}).get("stats", {}).get("token_lengths") or {}
    median = lengths.get("median") if isinstance(lengths.get("median"), int | float) else None
    if median is not None and median > config.max_length:  # the statistic the datasets page shows
        warnings.append(f"The median text has {median:,.0f} tokens, more than the max length "
                        f"{config.max_length}: the ends of most texts will be cut.")
    elif median is None and tokens > config.max_length:
        warnings.append(f"Texts have about {tokens:,.0f} tokens, more than the max length "
                        f"{config.max_length}: their ends will be cut.")
    return Estimate(train_rows=train_rows, steps=steps, mean_tokens=round(tokens, 1),
                    samples_per_second=round(sps, 1), seconds=round(seconds, 1), speed_source=source,
                    memory_bytes=memory, available_bytes=available, warnings=warnings,
                    phases={k: round(v, 1) for k, v in phases.items()})


FORWARD_SPEEDUP = 3.0  # scoring a row (forward pass only) is about three times faster than training on it


def answers_left(run: Any) -> float:
    """Seconds a chat run still needs to write and score its answers after training (0 for other tasks
    and once that phase is over)."""
    if getattr(run, "task", None) != "causal-lm":
        return 0.0
    phase = str((run.summary or {}).get("phase") or "")
    if phase and not phase.startswith(("Saving", "Evaluating")):
        return 0.0  # answers are being written now (the phase's own ETA) or are done
    options = (getattr(run, "config", None) or {}).get("task_options") or {}
    answers = int(options.get("eval_examples", DEFAULT_EXAMPLES))
    return ENGINE_CONVERT_S + answers * ANSWER_S if answers > 0 else 0.0


def remaining_seconds(run: Any, split_sizes: dict[str, int] | None = None,
                      overheads: Overheads | None = None) -> float | None:
    """Time left of a running run: its own steps' pace for the steps left (``eta_seconds``), plus
    what earlier runs of the model and task spent after their last step (``overheads``), else
    the final evaluation of its validation and test rows at that pace without backward passes and,
    for a chat run, writing and scoring its answers: never less than the phases still to come.

    After the last step the worker's phase estimate (also in ``eta_seconds``) plus the phases after it.
    """
    if run.eta_seconds is None:
        return None
    if (run.summary or {}).get("phase") or not run.samples_per_second:
        return float(run.eta_seconds) + (answers_left(run) if overheads is None else 0.0)
    if overheads is not None:
        return float(run.eta_seconds) + overheads.after
    sizes = split_sizes or {}
    rows = int(sizes.get("validation", 0)) + int(sizes.get("test", 0))
    return float(run.eta_seconds) + rows / (run.samples_per_second * FORWARD_SPEEDUP) + answers_left(run)


def _tabular_estimate(model_key: str, config: TrainConfig, train_rows: int) -> Estimate:
    """The MLP: its steps at the measured rate (a maximum when early stopping is on); gradient
    boosting: one fit. Neither needs more than the process itself in memory on these tables."""
    from core.tasks.tabular_gbm import GBM_KEY

    if model_key == GBM_KEY:
        steps, seconds, source = 1, TABULAR_FIXED_S + train_rows / 20_000, "one scikit-learn fit"
    else:
        per_epoch = max(1, math.ceil(train_rows / config.batch_size))
        steps = config.max_steps or max(1, math.ceil(config.epochs * per_epoch))
        seconds = steps * config.batch_size / TABULAR_SAMPLES_PER_S + TABULAR_FIXED_S
        source = ("the tabular MLP on one CPU thread (bench/tabular.py)"
                  + ("; early stopping usually ends it well before" if config.early_stopping else ""))
    return Estimate(train_rows=train_rows, steps=steps, mean_tokens=0.0,
                    samples_per_second=TABULAR_SAMPLES_PER_S, seconds=round(seconds, 1), speed_source=source,
                    memory_bytes=PROCESS_OVERHEAD, available_bytes=available_memory())
