"""Issue 20, item 10: the time left does not swing with one slow step, and a run names its stage
before its first step (no silent "Step 0 of ?")."""

from __future__ import annotations

from pathlib import Path

from training_data import add_text_dataset, tiny_model

from core.ml.callbacks import ProgressCallback, RunSignals
from core.run_config import TrainConfig
from core.run_folder import STAGE_LOADING_DATA, STAGE_LOADING_MODEL, PrintRecorder
from core.store import runs


def _callback() -> ProgressCallback:
    callback = ProgressCallback(PrintRecorder(), RunSignals(), batch_size=8)
    callback._last_step_end = 0.0
    return callback


def test_the_time_left_is_the_median_step_plus_the_evaluations_left_not_the_mean_since_start() -> None:
    callback, now = _callback(), 0.0
    for seconds in [100.0] + [1.0] * 10:  # a first step that also warmed the model up, then 1 s steps
        now += seconds
        callback.step_took(now)
    assert callback.eta(90, 0) == 90.0  # the mean since start would say 90 × 10 s = 15 min
    callback._paused = True  # an evaluation after this step: 31 s instead of 1 s
    now += 31.0
    callback.step_took(now)
    now += 1.0
    callback.step_took(now)
    assert callback.eta(88, 2) == 88 * 1.0 + 2 * 30.0  # two evaluations are still to come


def test_a_run_names_its_stage_while_it_loads(home: Path, monkeypatch) -> None:
    import os

    from core.training import prepare

    key, dataset = tiny_model(), add_text_dataset()
    run = runs.create_run(dataset_id=dataset, model_key=key, task="classification",
                          config=TrainConfig(epochs=1).to_dict(), seed=1)
    runs.claim_run(run.id, os.getpid())
    said: list[str] = []
    real = prepare.stage
    monkeypatch.setattr(prepare, "stage", lambda run_id, text: said.append(text) or real(run_id, text))
    prepare.prepare_run(run.id, main=True)
    assert said == [STAGE_LOADING_DATA, STAGE_LOADING_MODEL]
    assert runs.get_run(run.id).summary["stage"] == STAGE_LOADING_MODEL
