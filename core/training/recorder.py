"""The run recorder over the store: what the training engine (``core.ml``) reports to in a worker.

``core.ml`` is handed a ``core.run_folder.RunFolder`` and a ``RunRecorder``; this module is the
recorder that writes progress, metrics, log lines and checkpoints to the run's rows and reads
its cancel flag. The engine's entry point for a run of the database (tests, benchmarks:
``core.training.engine.train``) builds both and calls ``core.ml.trainer.train``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from core.config import get_settings
from core.store import runs


# Stage names: core.run_folder (STAGE_*), shared with core.ml.trainer.
def stage(run_id: int, text: str) -> None:
    """Say what a run is doing before (and when) it trains, so the page never shows a silent 'Step 0 of ?'."""
    runs.update_progress(run_id, summary={"stage": text})


class StoreRecorder:
    """Records one run in the database (``core.store.runs``)."""

    def __init__(self, run_id: int, *, echo: bool = False) -> None:
        self.run_id = int(run_id)
        self.echo = echo  # also print each log line (to the worker.log file)

    def progress(self, **fields: Any) -> bool:
        return bool(runs.update_progress(self.run_id, **fields))

    def metrics(self, step: int, epoch: float | None, split: str, values: dict[str, float]) -> None:
        runs.add_metrics(self.run_id, step, epoch, split, values)

    def log(self, message: str, level: str = "info") -> None:
        if self.echo:
            print(message, file=sys.stderr, flush=True)
        runs.add_log(self.run_id, message, level)

    def checkpoint_saved(self, checkpoint: Path, best_metric: float | None) -> None:
        fields: dict[str, Any] = {"last_checkpoint": get_settings().relative(checkpoint)}
        if best_metric is not None:
            fields["best_metric"] = float(best_metric)
        runs.update_progress(self.run_id, **fields)

    def cancel_requested(self) -> bool:
        return bool(runs.is_cancel_requested(self.run_id))

    def heartbeat(self) -> None:
        runs.heartbeat(self.run_id)
