"""A sweep's search space: parse ``"learning_rate=1e-5..5e-4:log, epochs=1..4, lora_r=4|8|16"``,
give each task and model sensible defaults, and turn a trial's values into a run's settings.

Pure values: no Optuna here (``core.training.sweep`` asks Optuna for the values of each trial).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from core.errors import ConfigError
from core.run_config import PREFERENCE, TrainConfig
from core.tasks.tabular_gbm import GBM_KEY

# Space names that are not TrainConfig fields: where a trial's value goes.
ALIASES = {"lora_r": "lora_rank"}
MLP_OPTIONS = ("hidden_size", "layers", "dropout")
GBM_OPTIONS = ("max_iter", "max_leaf_nodes", "l2_regularization", "gbm_learning_rate", "min_samples_leaf")
CONFIG_FIELDS = {f.name for f in fields(TrainConfig)}
SWEEPABLE = {"learning_rate", "epochs", "batch_size", "weight_decay", "warmup_ratio", "lora_rank",
             "lora_alpha", "max_length", "max_steps", "beta"} | set(MLP_OPTIONS) | set(GBM_OPTIONS)
INT_NAMES = {"epochs", "batch_size", "lora_rank", "lora_alpha", "max_length", "max_steps", "hidden_size",
             "layers", "max_iter", "max_leaf_nodes", "min_samples_leaf"}


@dataclass(frozen=True)
class Param:
    """One dimension: a float or int range (log-scaled or not), or a list of choices."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        if self.choices:
            return f"{self.name}={'|'.join(str(c) for c in self.choices)}"
        return f"{self.name}={_num(self.low)}..{_num(self.high)}{':log' if self.log else ''}"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:g}".replace("e-0", "e-").replace("e+0", "e+")


def _value(text: str, name: str) -> Any:
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(f"'{text}' in the range of {name} is not a number.") from None
    if not math.isfinite(number):
        raise ConfigError(f"'{text}' in the range of {name} is not a finite number.")
    return int(number) if number.is_integer() and ("." not in text and "e" not in text.lower()) else number


def _choice(text: str) -> Any:
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse_space(text: str) -> tuple[Param, ...]:
    """``name=low..high[:log]`` or ``name=a|b|c``, comma-separated; ConfigError with one sentence."""
    params: list[Param] = []
    for part in (p.strip() for p in str(text or "").replace(";", ",").split(",")):
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"'{part}' in the search space has no '='; write it as name=low..high or "
                              "name=a|b|c (for example learning_rate=1e-5..5e-4:log).")
        raw_name, rule = (s.strip() for s in part.split("=", 1))
        name = ALIASES.get(raw_name, raw_name)
        if name not in SWEEPABLE:
            raise ConfigError(f"'{raw_name}' cannot be swept; choose among: "
                              f"{', '.join(sorted(SWEEPABLE | set(ALIASES)))}.")
        if any(p.name == name for p in params):
            raise ConfigError(f"'{raw_name}' appears twice in the search space.")
        if "|" in rule or ".." not in rule:
            choices = tuple(_choice(c) for c in rule.split("|") if c.strip())
            if not choices:
                raise ConfigError(f"'{raw_name}' has no values; write it as {raw_name}=a|b|c.")
            params.append(Param(name, choices=choices))
            continue
        log = rule.endswith(":log")
        rule = rule.removesuffix(":log")
        low_text, _, high_text = rule.partition("..")
        low, high = _value(low_text, raw_name), _value(high_text, raw_name)
        if not low < high:
            raise ConfigError(f"The range of {raw_name} must go from a smaller to a larger number "
                              f"({_num(low)}..{_num(high)} does not).")
        if log and low <= 0:
            raise ConfigError(f"A log range of {raw_name} must start above 0.")
        integer = name in INT_NAMES and isinstance(low, int) and isinstance(high, int)
        params.append(Param(name, float(low), float(high), log=log, integer=integer))
    if not params:
        raise ConfigError("The search space is empty; give at least one setting, for example "
                          "learning_rate=1e-5..5e-4:log.")
    return tuple(params)


def format_space(params: tuple[Param, ...]) -> str:
    return ", ".join(p.describe() for p in params)


PREFERENCE_SPACE = "beta=0.05..0.5:log, learning_rate=5e-5..5e-4:log, lora_r=4|8|16"


def default_space(task: str, model_key: str, *, kind: str = "") -> str:
    """Sensible ranges for this task and model (shown, and editable, before a sweep starts); `kind`: the
    base config's training_kind (a preference run sweeps DPO's beta, the rate and the LoRA rank: it
    counts steps, not epochs)."""
    if kind == PREFERENCE:
        return PREFERENCE_SPACE
    if task == "tabular" and model_key == GBM_KEY:
        return ("gbm_learning_rate=0.02..0.3:log, max_iter=50..300, max_leaf_nodes=8..63, "
                "l2_regularization=1e-6..1:log")
    if task == "tabular":
        return "learning_rate=1e-3..3e-2:log, hidden_size=16|32|64|128, dropout=0..0.4, batch_size=16|32|64"
    if task == "causal-lm":
        return "lora_r=4|8|16, learning_rate=5e-5..5e-4:log, epochs=1..3"
    return "learning_rate=1e-5..5e-4:log, epochs=1..4, batch_size=8|16|32"


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A run's settings (TrainConfig as a dict): the base, with one trial's values put in place."""
    config = {**base, "task_options": dict(base.get("task_options") or {})}
    options = config["task_options"]
    for name, value in params.items():
        if name in ("hidden_size", "layers"):
            size = int(params.get("hidden_size", (options.get("hidden_sizes") or [64])[0]))
            depth = int(params.get("layers", len(options.get("hidden_sizes") or [64, 64])))
            options["hidden_sizes"] = [size] * depth
        elif name == "dropout":
            options["dropout"] = float(value)
        elif name in GBM_OPTIONS:
            key = "learning_rate" if name == "gbm_learning_rate" else name
            options.setdefault("gbm", {})[key] = value
        elif name in CONFIG_FIELDS:
            config[name] = value
    if "lora_rank" in params:  # sweeping the rank means training LoRA adapters, alpha at 2 × rank
        config["lora"] = True
        config.setdefault("lora_alpha", 16)
        if "lora_alpha" not in params:
            config["lora_alpha"] = 2 * int(params["lora_rank"])
    if "epochs" in params:
        config["max_steps"] = None if "max_steps" not in params else config.get("max_steps")
        config["epochs"] = float(params["epochs"])
    return config
