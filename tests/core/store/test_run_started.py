"""A resumed run keeps the moment it first started, through either way of starting it."""

from __future__ import annotations

import os
from pathlib import Path

from training_data import add_text_dataset

from core.store import runs


def test_started_stays_the_first_start_across_a_resume(home: Path) -> None:
    run = runs.create_run(dataset_id=add_text_dataset(), model_key="m", task="classification", config={},
                          seed=1)
    assert runs.claim_run(run.id, os.getpid())
    first = runs.get_run(run.id).started_at
    runs.transition(run.id, "interrupted", reason="gone")
    runs.transition(run.id, "queued")
    assert runs.claim_run(run.id, os.getpid())  # the worker's claim
    assert runs.get_run(run.id).started_at == first
    runs.transition(run.id, "cancelled")
    runs.transition(run.id, "queued")
    runs.transition(run.id, "running")  # a direct transition
    assert runs.get_run(run.id).started_at == first
