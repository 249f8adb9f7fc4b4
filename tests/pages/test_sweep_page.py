"""The Sweep page: the default space for the model, the estimate, starting a sweep, the leaderboard with
the best trial marked, Optuna's charts and "Make this the final run"."""

from __future__ import annotations

import os
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from core.data import gallery
from core.entities import RunStatus as S
from core.store import runs
from core.training import service as training
from core.training import sweep
from tests.pages.seed import NoLauncher


def _finish(run_id: int, value: float) -> None:
    """A trial's run as a worker leaves it: succeeded with its validation score stored."""
    assert runs.claim_run(run_id, 999_999, max_running=None)
    runs.transition(run_id, S.SUCCEEDED, reason="", expect=[S.RUNNING],
                    summary={"validation": {"macro_f1": value, "accuracy": value}})


def test_the_page_fills_the_models_space_estimates_and_starts_a_sweep(open_page: Callable[..., AppTest],
                                                                     launcher: NoLauncher) -> None:
    iris = gallery.import_gallery("iris")
    at = open_page("sweep")
    assert not at.exception
    assert at.selectbox(key="sweep_model").value == "mlp"
    assert at.text_area(key="sweep_space").value == sweep.default_space("tabular", "mlp")
    assert any("Optimises Macro F1 (classes weigh equally) on the validation split" in c.value
               for c in at.caption)
    at.text_area(key="sweep_space").set_value("learning_rate=1e-3..3e-2:log").run()
    at.number_input(key="sweep_trials").set_value(3).run()
    at.number_input(key="sweep_parallel").set_value(2).run()
    at.button(key="sweep_start").click().run()
    assert not at.exception
    [started] = sweep.list_sweeps()
    assert (started.dataset_id, started.n_trials, started.parallel) == (iris.id, 3, 2)
    assert started.space == "learning_rate=0.001..0.03:log" and started.asked == 2


def test_a_bad_space_is_one_sentence_and_start_is_disabled(open_page: Callable[..., AppTest],
                                                          launcher: NoLauncher) -> None:
    gallery.import_gallery("iris")
    at = open_page("sweep")
    at.text_area(key="sweep_space").set_value("colour=1|2").run()
    assert any("cannot be swept" in e.value for e in at.error)
    assert at.button(key="sweep_start").disabled


def test_leaderboard_charts_and_the_final_run(open_page: Callable[..., AppTest],
                                              launcher: NoLauncher) -> None:
    iris = gallery.import_gallery("iris")
    info = sweep.start_sweep(iris.id, "mlp", trials=3, parallel=3, space="learning_rate=1e-3..3e-2:log")
    trial_runs = sorted((r for r in runs.list_runs() if sweep.sweep_tag(r.config)), key=lambda r: r.id)
    for run, value in zip(trial_runs, (0.8, 0.95, 0.7), strict=True):
        _finish(run.id, value)
    at = open_page("sweep")
    assert not at.exception
    [board] = at.dataframe
    table = board.value
    assert list(table["Trial"]) == [1, 0, 2] and list(table["Best"]) == ["★", "", ""]
    assert list(table["Validation macro_f1"]) == [0.95, 0.8, 0.7]
    assert table["95 % interval"].iloc[0] == "0.724 – 0.993"
    assert any("· trials: 3 finished" in c.value for c in at.caption)  # in words, not a dict
    # 0.8 lies inside the best's interval on 15 validation rows, 0.7 just below it: one is a tie.
    assert [i.value for i in at.info if "interval" in i.value] == [
        "Trial 0 scores inside the best trial's 95 % interval (0.724 – 0.993) on 15 validation rows: the "
        "validation split cannot tell these settings apart, so quote the final run's test score, not this "
        "ranking."]
    charts = ["Optimisation history", "Parallel coordinates", "Parameter importances"]
    assert [t.label for t in at.tabs] == charts
    history = sweep.sweep_charts(info.id)["history"].layout
    assert history.xaxis.dtick == 1 and not history.title.text  # whole trials; the tab is its title
    assert sweep.get_sweep(info.id).status == "finished"
    at.button(key="sweep_final").click().run()
    assert not at.exception
    final = sweep.get_sweep(info.id).final_run_id
    assert final is not None and runs.get_run(final).config["task_options"]["fit_on"] == "train+validation"
    assert runs.get_run(final).config["learning_rate"] == trial_runs[1].config["learning_rate"]
    assert any(f"Final run {final} is waiting in the queue" in i.value for i in at.info)
    assert sweep.still_moving(info.id)  # the finished sweep's page keeps polling for its final run
    assert runs.claim_run(final, os.getpid(), max_running=None)  # a live process holds it
    at.run()
    assert any(f"Final run {final} is training" in i.value for i in at.info)
    runs.transition(final, S.FAILED, reason="The disk is full.", expect=[S.RUNNING])
    at.run()
    assert not sweep.still_moving(info.id) and not any("training" in i.value for i in at.info)
    # the picker names no status: a keyed select box keeps its first label, which went stale ("running")
    label = at.selectbox(key="sweep_select").format_func(info.id)
    assert label == f"Sweep {info.id} · mlp · dataset {iris.id}"
    shown = [w.value.replace("\\", "") for w in at.warning]  # the reason is escaped as markdown
    assert shown == [f"Final run {final} ended without a test score (failed). The disk is full."]


def test_the_app_lists_the_sweep_page_and_the_finetune_page_points_to_it(open_page: Callable[..., AppTest],
                                                                         launcher: NoLauncher) -> None:
    at = open_page("sweep", via_app=True)
    assert not at.exception and [t.value for t in at.title] == ["Sweep"]
    assert any("No sweep yet" in i.value for i in at.info)
    gallery.import_gallery("iris")
    finetune = open_page("finetune")
    assert any("[Sweep](/sweep)" in m.value for m in finetune.markdown)


def test_a_preference_dataset_sweeps_dpo_runs_from_the_run_the_pairs_came_from(
        open_page: Callable[..., AppTest], launcher: NoLauncher) -> None:
    from core.models.catalog import SMOLLM2_KEY
    from core.training.sweep_space import PREFERENCE_SPACE
    from tests.preference_data import add_pairs_dataset
    from tests.training_data import add_text_dataset

    chat = add_text_dataset(name="chat")
    finished = []
    for _ in range(2):
        info = runs.create_run(dataset_id=chat, model_key=SMOLLM2_KEY, task="causal-lm",
                               config=training.TrainConfig().to_dict(), seed=42)
        runs.transition(info.id, "running", pid=1)
        runs.transition(info.id, "succeeded")
        finished.append(info.id)
    other, parent = finished
    pairs = add_pairs_dataset(info={"run_id": other})  # the pairs judged run `other`'s answers
    at = open_page("sweep")
    assert not at.exception
    assert at.selectbox(key="sweep_dataset").value == pairs
    assert at.selectbox(key="sweep_parent").value == f"run:{other}"  # the run the pairs came from
    assert not [s for s in at.selectbox if s.key == "sweep_model"]
    assert at.text_area(key="sweep_space").value == PREFERENCE_SPACE
    assert any("Optimises DPO loss (lower is better) on the validation split" in c.value
               for c in at.caption)
    at.selectbox(key="sweep_parent").set_value(f"run:{parent}").run()
    at.number_input(key="sweep_trials").set_value(2).run()
    at.button(key="sweep_start").click().run()
    assert not at.exception
    [started] = sweep.list_sweeps()
    assert (started.dataset_id, started.metric, started.direction) == (pairs, "dpo_loss", "minimize")
    base = started.base_config
    assert (base["training_kind"], base["parent_run_id"]) == ("preference", parent)
    [trial] = [r for r in runs.list_runs() if sweep.sweep_tag(r.config)]
    assert (trial.config["training_kind"], trial.config["parent_run_id"]) == ("preference", parent)


def test_the_sweep_form_keeps_what_was_typed_while_the_user_is_on_another_page(
        open_page: Callable[..., AppTest]) -> None:
    gallery.import_gallery("iris")
    at = open_page("sweep", via_app=True)
    at.text_area(key="sweep_space").set_value("learning_rate=1e-3..3e-2:log").run()
    at.number_input(key="sweep_trials").set_value(5).run()
    at.number_input(key="sweep_parallel").set_value(2).run()
    at.switch_page("pages/datasets.py").run()
    at.switch_page("pages/sweep.py").run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.text_area(key="sweep_space").value == "learning_rate=1e-3..3e-2:log"
    assert (at.number_input(key="sweep_trials").value, at.number_input(key="sweep_parallel").value) == (5, 2)
