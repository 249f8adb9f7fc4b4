"""Sweeps: the space parser, trial settings, the parallel bound, telling a trial exactly once when its
worker dies mid-trial, gradient boosting's own parameters, and the estimate."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import optuna
import pytest
from training_data import RecordingLauncher

from core.data import gallery
from core.entities import RunStatus as S
from core.errors import ConfigError
from core.run_config import TrainConfig
from core.store import runs
from core.store.orm import utcnow
from core.tasks.tabular_gbm import GBM_KEY, GradientBoostingModel
from core.training import queue, sweep, worker
from core.training.sweep_space import apply_params, default_space, format_space, parse_space


@pytest.fixture
def iris(home):
    return gallery.import_gallery("iris")


@pytest.fixture
def recording():
    launcher = RecordingLauncher()
    queue.set_launcher(launcher)
    yield launcher
    queue.set_launcher(None)


def _fast(**kw) -> TrainConfig:
    settings = {"epochs": 2, "batch_size": 32, "early_stopping": False, "lr_scheduler": "linear", **kw}
    return TrainConfig.from_preset("full", task="tabular", **settings)


def test_the_space_of_the_issue_parses_into_a_log_range_an_int_range_and_choices() -> None:
    lr, epochs, rank = parse_space("learning_rate=1e-5..5e-4:log, epochs=1..4, lora_r=4|8|16")
    assert (lr.name, lr.low, lr.high, lr.log, lr.integer) == ("learning_rate", 1e-5, 5e-4, True, False)
    assert (epochs.name, epochs.low, epochs.high, epochs.integer) == ("epochs", 1, 4, True)
    assert (rank.name, rank.choices) == ("lora_rank", (4, 8, 16))
    assert format_space((lr, epochs, rank)) == "learning_rate=1e-5..0.0005:log, epochs=1..4, lora_rank=4|8|16"


@pytest.mark.parametrize(("text", "words"), [
    ("learning_rate", "has no '='"), ("colour=1..2", "cannot be swept"),
    ("epochs=4..1", "smaller to a larger"),
    ("learning_rate=0..1e-3:log", "log range"), ("epochs=1..2, epochs=3|4", "twice"), ("", "empty"),
    ("learning_rate=a..b", "not a number")])
def test_a_bad_space_is_one_sentence(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_space(text)


def test_trial_values_land_where_each_model_reads_them() -> None:
    base = TrainConfig().to_dict()
    lora = apply_params(base, {"lora_rank": 16, "learning_rate": 1e-4, "epochs": 2})
    assert (lora["lora"], lora["lora_rank"], lora["lora_alpha"], lora["epochs"]) == (True, 16, 32, 2.0)
    mlp = apply_params(base, {"hidden_size": 32, "dropout": 0.2})
    assert mlp["task_options"] == {"hidden_sizes": [32, 32], "dropout": 0.2}
    gbm = apply_params(base, {"gbm_learning_rate": 0.1, "max_iter": 50})
    assert gbm["task_options"] == {"gbm": {"learning_rate": 0.1, "max_iter": 50}}
    assert base["task_options"] == {}  # the base is not changed
    TrainConfig.from_dict(lora)  # valid settings


def test_each_task_and_model_has_its_own_default_space() -> None:
    spaces = {key: default_space(*key) for key in [("classification", "m"), ("causal-lm", "m"),
                                                   ("tabular", "mlp"), ("tabular", GBM_KEY)]}
    assert len(set(spaces.values())) == 4
    names = {key: {p.name for p in parse_space(text)} for key, text in spaces.items()}
    assert "lora_rank" in names[("causal-lm", "m")] and "hidden_size" in names[("tabular", "mlp")]
    assert "max_iter" in names[("tabular", GBM_KEY)] and "learning_rate" in names[("classification", "m")]


def test_parallel_bounds_the_live_trials_even_when_two_processes_advance_at_once(iris, recording) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=5, parallel=2, config=_fast(), advance=False)
    threads = [threading.Thread(target=sweep.advance_sweep, args=(info.id,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sweep.advance_sweep(info.id)
    trial_runs = [r for r in runs.list_runs() if sweep.sweep_tag(r.config)]
    assert len(trial_runs) == 2 and sweep.get_sweep(info.id).asked == 2
    assert {sweep.sweep_tag(r.config)["trial"] for r in trial_runs} == {0, 1}
    assert all(r.status == "queued" and r.name.startswith(f"sweep {info.id}") for r in trial_runs)


def test_a_trial_whose_worker_died_is_requeued_and_told_exactly_once(iris, recording) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=1, parallel=1, config=_fast())
    [run] = [r for r in runs.list_runs() if sweep.sweep_tag(r.config)]
    assert runs.claim_run(run.id, 999_999, max_running=None)
    runs.transition(run.id, S.INTERRUPTED, reason="The worker vanished.", expect=[S.RUNNING])
    assert sweep.advance_sweep(info.id).is_live
    assert runs.get_run(run.id).status == "queued"  # back in the queue, not told as failed
    assert [r.state for r in sweep.sweep_trials(info.id)] == ["RUNNING"]

    assert worker.run(run.id) == 0  # the next worker trains it to the end
    for _ in range(3):  # every process that advances the sweep sees the same finished run
        done = sweep.advance_sweep(info.id)
    [trial] = sweep.sweep_trials(info.id)
    stored = runs.get_run(run.id).summary["validation"]["macro_f1"]
    assert (trial.state, trial.value, trial.best) == ("COMPLETE", pytest.approx(stored), True)
    assert not done.is_live and done.summary["counts"] == {"complete": 1, "pruned": 0, "fail": 0}
    storage = sweep._storage()
    study = optuna.load_study(study_name=info.study_name, storage=storage)
    sweep._tell(study, 0, values=0.0)  # a late second tell changes nothing
    assert len(study.trials) == 1 and study.trials[0].value == pytest.approx(stored)
    storage.engine.dispose()


def test_a_trial_stopped_by_its_workers_sigterm_is_not_told(iris, recording) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=1, parallel=1, config=_fast())
    [run] = [r for r in runs.list_runs() if sweep.sweep_tag(r.config)]
    runs.claim_run(run.id, 999_999, max_running=None)
    runs.transition(run.id, S.CANCELLED, reason=f"{queue.REQUEUE_REASON} at step 3; resume to continue.",
                    expect=[S.RUNNING])
    sweep.advance_sweep(info.id)
    assert [r.state for r in sweep.sweep_trials(info.id)] == ["RUNNING"]
    runs.transition(run.id, S.QUEUED, reason="", expect=[S.CANCELLED])  # what the daemon does next
    runs.request_cancel(run.id)  # a person cancels it: the trial fails, the sweep ends
    assert not sweep.advance_sweep(info.id).is_live
    assert [r.state for r in sweep.sweep_trials(info.id)] == ["FAIL"]


def test_no_trial_is_handed_out_after_the_minutes_budget(iris, recording) -> None:
    info = sweep.start_sweep(iris.id, "mlp", minutes=5, parallel=1, config=_fast(), advance=False)
    assert sweep._budget_left(info)
    late = dataclasses.replace(info, created_at=utcnow() - timedelta(minutes=6))
    assert not sweep._budget_left(late)
    assert info.n_trials is None


def test_gradient_boosting_takes_the_parameters_a_sweep_chooses() -> None:
    x = [[0.0], [1.0], [2.0], [3.0]] * 5
    y = ["a", "a", "b", "b"] * 5
    model = GradientBoostingModel.fit(x, y, "classification", params={"max_iter": 7, "learning_rate": 0.3,
                                                                      "unknown": 1})
    assert (model.estimator.max_iter, model.estimator.learning_rate) == (7, 0.3)


def test_the_objective_is_the_validation_rank_metric_with_its_direction(iris) -> None:
    assert sweep.objective_of("tabular", iris.id) == ("macro_f1", "maximize")
    diabetes = gallery.import_gallery("diabetes")
    assert sweep.objective_of("tabular", diabetes.id) == ("rmse", "minimize")


def test_the_estimate_counts_waves_of_parallel_trials(iris) -> None:
    one = sweep.estimate_sweep(iris.id, "mlp", trials=4, parallel=1, config=_fast())
    two = sweep.estimate_sweep(iris.id, "mlp", trials=4, parallel=2, workers=2, config=_fast())
    assert one.seconds == pytest.approx(4 * one.trial_seconds)
    assert two.seconds == pytest.approx(2 * two.trial_seconds) and "2 at a time" in two.sentence


def test_with_no_worker_alive_the_estimate_counts_the_local_workers_slots(iris, monkeypatch) -> None:
    # Nothing is alive: the queue will start this machine's worker with UCLAB_MAX_RUNNING slots.
    assert sweep.estimate_sweep(iris.id, "mlp", trials=4, parallel=2, config=_fast()).parallel == 1
    monkeypatch.setenv("UCLAB_MAX_RUNNING", "2")
    estimate = sweep.estimate_sweep(iris.id, "mlp", trials=4, parallel=2, config=_fast())
    assert estimate.parallel == 2 and "2 at a time" in estimate.sentence


def test_the_final_run_trains_the_best_settings_on_train_and_validation_and_tests_once(iris,
                                                                                       recording) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=1, parallel=1, config=_fast(),
                             space="learning_rate=0.02..0.03, hidden_size=32")
    with pytest.raises(ConfigError, match="no finished trial"):
        sweep.make_final_run(info.id)
    [trial_run] = [r for r in runs.list_runs() if sweep.sweep_tag(r.config)]
    assert worker.run(trial_run.id) == 0
    sweep.advance_sweep(info.id)
    final = sweep.make_final_run(info.id)
    assert sweep.make_final_run(info.id).id == final.id  # asking twice queues one run
    assert sweep.sweep_tag(final.config) is None  # an ordinary run, not a trial
    assert final.config["task_options"]["fit_on"] == "train+validation"
    assert final.config["task_options"]["hidden_sizes"] == trial_run.config["task_options"]["hidden_sizes"]
    assert final.config["learning_rate"] == trial_run.config["learning_rate"]
    assert sweep.final_comparison(info.id) is None  # not trained yet
    assert worker.run(final.id) == 0
    sizes = iris.split_sizes
    rows = sizes["train"] + sizes["validation"]
    assert any(f"{rows} training rows" in line for line in runs.log_tail(final.id))
    done = runs.get_run(final.id)
    assert "test" in done.summary and "baselines" in done.summary
    comparison = sweep.final_comparison(info.id)
    assert comparison["test"] == pytest.approx(done.summary["test"]["macro_f1"])
    validation = runs.get_run(trial_run.id).summary["validation"]["macro_f1"]
    assert comparison["validation"] == pytest.approx(validation)
    assert f"on the {sizes['test']} test rows" in comparison["sentence"]


def test_a_pruned_trial_is_never_marked_best_even_with_a_higher_last_value(iris, recording) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=2, parallel=2, config=_fast())
    first, second = sorted((r for r in runs.list_runs() if sweep.sweep_tag(r.config)), key=lambda r: r.id)
    assert runs.claim_run(first.id, 999_999, max_running=None)
    runs.transition(first.id, S.SUCCEEDED, reason="", expect=[S.RUNNING],
                    summary={"validation": {"macro_f1": 0.8}})
    storage = sweep._storage()
    study = optuna.load_study(study_name=info.study_name, storage=storage)
    trial = optuna.trial.Trial(study, study.trials[1]._trial_id)
    trial.report(0.99, 1)
    study.tell(1, state=optuna.trial.TrialState.PRUNED)  # Optuna keeps 0.99 as the pruned trial's value
    storage.engine.dispose()
    sweep.advance_sweep(info.id)  # tells trial 0 its value
    rows = sweep.sweep_trials(info.id)
    assert [(r.number, r.state, r.best) for r in rows] == [(0, "COMPLETE", True), (1, "PRUNED", False)]
    assert rows[1].value == pytest.approx(0.99)


@pytest.mark.parametrize(("total_steps", "pruned"), [(60, True), (40, False)])
def test_the_trial_recorder_prunes_a_clearly_worse_trial_but_never_at_its_last_evaluation(
        iris, recording, total_steps, pruned) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=3, parallel=3, config=_fast())
    storage = sweep._storage()
    study = optuna.load_study(study_name=info.study_name, storage=storage)
    for number in (0, 1):  # two finished trials that scored 0.9 at evaluations 1 and 2
        trial = optuna.trial.Trial(study, study.trials[number]._trial_id)
        trial.report(0.9, 1)
        trial.report(0.9, 2)
        study.tell(number, 0.9)
    storage.engine.dispose()
    run = next(r for r in runs.list_runs() if (sweep.sweep_tag(r.config) or {}).get("trial") == 2)
    recorder = sweep.TrialRecorder(run.id, sweep.sweep_tag(run.config))
    assert recorder.progress(total_steps=total_steps, step=0) is False
    recorder.metrics(20, 1.0, "validation", {"macro_f1": 0.2})  # the first evaluation: never pruned
    assert not recorder.reason
    recorder.metrics(40, 2.0, "validation", {"macro_f1": 0.2})
    recorder.close()
    assert bool(recorder.reason) is pruned and recorder.cancel_requested() is pruned
    states = {t.number: t.state for t in sweep.sweep_trials(info.id)}
    assert states[2] == ("PRUNED" if pruned else "RUNNING")
    if pruned:
        expected = f"Pruned by sweep {info.id}: validation macro_f1 0.2 at evaluation 2"
        assert recorder.reason.startswith(expected)


def _locked(*_args: object, **_kwargs: object) -> None:
    import sqlite3

    raise sqlite3.OperationalError("database is locked")


def test_a_trial_the_study_could_not_hand_out_gives_its_slot_back(iris, recording, monkeypatch) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=1, parallel=1, config=_fast(), advance=False)
    with monkeypatch.context() as patch:
        patch.setattr(optuna.Study, "ask", _locked)
        with pytest.raises(sweep._NotAsked, match="locked"):
            sweep.advance_sweep(info.id)
    # Counted, the slot would leave the sweep waiting for ever on a trial that does not exist.
    assert sweep.get_sweep(info.id).asked == 0 and sweep.sweep_trials(info.id) == []
    assert sweep.advance_sweep(info.id).asked == 1  # the next advance hands it out
    [run] = [r for r in runs.list_runs() if sweep.sweep_tag(r.config)]
    assert worker.run(run.id) == 0
    done = sweep.advance_sweep(info.id)
    assert not done.is_live and done.summary["counts"] == {"complete": 1, "pruned": 0, "fail": 0}


def test_a_trial_whose_run_could_not_be_queued_fails_at_once_with_the_reason(iris, recording,
                                                                            monkeypatch) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=2, parallel=1, config=_fast(), advance=False)
    with monkeypatch.context() as patch:
        patch.setattr(sweep.runs, "create_run", _locked)
        with pytest.raises(Exception, match="locked"):
            sweep.advance_sweep(info.id)
    [failed] = sweep.sweep_trials(info.id)
    assert (failed.number, failed.state, failed.run_id) == (0, "FAIL", None)
    assert failed.status_reason == "Its run could not be queued: database is locked"
    assert sweep.advance_sweep(info.id).asked == 2  # not left open: the sweep goes on to trial 1
    [run] = [r for r in runs.list_runs() if sweep.sweep_tag(r.config)]
    assert sweep.sweep_tag(run.config)["trial"] == 1


def test_the_tie_note_names_the_finished_trials_inside_the_best_ones_interval(iris) -> None:
    info = sweep.start_sweep(iris.id, "mlp", trials=4, parallel=1, config=_fast(), advance=False)
    best = sweep.TrialRow(number=2, state="COMPLETE", value=1.0, params={}, run_id=3, interval=(0.796, 1.0),
                          best=True)

    def other(number: int, value: float, state: str = "COMPLETE") -> sweep.TrialRow:
        return sweep.TrialRow(number=number, state=state, value=value, params={}, run_id=number + 1)

    assert sweep.tie_note(info.id, [best, other(0, 0.7)]) == ""  # the best stands clear
    # A pruned trial's value is its last report, not a final score: it is never counted as a tie.
    rows = [best, other(5, 1.0), other(1, 0.8), other(0, 0.7), other(3, 0.9, "PRUNED")]
    note = sweep.tie_note(info.id, rows)
    assert note.startswith("Trials 5 and 1 score inside the best trial's 95 % interval (0.796 – 1.000) on "
                           "15 validation rows: the validation split cannot tell these settings apart")
    unbounded = dataclasses.replace(best, interval=None)  # a metric that is no share has no interval
    assert sweep.tie_note(info.id, [unbounded, other(5, 1.0)]) == ""
    tally = dataclasses.replace(info, summary={"counts": {"complete": 5, "pruned": 1, "fail": 0}})
    assert sweep.counts_sentence(tally) == "5 finished, 1 pruned" and sweep.counts_sentence(info) == ""
