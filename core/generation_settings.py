"""Generation settings, model sources and stored generations: the values the generation service, the
ml engine, the store and the server pass to one another."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import ConfigError

MODES = ("prompt", "chat")
MAX_SEQUENCES = 5
MAX_NEW_TOKENS = 2048
MIN_TEMPERATURE = 0.01  # a smaller positive temperature overflows the sampler's logits (1e-300 gives inf)
ENGINES = ("auto", "llama.cpp", "exact")
# engines of earlier versions, kept in stored settings: both were hand-written loops that llama.cpp replaced
RETIRED_ENGINES = ("fast", "onnx")


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling controls; temperature 0 means greedy decoding (the same text every time)."""

    max_new_tokens: int = 128
    temperature: float = 0.7
    top_k: int = 50
    top_p: float = 0.95
    repetition_penalty: float = 1.0
    num_return_sequences: int = 1
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # "llama.cpp": the model's GGUF file on llama.cpp (core.ml.llama_engine); "exact": transformers'
    # generate on the full-precision weights; "auto": llama.cpp on a CPU where it is installed and
    # can read the model, else exact (a GPU keeps exact)
    engine: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop", tuple(s for s in (self.stop or ()) if s))
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first impossible setting."""
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ConfigError(f"Max new tokens must be between 1 and {MAX_NEW_TOKENS} (for example 128).")
        if not 0 <= self.temperature <= 5:
            raise ConfigError("Temperature must be between 0 (greedy) and 5 (for example 0.7).")
        if 0 < self.temperature < MIN_TEMPERATURE:
            raise ConfigError(f"Temperature must be 0 (greedy) or at least {MIN_TEMPERATURE}; a smaller "
                              "value cannot be sampled from.")
        if self.top_k < 0:
            raise ConfigError("Top-k must be 0 (off) or a positive number of tokens (for example 50).")
        if not 0 < self.top_p <= 1:
            raise ConfigError("Top-p must be above 0 and at most 1 (for example 0.95).")
        if not 0.5 <= self.repetition_penalty <= 3:
            raise ConfigError("Repetition penalty must be between 0.5 and 3 (1 means none).")
        if not 1 <= self.num_return_sequences <= MAX_SEQUENCES:
            raise ConfigError(f"The number of sequences must be between 1 and {MAX_SEQUENCES}.")
        if self.engine not in ENGINES:
            raise ConfigError(f"Unknown engine '{self.engine}'; choose one of: {', '.join(ENGINES)}.")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise ConfigError("The seed must be a whole number of 0 or more (for example 42).")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationSettings:
        """Build from stored JSON, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "stop" in values:
            values["stop"] = tuple(values["stop"] or ())
        if values.get("engine") in RETIRED_ENGINES:
            values["engine"] = "auto"
        return cls(**values)


@dataclass(frozen=True)
class ModelSource:
    """Where a model reference points: a plain model folder, plus a LoRA adapter folder for LoRA runs."""

    ref: str
    path: Path
    adapter_path: Path | None = None
    run_id: int | None = None
    label: str = ""
    gguf: Path | None = None  # the model as a GGUF file for llama.cpp (written once, then reused)
    gguf_problem: str | None = None  # why there is none: the model is not one llama.cpp can run


@dataclass(frozen=True)
class GenerationRecord:
    """One stored generation: what was asked, with which settings, what came out, and how fast."""

    id: int | None
    model_ref: str
    run_id: int | None
    mode: str
    prompt: dict[str, Any]
    settings: dict[str, Any]
    outputs: list[str]
    time_to_first_token: float | None
    tokens_per_second: float | None
    created_at: datetime | None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The first output (the only one unless several sequences were asked for)."""
        return self.outputs[0] if self.outputs else ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat(timespec="seconds") if self.created_at else None
        return data
