"""The Fine-tuning page: the form with its estimate, the runs list, the live view, cancel and resume."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from core.store import runs
from core.training import service as training
from tests.pages.seed import NoLauncher, save_reviews, seed_run


def test_without_a_dataset_the_page_says_what_to_do(open_page: Callable[..., AppTest],
                                                    launcher: NoLauncher) -> None:
    at = open_page("finetune", via_app=True)
    assert not at.exception
    assert any("Save a dataset" in i.value for i in at.info)
    assert any("No run yet" in i.value for i in at.info)


def test_form_shows_estimate_and_starts_a_queued_run(open_page: Callable[..., AppTest],
                                                     launcher: NoLauncher) -> None:
    dataset = save_reviews()
    at = open_page("finetune")
    assert not at.exception
    assert at.selectbox(key="finetune_dataset").value == dataset.id
    assert at.selectbox(key="finetune_task").options == ["Text classification", "Number from text"]
    assert at.selectbox(key="finetune_task").value == "classification"
    assert at.selectbox(key="finetune_model").value == "minilm-l6"
    assert at.radio(key="finetune_preset").value == "quick"
    assert at.number_input(key="finetune_field_epochs").value == 1.0
    labels = [m.label for m in at.metric]
    assert "Duration (estimate)" in labels and "Memory (estimate)" in labels
    # where the speed comes from, as a sentence ("Speed from measured in 1 earlier run" read badly)
    duration = next(c.value.replace("\\", "") for c in at.caption if "Includes" in c.value)
    assert duration.startswith("Duration: ") and "Speed: " in duration and "Speed from" not in duration
    at.text_input(key="finetune_name").set_value("first try").run()
    at.button(key="finetune_start").click().run()
    assert not at.exception
    started = training.list_runs()
    assert len(started) == 1 and started[0].name == "first try" and started[0].status == "queued"
    assert started[0].config["preset"] == "quick" and started[0].config["max_train_rows"] == 2000
    assert at.query_params["run"] == str(started[0].id)
    assert at.selectbox(key="finetune_run_select").value == started[0].id


def test_full_preset_and_advanced_fields_reach_the_config(open_page: Callable[..., AppTest],
                                                          launcher: NoLauncher) -> None:
    save_reviews()
    at = open_page("finetune")
    at.radio(key="finetune_preset").set_value("full").run()
    assert at.number_input(key="finetune_field_epochs").value == 3.0
    at.number_input(key="finetune_field_batch_size").set_value(8).run()
    at.radio(key="finetune_field_lora").set_value("LoRA").run()
    at.number_input(key="finetune_field_lora_rank").set_value(4).run()
    at.button(key="finetune_start").click().run()
    config = training.list_runs()[0].config
    assert (config["preset"], config["epochs"], config["batch_size"]) == ("full", 3.0, 8)
    assert config["lora"] is True and config["lora_rank"] == 4 and config["max_train_rows"] is None


def test_live_run_shows_progress_curves_and_cancels(open_page: Callable[..., AppTest],
                                                    launcher: NoLauncher) -> None:
    dataset = save_reviews()
    run = seed_run(dataset.id)
    at = open_page("finetune", query={"run": str(run.id)})
    assert not at.exception
    assert at.selectbox(key="finetune_run_select").value == run.id
    assert "Step 40 of 100" in at.get("progress")[0].proto.text
    assert {m.label for m in at.metric} >= {"Epoch", "Elapsed", "Time left", "Samples/s"}
    assert len(at.get("plotly_chart")) == 2  # loss curves and the validation metric
    assert not at.button(key="finetune_cancel").disabled
    assert at.button(key="finetune_resume").disabled
    at.button(key="finetune_cancel").click().run()
    assert not at.exception
    assert runs.get_run(run.id).cancel_requested


def test_interrupted_run_shows_reason_and_resumes(open_page: Callable[..., AppTest],
                                                  launcher: NoLauncher) -> None:
    dataset = save_reviews()
    older = seed_run(dataset.id, status="succeeded")
    run = seed_run(dataset.id, status="interrupted", reason="The training process stopped unexpectedly.")
    at = open_page("finetune", query={"run": str(run.id)})
    assert any("stopped unexpectedly" in w.value for w in at.warning)
    assert at.button(key="finetune_cancel").disabled
    at.button(key="finetune_resume").click().run()
    assert not at.exception
    assert runs.get_run(run.id).status == "queued"
    assert runs.get_run(older.id).status == "succeeded"


def test_causal_lm_run_shows_its_answers_over_training(open_page: Callable[..., AppTest],
                                                       launcher: NoLauncher) -> None:
    import json

    from core.config import get_settings

    run = seed_run(save_reviews().id, status="succeeded", task="causal-lm")
    folder = get_settings().runs_dir / str(run.id)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"step": s, "prompt": "Hi <b>there</b>", "output": f"answer at {s}", "reference": "Hello",
             "at": "2026-01-01T00:00:00"} for s in (0, 40)]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    at = open_page("finetune", query={"run": str(run.id)})
    assert not at.exception
    samples = at.dataframe[-1].value
    assert list(samples["step"]) == [0, 40] and list(samples["output"]) == ["answer at 0", "answer at 40"]


def test_cross_validation_is_one_row_with_its_folds_inside(open_page: Callable[..., AppTest],
                                                          launcher: NoLauncher) -> None:
    save_reviews()
    at = open_page("finetune")
    at.toggle(key="finetune_field_cv").set_value(True).run()
    at.slider(key="finetune_field_folds").set_value(3).run()
    at.button(key="finetune_start").click().run()
    assert not at.exception
    every = training.list_runs()
    parents = [r for r in every if r.kind == "cv"]
    assert len(parents) == 1 and sum(r.parent_id == parents[0].id for r in every) == 3
    table = at.dataframe[0].value
    assert list(table["id"]) == [parents[0].id]  # the folds are not separate rows
    assert any("0 of 3 folds finished" in c.value for c in at.caption)


def test_a_tabular_dataset_starts_from_the_mlp_defaults(open_page: Callable[..., AppTest],
                                                        launcher: NoLauncher) -> None:
    from core.data import gallery

    save_reviews()
    at = open_page("finetune")
    assert at.number_input(key="finetune_field_learning_rate").value == pytest.approx(5e-5)
    iris = gallery.import_gallery("iris")
    at.run()
    at.selectbox(key="finetune_dataset").set_value(iris.id).run()
    assert not at.exception
    assert at.selectbox(key="finetune_task").value == "tabular"
    assert at.selectbox(key="finetune_model").value == "mlp"
    assert at.number_input(key="finetune_field_learning_rate").value == pytest.approx(3e-3)
    assert at.number_input(key="finetune_field_epochs").value == 200.0
    assert at.checkbox(key="finetune_field_early_stopping").value is True
    assert at.selectbox(key="finetune_field_lr_scheduler").value == "reduce_lr_on_plateau"
    models = at.selectbox(key="finetune_model").options
    assert "Gradient boosting (scikit-learn)" in models
    at.multiselect(key="finetune_field_report_to").set_value(["tensorboard"]).run()
    at.button(key="finetune_start").click().run()
    assert not at.exception
    started = training.list_runs()[0]
    assert started.config["report_to"] == ["tensorboard"] and started.config["early_stopping"] is True


def test_the_chosen_dataset_survives_a_reload(open_page: Callable[..., AppTest],
                                              launcher: NoLauncher) -> None:
    from tests.pages.seed import save_reviews as save

    first = save("first")
    save("second")  # the newest, which a fresh page would otherwise show
    at = open_page("finetune")
    assert at.selectbox(key="finetune_dataset").value != first.id
    at.selectbox(key="finetune_dataset").set_value(first.id).run()
    assert not at.exception
    url = {k: at.query_params[k] for k in at.query_params}
    reloaded = open_page("finetune", query={k: v[0] if isinstance(v, list) else v for k, v in url.items()})
    assert not reloaded.exception
    assert reloaded.selectbox(key="finetune_dataset").value == first.id


def test_a_finished_run_that_answers_one_class_is_not_green(open_page: Callable[..., AppTest],
                                                            launcher: NoLauncher) -> None:
    import numpy as np
    import pandas as pd

    from core.results import evaluation
    from core.tasks import metrics as M

    run = seed_run(save_reviews().id, status="succeeded")
    y = np.array([0] * 30 + [1] * 30)
    pred = np.zeros(60, dtype=int)  # 'fresh' for every row
    frame = pd.DataFrame({"text": ["t"] * 60, "label": y, "predicted": pred, "correct": y == pred})
    evaluation.store_evaluation(run.id, "test", "run",
                                M.classification_metrics(y, pred, ["fresh", "rotten"], curves=False), frame)
    at = open_page("finetune", query={"run": str(run.id)})
    assert not at.exception
    assert any(w.value.startswith("This model only ever answers 'fresh' (100 % of the 60 test rows)")
               for w in at.warning)
    badges = [m.value for m in at.markdown if "badge[" in m.value]
    assert badges and all("green" not in b for b in badges) and "not learned" in badges[0]


def test_the_max_length_chosen_on_the_datasets_page_is_the_forms_default(
        open_page: Callable[..., AppTest], launcher: NoLauncher) -> None:
    from core.data import datasets
    from tests.pages.seed import reviews_frame

    parsed = datasets.frame_to_parsed(reviews_frame(), "reviews.csv")
    long = datasets.save_dataset(parsed, {"text": "text", "label": "label"}, name="long texts",
                                 task="classification", split=datasets.SplitConfig(0.2, 0.2, 1),
                                 max_length=512)
    at = open_page("finetune")
    assert not at.exception
    assert at.selectbox(key="finetune_dataset").value == long.id
    assert at.number_input(key="finetune_field_max_length").value == 512
    short = save_reviews("short texts")  # saved with 128
    at.run()
    at.selectbox(key="finetune_dataset").set_value(short.id).run()
    assert at.number_input(key="finetune_field_max_length").value == 128


def test_after_the_last_step_the_phase_is_named_not_time_left_0_s(open_page: Callable[..., AppTest],
                                                                 launcher: NoLauncher) -> None:
    run = seed_run(save_reviews().id, step=100, total=100)
    runs.update_progress(run.id, summary={"phase": "Evaluating on 1,322 test rows…"}, eta_seconds=None)
    at = open_page("finetune", query={"run": str(run.id)})
    assert not at.exception
    assert "Step 100 of 100 · Evaluating on 1,322 test rows…" in at.get("progress")[0].proto.text
    assert any("Training is done" in i.value and "Evaluating on 1,322 test rows" in i.value for i in at.info)
    assert {m.label: m.value for m in at.metric}["Time left"] == "—"

def test_the_run_view_says_where_its_trackers_logged_it(open_page: Callable[..., AppTest],
                                                       launcher: NoLauncher) -> None:
    from core.config import get_settings
    from core.ml.tracking import write_info

    dataset = save_reviews()
    run = seed_run(dataset.id, status="succeeded")
    folder = get_settings().runs_dir / str(run.id)
    write_info(folder, {"tensorboard": {"folder": str(folder / "tensorboard"),
                                        "command": f"tensorboard --logdir {folder / 'tensorboard'}"},
                        "mlflow": {"tracking_uri": "http://mlflow.internal:5000",
                                   "experiment": "use-case-lab", "run_name": f"uclab-run-{run.id}",
                                   "run_id": "abc123"}})
    at = open_page("finetune")
    assert not at.exception
    assert any(c.value == f"tensorboard --logdir {folder / 'tensorboard'}" for c in at.code)
    caption = next(c.value for c in at.caption if c.value.startswith("MLflow:"))
    assert "abc123" in caption and "(http://mlflow.internal:5000)" in caption


def test_urls_in_run_names_stay_text(open_page: Callable[..., AppTest], launcher: NoLauncher) -> None:
    """Issue 16 item 14: a run named with a URL or an address is shown as text, never a link."""
    import re

    dataset = save_reviews()
    run = runs.create_run(dataset_id=dataset.id, model_key="minilm-l6", task="classification",
                          config=training.TrainConfig().to_dict(), seed=1,
                          name="see http://evil.example/x or www.evil.example, ask a@evil.example")
    at = open_page("finetune", query={"run": str(run.id)})
    assert not at.exception
    heads = [m.value for m in at.markdown if "evil" in m.value]
    assert heads, "the run's header names it"
    for value in heads:
        plain = value.replace("\\", "")
        assert not re.search(r"(?i)https?://|\bwww\.|[\w.+-]@[\w-]+\.", plain)
        assert "evil.example" in plain.replace("\u2060", "")


def test_before_the_first_step_the_stage_is_named_and_elapsed_is_live(open_page: Callable[..., AppTest],
                                                                      launcher: NoLauncher) -> None:
    """Issue 20, item 10: about 90 s at "Step 0 of ?" with no phase named, and "Elapsed" stale."""
    from datetime import timedelta

    from core.run_folder import STAGE_CONVERTING
    from core.store.db import session_scope
    from core.store.orm import Run, utcnow

    run = seed_run(save_reviews().id, step=0, total=0)
    runs.update_progress(run.id, summary={"stage": STAGE_CONVERTING}, elapsed_seconds=0.0)
    with session_scope(write=True) as s:  # it started 3 minutes ago; no step has been written since
        s.get(Run, run.id).started_at = utcnow() - timedelta(minutes=3)
    at = open_page("finetune", query={"run": str(run.id)})
    assert not at.exception
    assert f"Step 0 of ? · {STAGE_CONVERTING}" in at.get("progress")[0].proto.text
    assert any(i.value.startswith("Before the first step: Converting the model") for i in at.info)
    assert {m.label: m.value for m in at.metric}["Elapsed"].startswith("3 min")


def test_a_finished_run_keeps_counting_what_the_live_counter_showed(open_page: Callable[..., AppTest],
                                                                   launcher: NoLauncher) -> None:
    """A run's Elapsed counted up to 86 s while it ran and fell to 48 s (its training steps) once it had
    finished: an ended run shows its start to its end, and the training steps in the help."""
    from datetime import timedelta

    from core.store.db import session_scope
    from core.store.orm import Run

    run = seed_run(save_reviews().id, status="succeeded", step=100, total=100)  # 45 s of training steps
    with session_scope(write=True) as s:
        row = s.get(Run, run.id)
        row.started_at = row.finished_at - timedelta(seconds=86)
    at = open_page("finetune", query={"run": str(run.id)})
    assert not at.exception
    elapsed = {m.label: m for m in at.metric}["Elapsed"]
    assert elapsed.value == "1 min 26 s"
    assert "Its training steps took 45 s." in elapsed.proto.help
