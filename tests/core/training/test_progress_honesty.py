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


def test_a_first_chat_run_estimate_counts_loading_converting_evaluating_and_answers() -> None:
    """A first SmolLM2 chat run was estimated at its training time alone (1 min 28 s; 12 min wall)."""
    from types import SimpleNamespace

    from core.training import estimates

    smollm2 = SimpleNamespace(params=134_515_008, ready=False)
    phases = estimates.first_run_phases(smollm2, "causal-lm", train_s=88.0, eval_rows=90, sps=2.0,
                                        config=TrainConfig())
    assert set(phases) == {"loading and converting the model", "training", "evaluating",
                           "writing and scoring answers"}
    assert phases["writing and scoring answers"] >= 200 * estimates.ANSWER_S  # 200 answers by default
    assert sum(phases.values()) > 4 * 88.0
    quiet = TrainConfig(task_options={"eval_examples": 0})
    assert "writing and scoring answers" not in estimates.first_run_phases(smollm2, "causal-lm", 88.0, 90,
                                                                            2.0, quiet)


def test_the_estimate_adds_up_its_phases_and_says_what_it_covers(home: Path) -> None:
    from core.training import service as training

    key, dataset = tiny_model(), add_text_dataset()
    estimate = training.estimate_run(dataset, key, TrainConfig(epochs=1, batch_size=4, max_length=64))
    assert estimate.phases["training"] < estimate.seconds
    assert abs(sum(estimate.phases.values()) - estimate.seconds) < 0.5
    assert estimate.covers.startswith("Includes loading the model ") and "training" in estimate.covers


def test_the_time_left_of_a_chat_run_never_leaves_out_its_answers() -> None:
    from types import SimpleNamespace

    from core.training import estimates

    def run(**fields):
        base = dict(task="causal-lm", eta_seconds=51.0, samples_per_second=4.0, summary=None, config={})
        return SimpleNamespace(**{**base, **fields})

    answers = estimates.ENGINE_CONVERT_S + 200 * estimates.ANSWER_S
    assert estimates.remaining_seconds(run(), {"test": 40}) == 51.0 + 40 / (4.0 * 3) + answers
    evaluating = run(summary={"phase": "Evaluating on 40 test rows…"}, eta_seconds=3.0)
    assert estimates.remaining_seconds(evaluating) == 3.0 + answers
    scoring = run(summary={"phase": "Writing and scoring answers to held-out examples…"}, eta_seconds=330.0)
    assert estimates.remaining_seconds(scoring) == 330.0
    assert estimates.remaining_seconds(run(task="classification"), {"test": 40}) == 51.0 + 40 / 12
