"""Sweeps of preference (DPO) runs: beta in the space, the preference default space, the DPO-loss
objective (per evaluation for the pruner, in the summary for the study), trials and the final run that
keep the parent and beta, and one real 2-trial sweep on the tiny chat model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from core.entities import RunStatus as S
from core.errors import ConfigError
from core.run_config import TrainConfig
from core.store import runs
from core.training import queue, sweep, worker
from core.training import service as training
from core.training.preference_runs import preference_request
from core.training.sweep_space import PREFERENCE_SPACE, apply_params, default_space, parse_space
from tests.preference_data import add_pairs_dataset
from tests.tiny_chat import build_tiny_chat_lm
from tests.training_data import RecordingLauncher, add_text_dataset


@pytest.fixture
def chat(home: Path, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The tiny chat model in the catalogue and a preference dataset; trials stay queued (the test runs
    the worker). Yields (model key, dataset id)."""
    from core.inference.generation import clear_loaded
    from core.models import catalog

    clear_loaded()
    key = catalog.add_local_model(str(build_tiny_chat_lm(tmp_path / "tiny-chat", seed=1))).key
    queue.set_launcher(RecordingLauncher())
    yield key, add_pairs_dataset()
    queue.set_launcher(None)
    clear_loaded()


def _finished_parent(model_key: str) -> int:
    info = runs.create_run(dataset_id=add_text_dataset(name="chat"), model_key=model_key, task="causal-lm",
                           config=TrainConfig().to_dict(), seed=42)
    runs.transition(info.id, "running", pid=1)
    runs.transition(info.id, "succeeded")
    return info.id


def test_beta_is_sweepable_and_lands_in_the_configs_beta() -> None:
    [beta] = parse_space("beta=0.05..0.5:log")
    assert (beta.name, beta.low, beta.high, beta.log, beta.integer) == ("beta", 0.05, 0.5, True, False)
    base = {**TrainConfig().to_dict(), "training_kind": "preference", "lora": True, "beta": 0.1}
    config = apply_params(base, {"beta": 0.3, "lora_rank": 4})
    assert (config["beta"], config["lora_rank"], config["lora_alpha"]) == (0.3, 4, 8)
    assert TrainConfig.from_dict(config).beta == 0.3


def test_a_preference_run_has_its_own_default_space_and_old_callers_keep_theirs() -> None:
    assert default_space("causal-lm", "any", kind="preference") == PREFERENCE_SPACE
    assert {p.name for p in parse_space(PREFERENCE_SPACE)} == {"beta", "learning_rate", "lora_rank"}
    assert default_space("causal-lm", "any") == default_space("causal-lm", "any", kind="supervised")
    assert "epochs" in default_space("causal-lm", "any")


def test_the_objective_of_a_preference_config_is_the_validation_dpo_loss(chat) -> None:
    key, pairs = chat
    config = preference_request(pairs, model_key=key).config
    assert sweep.objective_of("causal-lm", pairs, config=config) == ("dpo_loss", "minimize")
    assert sweep.objective_of("causal-lm", pairs) == ("perplexity", "minimize")  # a supervised config
    assert sweep.EVALUATION_NAMES["dpo_loss"] == "loss"  # what each evaluation during training records


def test_trials_and_the_final_run_keep_the_parent_and_their_beta(chat) -> None:
    key, pairs = chat
    parent = _finished_parent(key)
    request = preference_request(pairs, parent_run_id=parent, max_steps=4)
    info = sweep.start_sweep(pairs, request.model_key, config=request.config, trials=2, parallel=2,
                             space="beta=0.05..0.5:log, lora_r=4|8")
    assert (info.metric, info.direction, info.asked) == ("dpo_loss", "minimize", 2)
    trials = [r for r in runs.list_runs(limit=50) if sweep.sweep_tag(r.config)]
    assert len(trials) == 2
    for run in trials:
        c = run.config
        assert (c["training_kind"], c["parent_run_id"], c["max_steps"], run.model_key) == \
            ("preference", parent, 4, key)
        assert 0.05 <= c["beta"] <= 0.5 and c["lora_alpha"] == 2 * c["lora_rank"]
    losses = {trials[0].id: 0.4, trials[1].id: 0.6}
    for run_id, loss in losses.items():
        assert runs.claim_run(run_id, 999_999, max_running=None)
        runs.transition(run_id, S.SUCCEEDED, reason="", expect=[S.RUNNING],
                        summary={"validation": {"dpo_loss": loss, "reward_accuracy": 0.5}})
    done = sweep.advance_sweep(info.id)
    assert done.status == "finished" and done.summary["best_value"] == 0.4
    best = sweep.best_trial(info.id)
    assert best is not None and best.run_id == trials[0].id
    final = sweep.make_final_run(info.id)
    c, trained = final.config, runs.get_run(trials[0].id).config
    assert (c["training_kind"], c["parent_run_id"], c["beta"], c["lora_rank"]) == \
        ("preference", parent, trained["beta"], trained["lora_rank"])
    assert c["task_options"]["fit_on"] == "train+validation" and "sweep" not in c["task_options"]


def test_a_preference_space_refuses_epochs_and_a_supervised_one_refuses_beta(chat) -> None:
    key, pairs = chat
    config = preference_request(pairs, model_key=key).config
    with pytest.raises(ConfigError, match="count steps"):
        sweep.start_sweep(pairs, key, config=config, space="epochs=1..3")
    chat_data = add_text_dataset(name="chat-sft")
    with pytest.raises(ConfigError, match="only a sweep of preference runs"):
        sweep.estimate_sweep(chat_data, key, config=TrainConfig(), space="beta=0.1..0.5")


def test_a_two_trial_dpo_sweep_on_the_tiny_chat_model_tells_the_study_the_stored_loss(chat) -> None:
    key, pairs = chat
    request = preference_request(pairs, model_key=key, max_steps=4, max_length=64, batch_size=4,
                                 eval_every=2, lora_target="all-linear", warmup_ratio=0.0)
    info = sweep.start_sweep(pairs, key, config=request.config, trials=2,
                             space="beta=0.05..0.5:log, learning_rate=1e-3..1e-2:log")
    for _ in range(2):
        [queued] = [r for r in runs.list_runs(status="queued", limit=10) if sweep.sweep_tag(r.config)]
        assert worker.run(queued.id) == 0
        run = runs.get_run(queued.id)
        assert run.status == "succeeded", (run.status_reason, training.run_logs(run.id, 50))
        assert "test" not in run.summary  # a trial is judged on validation only
        info = sweep.advance_sweep(info.id)
    assert info.status == "finished" and info.summary["counts"]["complete"] == 2
    best = sweep.best_trial(info.id)
    assert best is not None
    stored = runs.get_run(best.run_id).summary["validation"]["dpo_loss"]
    assert info.summary["best_value"] == pytest.approx(stored)
    storage = sweep._storage()
    try:
        study = optuna.load_study(study_name=info.study_name, storage=storage)
        assert study.best_value == pytest.approx(stored)
        # the pruner saw each evaluation's validation DPO loss (steps 2 and 4)
        for trial in study.trials:
            frame = runs.metrics_frame(trial.user_attrs["run_id"])
            losses = frame[(frame["split"] == "validation") & (frame["name"] == "loss")]["value"].tolist()
            assert [trial.intermediate_values[i + 1] for i in range(2)] == pytest.approx(losses)
    finally:
        storage.engine.dispose()
    # the final run: the best trial's DPO settings on train + validation, scored once on the test pairs
    final = sweep.make_final_run(info.id)
    assert worker.run(final.id) == 0
    final = runs.get_run(final.id)
    assert final.status == "succeeded", (final.status_reason, training.run_logs(final.id, 50))
    assert (final.config["training_kind"], final.config["beta"]) == \
        ("preference", runs.get_run(best.run_id).config["beta"])
    comparison = sweep.final_comparison(info.id)
    assert comparison is not None and comparison["test"] == final.summary["test"]["dpo_loss"]
