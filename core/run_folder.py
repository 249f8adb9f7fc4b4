"""What the training engine is handed for one run: its folder and the recorder it reports to.

``RunFolder`` owns the layout of ``UCLAB_HOME/runs/<id>/`` (``model/``, ``checkpoints/``,
``eval/``, ``lora/``, ``merged/``, ``gguf/``, ``baselines/<name>/``, ``samples.jsonl``) and the one
rule that says which folder holds a run's final model. ``RunRecorder`` is what ``core.ml`` reports to
while it trains (progress, metrics, log lines, saved checkpoints) and asks whether to stop;
``core.training`` implements it over the store, so the engine never imports the database. Both
are plain values of ``core``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MODEL_DIR = "model"
CHECKPOINTS_DIR = "checkpoints"
EVAL_DIR = "eval"
LORA_DIR = "lora"
MERGED_DIR = "merged"
BASELINES_DIR = "baselines"
GGUF_DIR = "gguf"  # the model as GGUF files for llama.cpp (core.ml.gguf_export), one per weight type
SAMPLES_FILE = "samples.jsonl"
WORKER_LOG = "worker.log"
COMPLETE_MARKER = "COMPLETE"
# The files that say a folder holds a saved model: weights, a fitted scikit-learn model, or the
# config of a model or of LoRA adapters.
MODEL_FILES = ("*.safetensors", "model.skops", "config.json", "adapter_config.json")


def holds_model(folder: Path) -> bool:
    """Whether a folder holds a saved model (weights, a fitted model or a model/adapter config)."""
    return folder.is_dir() and any(next(folder.glob(pattern), None) is not None for pattern in MODEL_FILES)


def mark_complete(checkpoint: Path) -> None:
    """Write the marker that says every file of this checkpoint is on disk."""
    (checkpoint / COMPLETE_MARKER).write_text("ok\n")


def last_complete_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The checkpoint with the highest step that has the completeness marker (partial ones skipped)."""
    best: tuple[int, Path] | None = None
    for path in checkpoints_dir.glob("checkpoint-*"):
        try:
            step = int(path.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if (path / COMPLETE_MARKER).exists() and (best is None or step > best[0]):
            best = (step, path)
    return best[1] if best else None


@dataclass(frozen=True)
class RunFolder:
    """The folder of one run and its layout."""

    root: Path
    run_id: int = 0

    @classmethod
    def of(cls, runs_dir: Path, run_id: int) -> RunFolder:
        """The folder of run `run_id` under the runs folder (``settings.runs_dir``)."""
        return cls(Path(runs_dir) / str(int(run_id)), int(run_id))

    @property
    def model(self) -> Path:
        """Where the worker saves the final model."""
        return self.root / MODEL_DIR

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    def gguf(self, qtype: str) -> Path:
        """The final model as a GGUF file of one weight type (``F16``: what the llama.cpp engine reads)."""
        return self.root / GGUF_DIR / f"model-{qtype}.gguf"

    @property
    def eval(self) -> Path:
        """Predictions of each evaluation (Parquet)."""
        return self.root / EVAL_DIR

    @property
    def lora(self) -> Path:
        """LoRA adapters saved beside a merged model."""
        return self.root / LORA_DIR

    @property
    def merged(self) -> Path:
        """A merged copy of base model + adapters, made for an export."""
        return self.root / MERGED_DIR

    def baseline(self, name: str) -> Path:
        """A saved keyword baseline of the run (``model.skops`` + ``baseline.json``)."""
        return self.root / BASELINES_DIR / name

    @property
    def samples(self) -> Path:
        """A causal LM's answers to fixed prompts at each evaluation (JSON lines)."""
        return self.root / SAMPLES_FILE

    @property
    def worker_log(self) -> Path:
        """The output of the run's worker process."""
        return self.root / WORKER_LOG

    def final_model(self) -> Path | None:
        """The one rule for a run's final model: ``model/`` when it holds one, else the run folder
        itself (an older layout or an unzipped export); None when neither does."""
        return next((f for f in (self.model, self.root) if holds_model(f)), None)

    def last_checkpoint(self) -> Path | None:
        """The last complete checkpoint to resume from."""
        return last_complete_checkpoint(self.checkpoints)


# The stages of a run before its first step, as the run page names them (``summary["stage"]``); after
# the last step ``core.training.evidence.phase`` names what is left (``summary["phase"]``).
STAGE_LOADING_DATA = "Loading the data…"
STAGE_LOADING_MODEL = "Loading the model…"
STAGE_CONVERTING = "Converting the model into a trainable folder (once per installation)…"
STAGE_BUILDING = "Loading the model and tokenising the data…"
STAGE_TRAINING = "Training"


class RunRecorder(Protocol):
    """What the training engine reports to while a run trains (implemented over the store by
    ``core.training.recorder.StoreRecorder``)."""

    def progress(self, **fields: Any) -> bool:
        """Record step, total_steps, epoch, speed, ETA, elapsed time (a heartbeat too); True when a
        cancel was requested."""
        ...

    def metrics(self, step: int, epoch: float | None, split: str, values: dict[str, float]) -> None:
        """Record the logged training metrics or one validation of the run."""
        ...

    def log(self, message: str, level: str = "info") -> None:
        """Add a line to the run's log."""
        ...

    def checkpoint_saved(self, checkpoint: Path, best_metric: float | None) -> None:
        """Record a complete checkpoint (and the best validation metric so far)."""
        ...

    def cancel_requested(self) -> bool:
        """Whether someone asked the run to stop."""
        ...

    def heartbeat(self) -> None:
        """Say the run's process is alive."""
        ...


class PrintRecorder:
    """A recorder that only prints its log lines (a non-main process, a benchmark, a script)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def progress(self, **fields: Any) -> bool:
        return False

    def metrics(self, step: int, epoch: float | None, split: str, values: dict[str, float]) -> None:
        return None

    def log(self, message: str, level: str = "info") -> None:
        print(f"{self.prefix}{message}", file=sys.stderr, flush=True)

    def checkpoint_saved(self, checkpoint: Path, best_metric: float | None) -> None:
        return None

    def cancel_requested(self) -> bool:
        return False

    def heartbeat(self) -> None:
        return None
