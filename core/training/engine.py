"""The training engine for a run of the database: ``core.ml.trainer`` handed the run's folder and
the store's recorder. Imports torch: import it only where training happens (tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.ml.callbacks import ProgressCallback, RunSignals
from core.ml.trainer import GuardedTrainer, TrainOutcome
from core.ml.trainer import train as train_folder
from core.run_folder import RunFolder
from core.training.recorder import StoreRecorder

__all__ = ["DbProgressCallback", "GuardedTrainer", "TrainOutcome", "train"]


def DbProgressCallback(run_id: int, signals: RunSignals, **kwargs: Any) -> ProgressCallback:  # noqa: N802
    """The engine's progress callback, reporting run `run_id` to the store."""
    return ProgressCallback(StoreRecorder(run_id), signals, **kwargs)


def train(run_id: int, inputs: Any, adapter: Any, run_dir: Path, *, resume_from: Path | None = None,
          elapsed_before: float = 0.0, log: Callable[[str], None] = print,
          device: str | None = None) -> TrainOutcome:
    """Train run `run_id` in `run_dir`, recorded in the store."""
    return train_folder(RunFolder(Path(run_dir), int(run_id)), inputs, adapter, StoreRecorder(run_id),
                        resume_from=resume_from, elapsed_before=elapsed_before, log=log, device=device)
